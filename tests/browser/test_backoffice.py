"""The back office in Chromium: a teller signs in with password + TOTP, finds a customer,
opens internet banking (the envelope) and registers an OTP token; an auditor verifies the
audit trail."""

import pytest

from tests.backoffice.test_backoffice import STAFF_PASSWORD, _code
from tests.browser.test_login import _shot
from tests.conftest import ID_NUMBER
from wangyin.authn.models import OtpToken
from wangyin.backoffice import staff
from wangyin.identity.models import ChannelUser

pytestmark = pytest.mark.django_db(transaction=True)


def _staff_sign_in(page, url, username, role):
    user, device = staff.staff_create(username=username, password=STAFF_PASSWORD, role=role,
                                      created_by="system:test")
    page.goto(url + "/bo/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/bo/login/otp/")
    page.fill("#id_token", _code(device))
    page.click("button.primary")
    page.wait_for_url(url + "/bo/")


@pytest.mark.req("CH-06", "ON-01", "FA-02")
def test_teller_opens_banking_and_registers_a_token(page, live_server, make_person):
    person = make_person()
    _staff_sign_in(page, live_server.url, "teller01", staff.TELLER)
    page.fill("#id_q", ID_NUMBER)
    page.click("button.primary")
    page.click(f"a[href='/bo/customers/{person.pk}/']")
    page.wait_for_url(f"**/bo/customers/{person.pk}/")
    page.fill("#id_login_name", "zhangwei_bo")
    page.check("#id_risk_acknowledged")
    page.fill("#id_reason", "客户申请")
    page.click("form[action$='/banking/open/'] button.primary")
    page.wait_for_load_state()
    _shot(page, "bo-envelope")
    assert ChannelUser.objects.filter(login_name="zhangwei_bo").exists()
    page.goto(live_server.url + f"/bo/customers/{person.pk}/")
    page.fill("#token_serial", "WY00012345")
    page.fill("#token_seed", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    page.fill("#token_reason", "客户领取令牌")
    page.click("form[action$='/token/issue/'] button.primary")
    page.wait_for_url(f"**/bo/customers/{person.pk}/")
    assert "WY00012345" in page.locator("#token-TOTP").inner_text()
    _shot(page, "bo-customer")
    assert OtpToken.objects.filter(person=person).exists()
    assert page.console_problems == []


@pytest.mark.req("AD-04")
def test_auditor_verifies_the_trail(page, live_server, make_person):
    make_person()
    _staff_sign_in(page, live_server.url, "auditor01", staff.AUDITOR)
    page.click("text=审计日志")
    page.wait_for_url("**/bo/audit/")
    page.click("text=校验哈希链")
    page.wait_for_url("**/bo/audit/")
    assert "完整" in page.locator("#verify-result").inner_text()
    _shot(page, "bo-audit")
    assert page.console_problems == []
