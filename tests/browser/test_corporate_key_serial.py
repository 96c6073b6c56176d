"""The bank's corporate pages name the operator's USB-Key to the U盾 agent (TX-02): with
several keys plugged into one agent (an office computer with two operators' keys, or a
person's personal key and their key for the company), the key's window signs with the
operator's key for the company at once instead of asking the holder which key to use."""

# ruff: noqa: F811 - fixtures imported from tests.corporate.conftest are parameters

import re
import threading

import pytest

from tests.browser.corporate import PIN
from tests.browser.test_login import _captcha_answer, _click_password, _shot
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    PASSWORD,
    company,
    enterer,
    now,
    service,
)
from wangyin.authn import certificates
from wangyin.corporate.models import OperatorSession
from wangyin.notify.models import SmsMessage
from wangyin_sdk.agent import Agent, serve
from wangyin_sdk.usbkey import SoftUsbKey

pytestmark = pytest.mark.django_db(transaction=True)

SERIAL, OTHER = "UK79000011", "UK79000012"


@pytest.fixture
def two_keys(tmp_path, live_server, settings, enterer, now):  # noqa: F811
    """One agent with two keys: another one first, then the enterer's key for the company."""
    other = tmp_path / "other.json"
    SoftUsbKey(OTHER, PIN, confirm=lambda text: True, path=other)
    mine = tmp_path / "mine.json"
    key = SoftUsbKey(SERIAL, PIN, confirm=lambda text: True, path=mine)
    company_id = enterer.service.company_id
    _key, reference = certificates.usb_key_bind(
        person_id=enterer.person_id,
        serial=SERIAL,
        staff="staff:teller1",
        at=now,
        company_id=company_id,
    )
    code = re.search(
        r"授权码 (\d{8})", SmsMessage.objects.filter(purpose="authn.cert_code").latest("id").body
    ).group(1)
    issued = certificates.usb_key_enrol(
        person=enterer.person,
        reference_code=reference,
        authorisation_code=code,
        request_der=key.signing_request(PIN),
        at=now,
        company_id=company_id,
    )
    key.install(bytes(issued.der))
    server = serve(Agent([other, mine], {live_server.url}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.USBKEY_AGENT_URL = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield
    finally:
        server.shutdown()


@pytest.mark.req("TX-02", "FA-05")
def test_the_key_window_signs_with_the_operators_key_without_asking_which(
    page, live_server, enterer, two_keys
):  # noqa: F811
    page.goto(live_server.url + "/corp/login/")
    page.fill("#service_number", enterer.service.number)
    page.fill("#operator_code", enterer.code)
    page.fill("#captcha", _captcha_answer(page))
    page.click("button.primary")
    page.wait_for_url("**/corp/login/password/")
    _click_password(page, PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/corp/login/verify/")
    assert page.locator('meta[name="wangyin-usbkey-serial"]').get_attribute("content") == SERIAL
    with page.expect_popup() as opened:
        page.click("#usbkey-sign")
    popup = opened.value
    popup.wait_for_url("**/confirm/**")
    popup.wait_for_selector("#pin")
    assert f"U盾 {SERIAL} 将签署" in popup.inner_text("body")
    assert popup.locator("#keys").count() == 0  # no choice of key offered
    _shot(popup, "corp-key-named")
    popup.fill("#pin", PIN)
    popup.click("#confirm")
    page.wait_for_selector("#usbkey-state:has-text('✓')")
    page.click("#verify-confirm")
    page.wait_for_url("**/corp/home/")
    assert OperatorSession.objects.get(ended_at__isnull=True).operator_id == enterer.pk
