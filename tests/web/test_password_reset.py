"""Forgotten password online (FP-01, ON-08): account + ID + captcha, then the SMS code to
the reserved phone and the customer's security device, then a new password. Without a
security device the customer's face is compared with their ID card's photo (FA-08), and
where the bank does not verify faces they are sent to the counter."""

import base64
import json

import pyotp
import pytest

from tests.conftest import ID_NUMBER
from wangyin.audit.models import AuditEvent
from wangyin.authn import face, tokens
from wangyin.core import clock
from wangyin.customers.services import personal_account_open
from wangyin.identity.models import Captcha, CustomerSession, SessionEnd
from wangyin.identity.transport import encrypt_payload
from wangyin.notify.models import SmsMessage
from wangyin.ops import faces

from .conftest import PASSWORD, keys_for, pass_captcha, sign_in, sms_code, submit_password

pytestmark = [pytest.mark.django_db, pytest.mark.req("FP-01", "ON-08")]

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NEW = "Hb4nW8rLz"


@pytest.fixture
def account(ready_customer, at):
    return personal_account_open(person_id=ready_customer.person_id, product="PERSONAL_I",
                                 face_to_face=True, actor="staff:1", opened_at=at)


@pytest.fixture
def with_token(ready_customer, at):
    return tokens.token_issue(person_id=ready_customer.person_id, serial="WY00012345",
                              seed=SEED, staff="staff:7", reason="counter", at=at)


def _start(client, account_number, id_number=ID_NUMBER):
    client.get("/password/forgot/")
    answer = Captcha.objects.get(token=client.session["reset_captcha"]).answer
    return client.post("/password/forgot/", {"account_number": account_number,
                                             "id_number": id_number, "captcha": answer})


def _confirm(client, *, code, token_code="", new=NEW, face_frames=""):
    client.get("/password/forgot/confirm/")
    pad = client.session["reset_pad"]
    payload = encrypt_payload({"nonce": pad["nonce"], "fields": {
        "new": keys_for(new, pad["layout"]), "confirm": keys_for(new, pad["layout"])}})
    return client.post("/password/forgot/confirm/", {"payload": payload, "code": code,
                                                     "token_code": token_code,
                                                     "face_frames": face_frames})


def _password_step(client, password) -> str:
    pass_captcha(client, "zhangwei_01")
    return submit_password(client, password)[0].url


