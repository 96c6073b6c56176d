"""Customer internet-banking identities: counter enrolment, password checks with lock-out,
password changes, unlock / reset / close by a teller.

Passwords are hashed with Django's hashers (Argon2 first). Every function audits its
event; passwords never reach the audit trail or logs (the masking module drops them).
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.authn import certificates, limits, passkeys, policy
from wangyin.authn import services as authn
from wangyin.authn.errors import NoCertificate, PasskeyRefused
from wangyin.customers.errors import PartyNotFound
from wangyin.customers.models import Person
from wangyin.identity import reserved, sessions
from wangyin.identity.errors import (
    AlreadyEnrolled,
    IdentityError,
    InvalidLoginName,
    InvalidReservedMessage,
    LoginFailed,
    LoginLocked,
    LoginNameTaken,
    LoginRefused,
    NotEnrolled,
    PasskeyLoginFailed,
    PasswordReused,
    RiskNotAcknowledged,
    SignUpRefused,
    WeakPassword,
)
from wangyin.identity.models import (
    ChannelUser,
    Edition,
    LoginEvent,
    LoginMethod,
    LoginOutcome,
    SessionEnd,
    UserStatus,
)
from wangyin.identity.passwords import PersonalData, password_problems
from wangyin.notify import services as notify
from wangyin.risk import services as risk

_LOGIN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{5,29}$")
# A hash of a random password: checked when the name is unknown, so that an unknown name
# costs the same time as a wrong password (AU-09: no name enumeration by timing).
_DUMMY_HASH = make_password(secrets.token_urlsafe(16))


def generate_initial_password() -> str:
    """A random 8-character password of letters and digits that passes the policy; shown
    once to the customer (the "envelope") and to be changed at first login."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(8))
        if not password_problems(candidate):
            return candidate


def next_unlock_time(at: datetime) -> datetime:
    """Locks last until the start of the next local day (AU-08)."""
    local = timezone.localtime(at)
    return timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), time.min))


def _active_user_of(person_id: int) -> ChannelUser:
    user = (ChannelUser.objects.select_for_update().select_related("person")
            .filter(person_id=person_id, status=UserStatus.ACTIVE).first())
    if user is None:
        raise NotEnrolled(extra={"person_id": person_id})
    return user


def _lock_for_enrolment(*, person_id: int, login_name: str) -> tuple[Person, str]:
    """Check a new login name and lock the person, who must not have internet banking yet."""
    login_name = (login_name or "").strip()
    if not _LOGIN_NAME.fullmatch(login_name):
        raise InvalidLoginName()
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    if ChannelUser.objects.filter(person=person, status=UserStatus.ACTIVE).exists():
        raise AlreadyEnrolled()
    if ChannelUser.objects.filter(login_name__iexact=login_name).exists():
        raise LoginNameTaken()
    return person, login_name


def _create_login(*, person: Person, login_name: str, edition: str, password: str,
                  must_change_password: bool, at: datetime) -> ChannelUser:
    try:
        with transaction.atomic():
            return ChannelUser.objects.create(
                person=person, login_name=login_name, edition=edition,
                password=make_password(password), must_change_password=must_change_password,
                password_changed_at=at, reserved_message=reserved.random_phrase(),
                created_at=at)
    except IntegrityError as exc:  # a concurrent enrolment took the name
        raise LoginNameTaken() from exc


# --- counter (teller) ---------------------------------------------------------------------


@transaction.atomic
def internet_banking_open(*, person_id: int, login_name: str, edition: str,
                          risk_acknowledged: bool, staff: str, reason: str,
                          at: datetime) -> tuple[ChannelUser, str]:
    """Enrol an existing customer (ON-01). Returns the user and the initial password,
    which is not stored anywhere in clear and must be handed over once."""
    if edition not in Edition.values:
        raise ValueError(f"unknown edition {edition!r}")
    if not risk_acknowledged:
        raise RiskNotAcknowledged()
    person, login_name = _lock_for_enrolment(person_id=person_id, login_name=login_name)
    password = generate_initial_password()
    user = _create_login(person=person, login_name=login_name, edition=edition,
                         password=password, must_change_password=True, at=at)
    audit.record(actor=staff, action="identity.banking.opened", target=f"person:{person.pk}",
                 occurred_at=at, details={"login_name": login_name, "edition": edition,
                                          "reason": reason})
    notify.notice_send(person=person, kind="service.opened", params={"edition": edition},
                       actor=staff, at=at, sms_purpose="identity.opened",
                       sms=str(settings.SMS_SIGNATURE) + "您已开通网上银行，登录名 "
                       f"{login_name}。如非本人办理，请立即致电本行客服。")
    return user, password


