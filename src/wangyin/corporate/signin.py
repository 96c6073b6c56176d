"""Operators sign in to corporate internet banking (CH-02) and keep a server-side session,
under the rules customers have (AU-01…AU-09, AU-14, AU-17, SE-01…SE-05): the service
number, the operator code and the password typed on the soft keyboard (the channel checks
the captcha first), then the operator's USB-Key *for this company* signs a sign-in
challenge. An operator who has no key's certificate yet (just created, or whose key is
waiting for its download) confirms with an SMS code to their mobile instead, and that
session can only download the certificate (SE-09).

The two steps, each its own call:

1. ``password_check`` — a right password leaves a ticket (an ``OperatorLogin`` row in
   ``PASSWORD_OK``); the risk engine has seen the sign-in (segment "corporate") and may
   refuse it. ``signin_challenge`` issues (or renews) the ticket's challenge.
2. ``signin_complete`` — the signature or code for that challenge, from the same device
   and address within ``TICKET_WINDOW``: the session starts (one per operator).

Failures of either step count towards the lock-out (``settings.LOGIN_MAX_FAILURES``,
until the next day or the counter); the count goes back to zero only when a sign-in
completes. Every refusal says the same vague thing (``SigninFailed``) — unknown service
number or code, wrong password, a disabled or removed operator, a cancelled service —
except a lock, as for customers. Attempts are committed before the error is raised."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.authn import certificates
from wangyin.authn import services as authn
from wangyin.authn.models import AuthChallenge, Certificate, Factor, UsbKey
from wangyin.core.errors import DomainError
from wangyin.corporate.errors import (
    SigninFactorFailed,
    SigninFailed,
    SigninInterrupted,
)
from wangyin.corporate.models import (
    Operator,
    OperatorLogin,
    OperatorScope,
    OperatorSession,
    OperatorStatus,
    Role,
    ServiceStatus,
    SigninFactor,
    SigninOutcome,
)
from wangyin.customers.models import CustomerAccount
from wangyin.identity import services as identity
from wangyin.identity.errors import LoginLocked, LoginRefused, PasswordReused
from wangyin.identity.models import SessionEnd
from wangyin.identity.sessions import SessionCheck, idle_timeout
from wangyin.notify import services as notify
from wangyin.risk import services as risk

PURPOSE = "corporate.signin"
# From the right password to the second step: one sitting.
TICKET_WINDOW = timedelta(minutes=5)
# Checked when the service number or code is unknown, so that it costs what a wrong
# password costs (AU-09: no enumeration by timing).
_DUMMY_HASH = make_password(secrets.token_urlsafe(16))


def _clean(text: str, size: int) -> str:
    return (text or "").strip()[:size]


def _lock_operator(service_number: str, operator_code: str) -> Operator | None:
    return (Operator.objects.select_for_update(of=("self",))
            .select_related("service__company", "person")
            .filter(service__number=_clean(service_number, 10),
                    code__iexact=_clean(operator_code, 20))
            .exclude(status=OperatorStatus.REMOVED).first())


def _usable(operator: Operator | None) -> bool:
    return (operator is not None and operator.status == OperatorStatus.ACTIVE
            and operator.service.status == ServiceStatus.ACTIVE)


def key_certificate(operator: Operator) -> Certificate | None:
    """The certificate of the operator's USB-Key for this company, if downloaded."""
    return certificates.certificate_for(operator.person, Factor.USBKEY,
                                        company_id=operator.service.company_id)


def waiting_usb_key(operator: Operator) -> UsbKey | None:
    """The key bound to the operator for this company whose certificate is still to be
    downloaded (None: no key, or its certificate is in place)."""
    key = certificates.usb_key_of(operator.person, company_id=operator.service.company_id)
    return key if key is not None and key_certificate(operator) is None else None


