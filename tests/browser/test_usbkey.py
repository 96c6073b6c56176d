"""The USB-Key in Chromium (FA-05, ON-09): the customer runs the U盾 agent next to the
browser, downloads the certificate for the key bound at the counter, and confirms a change
by checking the text and typing the PIN on the key's own window."""

import re
import threading

import pytest

from tests.browser.test_login import (
    _shot,
    enrolled,  # noqa: F401 -- the fixture
    signed_in,
)
from tests.web.conftest import sms_code
from wangyin.authn import certificates
from wangyin.authn.models import Certificate, Signature
from wangyin.core import clock
from wangyin.identity.models import ChannelUser
from wangyin.notify.models import SmsMessage
from wangyin_sdk.agent import Agent, serve
from wangyin_sdk.usbkey import SoftUsbKey

pytestmark = pytest.mark.django_db(transaction=True)

SERIAL = "WY2026000321"
PIN = "864213"


@pytest.fixture
def agent(tmp_path, live_server, settings):
    device = tmp_path / "usbkey.json"
    SoftUsbKey(SERIAL, PIN, confirm=lambda text: False, path=device)
    server = serve(Agent(device, {live_server.url}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.USBKEY_AGENT_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield device
    server.shutdown()


def _on_the_key(page, click, shot):
    with page.expect_popup() as opened:
        page.click(click)
    popup = opened.value
    popup.wait_for_url("**/confirm/**")
    popup.wait_for_selector("#pin")
    _shot(popup, shot)
    shown = popup.inner_text("#shown")
    popup.fill("#pin", PIN)
    popup.click("#confirm")
    return shown


@pytest.mark.req("FA-05", "ON-09", "AU-11", "TX-04")
def test_download_the_certificate_and_sign_a_change_on_the_key(page, live_server, enrolled,  # noqa: F811
                                                               agent):
    user = signed_in(page, live_server.url, enrolled)
    _key, reference = certificates.usb_key_bind(person_id=user.person_id, serial=SERIAL,
                                                staff="staff:teller1", at=clock.now())
    code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)

    page.goto(live_server.url + "/security/")
    page.click("#usbkey-waiting a")
    page.wait_for_url("**/security/usbkey/enrol/")
    page.fill("#reference_code", reference)
    page.fill("#authorisation_code", code)
    _shot(page, "usbkey-enrol")
    shown = _on_the_key(page, "#usbkey-request", "usbkey-key-window-request")
    assert SERIAL in shown
    page.wait_for_function("() => { const s = document.getElementById('usbkey-state');"
                           " return s && s.textContent && s.textContent === s.dataset.done; }")
    _shot(page, "usbkey-installed")
    certificate = Certificate.objects.get(person_id=user.person_id)
    assert certificate.medium == "USBKEY" and certificate.suite == "sm2"
    assert SoftUsbKey.open(agent, confirm=lambda t: True).certificate == bytes(certificate.der)

    page.goto(live_server.url + "/security/")
    page.fill("#id_reserved_message", "窗外的梧桐")
    page.click("#main section form button.primary >> nth=0")
    page.wait_for_url("**/security/confirm/")
    on_page = page.inner_text("#usbkey-payload")
    shown = _on_the_key(page, "#usbkey-sign", "usbkey-key-window-sign")
    # The key shows what the page shows: the kind of operation and the change itself.
    assert shown == on_page and "修改安全设置" in shown and "窗外的梧桐" in shown
    page.wait_for_selector("#usbkey-state:has-text('✓')")
    page.fill("#code", sms_code("authn.security.change"))
    _shot(page, "usbkey-confirm")
    page.click("button.primary")
    page.wait_for_url("**/security/")
    assert ChannelUser.objects.get(pk=user.pk).reserved_message == "窗外的梧桐"
    assert Signature.objects.get().certificate_id == certificate.pk
    assert page.console_problems == []
