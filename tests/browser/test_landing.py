"""The landing page as a person sees it in Chromium."""

import pytest

from wangyin.core.paths import var_dir

pytestmark = pytest.mark.django_db(transaction=True)


def test_landing_page_renders_in_chinese_without_console_errors(page, live_server):
    response = page.goto(live_server.url + "/")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "网银银行网上银行"
    assert page.get_by_role("link", name="登录个人网上银行").is_visible()
    # The stylesheet loaded under the strict CSP (no inline styles needed).
    font_size = page.locator("body").evaluate("e => getComputedStyle(e).fontSize")
    assert float(font_size.rstrip("px")) >= 16
    assert page.console_problems == []
    shots = var_dir() / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "landing.png"), full_page=True)


def test_landing_page_in_english(browser, live_server):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(live_server.url + "/")
    assert "Wangyin Bank internet banking" in page.locator("h1").inner_text()
    context.close()


def test_unknown_page_shows_the_plain_error_page(page, live_server):
    response = page.goto(live_server.url + "/no/such/page")
    assert response.status == 404
    assert page.get_by_text("页面不存在").first.is_visible()
    assert "Traceback" not in page.content()


@pytest.mark.req("CS-04")
def test_the_fee_schedule_is_one_click_from_the_landing_page(page, live_server):
    page.goto(live_server.url + "/")
    page.locator("#fees-link").click()
    page.wait_for_url("**/fees/")
    assert page.locator("h1").inner_text() == "转账收费标准"
    personal = page.locator("#fees-1").inner_text()
    assert personal.count("免费") == 4  # personal internet banking: every kind free
    corporate = page.locator("#fees-2").inner_text()
    assert "¥10,000.00及以下" in corporate and "¥2.00" in corporate
    assert "金额的0.002%，最高¥200.00" in corporate
    assert page.console_problems == []
    shots = var_dir() / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "fee-schedule.png"), full_page=True)