@transaction.atomic
def login_unlock(*, person_id: int, staff: str, reason: str, at: datetime) -> ChannelUser:
    user = _active_user_of(person_id)
    user.failed_attempts, user.locked_until = 0, None
    user.save(update_fields=["failed_attempts", "locked_until"])
    audit.record(actor=staff, action="identity.login.unlocked", target=f"person:{person_id}",
                 occurred_at=at, details={"reason": reason})
    notify.notice_send(person=user.person, kind="security.unlocked", params={}, at=at)
    return user


@transaction.atomic
def password_reset_at_counter(*, person_id: int, staff: str, reason: str,
                              at: datetime) -> tuple[ChannelUser, str]:
    """A new initial password after the customer proved identity at the counter (ON-08)."""
    user = _active_user_of(person_id)
    password = generate_initial_password()
    user.password, user.must_change_password = make_password(password), True
    user.password_changed_at, user.failed_attempts, user.locked_until = at, 0, None
    user.save(update_fields=["password", "must_change_password", "password_changed_at",
                             "failed_attempts", "locked_until"])
    audit.record(actor=staff, action="identity.password.reset", target=f"person:{person_id}",
                 occurred_at=at, details={"reason": reason, "channel": "counter"})
    notify.notice_send(person=user.person, kind="security.password_reset", params={},
                       actor=staff, at=at, sms_purpose="identity.password_reset",
                       sms=str(settings.SMS_SIGNATURE) + "您的网上银行登录密码已在柜台"
                       "重置。如非本人办理，请立即致电本行客服。")
    return user, password


@transaction.atomic
def internet_banking_close(*, person_id: int, actor: str, reason: str,
                           at: datetime) -> ChannelUser:
    user = _active_user_of(person_id)
    user.status, user.closed_at = UserStatus.CLOSED, at
    user.save(update_fields=["status", "closed_at"])
    audit.record(actor=actor, action="identity.banking.closed", target=f"person:{person_id}",
                 occurred_at=at, details={"reason": reason})
    return user


@transaction.atomic
def edition_change(*, person_id: int, edition: str, risk_acknowledged: bool, staff: str,
                   reason: str, at: datetime) -> ChannelUser:
    """At the counter: open (or reopen) the funds capability — the professional edition —
    after the risk warning (ON-02, ON-03), or close it."""
    if edition not in Edition.values:
        raise ValueError(f"unknown edition {edition!r}")
    if edition == Edition.PRO and not risk_acknowledged:
        raise RiskNotAcknowledged()
    user = _active_user_of(person_id)
    before, user.edition = user.edition, edition
    user.save(update_fields=["edition"])
    audit.record(actor=staff, action="identity.edition.changed", target=f"person:{person_id}",
                 occurred_at=at, details={"from": before, "to": edition, "reason": reason,
                                          "channel": "counter"})
    notify.notice_send(person=user.person, kind="service.edition_changed",
                       params={"edition": edition}, actor=staff, at=at,
                       sms_purpose="identity.edition",
                       sms=str(settings.SMS_SIGNATURE) + ("您已在柜台开通网上银行对外转账功能"
                       "（专业版）。" if edition == Edition.PRO else "您的网上银行已改为大众版，"
                       "对外转账功能已关闭。") + "如非本人办理，请立即致电本行客服。")
    return user


# --- the customer ---------------------------------------------------------------------------


