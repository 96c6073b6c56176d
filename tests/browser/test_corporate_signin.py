"""An operator signs in to corporate internet banking in Chromium (CH-02): the captcha, the
password on the shuffled soft keyboard, then the operator's USB-Key for the company signs
the sign-in on its own window through the U盾 agent; the home page shows the company, the
operator's roles and the accounts of their scope."""

import re
import threading

import pytest

from tests.browser.test_login import _captcha_answer, _click_password, _shot
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    PASSWORD,
    company,
    enterer,
    now,
    service,
)
from wangyin.authn import certificates
from wangyin.authn.models import Signature
from wangyin.corporate.models import OperatorSession
from wangyin.notify.models import SmsMessage
from wangyin_sdk.agent import Agent, serve
from wangyin_sdk.usbkey import SoftUsbKey

pytestmark = pytest.mark.django_db(transaction=True)

SERIAL = "UK79000001"
PIN = "246810"


@pytest.fixture
def operator_key(tmp_path, live_server, settings, enterer, now):  # noqa: F811
    """The enterer's USB-Key for the company, its certificate installed, and its agent."""
    device = tmp_path / "usbkey.json"
    key = SoftUsbKey(SERIAL, PIN, confirm=lambda text: True, path=device)
    _key, reference = certificates.usb_key_bind(
        person_id=enterer.person_id, serial=SERIAL, staff="staff:teller1", at=now,
        company_id=enterer.service.company_id)
    code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)
    issued = certificates.usb_key_enrol(
        person=enterer.person, reference_code=reference, authorisation_code=code,
        request_der=key.signing_request(PIN), at=now, company_id=enterer.service.company_id)
    key.install(bytes(issued.der))
    server = serve(Agent(device, {live_server.url}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.USBKEY_AGENT_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield device
    server.shutdown()


@pytest.mark.req("CH-02", "FA-05", "AU-04", "AU-05", "FC-01", "SE-04")
def test_an_operator_signs_in_with_the_usb_key_and_sees_the_company_home(
        page, live_server, company, enterer, operator_key):  # noqa: F811
    page.goto(live_server.url + "/corp/login/")
    page.fill("#service_number", enterer.service.number)
    page.fill("#operator_code", enterer.code)
    page.fill("#captcha", _captcha_answer(page))
    _shot(page, "corp-login")
    page.click("button.primary")
    page.wait_for_url("**/corp/login/password/")
    assert page.locator(".sk-key").count() == 50
    _click_password(page, PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/corp/login/verify/")
    on_page = page.inner_text("#usbkey-payload")
    assert company.name in on_page and enterer.code in on_page

    with page.expect_popup() as opened:
        page.click("#usbkey-sign")
    popup = opened.value
    popup.wait_for_url("**/confirm/**")
    popup.wait_for_selector("#pin")
    shown = popup.inner_text("#shown")
    assert shown == on_page  # the key's window shows what the page shows
    _shot(popup, "corp-login-key-window")
    popup.fill("#pin", PIN)
    popup.click("#confirm")
    page.wait_for_selector("#usbkey-state:has-text('✓')")
    _shot(page, "corp-login-signed")
    page.click("#verify-confirm")
    page.wait_for_url("**/corp/home/")

    assert page.inner_text("#company-name") == company.name
    assert "录入" in page.inner_text("#operator-roles")
    assert page.locator("#corp-accounts tbody tr").count() == 2
    assert page.locator("#nav-payments").is_visible()
    assert page.locator("#nav-operators").count() == 0
    assert page.get_by_text("这是您首次登录").is_visible()
    _shot(page, "corp-home")
    assert Signature.objects.get().person_id == enterer.person_id
    assert OperatorSession.objects.get(ended_at__isnull=True).operator_id == enterer.pk
    assert page.console_problems == []

    page.click("#corp-logout")
    page.wait_for_url("**/corp/signed-out/")
    assert page.get_by_text("请立即从电脑上拔出U盾").is_visible()
    assert OperatorSession.objects.get().end_reason == "LOGOUT"