def _count_failure(operator: Operator, *, ip: str | None, device: str, at: datetime,
                   why: str) -> bool:
    """One more consecutive failure (locked row); the Nth locks until the next day and
    texts the operator (AU-08). True when this one locked."""
    operator.failed_attempts += 1
    locks_now = operator.failed_attempts >= settings.LOGIN_MAX_FAILURES
    if locks_now:
        operator.locked_until = identity.next_unlock_time(at)
    operator.save(update_fields=["failed_attempts", "locked_until"])
    risk.login_failed(ip=ip, device=device, person_id=operator.person_id, at=at)
    audit.record(actor=operator.actor, action="corporate.signin.failed", ip=ip, device=device,
                 result="FAILURE", target=f"operator:{operator.pk}", occurred_at=at,
                 details={"why": why, "failed_attempts": operator.failed_attempts,
                          "locked": locks_now})
    if locks_now:
        until = timezone.localtime(operator.locked_until).strftime("%Y-%m-%d %H:%M")
        notify.sms_send(phone=operator.person.phone, purpose="corporate.signin_locked",
                        actor=operator.actor, at=at,
                        body=f"{settings.SMS_SIGNATURE}您在{operator.service.company.name}"
                        f"企业网银的操作员登录（{operator.code}）因连续验证失败已被锁定，"
                        f"{until}后自动解锁，或由管理员到柜台办理。如非本人操作，请立即致电"
                        "本行客服。")
    return locks_now


def _event(operator: Operator, outcome: str, *, ip: str | None, device: str,
           user_agent: str, at: datetime, factor: str = "") -> OperatorLogin:
    return OperatorLogin.objects.create(operator=operator, outcome=outcome, factor=factor,
                                        ip=ip, device=device[:64], user_agent=user_agent[:200],
                                        at=at)


def _raise_for(outcome: str) -> None:
    if outcome == SigninOutcome.LOCKED:
        raise LoginLocked()
    if outcome == SigninOutcome.REFUSED:
        raise LoginRefused()
    if outcome == SigninOutcome.BAD_FACTOR:
        raise SigninFactorFailed()
    if outcome == "interrupted":
        raise SigninInterrupted()
    raise SigninFailed(extra={"reason": outcome})


# --- step 1: the password -----------------------------------------------------------------


def password_check(*, service_number: str, operator_code: str, password: str,
                   ip: str | None, device: str, user_agent: str,
                   at: datetime) -> OperatorLogin:
    """The first step. Returns the ticket the second step completes; its ``factor`` says
    whether the USB-Key signs or an SMS code is sent. Raises ``SigninFailed`` (one vague
    error), ``LoginLocked`` or ``LoginRefused`` (risk control)."""
    ticket, outcome = _password_attempt(service_number=service_number,
                                        operator_code=operator_code, password=password,
                                        ip=ip, device=device, user_agent=user_agent, at=at)
    if ticket is None:
        _raise_for(outcome)
    return ticket


@transaction.atomic
def _password_attempt(*, service_number, operator_code, password, ip, device, user_agent,
                      at) -> tuple[OperatorLogin | None, str]:
    operator = _lock_operator(service_number, operator_code)
    if risk.ip_blocked(ip, at):  # before the password is even looked at (RK-16)
        check_password(password, _DUMMY_HASH)
        return None, SigninOutcome.REFUSED
    if not _usable(operator):
        check_password(password, _DUMMY_HASH)
        risk.login_failed(ip=ip, device=device, person_id=None, at=at)
        if operator is not None:  # disabled, or the service cancelled: kept for the audit
            audit.record(actor=operator.actor, action="corporate.signin.failed", ip=ip,
                         device=device, result="FAILURE", target=f"operator:{operator.pk}",
                         occurred_at=at, details={"why": "operator or service not in use"})
        return None, "unknown or not in use"
    seen = {"ip": ip, "device": device, "user_agent": user_agent, "at": at}
    if operator.locked_until and operator.locked_until > at:
        check_password(password, _DUMMY_HASH)
        _event(operator, SigninOutcome.LOCKED, **seen)
        return None, SigninOutcome.LOCKED
    if not check_password(password, operator.password):
        locked = _count_failure(operator, ip=ip, device=device, at=at, why="password")
        _event(operator, SigninOutcome.BAD_PASSWORD, **seen)
        return None, SigninOutcome.LOCKED if locked else SigninOutcome.BAD_PASSWORD
    action = identity.login_risk(person=operator.person, ip=ip, device=device, at=at,
                                 segment="corporate")
    if action in (risk.BLOCK, risk.REVIEW):
        _event(operator, SigninOutcome.REFUSED, **seen)
        audit.record(actor=operator.actor, action="corporate.signin.refused", ip=ip,
                     device=device, result="FAILURE", target=f"operator:{operator.pk}",
                     occurred_at=at, details={"risk": action})
        return None, SigninOutcome.REFUSED
    # A risk step-up is met already: every operator sign-in takes a second factor.
    factor = SigninFactor.USBKEY if key_certificate(operator) else SigninFactor.SMS
    return _event(operator, SigninOutcome.PASSWORD_OK, factor=factor, **seen), ""