def password_login(*, login_name: str, password: str, ip: str | None, device: str,
                   user_agent: str, at: datetime) -> ChannelUser:
    """Check a login password. Raises ``LoginFailed`` (one vague error for an unknown name,
    a wrong password or a closed login) or ``LoginLocked``. The Nth consecutive failure
    (settings.LOGIN_MAX_FAILURES) locks login until the next day and texts the customer.

    The attempt is recorded in its own transaction first, so a failure counts even though
    the caller then gets an exception."""
    user, outcome = _password_attempt(login_name=login_name, password=password, ip=ip,
                                      device=device, user_agent=user_agent, at=at)
    return _signed_in_or_raise(user, outcome, LoginFailed)


@transaction.atomic
def _password_attempt(*, login_name: str, password: str, ip: str | None, device: str,
                      user_agent: str, at: datetime) -> tuple[ChannelUser | None, str]:
    user = (ChannelUser.objects.select_for_update().select_related("person")
            .filter(login_name__iexact=(login_name or "").strip()).first())
    if risk.ip_blocked(ip, at):  # blocked before the password is even looked at (RK-16)
        check_password(password, _DUMMY_HASH)
        return user, LoginOutcome.REFUSED
    if user is None or user.status != UserStatus.ACTIVE:
        check_password(password, _DUMMY_HASH)
        risk.login_failed(ip=ip, device=device, person_id=None, at=at)
        return None, "unknown or closed"

    def event(outcome: str) -> None:
        LoginEvent.objects.create(user=user, outcome=outcome, ip=ip, device=device[:64],
                                  user_agent=user_agent[:200], at=at)

    if user.locked_until and user.locked_until > at:
        check_password(password, _DUMMY_HASH)
        event(LoginOutcome.LOCKED)
        return user, LoginOutcome.LOCKED
    if not check_password(password, user.password):
        user.failed_attempts += 1
        locks_now = user.failed_attempts >= settings.LOGIN_MAX_FAILURES
        if locks_now:
            user.locked_until = next_unlock_time(at)
        user.save(update_fields=["failed_attempts", "locked_until"])
        event(LoginOutcome.BAD_PASSWORD)
        risk.login_failed(ip=ip, device=device, person_id=user.person_id, at=at)
        audit.record(actor=user.actor, action="identity.login.failed", ip=ip, device=device,
                     result="FAILURE", target=f"channel_user:{user.pk}", occurred_at=at,
                     details={"failed_attempts": user.failed_attempts, "locked": locks_now})
        if not locks_now:
            return user, LoginOutcome.BAD_PASSWORD
        until = timezone.localtime(user.locked_until).strftime("%Y-%m-%d %H:%M")
        notify.notice_send(person=user.person, kind="security.locked", params={"until": until},
                           actor=user.actor, at=at, sms_purpose="identity.locked",
                           sms=str(settings.SMS_SIGNATURE) + "您的网上银行登录因密码"
                           "连续输错已被锁定，次日自动解锁，或携带身份证件到柜台解锁。"
                           "如非本人操作，请立即致电本行客服。")
        return user, LoginOutcome.LOCKED
    if user.failed_attempts or user.locked_until:
        user.failed_attempts, user.locked_until = 0, None
        user.save(update_fields=["failed_attempts", "locked_until"])
    if not _login_allowed(user, ip=ip, device=device, at=at):
        event(LoginOutcome.REFUSED)
        return user, LoginOutcome.REFUSED
    event(LoginOutcome.SUCCESS)
    audit.record(actor=user.actor, action="identity.login.succeeded", ip=ip, device=device,
                 target=f"channel_user:{user.pk}", occurred_at=at)
    return user, LoginOutcome.SUCCESS


