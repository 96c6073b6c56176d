"""A risk case in Chromium: a payment held for review, a branch risk officer signs in with
password + TOTP, opens the case from the queue, records the call-back and releases the
money; screenshots of the queue and the case page."""

import pytest

from tests.browser.test_backoffice import _staff_sign_in
from tests.browser.test_login import _shot
from tests.payments.conftest import instruction, pay, payee, payer  # noqa: F401
from tests.risk.conftest import live_rules
from wangyin.backoffice import staff
from wangyin.ledger.models import Account
from wangyin.payments.models import Transfer
from wangyin.risk.models import Case

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.req("RK-06", "TX-08", "RK-15")
def test_a_risk_officer_releases_a_held_payment_after_the_call_back(page, live_server, payer,  # noqa: F811
                                                                    payee, at):  # noqa: F811
    user, account = payer
    live_rules(at, ("hold", "is_funds", "review"))
    transfer = pay(user, instruction(account, payee), at)
    case = Case.objects.get(person_id=user.person_id)
    assert transfer.status == "HELD" and case.confirmation == "asked"

    _staff_sign_in(page, live_server.url, "risk01", staff.RISK_OFFICER)
    page.click("nav >> text=风险控制")
    page.wait_for_url("**/bo/risk/")
    page.click("#case-queue-link")
    page.wait_for_url("**/bo/risk/cases/")
    row = page.locator("#cases tbody tr").first
    assert "*伟" in row.inner_text() and "严重" in row.inner_text()
    _shot(page, "risk-case-queue")
    row.locator("a").click()
    page.wait_for_url(f"**/bo/risk/cases/{case.pk}/")
    assert "¥1,234.56" in page.locator("#held").inner_text()

    page.check("#callback_reached")
    page.fill("#callback_text", "客户确认为本人操作，支付房租")
    page.click("#callback-form button.primary")
    page.wait_for_url(f"**/bo/risk/cases/{case.pk}/")
    assert page.locator("#notice").inner_text() == "回访已记录。"
    assert "已联系到" in page.locator("#timeline").inner_text()
    _shot(page, "risk-case")

    page.select_option("#close_outcome", "released")
    page.fill("#close_reason", "回访确认本人操作")
    page.click("#close-form button.primary")
    page.wait_for_url(f"**/bo/risk/cases/{case.pk}/")
    assert page.locator("#notice").inner_text() == "案件已结案。"
    assert "已结案" in page.locator("#status").inner_text()
    assert Transfer.objects.get(pk=transfer.pk).status == "RELEASED"
    assert Account.objects.get(pk=payee.ledger_account_id).balance == 123_456
    assert page.console_problems == []
