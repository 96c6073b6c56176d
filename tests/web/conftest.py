"""Helpers for flow tests of the customer web channel: a signed-up customer and a client
that goes through the real login steps (reading the captcha answer from the database,
which only tests can do, and encrypting like the browser)."""

import re

import pytest

from wangyin.identity import services as identity
from wangyin.identity.models import Captcha
from wangyin.identity.transport import encrypt_payload

PASSWORD = "Tq7mX9vK"


def keys_for(text: str, layout: str) -> list:
    return [[layout.index(c.lower()), c.isupper()] for c in text]


def pass_captcha(client, name: str, answer: str | None = None):
    client.get("/login/")
    token = client.session["login_captcha"]
    if answer is None:
        answer = Captcha.objects.get(token=token).answer
    return client.post("/login/", {"login_name": name, "captcha": answer})


def submit_password(client, password: str, *, nonce: str | None = None):
    client.get("/login/password/")
    pad = client.session["login_pad"]
    payload = encrypt_payload({"nonce": nonce or pad["nonce"],
                               "fields": {"password": keys_for(password, pad["layout"])}})
    return client.post("/login/password/", {"payload": payload}), payload


def sms_code(purpose: str = "authn.device.bind") -> str:
    """The newest code the SMS sandbox holds for ``purpose``."""
    from wangyin.notify.models import SmsMessage

    body = SmsMessage.objects.filter(purpose=purpose).latest("id").body
    return re.search(r"验证码 (\d{6})", body).group(1)


def bind_device(client):
    client.get("/login/device/")
    return client.post("/login/device/", {"code": sms_code()})


def sign_in(client, name: str, password: str):
    pass_captcha(client, name)
    response, _ = submit_password(client, password)
    if response.status_code == 302 and response.url == "/login/device/":
        response = bind_device(client)
    return response


def change_password(client, current: str, new: str, confirm: str | None = None):
    client.get("/password/change/")
    pad = client.session["password_pad"]
    payload = encrypt_payload({"nonce": pad["nonce"], "fields": {
        "current": keys_for(current, pad["layout"]), "new": keys_for(new, pad["layout"]),
        "confirm": keys_for(confirm or new, pad["layout"])}})
    return client.post("/password/change/", {"payload": payload})


@pytest.fixture
def customer(make_person, at):
    """A customer enrolled at the counter; returns (user, initial password)."""
    person = make_person()
    return identity.internet_banking_open(
        person_id=person.pk, login_name="zhangwei_01", edition="PRO", risk_acknowledged=True,
        staff="staff:teller1", reason="counter", at=at)


@pytest.fixture
def ready_customer(customer, client):
    """A customer who has already changed the initial password (then signed out)."""
    user, initial = customer
    sign_in(client, "zhangwei_01", initial)
    change_password(client, initial, PASSWORD)
    client.post("/logout/")
    return user


@pytest.fixture
def accounts(ready_customer, make_person, fund, at):
    """The ready customer's Class I account with ¥5,000.00, and 李四's Class I account."""
    from wangyin.customers.services import personal_account_open

    mine = personal_account_open(person_id=ready_customer.person_id, product="PERSONAL_I",
                                 face_to_face=True, actor="staff:1", opened_at=at)
    fund(mine.ledger_account, "5000.00")
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                        phone="13900000001")
    theirs = personal_account_open(person_id=other.pk, product="PERSONAL_I",
                                   face_to_face=True, actor="staff:1", opened_at=at)
    return mine, theirs