def passkey_login(*, assertion: str, challenge: str, challenge_issued_at: datetime | None,
                  ip: str | None, device: str, user_agent: str, at: datetime) -> ChannelUser:
    """Sign in with a passkey instead of the password (AU-18): the assertion names the
    passkey, the passkey the person, the person their active login. The login's rules are
    the password's: closed or locked logins do not sign in; the caller then runs the same
    device check and session start. Raises ``PasskeyLoginFailed`` (one vague error,
    whatever went wrong) or ``LoginLocked`` (only after the passkey verified).

    Like ``password_login``, the attempt is committed before the error is raised. A
    refused passkey does not count towards the password lock-out: its signature cannot be
    guessed, and whoever learnt a credential id could otherwise lock the customer out."""
    user, outcome = _passkey_attempt(assertion=assertion, challenge=challenge,
                                     challenge_issued_at=challenge_issued_at, ip=ip,
                                     device=device, user_agent=user_agent, at=at)
    return _signed_in_or_raise(user, outcome, PasskeyLoginFailed)


def login_risk(*, person: Person, ip: str | None, device: str, at: datetime,
               segment: str = "personal") -> str:
    """Risk control on a sign-in whose credentials were right (RK-01), for a customer or
    (``segment="corporate"``) a company's operator: the decision's action. When it lets the
    sign-in go on (allow or step-up), where and when the person was seen is remembered."""
    decision = risk.evaluate(risk.Event(
        kind="login", person_id=person.pk, channel="web", device=device, ip=ip, at=at,
        id_number_index=person.id_number_index, phone_index=person.phone_index,
        segment=segment))
    if decision.action not in (risk.BLOCK, risk.REVIEW):
        risk.signed_in(person_id=person.pk, device=device, ip=ip, at=at)
    return decision.action


def _login_allowed(user: ChannelUser, *, ip: str | None, device: str, at: datetime) -> bool:
    """Refused when risk control blocks or holds the sign-in; a step-up asks for the SMS
    code of a new device even on a bound one (``user.risk_step_up``)."""
    action = login_risk(person=user.person, ip=ip, device=device, at=at)
    user.risk_step_up = action == risk.STEP_UP
    return action not in (risk.BLOCK, risk.REVIEW)


def _signed_in_or_raise(user, outcome: str, failed: type[IdentityError]) -> ChannelUser:
    """The user of a successful attempt; ``LoginLocked``, ``LoginRefused`` or the vague
    ``failed`` else."""
    if outcome == LoginOutcome.SUCCESS:
        return user
    if outcome == LoginOutcome.LOCKED:
        raise LoginLocked()
    if outcome == LoginOutcome.REFUSED:
        raise LoginRefused()
    raise failed(extra={"reason": outcome})


@transaction.atomic
def _passkey_attempt(*, assertion: str, challenge: str, challenge_issued_at: datetime | None,
                     ip: str | None, device: str, user_agent: str,
                     at: datetime) -> tuple[ChannelUser | None, str]:
    try:
        passkey = passkeys.passkey_identify(assertion=assertion, challenge=challenge,
                                            challenge_issued_at=challenge_issued_at, at=at)
        why = ""
    except PasskeyRefused as exc:
        if exc.passkey is None:  # like an unknown login name: nothing to record
            return None, "unknown credential"
        passkey, why = exc.passkey, exc.why
    user = (ChannelUser.objects.select_for_update().select_related("person")
            .filter(person_id=passkey.person_id, status=UserStatus.ACTIVE).first())

    def failed(outcome: str, why: str) -> tuple[ChannelUser | None, str]:
        if user is not None:
            LoginEvent.objects.create(user=user, outcome=outcome, method=LoginMethod.PASSKEY,
                                      ip=ip, device=device[:64], user_agent=user_agent[:200],
                                      at=at)
        audit.record(actor=f"customer:{passkey.person_id}", action="identity.login.passkey",
                     ip=ip, device=device, result="FAILURE", target=f"passkey:{passkey.pk}",
                     occurred_at=at, details={"why": why})
        return user, outcome

    if user is None:
        return failed("unknown or closed", why or "no active internet banking")
    if why:
        return failed(LoginOutcome.BAD_PASSKEY, why)
    if user.locked_until and user.locked_until > at:
        return failed(LoginOutcome.LOCKED, "login locked")
    if risk.ip_blocked(ip, at) or not _login_allowed(user, ip=ip, device=device, at=at):
        return failed(LoginOutcome.REFUSED, "refused by risk control")
    LoginEvent.objects.create(user=user, outcome=LoginOutcome.SUCCESS,
                              method=LoginMethod.PASSKEY, ip=ip, device=device[:64],
                              user_agent=user_agent[:200], at=at)
    audit.record(actor=user.actor, action="identity.login.passkey", ip=ip, device=device,
                 target=f"channel_user:{user.pk}", occurred_at=at,
                 details={"passkey": passkey.pk})
    return user, LoginOutcome.SUCCESS


