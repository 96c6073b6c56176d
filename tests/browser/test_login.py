"""Signing in for real in Chromium: captcha, reserved message, the soft keyboard's
WebCrypto encryption, the forced password change, the home page, signing out."""

import re

import pytest

from tests.web.conftest import sms_code
from wangyin.core.paths import var_dir
from wangyin.identity import services as identity
from wangyin.identity.models import Captcha, CustomerSession

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "Tq7mX9vK"


def _shot(page, name):
    shots = var_dir() / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def _captcha_answer(page) -> str:
    src = page.locator("img[alt]").first.get_attribute("src")
    token = re.search(r"/captcha/(.+)\.png", src).group(1)
    return Captcha.objects.get(token=token).answer


def _click_password(page, password):
    for char in password:
        shifted = char.isalpha() and char.isupper()
        if shifted:
            page.click(".sk-shift")
        page.click(f".sk-key[data-key='{char.lower()}']")
        if shifted:
            page.click(".sk-shift")


def _sign_in_submit(page):
    """Submit the password; on a device not bound yet, enter the SMS code from the sandbox."""
    page.click("button.primary")
    page.wait_for_load_state()
    if "/login/device/" in page.url:
        page.fill("#code", sms_code())
        page.click("button.primary")


def _first_step(page, url, name="zhangwei_01"):
    page.goto(url + "/login/")
    page.fill("#login_name", name)
    page.fill("#captcha", _captcha_answer(page))
    page.click("button.primary")
    page.wait_for_url("**/login/password/")


def signed_in(page, url, enrolled_customer):
    """Past the first password change, signed in on the home page; returns the user."""
    user, initial = enrolled_customer
    identity.password_change(user_id=user.pk, current_password=initial,
                             new_password=NEW_PASSWORD, ip=None, at=user.created_at)
    _first_step(page, url)
    _click_password(page, NEW_PASSWORD)
    _sign_in_submit(page)
    page.wait_for_url("**/home/")
    return user


@pytest.fixture
def enrolled(make_person, make_account, at):
    from wangyin.customers.services import personal_account_open

    person = make_person()
    personal_account_open(person_id=person.pk, product="PERSONAL_I", face_to_face=True,
                          actor="staff:1", opened_at=at)
    return identity.internet_banking_open(
        person_id=person.pk, login_name="zhangwei_01", edition="PRO", risk_acknowledged=True,
        staff="staff:teller1", reason="counter", at=at)


@pytest.mark.req("CH-01", "FP-01", "ON-07", "AU-05", "AU-06", "AU-13", "AU-14", "SE-04")
def test_first_sign_in_changes_the_password_then_home_shows_the_last_login(
        page, live_server, enrolled):
    user, initial = enrolled
    _first_step(page, live_server.url)
    assert page.locator("#reserved-message").inner_text() == user.reserved_message
    assert page.locator(".sk-key").count() == 50
    _shot(page, "login-password")
    _click_password(page, initial)
    assert page.locator("#pw-password").input_value() == "•" * len(initial)
    page.click("button.primary")
    page.wait_for_url("**/login/device/")
    _shot(page, "login-device")
    page.fill("#code", sms_code())
    page.click("button.primary")
    page.wait_for_url("**/password/change/")
    assert page.get_by_text("请先设置新密码再继续").is_visible()
    # The physical keyboard path: typed characters go through the same encryption.
    page.click("#pw-current")
    page.keyboard.type(initial)
    page.click("#pw-new")
    page.keyboard.type(NEW_PASSWORD)
    page.click("#pw-confirm")
    page.keyboard.type(NEW_PASSWORD)
    _shot(page, "password-change")
    page.click("button.primary")
    page.wait_for_url("**/home/")
    assert page.get_by_text("这是您首次登录").is_visible()
    assert page.locator("table.accounts tbody tr").count() == 1
    assert page.console_problems == []
    page.click("text=安全退出")
    page.wait_for_url("**/signed-out/")
    assert page.get_by_text("请立即从电脑上拔出").is_visible()
    assert page.locator("text=我的账户").count() == 0

    _first_step(page, live_server.url)
    _click_password(page, NEW_PASSWORD)
    _sign_in_submit(page)
    page.wait_for_url("**/home/")
    assert "上次登录" in page.locator("#last-login").inner_text()
    assert "127.0.0.1" in page.locator("#last-login").inner_text()
    _shot(page, "home")
    page.go_back()
    page.go_back()
    assert page.console_problems == []


