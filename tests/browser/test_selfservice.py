"""Self-service and step-up in Chromium: the forgotten password with the SMS code and the
OTP token, and a security-centre change confirmed on its own page."""

import pyotp
import pytest

from tests.browser.test_login import (
    NEW_PASSWORD,
    _captcha_answer,
    _click_password,
    _first_step,
    _shot,
    _sign_in_submit,
    enrolled,  # noqa: F401 -- the fixture
)
from tests.conftest import ID_NUMBER
from tests.web.conftest import sms_code
from wangyin.authn import tokens
from wangyin.customers.models import CustomerAccount
from wangyin.identity import services as identity
from wangyin.identity.models import ChannelUser

pytestmark = pytest.mark.django_db(transaction=True)

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
RESET_PASSWORD = "Hb4nW8rLz"


@pytest.mark.req("FP-01", "ON-08", "FA-02")
def test_forgotten_password_with_sms_and_token(page, live_server, enrolled):  # noqa: F811
    user, initial = enrolled
    tokens.token_issue(person_id=user.person_id, serial="WY00012345", seed=SEED,
                       staff="staff:teller1", reason="counter", at=user.created_at)
    account = CustomerAccount.objects.get(person_id=user.person_id)
    page.goto(live_server.url + "/login/")
    page.click("text=忘记登录密码？")
    page.wait_for_url("**/password/forgot/")
    page.fill("#id_account_number", account.number)
    page.fill("#id_id_number", ID_NUMBER)
    page.fill("#id_captcha", _captcha_answer(page))
    _shot(page, "password-forgot")
    page.click("button.primary")
    page.wait_for_url("**/password/forgot/confirm/")
    page.fill("#code", sms_code("authn.password.reset"))
    page.fill("#token_code", pyotp.TOTP(SEED).now())
    page.click("#pw-new")
    page.keyboard.type(RESET_PASSWORD)
    page.click("#pw-confirm")
    page.keyboard.type(RESET_PASSWORD)
    _shot(page, "password-forgot-confirm")
    page.click("button.primary")
    page.wait_for_url("**/login/")
    assert page.get_by_text("登录密码已重置").is_visible()
    assert page.console_problems == []
    user.refresh_from_db()
    assert identity.password_login(login_name="zhangwei_01", password=RESET_PASSWORD, ip=None,
                                   device="d", user_agent="", at=user.created_at).pk == user.pk


@pytest.mark.req("AU-11")
def test_changing_the_reserved_message_is_confirmed_with_a_code(page, live_server,
                                                                enrolled):  # noqa: F811
    user, initial = enrolled
    identity.password_change(user_id=user.pk, current_password=initial,
                             new_password=NEW_PASSWORD, ip=None, at=user.created_at)
    _first_step(page, live_server.url)
    _click_password(page, NEW_PASSWORD)
    _sign_in_submit(page)
    page.wait_for_url("**/home/")
    page.click("text=安全中心")
    page.wait_for_url("**/security/")
    page.fill("#id_reserved_message", "窗外的梧桐")
    page.click("#main form button.primary")
    page.wait_for_url("**/security/confirm/")
    assert "窗外的梧桐" in page.locator("#change-description").inner_text()
    page.fill("#code", sms_code("authn.security.change"))
    _shot(page, "security-confirm")
    page.click("button.primary")
    page.wait_for_url("**/security/")
    assert page.locator("#current-reserved").inner_text() == "窗外的梧桐"
    assert ChannelUser.objects.get(pk=user.pk).reserved_message == "窗外的梧桐"
    _shot(page, "security")
    assert page.console_problems == []