@transaction.atomic
def password_change(*, user_id: int, current_password: str, new_password: str, ip: str | None,
                    at: datetime) -> ChannelUser:
    """The customer changes the password (forced at first login, ON-07; or by choice after
    re-entering the current one, AU-11). The policy of AU-01/AU-02 applies."""
    user = ChannelUser.objects.select_for_update().select_related("person").get(pk=user_id)
    if user.status != UserStatus.ACTIVE or not check_password(current_password, user.password):
        raise LoginFailed(extra={"reason": "password change: current password"})
    new_password_check(person=user.person, login_name=user.login_name, password=new_password)
    if check_password(new_password, user.password):
        raise PasswordReused()
    user.password, user.must_change_password = make_password(new_password), False
    user.password_changed_at = at
    user.save(update_fields=["password", "must_change_password", "password_changed_at"])
    audit.record(actor=user.actor, action="identity.password.changed", ip=ip,
                 target=f"channel_user:{user.pk}", occurred_at=at)
    notify.notice_send(person=user.person, kind="security.password_changed", params={}, at=at)
    return user


def password_expired(user: ChannelUser, *, at: datetime) -> bool:
    """Due for the periodic change (AU-12; settings.PASSWORD_MAX_AGE_DAYS, default 90)."""
    return at - user.password_changed_at > timedelta(days=settings.PASSWORD_MAX_AGE_DAYS)


def reserved_message(login_name: str) -> str:
    """The phrase shown after the login name: the customer's own, or a decoy for a name
    that does not exist or is closed (the same query either way)."""
    user = ChannelUser.objects.filter(login_name__iexact=(login_name or "").strip(),
                                      status=UserStatus.ACTIVE).first()
    return user.reserved_message if user else reserved.decoy_for(login_name or "")


def reserved_message_clean(message: str) -> str:
    message = " ".join((message or "").split())
    if not 2 <= len(message) <= 20:
        raise InvalidReservedMessage()
    return message


def change_digest(*, user: ChannelUser, change: str, value: str, device: str) -> str:
    """What the customer confirms for a change of security settings (AU-11, TX-10): which
    login, which change, the new value and the device asking."""
    return authn.digest_of("security.change", str(user.pk), change, value, device)


def authorise_change(*, user: ChannelUser, change: str, value: str, device: str,
                      authorisation: int, at: datetime) -> None:
    authn.authorisation_use(challenge_id=authorisation, person=user.person,
                            purpose="security.change", at=at,
                            digest=change_digest(user=user, change=change, value=value,
                                                 device=device),
                            requires=policy.required_factors(person=user.person,
                                                             purpose="security.change",
                                                             device_id=device))


def reserved_message_set(*, user_id: int, message: str, authorisation: int, device: str,
                         at: datetime) -> ChannelUser:
    """Change the reserved message after the customer confirmed exactly this message with
    the step-up codes (AU-11)."""
    message = reserved_message_clean(message)
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    authorise_change(user=user, change="reserved_message", value=message, device=device,
                      authorisation=authorisation, at=at)
    with transaction.atomic():
        user = ChannelUser.objects.select_for_update().get(pk=user_id)
        user.reserved_message = message
        user.save(update_fields=["reserved_message"])
        audit.record(actor=user.actor, action="identity.reserved_message.changed",
                     device=device, target=f"channel_user:{user.pk}", occurred_at=at,
                     details={"authorisation": authorisation})
    return user