def _next_code() -> str:
    totp = pyotp.TOTP(SEED)
    return totp.generate_otp(totp.timecode(clock.now()) + 1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_reset_with_sms_and_token_then_sign_in(client, account, ready_customer, at):
    other = client.__class__()
    sign_in(other, "zhangwei_01", PASSWORD)  # a live session elsewhere
    tokens.token_issue(person_id=ready_customer.person_id, serial="WY00012345", seed=SEED,
                       staff="staff:7", reason="counter", at=at)
    assert _start(client, account.number).url == "/password/forgot/confirm/"
    page = client.get("/password/forgot/confirm/").content.decode()
    assert 'name="code"' in page and 'name="token_code"' in page
    now_code = pyotp.TOTP(SEED).now()
    failed = _confirm(client, code=sms_code("authn.password.reset"), token_code=_wrong(now_code))
    assert failed.status_code == 400
    done = _confirm(client, code=sms_code("authn.password.reset"),
                    token_code=_next_code())
    assert done.status_code == 302 and done.url == "/login/"
    assert _password_step(client.__class__(), NEW) == "/login/device/"  # right password
    assert _password_step(client.__class__(), PASSWORD) == "/login/"
    ended = CustomerSession.objects.filter(user=ready_customer,
                                           end_reason=SessionEnd.PASSWORD_RESET)
    assert ended.exists()
    assert SmsMessage.objects.filter(purpose="identity.password_reset").exists()
    event = AuditEvent.objects.filter(action="identity.password.reset").latest("id")
    assert event.details["channel"] == "online"


def test_a_wrong_token_code_changes_nothing(client, account, with_token, ready_customer):
    _start(client, account.number)
    ready_customer.refresh_from_db()
    before = ready_customer.password
    response = _confirm(client, code=sms_code("authn.password.reset"), token_code="000000"
                        if pyotp.TOTP(SEED).now() != "000000" else "111111")
    assert response.status_code == 400
    ready_customer.refresh_from_db()
    assert ready_customer.password == before


def test_without_a_security_device_or_face_check_the_customer_is_sent_to_the_counter(
        client, account, settings):
    settings.FACE_VERIFIER = "off"  # a bank without a face-verification provider
    sent = SmsMessage.objects.count()
    response = _start(client, account.number)
    assert response.status_code == 403
    assert "counter" in response.content.decode() or "柜台" in response.content.decode()
    assert SmsMessage.objects.count() == sent  # no code was sent


def test_details_that_do_not_match_get_one_vague_answer(client, account, with_token):
    sent = SmsMessage.objects.count()
    wrong_id = _start(client, account.number, id_number="11010519491231002X")
    wrong_account = _start(client, "6230000000000000000")
    assert wrong_id.status_code == wrong_account.status_code == 400
    assert SmsMessage.objects.count() == sent
    assert client.get("/password/forgot/confirm/").url == "/password/forgot/"


@pytest.mark.req("TX-06", "TX-05")
def test_codes_are_bound_to_the_device_that_asked(client, account, with_token, ready_customer):
    _start(client, account.number)
    client.cookies["wy_dev"] = "another-device-id-0000000000000000"
    ready_customer.refresh_from_db()
    before = ready_customer.password
    response = _confirm(client, code=sms_code("authn.password.reset"),
                        token_code=pyotp.TOTP(SEED).now())
    assert response.status_code == 400
    ready_customer.refresh_from_db()
    assert ready_customer.password == before


def _frames(who: str, sway=((0, 0), (2, 1), (3, 3))) -> str:
    """What face.js posts: three camera pictures a moment apart, as JPEG data URLs."""
    return json.dumps(["data:image/jpeg;base64," + base64.b64encode(
        faces.portrait(who, dx=dx, dy=dy)).decode() for dx, dy in sway])


@pytest.fixture
def id_photo(ready_customer, at):
    """The customer's ID photo in the face-verification sandbox's register."""
    person = ready_customer.person
    face.sandbox_register(id_type=person.id_type, id_number=person.id_number, name=person.name,
                          picture=faces.portrait(person.name), at=at)


@pytest.mark.req("FA-08")
def test_without_a_device_the_face_against_the_id_photo_resets_the_password(
        client, account, ready_customer, id_photo):
    assert _start(client, account.number).url == "/password/forgot/confirm/"
    page = client.get("/password/forgot/confirm/")
    assert 'name="face_frames"' in page.content.decode()
    assert "camera=(self)" in page["Permissions-Policy"]
    assert "camera=()" in client.get("/login/")["Permissions-Policy"]  # only where asked

    done = _confirm(client, code=sms_code("authn.password.reset"),
                    face_frames=_frames(ready_customer.person.name))

    assert done.status_code == 302 and done.url == "/login/"
    assert _password_step(client.__class__(), NEW) == "/login/device/"
    check = AuditEvent.objects.get(action="authn.face.checked")
    assert check.result == "SUCCESS" and check.details["live"] is True
    assert check.details["similarity"] >= 0.85
    assert "frames" not in json.dumps(check.details)  # no picture is kept


@pytest.mark.req("FA-08")
@pytest.mark.parametrize(("frames", "why"), [
    (lambda name: _frames("someone else"), "another face"),
    (lambda name: _frames(name, sway=((0, 0),) * 3), "not live"),  # one still picture
    (lambda name: _frames(name, sway=((0, 0),) * 2), "no usable frames"),
    (lambda name: json.dumps(["data:image/jpeg;base64,AAAA"] * 3), "no usable frames"),
    (lambda name: "", "no usable frames"),
])
def test_a_face_that_is_not_accepted_changes_nothing(client, account, ready_customer, id_photo,
                                                     frames, why):
    _start(client, account.number)
    ready_customer.refresh_from_db()
    before = ready_customer.password
    response = _confirm(client, code=sms_code("authn.password.reset"),
                        face_frames=frames(ready_customer.person.name))
    assert response.status_code == 400
    assert "ID card" in response.content.decode() or "身份证照片" in response.content.decode()
    ready_customer.refresh_from_db()
    assert ready_customer.password == before
    failed = AuditEvent.objects.filter(action="authn.challenge.failed").latest("id")
    assert failed.details["factors"]["FACE"] == why


@pytest.mark.req("FA-08")
def test_a_customer_not_on_the_register_cannot_pass_the_face_check(client, account,
                                                                   ready_customer):
    _start(client, account.number)
    response = _confirm(client, code=sms_code("authn.password.reset"),
                        face_frames=_frames(ready_customer.person.name))
    assert response.status_code == 400
    assert AuditEvent.objects.get(action="authn.face.checked").details["on_record"] is False
