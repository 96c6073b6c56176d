"""The USB-Key in the web bank (FA-05, ON-09): the customer downloads the certificate for
the key bound at the counter with the two codes, then confirms changes by signing with it."""

import base64
import re

import pytest

from wangyin.authn import certificates
from wangyin.authn.models import Certificate, Signature
from wangyin.core import clock
from wangyin.identity.models import ChannelUser
from wangyin.notify.models import SmsMessage
from wangyin_sdk.usbkey import SoftUsbKey

from .conftest import PASSWORD, sign_in, sms_code

pytestmark = pytest.mark.django_db

SERIAL = "WY2026000555"
PIN = "135790"


def _bind(person):
    _key, reference = certificates.usb_key_bind(person_id=person.pk, serial=SERIAL,
                                                staff="staff:7", at=clock.now())
    body = SmsMessage.objects.filter(purpose="authn.cert_code").latest("id").body
    return reference, re.search(r"授权码 (\d{8})", body).group(1)


def _request(key):
    return base64.b64encode(key.signing_request(PIN)).decode()


@pytest.mark.req("ON-09", "FA-05", "AU-11", "TX-04", "SE-14")
def test_download_the_certificate_then_sign_a_change(client, ready_customer):
    reference, code = _bind(ready_customer.person)
    shown = []
    key = SoftUsbKey(SERIAL, PIN, confirm=lambda text: shown.append(text) or True)
    sign_in(client, "zhangwei_01", PASSWORD)
    assert 'id="usbkey-waiting"' in client.get("/security/").content.decode()
    page = client.post("/security/usbkey/enrol/", {
        "reference_code": reference, "authorisation_code": code, "request": _request(key)})
    assert page.status_code == 200
    issued = re.search(r'data-certificate="([^"]+)"', page.content.decode()).group(1)
    key.install(base64.b64decode(issued))
    assert 'id="usbkey-waiting"' not in client.get("/security/").content.decode()

    # The customer holds only the USB-Key: the change is confirmed with SMS + its signature.
    client.post("/security/", {"reserved_message": "窗外的梧桐"})
    page = client.get("/security/confirm/").content.decode()
    assert 'id="usbkey-sign"' in page
    payload = re.search(r'id="usbkey-sign"[^>]*data-payload="([^"]+)"', page).group(1)
    payload = payload.replace("&quot;", '"').replace("&amp;", "&")
    done = client.post("/security/confirm/", {
        "code": sms_code("authn.security.change"),
        "usbkey_signature": base64.b64encode(key.sign(payload, PIN)).decode()})
    assert done.url == "/security/"
    assert ChannelUser.objects.get().reserved_message == "窗外的梧桐"
    assert Signature.objects.filter(certificate__medium="USBKEY").count() == 1
    assert "窗外的梧桐" in shown[0]  # the key shows the change itself, not only its kind


@pytest.mark.req("ON-09")
def test_wrong_codes_or_a_foreign_request_issue_nothing(client, ready_customer):
    reference, code = _bind(ready_customer.person)
    key = SoftUsbKey(SERIAL, PIN, confirm=lambda text: True)
    sign_in(client, "zhangwei_01", PASSWORD)
    wrong = client.post("/security/usbkey/enrol/", {
        "reference_code": reference, "authorisation_code": f"{(int(code) + 1) % 10**8:08d}",
        "request": _request(key)})
    assert wrong.status_code == 400 and 'role="alert"' in wrong.content.decode()
    other = SoftUsbKey("WY2026000999", PIN, confirm=lambda text: True)
    foreign = client.post("/security/usbkey/enrol/", {
        "reference_code": reference, "authorisation_code": code, "request": _request(other)})
    assert foreign.status_code == 400
    garbage = client.post("/security/usbkey/enrol/", {
        "reference_code": reference, "authorisation_code": code, "request": "%%%"})
    assert garbage.status_code == 400
    assert not Certificate.objects.exists()


def test_without_a_bound_usb_key_the_page_sends_the_customer_back(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    assert client.get("/security/usbkey/enrol/").url == "/security/"
    assert "127.0.0.1:8765" in client.get("/security/")["Content-Security-Policy"]


@pytest.mark.req("FA-09")
def test_a_token_holder_chooses_the_usb_key_in_the_security_centre(client, ready_customer,
                                                                    at):
    from wangyin.authn import tokens

    tokens.token_issue(person_id=ready_customer.person_id, serial="WY00012345",
                       seed="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", staff="staff:7",
                       reason="counter", at=at)
    reference, code = _bind(ready_customer.person)
    key = SoftUsbKey(SERIAL, PIN, confirm=lambda text: True)
    certificates.usb_key_enrol(person=ready_customer.person, reference_code=reference,
                               authorisation_code=code, request_der=key.signing_request(PIN),
                               at=clock.now())
    sign_in(client, "zhangwei_01", PASSWORD)
    page = client.get("/security/").content.decode()
    assert 'id="factor-prefer"' in page and '<option value="TOTP" selected>' in page
    client.post("/security/", {"reserved_message": "窗外的梧桐"})
    assert 'name="token_code"' in client.get("/security/confirm/").content.decode()

    client.post("/security/factor/", {"factor": "CARD"})  # not held: nothing changes
    assert '<option value="TOTP" selected>' in client.get("/security/").content.decode()
    client.post("/security/factor/", {"factor": "USBKEY"})
    assert '<option value="USBKEY" selected>' in client.get("/security/").content.decode()
    client.post("/security/", {"reserved_message": "窗外的梧桐"})
    page = client.get("/security/confirm/").content.decode()
    assert 'id="usbkey-sign"' in page and 'name="token_code"' not in page