# --- step 2: the USB-Key's signature, or an SMS code -----------------------------------------


def _ticket_of(login_id: int, *, ip: str | None, device: str, at: datetime,
               lock: bool) -> OperatorLogin | None:
    rows = OperatorLogin.objects.select_related("operator__service__company",
                                                "operator__person")
    if lock:
        rows = rows.select_for_update(of=("self",))
    ticket = rows.filter(pk=login_id or 0, outcome=SigninOutcome.PASSWORD_OK,
                         completed_at__isnull=True).first()
    if (ticket is None or ticket.device != device[:64] or ticket.ip != ip
            or at - ticket.at > TICKET_WINDOW):
        return None
    return ticket


def signin_digest(ticket: OperatorLogin) -> str:
    """What the second step confirms: this ticket of this operator, from this device."""
    return authn.digest_of(PURPOSE, str(ticket.pk), str(ticket.operator_id), ticket.device)


def signin_challenge(*, login_id: int, ip: str | None, device: str,
                     at: datetime) -> AuthChallenge:
    """The challenge of a ticket (a new one replaces the previous: expired, or another SMS
    asked for). The USB-Key shows the company and the operator code with what it signs."""
    with transaction.atomic():
        ticket = _ticket_of(login_id, ip=ip, device=device, at=at, lock=True)
        if ticket is None:
            raise SigninInterrupted()
        operator = ticket.operator
        challenge = authn.challenge_issue(
            person=operator.person, purpose=PURPOSE, factors=[ticket.factor],
            digest=signin_digest(ticket), at=at, company_id=operator.service.company_id,
            summary=f"{operator.service.company.name}，企业客户号 {operator.service.number}，"
                    f"操作员 {operator.code}")
        ticket.challenge = challenge
        ticket.save(update_fields=["challenge"])
    return challenge


def signin_complete(*, login_id: int, codes: dict[str, str], ip: str | None, device: str,
                    user_agent: str, at: datetime) -> OperatorSession:
    """The second step: the USB-Key's signature (``codes["USBKEY"]``, base64) or the SMS
    code (``codes["SMS"]``) for the ticket's challenge. Starts the operator's session (any
    other ends). Raises ``SigninInterrupted`` (no such ticket here and now),
    ``SigninFactorFailed`` (counted), ``LoginLocked`` or ``SigninFailed``."""
    session, outcome = _complete(login_id=login_id, codes=codes, ip=ip, device=device,
                                 user_agent=user_agent, at=at)
    if session is None:
        _raise_for(outcome)
    return session


@transaction.atomic
def _complete(*, login_id, codes, ip, device, user_agent,
              at) -> tuple[OperatorSession | None, str]:
    ticket = _ticket_of(login_id, ip=ip, device=device, at=at, lock=True)
    if ticket is None or ticket.challenge_id is None:
        return None, "interrupted"
    operator = (Operator.objects.select_for_update(of=("self",))
                .select_related("service__company", "person").get(pk=ticket.operator_id))
    seen = {"ip": ip, "device": device, "user_agent": user_agent, "at": at,
            "factor": ticket.factor}
    if not _usable(operator):
        return None, "not in use any more"
    if operator.locked_until and operator.locked_until > at:
        _event(operator, SigninOutcome.LOCKED, **seen)
        return None, SigninOutcome.LOCKED
    digest = signin_digest(ticket)
    try:
        authn.challenge_verify(challenge_id=ticket.challenge_id, person=operator.person,
                               purpose=PURPOSE, digest=digest, codes=codes, at=at)
        authn.authorisation_use(challenge_id=ticket.challenge_id, person=operator.person,
                                purpose=PURPOSE, digest=digest, at=at,
                                requires=[ticket.factor])
    except DomainError:
        # The challenge counted the guess; this transaction commits it with the failure.
        locked = _count_failure(operator, ip=ip, device=device, at=at,
                                why=f"second step: {ticket.factor}")
        _event(operator, SigninOutcome.BAD_FACTOR, **seen)
        return None, SigninOutcome.LOCKED if locked else SigninOutcome.BAD_FACTOR
    ticket.outcome, ticket.completed_at = SigninOutcome.SUCCESS, at
    ticket.save(update_fields=["outcome", "completed_at"])
    if operator.failed_attempts or operator.locked_until:
        operator.failed_attempts, operator.locked_until = 0, None
        operator.save(update_fields=["failed_attempts", "locked_until"])
    audit.record(actor=operator.actor, action="corporate.signin.succeeded", ip=ip,
                 device=device, target=f"operator:{operator.pk}", occurred_at=at,
                 details={"factor": ticket.factor, "challenge": ticket.challenge_id,
                          "service": operator.service_id})
    return _session_start(operator, factor=ticket.factor, ip=ip, device=device, at=at), ""


