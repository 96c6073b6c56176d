"""Flow tests of the corporate web channel: the shared corporate fixtures, and a client that
goes through the real sign-in steps (reading the captcha answer and the SMS code from the
database, which only tests can do; encrypting the password like the browser; signing the
challenge shown on the page with the operator's software USB-Key)."""

import base64
import html
import re

from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    PASSWORD,
    PIN,
    admin,
    authoriser,
    checker,
    company,
    enterer,
    key_of,
    now,
    service,
    sign,
)
from tests.web.conftest import keys_for
from wangyin.identity.models import Captcha
from wangyin.identity.transport import encrypt_payload
from wangyin.notify.models import SmsMessage


def pass_captcha(client, operator, *, answer=None, code=None):
    client.get("/corp/login/")
    token = client.session["corp_captcha"]
    return client.post("/corp/login/", {
        "service_number": operator.service.number, "operator_code": code or operator.code,
        "captcha": answer or Captcha.objects.get(token=token).answer})


def submit_password(client, password=PASSWORD):
    client.get("/corp/login/password/")
    pad = client.session["corp_pad"]
    payload = encrypt_payload({"nonce": pad["nonce"],
                               "fields": {"password": keys_for(password, pad["layout"])}})
    return client.post("/corp/login/password/", {"payload": payload})


def payload_on(page: str) -> str:
    """What the page asks the USB-Key to sign (the data-payload of its sign button)."""
    found = re.search(r'id="usbkey-sign"[^>]*data-payload="([^"]+)"', page).group(1)
    return html.unescape(found)


def sms_code() -> str:
    body = SmsMessage.objects.filter(purpose="authn.corporate.signin").latest("id").body
    return re.search(r"验证码 (\d{6})", body).group(1)


def sign_in(client, operator, key=None, password=PASSWORD):
    """All the steps; with ``key`` it signs the challenge, without it enters the SMS code.
    Returns the last response."""
    pass_captcha(client, operator)
    response = submit_password(client, password)
    if response.url != "/corp/login/verify/":
        return response
    page = client.get("/corp/login/verify/").content.decode()
    if key is not None:
        signature = base64.b64encode(key.sign(payload_on(page), PIN)).decode()
        return client.post("/corp/login/verify/", {"usbkey_signature": signature})
    return client.post("/corp/login/verify/", {"code": sms_code()})