def own_limits_set(*, user_id: int, per_transaction_fen: int, per_day_fen: int,
                   authorisation: int, device: str, at: datetime) -> ChannelUser:
    """The customer's own payment limits (TX-11), after a step-up for exactly these values
    (AU-11)."""
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    authorise_change(user=user, change="limits", value=f"{per_transaction_fen}:{per_day_fen}",
                     device=device, authorisation=authorisation, at=at)
    with transaction.atomic():
        limits.own_limits_store(person=user.person, per_transaction_fen=per_transaction_fen,
                                per_day_fen=per_day_fen, at=at)
        audit.record(actor=user.actor, action="authn.limits.own_changed", device=device,
                     target=f"person:{user.person_id}", occurred_at=at,
                     details={"per_transaction_fen": per_transaction_fen,
                              "per_day_fen": per_day_fen, "authorisation": authorisation})
        notify.notice_send(person=user.person, kind="security.limits_changed", at=at,
                           params={"per_transaction_fen": per_transaction_fen,
                                   "per_day_fen": per_day_fen})
    return user


def phone_change_online(*, user_id: int, phone: str, authorisation: int, device: str,
                        at: datetime) -> ChannelUser:
    """The reserved mobile number changed online (ON-11, only where the bank enables it),
    after the SMS code to the old number and a security device confirmed this number."""
    from wangyin.customers import services as customers

    if not settings.ONLINE_PHONE_CHANGE:
        raise PermissionError("online phone change is disabled")
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    authn.authorisation_use(challenge_id=authorisation, person=user.person,
                            purpose="phone.change", at=at,
                            digest=change_digest(user=user, change="phone", value=phone,
                                                 device=device),
                            requires=policy.required_factors(person=user.person,
                                                             purpose="phone.change",
                                                             device_id=device))
    customers.person_phone_change(person_id=user.person_id, phone=phone, actor=user.actor,
                                  reason="online", at=at)
    return user


def _authorise_addition(*, user: ChannelUser, purpose: str, authorisation: int, device: str,
                        at: datetime) -> None:
    """A new way to authenticate (passkey, soft certificate) is added with the
    authorisation of a step-up by an existing strong factor (SMS code + security device)
    on this device."""
    authn.authorisation_use(challenge_id=authorisation, person=user.person, purpose=purpose,
                            at=at, digest=change_digest(user=user, change=purpose, value="new",
                                                        device=device),
                            requires=policy.required_factors(person=user.person,
                                                             purpose=purpose,
                                                             device_id=device))


def passkey_add(*, user_id: int, credential: str, challenge: str, label: str,
                authorisation: int, device: str, at: datetime):
    """Register a passkey (FA-07)."""
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    _authorise_addition(user=user, purpose="passkey.add", authorisation=authorisation,
                        device=device, at=at)
    with transaction.atomic():
        passkey = passkeys.passkey_register(person=user.person, credential=credential,
                                            challenge=challenge, label=label, at=at)
        notify.notice_send(person=user.person, kind="security.factor_added",
                           params={"factor": "passkey"}, at=at)
    return passkey


def soft_certificate_add(*, user_id: int, request_der: bytes, authorisation: int,
                         device: str, at: datetime):
    """Issue a soft certificate (FA-06) for the key this device's browser generated."""
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    _authorise_addition(user=user, purpose="softcert.add", authorisation=authorisation,
                        device=device, at=at)
    return certificates.soft_certificate_enrol(person=user.person, device_id=device,
                                               request_der=request_der, at=at)


@transaction.atomic
def certificate_withdraw(*, user_id: int, serial: str, device: str, at: datetime) -> None:
    """The customer stops one of their certificates: a soft certificate is revoked, a
    USB-Key is reported lost (unbound, its certificate revoked; a new one at the counter,
    ON-10). Texted to the reserved phone."""
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    certificate = next((c for c in certificates.certificates_of(user.person)
                        if c.serial == serial), None)
    if certificate is None:
        raise NoCertificate(extra={"serial": serial})
    if certificate.usb_key_id is not None:
        certificates.usb_key_end(person_id=user.person_id, lost=True, actor=user.actor,
                                 reason=f"reported lost online from {device[:12]}", at=at)
        what, factor = "USB-Key已挂失", "usb_key"
    else:
        certificates.certificate_revoke(person=user.person, serial=serial, actor=user.actor,
                                        reason="removed by the customer", at=at)
        what, factor = "软证书已删除", "soft_certificate"
    notify.notice_send(person=user.person, kind="security.factor_removed",
                       params={"factor": factor}, actor=user.actor, at=at,
                       sms_purpose="identity.certificate_withdrawn",
                       sms=f"{settings.SMS_SIGNATURE}您的网银{what}，即时生效。如非本人操作，"
                       "请立即致电本行客服。")