@pytest.mark.req("AU-05")
def test_the_keyboard_layout_differs_between_loads(page, live_server, enrolled):
    _first_step(page, live_server.url)
    first = page.locator(".sk-key").all_inner_texts()
    page.reload()
    second = page.locator(".sk-key").all_inner_texts()
    assert sorted(first) == sorted(second) and first != second


@pytest.mark.req("AU-08")
def test_five_wrong_passwords_lock_and_the_sms_is_in_the_sandbox(page, live_server, enrolled,
                                                                  settings):
    from wangyin.notify.models import SmsMessage

    for _ in range(settings.LOGIN_MAX_FAILURES):
        _first_step(page, live_server.url)
        _click_password(page, "Wrong1pass")
        page.click("button.primary")
        page.wait_for_url("**/login/")
    assert page.get_by_text("登录已被锁定").is_visible()
    _shot(page, "login-locked")
    assert SmsMessage.objects.filter(purpose="identity.locked").count() == 1


@pytest.mark.req("SE-05")
def test_a_second_login_kicks_the_first(browser, page, live_server, enrolled):
    user, initial = enrolled
    identity.password_change(user_id=user.pk, current_password=initial,
                             new_password=NEW_PASSWORD, ip=None, at=user.created_at)
    _first_step(page, live_server.url)
    _click_password(page, NEW_PASSWORD)
    _sign_in_submit(page)
    page.wait_for_url("**/home/")
    other = browser.new_context(locale="zh-CN").new_page()
    _first_step(other, live_server.url)
    _click_password(other, NEW_PASSWORD)
    _sign_in_submit(other)
    other.wait_for_url("**/home/")
    page.reload()
    page.wait_for_url("**/login/")
    assert page.get_by_text("已在其他地方登录").is_visible()
    assert CustomerSession.objects.filter(ended_at__isnull=True).count() == 1
    other.context.close()


@pytest.mark.req("SE-02")
def test_idle_timeout_signs_out_in_the_browser(page, live_server, enrolled, settings):
    user, initial = enrolled
    identity.password_change(user_id=user.pk, current_password=initial,
                             new_password=NEW_PASSWORD, ip=None, at=user.created_at)
    settings.CUSTOMER_IDLE_TIMEOUT_SECONDS = 3
    _first_step(page, live_server.url)
    _click_password(page, NEW_PASSWORD)
    _sign_in_submit(page)
    page.wait_for_url("**/home/")
    page.wait_for_selector("#session-timer:has-text('后自动退出')")
    page.wait_for_url("**/login/", timeout=15_000)
    assert page.get_by_text("长时间没有操作").is_visible()


@pytest.mark.req("CS-09")
def test_the_signed_in_pages_in_english(browser, live_server, enrolled):
    user, initial = enrolled
    identity.password_change(user_id=user.pk, current_password=initial,
                             new_password=NEW_PASSWORD, ip=None, at=user.created_at)
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _first_step(page, live_server.url)
    assert page.get_by_text("Your reserved message").is_visible()
    _click_password(page, NEW_PASSWORD)
    _sign_in_submit(page)
    page.wait_for_url("**/home/")
    assert page.locator("h1").inner_text().startswith("Welcome")
    assert page.get_by_role("columnheader", name="Available").is_visible()
    page.click("text=Security centre")
    page.wait_for_url("**/security/")
    assert page.get_by_text("Sign-in history").is_visible()
    _shot(page, "security-en")
    context.close()