# --- sessions -----------------------------------------------------------------------------


def _session_start(operator: Operator, *, factor: str, ip: str | None, device: str,
                   at: datetime) -> OperatorSession:
    operator_sessions_end(operator_id=operator.pk, reason=SessionEnd.REPLACED, at=at)
    session = OperatorSession.objects.create(sid=secrets.token_urlsafe(32), operator=operator,
                                             factor=factor, ip=ip, device=device[:64],
                                             started_at=at, last_seen_at=at)
    session.operator = operator
    audit.record(actor=operator.actor, action="corporate.session.started", ip=ip,
                 device=device, target=f"operator_session:{session.pk}", occurred_at=at,
                 details={"factor": factor})
    return session


@transaction.atomic
def session_check(*, sid: str, ip: str | None, device: str, at: datetime,
                  touch: bool = True) -> SessionCheck:
    """Validate a request's operator session and record the activity (``touch``): the
    operator and the service still in use, not idle, within its lifetime, the same address
    and device (AU-17) — else it ends, with the reason."""
    session = (OperatorSession.objects.select_for_update(of=("self",))
               .select_related("operator__service__company", "operator__person")
               .filter(sid=sid or "").first())
    if session is None:
        return SessionCheck(None)
    if session.ended_at is not None:
        return SessionCheck(None, session.end_reason)
    reason = ""
    if not _usable(session.operator):
        reason = SessionEnd.CLOSED
    elif at - session.last_seen_at > idle_timeout():
        reason = SessionEnd.IDLE
    elif at - session.started_at > timedelta(seconds=settings.CUSTOMER_SESSION_MAX_SECONDS):
        reason = SessionEnd.EXPIRED
    elif ip != session.ip:
        reason = SessionEnd.NETWORK
    elif device[:64] != session.device:
        reason = SessionEnd.DEVICE
    if reason:
        _end(session, reason, at, ip=ip, device=device)
        return SessionCheck(None, reason)
    if touch:
        session.last_seen_at = at
        session.save(update_fields=["last_seen_at"])
    return SessionCheck(session)


@transaction.atomic
def session_end(*, sid: str, reason: str, at: datetime) -> None:
    session = (OperatorSession.objects.select_for_update().select_related("operator")
               .filter(sid=sid or "", ended_at__isnull=True).first())
    if session is not None:
        _end(session, reason, at)


@transaction.atomic
def operator_sessions_end(*, operator_id: int, reason: str, at: datetime) -> None:
    """End the operator's live session (disabled, removed, password reset, service
    cancelled, or a new sign-in): their next request goes to the sign-in page."""
    for session in (OperatorSession.objects.select_for_update().select_related("operator")
                    .filter(operator_id=operator_id, ended_at__isnull=True)):
        _end(session, reason, at)


def _end(session: OperatorSession, reason: str, at: datetime, *, ip: str | None = None,
         device: str = "") -> None:
    session.ended_at, session.end_reason = at, reason
    session.save(update_fields=["ended_at", "end_reason"])
    audit.record(actor=session.operator.actor, action="corporate.session.ended",
                 target=f"operator_session:{session.pk}", occurred_at=at,
                 ip=ip or session.ip, device=device or session.device,
                 details={"reason": reason})


# --- the password and the certificate --------------------------------------------------------


def password_due(operator: Operator, *, at: datetime) -> bool:
    """The initial password (ON-07) or one older than the periodic change (AU-12)."""
    return operator.must_change_password or identity.password_expired(operator, at=at)


