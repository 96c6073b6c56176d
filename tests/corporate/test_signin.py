"""Operator sign-in (corporate.signin): the password, then the operator's USB-Key for this
company signs the sign-in challenge (an SMS code for an operator without a key), the
lock-out, the forced password change, operators and services not in use, sessions, and
the accounts an operator sees."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.conf import settings

from tests.conftest import _uscc
from tests.corporate.conftest import PASSWORD, PIN, make_operator
from wangyin.audit.models import AuditEvent
from wangyin.authn.errors import EnrolmentFailed
from wangyin.authn.models import Signature
from wangyin.corporate import signin
from wangyin.corporate.errors import SigninFactorFailed, SigninFailed, SigninInterrupted
from wangyin.corporate.models import (
    CorporateService,
    Operator,
    OperatorLogin,
    OperatorScope,
    OperatorSession,
    ServiceAccount,
)
from wangyin.customers import services as customers
from wangyin.identity.errors import LoginLocked, LoginRefused, PasswordReused, WeakPassword
from wangyin.notify.models import SmsMessage
from wangyin.risk.models import Decision
from wangyin_sdk.usbkey import SoftUsbKey

pytestmark = pytest.mark.django_db

IP, DEVICE, AGENT = "10.1.2.3", "d" * 32, "Mozilla/5.0 test"


def _password(operator, now, password=PASSWORD, *, number=None, ip=IP, device=DEVICE):
    return signin.password_check(service_number=number or operator.service.number,
                                 operator_code=operator.code, password=password, ip=ip,
                                 device=device, user_agent=AGENT, at=now)


def _signed_codes(key: SoftUsbKey, challenge) -> dict[str, str]:
    return {"USBKEY": base64.b64encode(key.sign(challenge.sign_payload, PIN)).decode()}


def _sign_in(operator, now, key, *, ip=IP, device=DEVICE):
    ticket = _password(operator, now, ip=ip, device=device)
    challenge = signin.signin_challenge(login_id=ticket.pk, ip=ip, device=device, at=now)
    return signin.signin_complete(login_id=ticket.pk, codes=_signed_codes(key, challenge),
                                  ip=ip, device=device, user_agent=AGENT, at=now)


def _sms_code() -> str:
    body = SmsMessage.objects.filter(purpose="authn.corporate.signin").latest("id").body
    return re.search(r"验证码 (\d{6})", body).group(1)


@pytest.fixture
def other_company(make_company, now):
    """Another company with its own service and account."""
    company = make_company(name="吉安另一贸易有限公司", uscc=_uscc("91360802MA35R8LX2"))
    company.basic = customers.corporate_account_open(
        company_id=company.pk, product="CORPORATE_BASIC", actor="staff:1", opened_at=now)
    service = CorporateService.objects.create(company=company, number="2000000002",
                                              edition="STANDARD", opened_at=now,
                                              opened_by="staff:teller1")
    ServiceAccount.objects.create(service=service, account=company.basic, linked_at=now,
                                  linked_by="staff:teller1")
    company.service = service
    return company


@pytest.mark.req("CH-02", "FA-05", "AU-07", "AU-15")
def test_the_operators_key_for_this_company_signs_the_sign_in(service, enterer, key_of, now):
    key = key_of(enterer)
    ticket = _password(enterer, now)
    assert ticket.factor == "USBKEY" and ticket.outcome == "PASSWORD_OK"
    assert not OperatorSession.objects.exists()  # the password alone opens nothing

    challenge = signin.signin_challenge(login_id=ticket.pk, ip=IP, device=DEVICE, at=now)
    # The key shows what it signs: the company, the service number, the operator code.
    assert service.company.name in challenge.sign_payload
    assert "1000000001" in challenge.sign_payload and "enter01" in challenge.sign_payload
    session = signin.signin_complete(login_id=ticket.pk, codes=_signed_codes(key, challenge),
                                     ip=IP, device=DEVICE, user_agent=AGENT, at=now)

    assert session.operator == enterer and session.factor == "USBKEY"
    assert signin.session_check(sid=session.sid, ip=IP, device=DEVICE, at=now).session == session
    ticket.refresh_from_db()
    assert ticket.outcome == "SUCCESS" and ticket.completed_at == now
    kept = Signature.objects.get(challenge_id=challenge.pk)  # the non-repudiation record
    assert kept.certificate.usb_key.company_id == service.company_id
    actions = set(AuditEvent.objects.filter(actor=enterer.actor).values_list("action",
                                                                            flat=True))
    assert {"corporate.signin.succeeded", "corporate.session.started"} <= actions
    # The risk engine saw the sign-in as a corporate one.
    decision = Decision.objects.filter(person_id=enterer.person_id, kind="login").get()
    assert decision.features["segment"] == "corporate"


@pytest.mark.req("AU-08", "AU-09")
def test_wrong_passwords_are_counted_and_lock_until_the_next_day(service, enterer, key_of,
                                                                 now):
    key_of(enterer)
    for n in range(1, settings.LOGIN_MAX_FAILURES):
        with pytest.raises(SigninFailed) as failed:
            _password(enterer, now, "Wrong0pass")
        enterer.refresh_from_db()
        assert enterer.failed_attempts == n and enterer.locked_until is None
    # An unknown service number or operator code says exactly the same.
    with pytest.raises(SigninFailed) as unknown:
        _password(enterer, now, "Wrong0pass", number="1999999999")
    assert str(unknown.value.message) == str(failed.value.message)

    with pytest.raises(LoginLocked):
        _password(enterer, now, "Wrong0pass")
    enterer.refresh_from_db()
    assert enterer.locked_until > now
    locked = SmsMessage.objects.get(purpose="corporate.signin_locked")
    assert locked.phone == enterer.person.phone and "enter01" in locked.body
    with pytest.raises(LoginLocked):  # the right password does not open a locked login
        _password(enterer, now)
    outcomes = list(OperatorLogin.objects.filter(operator=enterer).order_by("pk")
                    .values_list("outcome", flat=True))
    assert outcomes == ["BAD_PASSWORD"] * settings.LOGIN_MAX_FAILURES + ["LOCKED"]
    # The next day it opens again; a completed sign-in starts the count again.
    tomorrow = enterer.locked_until + timedelta(minutes=1)
    assert _password(enterer, tomorrow).factor == "USBKEY"


@pytest.mark.req("FA-05", "AU-08", "SE-09")
def test_a_wrong_signature_or_the_key_of_another_company_is_refused(
        service, enterer, key_of, other_company, now):
    key_of(enterer)
    # The same person is also an operator of another company, with a key for it.
    elsewhere = make_operator(other_company.service, enterer.person, code="enter01", at=now)
    other_key = key_of(elsewhere)

    ticket = _password(enterer, now)
    challenge = signin.signin_challenge(login_id=ticket.pk, ip=IP, device=DEVICE, at=now)
    altered = challenge.sign_payload.replace(service.company.name, "另一家公司")
    for codes in (_signed_codes(other_key, challenge),
                  {"USBKEY": base64.b64encode(key_of(enterer).sign(altered, PIN)).decode()}):
        with pytest.raises(SigninFactorFailed):
            signin.signin_complete(login_id=ticket.pk, codes=codes, ip=IP, device=DEVICE,
                                   user_agent=AGENT, at=now)
    enterer.refresh_from_db()
    assert enterer.failed_attempts == 2  # each refused signature counts towards the lock
    assert not OperatorSession.objects.exists() and not Signature.objects.exists()
    assert list(OperatorLogin.objects.filter(operator=enterer, outcome="BAD_FACTOR")
                .values_list("factor", flat=True)) == ["USBKEY", "USBKEY"]

    # A completed sign-in puts the count back to zero.
    signin.signin_complete(login_id=ticket.pk, codes=_signed_codes(key_of(enterer), challenge),
                           ip=IP, device=DEVICE, user_agent=AGENT, at=now)
    enterer.refresh_from_db()
    assert enterer.failed_attempts == 0


@pytest.mark.req("FA-05", "SE-09")
def test_only_a_key_for_this_company_makes_a_key_sign_in(service, checker, other_company,
                                                         key_of, now):
    """The checker holds a key for the other company only: here they have no key."""
    key_of(make_operator(other_company.service, checker.person, code="check01", at=now))
    assert _password(checker, now).factor == "SMS"


@pytest.mark.req("SE-09")
def test_the_second_step_belongs_to_its_ticket_device_and_moment(service, enterer, key_of,
                                                                 now):
    key = key_of(enterer)
    ticket = _password(enterer, now)
    with pytest.raises(SigninInterrupted):  # the second step before its challenge
        signin.signin_complete(login_id=ticket.pk, codes={}, ip=IP, device=DEVICE,
                               user_agent=AGENT, at=now)
    challenge = signin.signin_challenge(login_id=ticket.pk, ip=IP, device=DEVICE, at=now)
    codes = _signed_codes(key, challenge)
    for where in ({"ip": IP, "device": "e" * 32}, {"ip": "10.9.9.9", "device": DEVICE}):
        with pytest.raises(SigninInterrupted):
            signin.signin_complete(login_id=ticket.pk, codes=codes, user_agent=AGENT, at=now,
                                   **where)
    with pytest.raises(SigninInterrupted):
        signin.signin_complete(login_id=ticket.pk, codes=codes, ip=IP, device=DEVICE,
                               user_agent=AGENT, at=now + signin.TICKET_WINDOW
                               + timedelta(seconds=1))
    signin.signin_complete(login_id=ticket.pk, codes=codes, ip=IP, device=DEVICE,
                           user_agent=AGENT, at=now)
    with pytest.raises(SigninInterrupted):  # a ticket opens one session only
        signin.signin_complete(login_id=ticket.pk, codes=codes, ip=IP, device=DEVICE,
                               user_agent=AGENT, at=now)
    assert OperatorSession.objects.count() == 1


@pytest.mark.req("ON-07", "AU-01", "AU-02", "AU-12")
def test_the_initial_password_must_be_changed_under_the_customers_policy(
        service, enterer, key_of, now):
    Operator.objects.filter(pk=enterer.pk).update(must_change_password=True)
    session = _sign_in(enterer, now, key_of(enterer))
    assert signin.password_due(session.operator, at=now)

    def change(current, new):
        return signin.password_change(operator_id=enterer.pk, current_password=current,
                                      new_password=new, ip=IP, at=now)

    with pytest.raises(SigninFailed):
        change("Wrong0pass", "Hx7kP2mQ")
    with pytest.raises(WeakPassword) as weak:  # built from the operator's own data
        change(PASSWORD, "enter01Zx")
    assert weak.value.problems == ["personal"]
    with pytest.raises(WeakPassword):
        change(PASSWORD, f"Ab{enterer.person.phone[-6:]}")
    with pytest.raises(WeakPassword):
        change(PASSWORD, "abcd1234")
    with pytest.raises(PasswordReused):
        change(PASSWORD, PASSWORD)
    operator = change(PASSWORD, "Hx7kP2mQ")
    assert not operator.must_change_password and not signin.password_due(operator, at=now)
    assert signin.password_due(operator, at=now + timedelta(
        days=settings.PASSWORD_MAX_AGE_DAYS + 1))
    assert AuditEvent.objects.filter(action="corporate.password.changed",
                                     actor=enterer.actor).exists()


@pytest.mark.req("AU-09", "SE-09")
@pytest.mark.parametrize("state", ["DISABLED", "REMOVED", "CANCELLED"])
def test_disabled_or_removed_operators_and_cancelled_services_do_not_sign_in(
        service, enterer, key_of, now, state):
    key = key_of(enterer)
    session = _sign_in(enterer, now, key)
    with pytest.raises(SigninFailed) as wrong:
        _password(enterer, now, "Wrong0pass")
    if state == "CANCELLED":
        CorporateService.objects.filter(pk=service.pk).update(status=state, cancelled_at=now)
    else:
        Operator.objects.filter(pk=enterer.pk).update(status=state, ended_at=now)

    with pytest.raises(SigninFailed) as refused:
        _password(enterer, now)
    assert str(refused.value.message) == str(wrong.value.message)  # nothing to learn
    # The live session ends at its next request.
    check = signin.session_check(sid=session.sid, ip=IP, device=DEVICE, at=now)
    assert check.session is None and check.ended == "CLOSED"


@pytest.mark.req("AU-09")
def test_a_ticket_of_an_operator_disabled_meanwhile_opens_nothing(service, enterer, key_of,
                                                                  now):
    key = key_of(enterer)
    ticket = _password(enterer, now)
    challenge = signin.signin_challenge(login_id=ticket.pk, ip=IP, device=DEVICE, at=now)
    Operator.objects.filter(pk=enterer.pk).update(status="DISABLED")
    with pytest.raises(SigninFailed):
        signin.signin_complete(login_id=ticket.pk, codes=_signed_codes(key, challenge),
                               ip=IP, device=DEVICE, user_agent=AGENT, at=now)
    assert not OperatorSession.objects.exists()


@pytest.mark.req("RK-16", "AU-09")
def test_risk_control_refuses_a_sign_in_from_a_blocked_address(service, enterer, key_of,
                                                               now):
    from wangyin.risk import lists

    key_of(enterer)
    lists.entry_add(colour="BLACK", subject="IP", value=IP, reason="test", staff="staff:risk",
                    at=now)
    with pytest.raises(LoginRefused):
        _password(enterer, now)
    enterer.refresh_from_db()
    assert enterer.failed_attempts == 0 and not OperatorLogin.objects.exists()


@pytest.mark.req("ON-09", "AU-16", "SE-09")
def test_an_operator_without_a_key_signs_in_by_sms_and_can_download_the_certificate(
        service, authoriser, now):
    from wangyin.authn import certificates

    ticket = _password(authoriser, now)
    assert ticket.factor == "SMS"
    challenge = signin.signin_challenge(login_id=ticket.pk, ip=IP, device=DEVICE, at=now)
    assert challenge.factors == ["SMS"]
    body = SmsMessage.objects.filter(purpose="authn.corporate.signin").latest("id")
    assert body.phone == authoriser.person.phone and "登录企业网银" in body.body
    with pytest.raises(SigninFactorFailed):
        signin.signin_complete(login_id=ticket.pk, codes={"SMS": "000000"}, ip=IP,
                               device=DEVICE, user_agent=AGENT, at=now)
    session = signin.signin_complete(login_id=ticket.pk, codes={"SMS": _sms_code()}, ip=IP,
                                     device=DEVICE, user_agent=AGENT, at=now)
    assert session.factor == "SMS"  # a session that can only download the certificate
    assert signin.waiting_usb_key(authoriser) is None  # no key bound yet

    _key, reference = certificates.usb_key_bind(
        person_id=authoriser.person_id, serial="UK70000991", staff="staff:teller1", at=now,
        company_id=service.company_id)
    code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)
    assert signin.waiting_usb_key(authoriser).serial == "UK70000991"
    device = SoftUsbKey("UK70000991", PIN, confirm=lambda text: True)
    with pytest.raises(EnrolmentFailed):
        signin.certificate_download(operator_id=authoriser.pk, reference_code=reference,
                                    authorisation_code="00000000",
                                    request_der=device.signing_request(PIN), ip=IP, at=now)
    issued = signin.certificate_download(operator_id=authoriser.pk, reference_code=reference,
                                         authorisation_code=code,
                                         request_der=device.signing_request(PIN), ip=IP,
                                         at=now)
    device.install(bytes(issued.der))
    assert signin.key_certificate(authoriser) == issued
    assert signin.waiting_usb_key(authoriser) is None
    # From now on the key signs this operator's sign-ins.
    assert _sign_in(authoriser, now, device).factor == "USBKEY"


@pytest.mark.req("SE-02", "SE-03", "SE-05", "AU-17")
def test_one_session_per_operator_ended_by_idle_time_address_device_or_sign_out(
        service, enterer, key_of, now):
    key = key_of(enterer)
    first = _sign_in(enterer, now, key)
    second = _sign_in(enterer, now, key)
    assert signin.session_check(sid=first.sid, ip=IP, device=DEVICE, at=now).ended == "REPLACED"
    idle = now + timedelta(seconds=settings.CUSTOMER_IDLE_TIMEOUT_SECONDS + 1)
    assert signin.session_check(sid=second.sid, ip=IP, device=DEVICE, at=idle).ended == "IDLE"
    for where, why in (({"ip": "10.9.9.9", "device": DEVICE}, "NETWORK"),
                       ({"ip": IP, "device": "e" * 32}, "DEVICE")):
        session = _sign_in(enterer, now, key)
        assert signin.session_check(sid=session.sid, at=now, **where).ended == why
    session = _sign_in(enterer, now, key)
    signin.session_end(sid=session.sid, reason="LOGOUT", at=now)
    assert signin.session_check(sid=session.sid, ip=IP, device=DEVICE, at=now).ended == "LOGOUT"
    assert OperatorSession.objects.filter(ended_at__isnull=True).count() == 0


@pytest.mark.req("FC-01", "SE-09")
def test_an_operator_sees_only_the_accounts_of_their_scope_and_company(
        service, company, admin, enterer, checker, other_company, now):
    mine = {company.basic.pk, company.general.pk}
    assert {a.pk for a in signin.operator_accounts(enterer)} == mine
    assert {a.pk for a in signin.operator_accounts(admin)} == mine  # all linked accounts
    assert signin.operator_account(enterer, other_company.basic.pk) is None
    # Even a scope row naming another company's account shows nothing of it.
    OperatorScope.objects.create(operator=enterer, account=other_company.basic)
    assert {a.pk for a in signin.operator_accounts(enterer)} == mine
    assert signin.operator_account(enterer, other_company.basic.pk) is None

    OperatorScope.objects.filter(operator=checker, account=company.general).delete()
    assert [a.pk for a in signin.operator_accounts(checker)] == [company.basic.pk]
    assert signin.operator_account(checker, company.general.pk) is None
    ServiceAccount.objects.filter(account=company.basic).update(unlinked_at=now,
                                                                unlinked_by="staff:1")
    assert signin.operator_accounts(checker) == []
    assert [a.pk for a in signin.operator_accounts(admin)] == [company.general.pk]


@pytest.mark.req("AU-14")
def test_the_previous_sign_in_and_failures_since_are_known(service, enterer, key_of, now):
    key = key_of(enterer)
    first = _sign_in(enterer, now, key)
    assert signin.previous_signin(session=first).at is None
    later = now + timedelta(seconds=5)
    with pytest.raises(SigninFailed):
        _password(enterer, later, "Wrong0pass")
    second = _sign_in(enterer, later, key, ip="10.1.2.4")
    previous = signin.previous_signin(session=second)
    assert previous.at == now and previous.ip == IP and previous.failures_since == 1