def passkey_remove(*, user_id: int, passkey_pk: int, authorisation: int, device: str,
                   at: datetime) -> None:
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    authorise_change(user=user, change="passkey.remove", value=str(passkey_pk), device=device,
                     authorisation=authorisation, at=at)
    with transaction.atomic():
        if passkeys.passkey_remove(person=user.person, passkey_pk=passkey_pk, device=device,
                                   at=at):
            notify.notice_send(person=user.person, kind="security.factor_removed",
                               params={"factor": "passkey"}, at=at)


def funds_capability_close(*, user_id: int, authorisation: int, device: str,
                           at: datetime) -> ChannelUser:
    """The customer closes payments to others online (the public edition remains). Reopening
    needs the counter (ON-03): there is no online path back."""
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    authorise_change(user=user, change="funds.close", value=Edition.PUBLIC, device=device,
                     authorisation=authorisation, at=at)
    with transaction.atomic():
        user = ChannelUser.objects.select_for_update().select_related("person").get(pk=user_id)
        before, user.edition = user.edition, Edition.PUBLIC
        user.save(update_fields=["edition"])
        audit.record(actor=user.actor, action="identity.edition.changed", device=device,
                     target=f"person:{user.person_id}", occurred_at=at,
                     details={"from": before, "to": Edition.PUBLIC, "channel": "online",
                              "authorisation": authorisation})
        notify.notice_send(person=user.person, kind="service.edition_changed",
                           params={"edition": Edition.PUBLIC}, actor=user.actor, at=at,
                           sms_purpose="identity.edition",
                           sms=str(settings.SMS_SIGNATURE) + "您已在网上关闭对外转账功能，"
                           "如需重新开通请到网点柜台办理。如非本人操作，请立即致电本行客服。")
    return user


# --- self-registration (public edition, FP-01) --------------------------------------------


def _person_by_account_and_id(*, account_number: str, id_type: str, id_number: str):
    """The person who owns this personal account and whose ID this is, else None."""
    from wangyin.customers import selectors as customers
    from wangyin.customers.errors import CustomerError

    account = customers.account_by_number(number=account_number)
    if account is None or account.person_id is None:
        return None
    try:
        person = customers.person_by_id_number(id_type=id_type, id_number=id_number)
    except CustomerError:
        return None
    if person is None or person.pk != account.person_id:
        return None
    return person


def registration_person(*, account_number: str, id_type: str, id_number: str):
    """The person who may self-register with these details: they own this personal
    account, the ID matches, and they have no internet banking yet. None otherwise (the
    caller says one vague thing whichever part did not match)."""
    person = _person_by_account_and_id(account_number=account_number, id_type=id_type,
                                       id_number=id_number)
    if person is None or ChannelUser.objects.filter(person=person,
                                                    status=UserStatus.ACTIVE).exists():
        return None
    return person


def reset_login(*, account_number: str, id_type: str, id_number: str) -> ChannelUser | None:
    """The active login whose password these details may reset online, else None."""
    person = _person_by_account_and_id(account_number=account_number, id_type=id_type,
                                       id_number=id_number)
    if person is None:
        return None
    return (ChannelUser.objects.select_related("person")
            .filter(person=person, status=UserStatus.ACTIVE).first())


def password_reset_digest(*, user: ChannelUser, device: str) -> str:
    """What the customer confirms with their codes: this login, from this device."""
    return authn.digest_of("password.reset", str(user.pk), device)


