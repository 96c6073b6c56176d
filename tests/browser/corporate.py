"""What the corporate browser tests share: an operator's software USB-Key for the company
served by its own U盾 agent (one computer per operator), signing on the key's window, and
signing in with the key."""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager

from tests.browser.test_login import _captcha_answer, _click_password, _shot
from tests.corporate.conftest import PASSWORD
from wangyin.authn import certificates
from wangyin.notify.models import SmsMessage
from wangyin_sdk.agent import Agent, serve
from wangyin_sdk.usbkey import SoftUsbKey

PIN = "246810"


@contextmanager
def key_agent(operator, *, serial: str, device, origin: str, at):
    """Bind ``serial`` to ``operator`` for their company, enrol the key kept at ``device``
    and serve it; yields the agent's URL."""
    key = SoftUsbKey(serial, PIN, confirm=lambda text: True, path=device)
    company_id = operator.service.company_id
    _key, reference = certificates.usb_key_bind(
        person_id=operator.person_id, serial=serial, staff="staff:teller1", at=at,
        company_id=company_id)
    code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)
    issued = certificates.usb_key_enrol(
        person=operator.person, reference_code=reference, authorisation_code=code,
        request_der=key.signing_request(PIN), at=at, company_id=company_id)
    key.install(bytes(issued.der))
    server = serve(Agent(device, {origin}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def sign_on_key(page, shot: str = "") -> str:
    """Press the page's USB-Key button, check the key's window shows what the page shows,
    confirm with the PIN; returns what the key showed."""
    on_page = page.inner_text("#usbkey-payload")
    with page.expect_popup() as opened:
        page.click("#usbkey-sign")
    popup = opened.value
    popup.wait_for_url("**/confirm/**")
    popup.wait_for_selector("#pin")
    shown = popup.inner_text("#shown")
    assert shown == on_page
    if shot:
        _shot(popup, shot)
    popup.fill("#pin", PIN)
    popup.click("#confirm")
    page.wait_for_selector("#usbkey-state:has-text('✓')")
    return shown


def sign_in(page, live_server, operator, *, shots: str = "") -> None:
    """Service number, operator code, captcha, password, the key's signature: home.
    ``shots``: a screenshot name prefix for the steps."""
    page.goto(live_server.url + "/corp/login/")
    page.fill("#service_number", operator.service.number)
    page.fill("#operator_code", operator.code)
    page.fill("#captcha", _captcha_answer(page))
    if shots:
        _shot(page, shots)
    page.click("button.primary")
    page.wait_for_url("**/corp/login/password/")
    assert page.locator(".sk-key").count() == 50  # the soft keyboard
    _click_password(page, PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/corp/login/verify/")
    on_page = page.inner_text("#usbkey-payload")
    assert operator.service.company.name in on_page and operator.code in on_page
    sign_on_key(page, f"{shots}-key-window" if shots else "")
    if shots:
        _shot(page, f"{shots}-signed")
    page.click("#verify-confirm")
    page.wait_for_url("**/corp/home/")
