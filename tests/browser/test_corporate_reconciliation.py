"""Bank–enterprise reconciliation in Chromium (FC-07): the authorising operator auth01 signs
in with the USB-Key, sees on the home page that last month's statements await an answer,
opens one, checks the month-end balance, answers that the balances agree and their key
signs the answer on its own window through the U盾 agent; the statement is recorded as
agreed with the signature's key."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.corporate import key_agent, sign_in, sign_on_key
from tests.browser.test_backoffice import _staff_sign_in
from tests.browser.test_login import _shot
from tests.conftest import cny
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    authoriser,
    key_of,
    now,
    service,
    sign,
)
from wangyin.backoffice import staff
from wangyin.corporate import reconciliation as recon
from wangyin.corporate.models.reconciliation import BalanceStatement, StatementStatus
from wangyin.customers import services as customers
from wangyin.ledger import services as ledger

pytestmark = pytest.mark.django_db(transaction=True)
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def company(make_company, cash):
    """The company's accounts, opened in January; October's business on the basic account
    (and a receipt on 1 November, after the month ended)."""
    company = make_company()
    opened = datetime(2026, 1, 5, tzinfo=UTC)
    company.basic, company.general = (
        customers.corporate_account_open(
            company_id=company.pk, product=product, actor="staff:1", opened_at=opened
        )
        for product in ("CORPORATE_BASIC", "CORPORATE_GENERAL")
    )
    for n, (yuan, day, hour) in enumerate(
        [("1234567.89", 15, 10), ("-34567.89", 31, 23), ("5000.00", 32, 0)]
    ):
        at = datetime(2026, 10, 1, hour, tzinfo=BEIJING) + timedelta(days=day - 1)
        amount = cny(yuan.lstrip("-"))
        lines = [
            ledger.debit(cash.pk, amount),
            ledger.credit(company.basic.ledger_account_id, amount),
        ]
        if yuan.startswith("-"):
            lines = [
                ledger.debit(company.basic.ledger_account_id, amount),
                ledger.credit(cash.pk, amount),
            ]
        ledger.journal_post(
            idempotency_key=f"recon-browser-{n}",
            type="WITHDRAWAL" if yuan.startswith("-") else "DEPOSIT",
            actor="staff:test",
            posted_at=at,
            lines=lines,
        )
    return company


@pytest.mark.req("FC-07", "TX-02", "FA-05", "CH-02")
def test_an_authoriser_confirms_last_months_balance_with_the_usb_key(
    page, live_server, settings, tmp_path, service, company, authoriser, now
):
    assert recon.statements_issue(date(2026, 10, 1), now) == 2
    statement = BalanceStatement.objects.get(account=company.basic)
    with key_agent(
        authoriser,
        serial="UK79000201",
        device=tmp_path / "usbkey-auth.json",
        origin=live_server.url,
        at=now,
    ) as agent:
        settings.USBKEY_AGENT_URL = agent
        sign_in(page, live_server, authoriser)
        assert "余额对账单待贵单位回复" in page.inner_text("#statements-waiting")
        page.click("#nav-reconciliation")
        page.wait_for_url("**/corp/reconciliation/")
        assert "待企业回复" in page.inner_text("#statement-list")
        _shot(page, "corp-recon-list")
        page.click(f"#statement-{statement.pk} a")
        page.wait_for_url(f"**/corp/reconciliation/{statement.pk}/")
        assert company.basic.number in page.inner_text("#statement-account")
        # ¥1,234,567.89 in, ¥34,567.89 out in October; the 1 November receipt is not in.
        assert "1,200,000.00" in page.inner_text("#statement-balance")
        assert "壹佰贰拾万元整" in page.inner_text("#statement-words")
        page.check("#answer_answer_0")  # the balances agree
        _shot(page, "corp-recon-statement")
        page.click("#answer-review")
        page.wait_for_url(f"**/corp/reconciliation/{statement.pk}/sign/")
        assert "确认余额相符" in page.inner_text("#answer-summary")
        _shot(page, "corp-recon-sign")
        shown = sign_on_key(page, "corp-recon-key-window")
        assert "银企对账余额确认" in shown and company.basic.number in shown
        assert "2026年10月" in shown and "确认余额相符" in shown and "1,200,000.00" in shown
        page.click("#answer-confirm")
        page.wait_for_url(f"**/corp/reconciliation/{statement.pk}/")
        assert "余额相符" in page.inner_text("#statement-status")
        assert "auth01" in page.inner_text("#statement-answer")
        assert "UK79000201" in page.inner_text("#statement-answer")
        _shot(page, "corp-recon-agreed")
        assert page.console_problems == []
    statement.refresh_from_db()
    assert statement.status == StatementStatus.AGREED
    assert statement.answered_by_id == authoriser.pk
    assert recon.signed_answer_holds(statement)


@pytest.mark.req("FC-07", "AD-02")
def test_a_teller_follows_up_a_disagreement_and_resolves_it(
    page, live_server, service, company, authoriser, sign, now
):
    recon.statements_issue(date(2026, 10, 1), now)
    statement = BalanceStatement.objects.get(account=company.basic)
    answer = recon.Answer(
        agree=False,
        company_balance_fen=1_190_000_00,
        differences=(
            recon.DifferenceSpec(
                "COMPANY_OUT", date(2026, 10, 30), 10_000_00, "转账支票 No.5521 未兑付"
            ),
        ),
    )
    sign.key_of(authoriser)
    challenge = recon.answer_challenge(authoriser, statement.pk, answer, now)
    recon.answer_verify(
        authoriser, statement.pk, answer, challenge.pk, sign(authoriser, challenge)["USBKEY"], now
    )
    recon.answer_submit(authoriser, statement.pk, answer, challenge.pk, now)

    _staff_sign_in(page, live_server.url, "teller07", staff.TELLER)
    page.click("#nav-reconciliation")
    page.wait_for_url("**/bo/reconciliation/")
    page.click(f"#statement-{statement.pk} a")
    page.wait_for_url(f"**/bo/reconciliation/{statement.pk}/")
    assert "转账支票 No.5521 未兑付" in page.inner_text("#statement-differences")
    assert "验证通过" in page.inner_text("#statement-signature")
    page.fill("#note_text", "已致电企业会计，支票于11月2日兑付")
    page.click("#note-form button")
    page.wait_for_selector("#notice")
    _shot(page, "bo-recon-statement")
    page.fill("#resolve_text", "差异为未兑付支票，已于11月2日兑付，余额一致")
    page.click("#resolve-form button")
    page.wait_for_selector("#notice")
    assert "不符已处理" in page.inner_text("#statement-status")
    _shot(page, "bo-recon-resolved")
    statement.refresh_from_db()
    assert statement.status == StatementStatus.RESOLVED
    assert statement.resolved_by == "staff:teller07"