def password_reset_online(*, user_id: int, new_password: str, authorisation: int,
                          device: str, ip: str | None, at: datetime) -> ChannelUser:
    """Forgotten password (ON-08): after the SMS code and the customer's security device
    were verified for this login and device. Ends any live session and texts the customer.
    A lock-out stays (it ends the next day or at the counter)."""
    user = ChannelUser.objects.select_related("person").get(pk=user_id)
    authn.authorisation_use(challenge_id=authorisation, person=user.person,
                            purpose="password.reset", at=at,
                            digest=password_reset_digest(user=user, device=device),
                            requires=policy.required_factors(person=user.person,
                                                             purpose="password.reset"))
    with transaction.atomic():
        user = ChannelUser.objects.select_for_update().select_related("person").get(pk=user_id)
        if user.status != UserStatus.ACTIVE:
            raise NotEnrolled(extra={"user_id": user_id})
        new_password_check(person=user.person, login_name=user.login_name,
                           password=new_password)
        if check_password(new_password, user.password):
            raise PasswordReused()
        user.password, user.must_change_password = make_password(new_password), False
        user.password_changed_at = at
        user.save(update_fields=["password", "must_change_password", "password_changed_at"])
        sessions.sessions_end_all(user=user, reason=SessionEnd.PASSWORD_RESET, at=at)
        audit.record(actor=user.actor, action="identity.password.reset", ip=ip, device=device,
                     target=f"channel_user:{user.pk}", occurred_at=at,
                     details={"channel": "online", "authorisation": authorisation})
        notify.notice_send(person=user.person, kind="security.password_reset", params={},
                           actor=user.actor, at=at, sms_purpose="identity.password_reset",
                           sms=str(settings.SMS_SIGNATURE) + "您的网上银行登录密码已在网上"
                           "重置。如非本人操作，请立即致电本行客服。")
    return user


def new_password_check(*, person: Person, login_name: str, password: str) -> None:
    """Raise ``WeakPassword`` unless ``password`` meets the policy for this person."""
    problems = password_problems(password, PersonalData(
        login_name=login_name, id_number=person.id_number, phone=person.phone,
        birth_date=person.birth_date))
    if problems:
        raise WeakPassword(problems)


def self_register(*, person_id: int, login_name: str, password: str, ip: str | None,
                  at: datetime, device: str = "") -> ChannelUser:
    """Open the public edition online (queries and own-account transfers only) after the
    caller verified an SMS code sent to the reserved phone. Risk control sees the sign-up
    first (ON-15); one it holds or blocks is refused — the customer registers at a branch —
    and its decision and case are kept."""
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    decision = risk.evaluate(risk.Event(
        kind="signup", person_id=person.pk, channel="web", device=device, ip=ip, at=at,
        id_number_index=person.id_number_index, phone_index=person.phone_index))
    if decision.action in (risk.BLOCK, risk.REVIEW):
        raise SignUpRefused(extra={"reasons": list(decision.reasons)})
    return _self_register(person_id=person_id, login_name=login_name, password=password,
                          ip=ip, at=at)


@transaction.atomic
def _self_register(*, person_id: int, login_name: str, password: str, ip: str | None,
                   at: datetime) -> ChannelUser:
    person, login_name = _lock_for_enrolment(person_id=person_id, login_name=login_name)
    new_password_check(person=person, login_name=login_name, password=password)
    user = _create_login(person=person, login_name=login_name, edition=Edition.PUBLIC,
                         password=password, must_change_password=False, at=at)
    audit.record(actor=user.actor, action="identity.banking.self_registered", ip=ip,
                 target=f"person:{person.pk}", occurred_at=at,
                 details={"login_name": login_name, "edition": Edition.PUBLIC})
    notify.notice_send(person=person, kind="service.opened",
                       params={"edition": Edition.PUBLIC}, actor=user.actor, at=at,
                       sms_purpose="identity.registered",
                       sms=str(settings.SMS_SIGNATURE) + f"您已自助注册网上银行大众版，登录名 "
                       f"{login_name}。如非本人操作，请立即致电本行客服。")
    return user
