"""The account history in Chromium: a demo-like customer filters it, pages through it,
downloads the PDF statement and mistypes an amount; desktop and phone widths, with
screenshots (history-*)."""

import pytest

from tests.browser.test_login import _shot, enrolled, signed_in  # noqa: F401
from tests.web.test_history import history_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.req("FP-02", "CS-09")
def test_filter_the_history_and_download_the_statement(page, live_server, enrolled,  # noqa: F811
                                                       at):
    user = signed_in(page, live_server.url, enrolled)
    history = history_of(user.person_id, at)
    page.click(f"a[href='/accounts/{history.mine.pk}/']")
    page.wait_for_url(f"**/accounts/{history.mine.pk}/")
    assert page.locator("#statement tbody tr").count() == 20
    _shot(page, "history-all")

    page.select_option("#id_direction", "OUT")
    page.select_option("#id_kind", "TRANSFER")
    page.fill("#id_counterparty", "李四")
    page.fill("#id_min_amount", "3")
    page.click("#history-show")
    page.wait_for_load_state()
    rows = page.locator("#statement tbody tr")
    assert rows.count() == 20
    assert rows.first.locator("td.who").inner_text().startswith("李四\n")
    assert rows.first.locator("td.amount").inner_text() == "-¥25.00"
    assert page.locator("#id_counterparty").input_value() == "李四"  # the filters stay
    _shot(page, "history-filtered")
    page.click("a[rel=next]")
    page.wait_for_load_state()
    assert [x.inner_text() for x in page.locator("#statement td.what").all()] == [
        "转账 小额 5", "转账 小额 4", "转账 小额 3", "转账 房租"]
    assert page.locator("#id_kind").input_value() == "TRANSFER"

    with page.expect_download() as download:
        page.click("#download-pdf")
    assert download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    with page.expect_download() as download:
        page.click("#download-csv")
    assert download.value.suggested_filename.endswith(".csv")

    page.fill("#id_min_amount", "500")
    page.fill("#id_max_amount", "20")
    page.click("#history-show")
    page.wait_for_load_state()
    assert "最小金额大于最大金额" in page.locator("#filter-errors").inner_text()
    assert page.locator("#statement").count() == 0
    _shot(page, "history-error")

    page.goto(f"{live_server.url}/accounts/{history.mine.pk}/?since=2026-10-01&until=2026-10-31")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "history-mobile")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing wider than the phone
    assert page.locator("#statement tbody tr").count() == 8
    # The one console message is the browser noting the answer to the bad filters (400).
    assert [p for p in page.console_problems if "status of 400" not in p] == []