@transaction.atomic
def password_change(*, operator_id: int, current_password: str, new_password: str,
                    ip: str | None, at: datetime) -> Operator:
    """The operator changes their password (forced at the first sign-in), under the
    customers' policy built from the operator's own data: operator code, ID number, mobile,
    birth date (AU-01, AU-02)."""
    operator = (Operator.objects.select_for_update(of=("self",))
                .select_related("service", "person").get(pk=operator_id))
    if not _usable(operator) or not check_password(current_password, operator.password):
        raise SigninFailed(extra={"reason": "password change: current password"})
    identity.new_password_check(person=operator.person, login_name=operator.code,
                                password=new_password)
    if check_password(new_password, operator.password):
        raise PasswordReused()
    operator.password, operator.must_change_password = make_password(new_password), False
    operator.password_changed_at = at
    operator.save(update_fields=["password", "must_change_password", "password_changed_at"])
    audit.record(actor=operator.actor, action="corporate.password.changed", ip=ip,
                 target=f"operator:{operator.pk}", occurred_at=at)
    return operator


def certificate_download(*, operator_id: int, reference_code: str, authorisation_code: str,
                         request_der: bytes, ip: str | None, at: datetime) -> Certificate:
    """The certificate of the USB-Key bound to the operator for this company (ON-09): the
    reference code the administrator or the counter handed over, the authorisation code
    sent by SMS, the key's own signing request. Raises ``authn.EnrolmentFailed`` (a wrong
    try is committed and counted)."""
    operator = Operator.objects.select_related("service", "person").get(pk=operator_id)
    if not _usable(operator):
        raise SigninFailed(extra={"reason": "certificate: operator not in use"})
    certificate = certificates.usb_key_enrol(
        person=operator.person, reference_code=reference_code,
        authorisation_code=authorisation_code, request_der=request_der, at=at,
        company_id=operator.service.company_id)
    audit.record(actor=operator.actor, action="corporate.usb_key.certificate_downloaded",
                 ip=ip, target=f"operator:{operator.pk}", occurred_at=at,
                 details={"certificate": certificate.serial})
    return certificate


# --- what the signed-in operator sees -----------------------------------------------------


def operator_accounts(operator: Operator) -> list[CustomerAccount]:
    """The accounts the operator may see (FC-01, SE-09): the company's accounts linked to
    this service — all of them for the administrator, those of the operator's scope for
    the others."""
    rows = CustomerAccount.objects.filter(
        company_id=operator.service.company_id, corporate_links__service_id=operator.service_id,
        corporate_links__unlinked_at__isnull=True)
    if not operator.is_admin:
        rows = rows.filter(pk__in=OperatorScope.objects.filter(operator=operator)
                           .values("account_id"))
    return list(rows.select_related("ledger_account").distinct().order_by("pk"))


def operator_account(operator: Operator, account_id: int) -> CustomerAccount | None:
    """One account if the operator may see it; None otherwise (another company's account
    looks like no account)."""
    return next((a for a in operator_accounts(operator) if a.pk == account_id), None)


@dataclass(frozen=True)
class PreviousSignin:
    at: datetime | None
    ip: str | None
    failures_since: int


def previous_signin(*, session: OperatorSession) -> PreviousSignin:
    """AU-14: the operator's sign-in before this session (the one that opened it completed
    when it started) and the failed attempts since."""
    logins = OperatorLogin.objects.filter(operator_id=session.operator_id,
                                          at__lte=session.started_at)
    previous = (logins.filter(outcome=SigninOutcome.SUCCESS,
                              completed_at__lt=session.started_at)
                .order_by("-completed_at", "-pk").first())
    failures = logins.exclude(outcome__in=[SigninOutcome.SUCCESS, SigninOutcome.PASSWORD_OK])
    if previous is not None:
        failures = failures.filter(at__gt=previous.completed_at)
    return PreviousSignin(at=previous.completed_at if previous else None,
                          ip=previous.ip if previous else None,
                          failures_since=failures.count())


def role_labels(operator: Operator) -> list[str]:
    """The operator's roles in words (the administrator holds none, FC-02)."""
    return [str(Role(r).label) for r in operator.roles if r in Role.values]
