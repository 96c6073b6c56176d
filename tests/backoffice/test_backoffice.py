"""The back office: staff sign-in with TOTP, teller look-up and internet-banking actions."""

import re

import pytest
from django_otp.oath import TOTP

from tests.conftest import ID_NUMBER
from wangyin.audit.models import AuditEvent
from wangyin.backoffice import staff
from wangyin.core import clock
from wangyin.identity import services as identity
from wangyin.identity.errors import LoginFailed
from wangyin.identity.models import ChannelUser

pytestmark = pytest.mark.django_db

STAFF_PASSWORD = "Counter-Desk-2026"


def _code(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


@pytest.fixture
def teller():
    return staff.staff_create(username="teller01", password=STAFF_PASSWORD, role=staff.TELLER,
                              created_by="system:test")


@pytest.fixture
def bo(client, teller):
    """A client signed in to the back office as the teller."""
    user, device = teller
    client.post("/bo/login/", {"username": "teller01", "password": STAFF_PASSWORD})
    response = client.post("/bo/login/otp/", {"token": _code(device)})
    assert response.url == "/bo/"
    return client


@pytest.mark.req("CH-06")
def test_staff_need_a_password_and_a_totp_code(client, teller):
    user, device = teller
    assert client.get("/bo/").url == "/bo/login/"
    bad = client.post("/bo/login/", {"username": "teller01", "password": "wrong"})
    assert bad.status_code == 400
    client.post("/bo/login/", {"username": "teller01", "password": STAFF_PASSWORD})
    assert client.get("/bo/").url == "/bo/login/otp/"  # password alone is not enough
    assert client.post("/bo/login/otp/", {"token": "000000" if _code(device) != "000000"
                                          else "111111"}).status_code == 400
    code = _code(device)
    # A failure throttles the device: even the right code waits (guessing is limited).
    assert client.post("/bo/login/otp/", {"token": code}).status_code == 400
    device.refresh_from_db()
    device.throttle_reset()
    assert client.post("/bo/login/otp/", {"token": code}).url == "/bo/"
    assert client.get("/bo/").status_code == 200
    client.post("/bo/logout/")
    client.post("/bo/login/", {"username": "teller01", "password": STAFF_PASSWORD})
    replay = client.post("/bo/login/otp/", {"token": code})
    assert replay.status_code == 400  # a TOTP code works once


@pytest.mark.req("ORG-01", "SE-08")
def test_other_roles_cannot_use_teller_functions(client, make_person):
    person = make_person()
    user, device = staff.staff_create(username="auditor01", password=STAFF_PASSWORD,
                                      role=staff.AUDITOR, created_by="system:test")
    client.post("/bo/login/", {"username": "auditor01", "password": STAFF_PASSWORD})
    client.post("/bo/login/otp/", {"token": _code(device)})
    for url in (f"/bo/customers/{person.pk}/", "/bo/sms/"):
        response = client.get(url)
        assert response.status_code == 404 and "页面不存在" in response.content.decode()


@pytest.mark.req("PI-03")
def test_search_by_id_phone_or_login_shows_masked_data(bo, make_person, at):
    person = make_person()
    identity.internet_banking_open(person_id=person.pk, login_name="zhangwei_01",
                                   edition="PRO", risk_acknowledged=True,
                                   staff="staff:teller01", reason="r", at=at)
    for q in (ID_NUMBER, "13807970001", "ZhangWei_01"):
        page = bo.post("/bo/customers/", {"q": q}).content.decode()
        assert person.masked_id_number in page and "138****0001" in page
        assert ID_NUMBER not in page and "13807970001" not in page  # not even echoed back
    assert "未找到客户" in bo.post("/bo/customers/", {"q": "nobody"}).content.decode()
    assert bo.get("/bo/customers/", {"q": ID_NUMBER}).status_code == 405  # never in a URL


@pytest.mark.req("ON-01", "AD-02")
def test_teller_opens_internet_banking_and_prints_the_envelope(bo, make_person, at):
    person = make_person()
    detail = bo.get(f"/bo/customers/{person.pk}/").content.decode()
    assert ID_NUMBER not in detail
    refused = bo.post(f"/bo/customers/{person.pk}/banking/open/",
                      {"login_name": "zhangwei_01", "edition": "PRO", "reason": "counter"})
    assert refused.status_code == 400 and not ChannelUser.objects.exists()  # no risk ack
    envelope = bo.post(f"/bo/customers/{person.pk}/banking/open/", {
        "login_name": "zhangwei_01", "edition": "PRO", "risk_acknowledged": "on",
        "reason": "customer request, ID checked"})
    assert envelope["Cache-Control"] == "no-store"
    password = re.search(r'id="initial-password">([^<]+)<', envelope.content.decode()).group(1)
    user = identity.password_login(login_name="zhangwei_01", password=password, ip=None,
                                   device="d", user_agent="", at=at)
    assert user.must_change_password
    event = AuditEvent.objects.get(action="identity.banking.opened")
    assert event.actor == "staff:teller01" and event.details["reason"]


@pytest.mark.req("ON-08", "ON-06", "AD-02")
def test_unlock_reset_and_close_at_the_counter(bo, make_person, at, settings):
    person = make_person()
    user, initial = identity.internet_banking_open(
        person_id=person.pk, login_name="zhangwei_01", edition="PRO", risk_acknowledged=True,
        staff="staff:teller01", reason="r", at=at)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        with pytest.raises(Exception):  # noqa: B017 - LoginFailed, then LoginLocked
            identity.password_login(login_name="zhangwei_01", password="Wrong1pass", ip=None,
                                    device="d", user_agent="", at=clock.now())
    assert "已锁定" in bo.get(f"/bo/customers/{person.pk}/").content.decode()
    bo.post(f"/bo/customers/{person.pk}/banking/unlock/", {"reason": "ID checked"})
    assert ChannelUser.objects.get().failed_attempts == 0
    page = bo.post(f"/bo/customers/{person.pk}/banking/reset/", {"reason": "forgotten"})
    new_password = re.search(r'id="initial-password">([^<]+)<', page.content.decode()).group(1)
    assert new_password != initial
    bo.post(f"/bo/customers/{person.pk}/banking/close/", {"reason": "customer leaves"})
    with pytest.raises(LoginFailed):
        identity.password_login(login_name="zhangwei_01", password=new_password, ip=None,
                                device="d", user_agent="", at=at)
    actions = list(AuditEvent.objects.filter(actor="staff:teller01")
                   .values_list("action", "details"))
    for action in ("identity.login.unlocked", "identity.password.reset",
                   "identity.banking.closed"):
        assert any(a == action and d.get("reason") for a, d in actions)


def test_teller_action_without_a_reason_changes_nothing(bo, make_person, at):
    person = make_person()
    identity.internet_banking_open(person_id=person.pk, login_name="zhangwei_01",
                                   edition="PRO", risk_acknowledged=True,
                                   staff="staff:teller01", reason="r", at=at)
    bo.post(f"/bo/customers/{person.pk}/banking/close/", {"reason": ""})
    assert ChannelUser.objects.get().status == "ACTIVE"


def test_the_sms_sandbox_is_readable_in_the_back_office(bo, make_person, at):
    person = make_person()
    identity.internet_banking_open(person_id=person.pk, login_name="zhangwei_01",
                                   edition="PRO", risk_acknowledged=True,
                                   staff="staff:teller01", reason="r", at=at)
    page = bo.get("/bo/sms/").content.decode()
    assert "zhangwei_01" in page and "138****0001" in page and "13807970001" not in page


@pytest.mark.req("SE-11", "AU-08")
def test_staff_sign_in_attempts_are_limited(client, teller):
    for _ in range(5):
        assert client.post("/bo/login/", {"username": "teller01",
                                          "password": "wrong"}).status_code == 400
    blocked = client.post("/bo/login/", {"username": "teller01", "password": STAFF_PASSWORD})
    assert blocked.status_code == 429
    assert client.get("/bo/").url == "/bo/login/"


@pytest.fixture
def enrolled(make_person, at):
    person = make_person()
    identity.internet_banking_open(person_id=person.pk, login_name="zhangwei_01",
                                   edition="PRO", risk_acknowledged=True,
                                   staff="staff:teller01", reason="r", at=at)
    return person


@pytest.mark.req("FA-02", "FA-03", "AD-02")
def test_teller_registers_unlocks_and_revokes_a_token(bo, enrolled):
    from wangyin.authn.models import OtpToken, TokenStatus

    url = f"/bo/customers/{enrolled.pk}/token/"
    seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    bo.post(url + "issue/", {"kind": "TOTP", "serial": "WY1", "seed": seed, "reason": "counter"})
    assert not OtpToken.objects.exists()
    assert 'id="notice"' in bo.get(f"/bo/customers/{enrolled.pk}/").content.decode()
    bo.post(url + "issue/", {"kind": "TOTP", "serial": "WY00012345", "seed": seed,
                             "reason": "counter"})
    bo.post(url + "issue/", {"kind": "OCRA", "serial": "WYOCRA0001", "seed": seed,
                             "reason": "counter"})
    assert OtpToken.objects.get(kind="OCRA").serial == "WYOCRA0001"
    token = OtpToken.objects.get(kind="TOTP")
    page = bo.get(f"/bo/customers/{enrolled.pk}/").content.decode()
    assert "WY00012345" in page and seed not in page
    token.status = TokenStatus.LOCKED
    token.save()
    bo.post(url + "unlock/", {"kind": "TOTP", "reason": "customer present"})
    assert OtpToken.objects.get(kind="TOTP").status == TokenStatus.ACTIVE
    bo.post(url + "revoke/", {"kind": "TOTP", "reason": "lost"})
    assert OtpToken.objects.get(kind="TOTP").status == TokenStatus.REVOKED
    assert OtpToken.objects.get(kind="OCRA").status == TokenStatus.ACTIVE
    actions = AuditEvent.objects.filter(actor="staff:teller01").values_list("action", flat=True)
    assert {"authn.token.issued", "authn.token.unlocked", "authn.token.revoked"} <= set(actions)


@pytest.mark.req("ON-02", "ON-03")
def test_funds_capability_is_reopened_only_at_the_counter_after_the_risk_warning(bo, enrolled):
    url = f"/bo/customers/{enrolled.pk}/banking/edition/"
    bo.post(url, {"edition": "PUBLIC", "reason": "customer request"})
    assert ChannelUser.objects.get().edition == "PUBLIC"
    bo.post(url, {"edition": "PRO", "reason": "reopen"})  # no risk acknowledgement
    assert ChannelUser.objects.get().edition == "PUBLIC"
    bo.post(url, {"edition": "PRO", "reason": "reopen", "risk_acknowledged": "on"})
    assert ChannelUser.objects.get().edition == "PRO"
    event = AuditEvent.objects.filter(action="identity.edition.changed").latest("id")
    assert event.actor == "staff:teller01" and event.details["reason"] == "reopen"


@pytest.mark.req("FA-04", "SE-10")
def test_teller_issues_a_card_as_a_pdf_once(bo, enrolled, client):
    from wangyin.authn.models import PasswordCard

    response = bo.post(f"/bo/customers/{enrolled.pk}/card/issue/", {"reason": "counter"})
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    card = PasswordCard.objects.get()
    page = bo.get(f"/bo/customers/{enrolled.pk}/").content.decode()
    assert card.serial in page and card.grid[:20] not in page
    again = bo.post(f"/bo/customers/{enrolled.pk}/card/issue/", {"reason": "again"})
    assert again.status_code == 302 and PasswordCard.objects.count() == 1
    bo.post(f"/bo/customers/{enrolled.pk}/card/revoke/", {"reason": "lost"})
    assert PasswordCard.objects.get().status == "REVOKED"


@pytest.mark.req("ON-09", "ON-10")
def test_teller_binds_a_usb_key_and_the_reference_code_is_shown_once(bo, enrolled):
    from wangyin.authn.models import Enrolment, UsbKey
    from wangyin.notify.models import SmsMessage

    url = f"/bo/customers/{enrolled.pk}/usbkey/"
    page = bo.post(url + "bind/", {"serial": "UK20260001", "reason": "counter"})
    reference = re.search(r'id="reference-code">(\d{10})<', page.content.decode()).group(1)
    assert "no-store" in page["Cache-Control"]
    assert UsbKey.objects.get().serial == "UK20260001"
    enrolment = Enrolment.objects.get()
    assert reference not in enrolment.reference_hash
    assert "授权码" in SmsMessage.objects.filter(purpose="authn.cert_code").get().body
    detail = bo.get(f"/bo/customers/{enrolled.pk}/").content.decode()
    assert "UK20260001" in detail and reference not in detail
    again = bo.post(url + "codes/", {"reason": "codes expired"}).content.decode()
    assert re.search(r'id="reference-code">(\d{10})<', again)
    old, new = Enrolment.objects.order_by("id")
    assert old.expires_at <= new.created_at < new.expires_at  # the old codes stop working
    bo.post(url + "end/", {"reason": "lost at the market", "lost": "on"})
    assert UsbKey.objects.get().status == "LOST"
    actions = set(AuditEvent.objects.filter(actor="staff:teller01")
                  .values_list("action", flat=True))
    assert {"authn.usb_key.bound", "authn.enrolment.opened", "authn.usb_key.lost"} <= actions


@pytest.mark.req("ON-11", "AD-02")
def test_teller_changes_the_reserved_number_and_both_numbers_are_told(bo, enrolled):
    from wangyin.customers.models import Person
    from wangyin.notify.models import SmsMessage

    url = f"/bo/customers/{enrolled.pk}/phone/"
    bo.post(url, {"phone": "12345", "reason": "x"})
    assert Person.objects.get().phone == "13807970001"
    bo.post(url, {"phone": "13907970002", "reason": "new number"})
    assert Person.objects.get().phone == "13907970002"
    told = {m.phone for m in SmsMessage.objects.filter(purpose="customers.phone_changed")}
    assert told == {"13807970001", "13907970002"}
    event = AuditEvent.objects.get(action="customers.person.phone_changed")
    assert "13907970002" not in str(event.details)  # masked in the trail
