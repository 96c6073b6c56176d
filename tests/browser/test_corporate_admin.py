"""The company administrator in Chromium (FC-02): signs in with the software USB-Key through
the U盾 agent, adds an operator with the entering role — the new operator and then the
role each shown in words and signed on the key's own window — and sees the initial
password once."""

import re
import threading

import pytest
from django.contrib.auth.hashers import check_password

from tests.browser.test_login import _captcha_answer, _click_password, _shot
from tests.conftest import _check
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    PASSWORD,
    admin,
    company,
    now,
    service,
)
from wangyin.authn import certificates
from wangyin.corporate.models import Operator
from wangyin.notify.models import SmsMessage
from wangyin_sdk.agent import Agent, serve
from wangyin_sdk.usbkey import SoftUsbKey

pytestmark = pytest.mark.django_db(transaction=True)

SERIAL = "UK79000101"
PIN = "246810"


@pytest.fixture
def admin_key(tmp_path, live_server, settings, admin, now):  # noqa: F811
    """The administrator's USB-Key for the company, its certificate installed, its agent."""
    device = tmp_path / "usbkey.json"
    key = SoftUsbKey(SERIAL, PIN, confirm=lambda text: True, path=device)
    _key, reference = certificates.usb_key_bind(
        person_id=admin.person_id, serial=SERIAL, staff="staff:teller1", at=now,
        company_id=admin.service.company_id)
    code = re.search(r"授权码 (\d{8})", SmsMessage.objects.filter(
        purpose="authn.cert_code").latest("id").body).group(1)
    issued = certificates.usb_key_enrol(
        person=admin.person, reference_code=reference, authorisation_code=code,
        request_der=key.signing_request(PIN), at=now, company_id=admin.service.company_id)
    key.install(bytes(issued.der))
    server = serve(Agent(device, {live_server.url}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.USBKEY_AGENT_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield device
    server.shutdown()


def _sign_on_key(page, shot: str = ""):
    """Press "sign", check the key's window shows what the page shows, type the PIN."""
    on_page = page.inner_text("#usbkey-payload")
    with page.expect_popup() as opened:
        page.click("#usbkey-sign")
    popup = opened.value
    popup.wait_for_url("**/confirm/**")
    popup.wait_for_selector("#pin")
    assert popup.inner_text("#shown") == on_page
    if shot:
        _shot(popup, shot)
    popup.fill("#pin", PIN)
    popup.click("#confirm")
    page.wait_for_selector("#usbkey-state:has-text('✓')")


@pytest.mark.req("FC-02", "TX-02", "SE-09")
def test_the_administrator_adds_an_operator_with_the_entering_role(
        page, live_server, company, admin, admin_key):  # noqa: F811
    page.goto(live_server.url + "/corp/login/")
    page.fill("#service_number", admin.service.number)
    page.fill("#operator_code", admin.code)
    page.fill("#captcha", _captcha_answer(page))
    page.click("button.primary")
    page.wait_for_url("**/corp/login/password/")
    _click_password(page, PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/corp/login/verify/")
    _sign_on_key(page)
    page.click("#verify-confirm")
    page.wait_for_url("**/corp/home/")

    page.click("#nav-operators")
    page.wait_for_url("**/corp/operators/")
    assert page.locator("#operator-admin").is_visible()
    _shot(page, "corp-admin-operators")
    page.click("#operator-new")
    page.wait_for_url("**/corp/operators/new/")
    page.locator("#id_name").fill("刘新员")
    page.locator("#id_id_type").select_option("RESIDENT_ID")
    page.locator("#id_id_number").fill(_check("36070219850505123"))
    page.locator("#id_mobile").fill("13907970999")
    page.locator("#id_code").fill("pay02")
    page.get_by_label("录入", exact=True).check()
    _shot(page, "corp-admin-new")
    page.click("#operator-review")
    page.wait_for_url("**/corp/admin/confirm/")
    assert "新增操作员pay02" in page.inner_text("#change-summary")
    _sign_on_key(page, "corp-admin-key-window")
    _shot(page, "corp-admin-signed")
    page.click("#confirm-apply")

    password = page.inner_text("#initial-password")
    operator = Operator.objects.get(code="pay02")
    assert check_password(password, operator.password) and operator.roles == []
    _shot(page, "corp-admin-password")
    page.click("#next-step")
    page.wait_for_url("**/corp/admin/confirm/")
    assert "角色为录入" in page.inner_text("#change-summary")
    _sign_on_key(page)
    page.click("#confirm-apply")
    page.wait_for_url(f"**/corp/operators/{operator.pk}/")
    assert "录入" in page.inner_text("#operator-roles")
    assert password not in page.content()
    operator.refresh_from_db()
    assert operator.roles == ["ENTER"]
    _shot(page, "corp-admin-operator")
    assert page.console_problems == []
