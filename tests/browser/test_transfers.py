"""A transfer in Chromium: the form, the confirmation with the key data and the SMS code
from the sandbox inbox, the result (FP-03), with screenshots."""

import re

import pytest

from tests.browser.test_login import _shot, enrolled, signed_in  # noqa: F401
from tests.web.conftest import sms_code
from wangyin.customers.models import CustomerAccount
from wangyin.customers.services import personal_account_open
from wangyin.ledger.models import Account
from wangyin.payments.models import Transfer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.req("FP-03", "CH-01", "TX-03", "TX-09")
def test_pay_another_customer_with_an_sms_code(page, live_server, enrolled, make_person,  # noqa: F811
                                                fund, at):
    user = signed_in(page, live_server.url, enrolled)
    mine = CustomerAccount.objects.get(person_id=user.person_id)
    fund(mine.ledger_account, "5000.00")
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                        phone="13900000001")
    theirs = personal_account_open(person_id=other.pk, product="PERSONAL_I",
                                   face_to_face=True, actor="staff:1", opened_at=at)

    page.click("nav >> text=转账")
    page.wait_for_url("**/transfers/new/")
    page.fill("#id_payee_account", theirs.number)
    page.fill("#id_payee_name", "李四")
    page.fill("#id_amount", "1234.56")
    page.fill("#id_memo", "十一月房租")
    _shot(page, "transfer-new")
    page.click("#transfer-form button.primary")
    page.wait_for_url("**/transfers/confirm/")
    assert page.locator("#confirm-payee-account").inner_text() == theirs.number
    assert page.locator("#confirm-amount").inner_text() == "¥1,234.56"
    page.fill("#code", sms_code("authn.transfer.same_bank"))
    _shot(page, "transfer-confirm")
    page.click("#transfer-confirm")
    page.wait_for_url("**/transfers/*/")
    assert page.locator("#transfer-result").inner_text() == "转账成功"
    _shot(page, "transfer-done")
    assert Transfer.objects.get().status == "DONE"
    assert Account.objects.get(pk=theirs.ledger_account_id).balance == 123_456

    # The payment is in the message centre too: counted in the menu, newest first, read
    # when opened, linked to the transfer.
    unread = int(page.locator("#nav-messages .badge").inner_text())
    page.click("#nav-messages")
    page.wait_for_url("**/messages/")
    newest = page.locator("#messages .inbox-item").first
    assert "unread" in newest.get_attribute("class")
    assert "转出提醒" in newest.inner_text() and "¥1,234.56" in newest.inner_text()
    _shot(page, "messages")
    newest.locator("a").click()
    page.wait_for_url("**/messages/*/")
    assert "可用余额¥3,765.44" in page.locator("#message-body").inner_text()
    assert theirs.number not in page.content()
    _shot(page, "message-open")
    assert int(page.locator("#nav-messages .badge").inner_text()) == unread - 1
    page.click("#message-transfer")
    page.wait_for_url("**/transfers/*/")
    assert page.locator("#transfer-result").inner_text() == "转账成功"
    assert page.console_problems == []


@pytest.mark.req("FP-03")
def test_pay_another_bank_and_watch_it_settle(page, live_server, enrolled, fund,  # noqa: F811
                                              at):
    from datetime import timedelta

    from wangyin.core import clock
    from wangyin.payments import directory, sandbox, settlement
    from wangyin.payments.models import ClearingMessage

    directory.banks_load()
    sandbox.account_add(bank_code="102428000013", number="6222020000000001234", name="赵六")
    user = signed_in(page, live_server.url, enrolled)
    mine = CustomerAccount.objects.get(person_id=user.person_id)
    fund(mine.ledger_account, "5000.00")

    page.goto(f"{live_server.url}/transfers/new/")
    page.fill("#id_payee_account", "6222020000000001234")
    page.select_option("#id_payee_bank", "102428000013")
    page.fill("#id_payee_name", "赵六")
    page.fill("#id_amount", "800.00")
    _shot(page, "transfer-interbank-new")
    page.click("#transfer-form button.primary")
    page.wait_for_url("**/transfers/confirm/")
    assert "中国工商银行" in page.locator("#confirm-payee-bank").inner_text()
    page.fill("#code", sms_code("authn.transfer.interbank"))
    _shot(page, "transfer-interbank-confirm")
    page.click("#transfer-confirm")
    page.wait_for_url("**/transfers/*/")
    assert page.locator("#transfer-result").inner_text() == "转账已提交"
    _shot(page, "transfer-interbank-submitted")
    # The worker hands the message over; the sandbox clearing system settles it.
    now = clock.now()
    settlement.clearing_send(message_id=ClearingMessage.objects.get().pk, now=now)
    sandbox.run_due(now=now + timedelta(minutes=1))
    page.reload()
    assert page.locator("#transfer-result").inner_text() == "转账成功"
    assert page.locator("#transfer-progress li").count() == 3
    _shot(page, "transfer-interbank-settled")
    assert page.console_problems == []


@pytest.mark.req("FP-03", "TX-10")
def test_payee_book_and_a_mobile_number(page, live_server, enrolled, make_person,  # noqa: F811
                                        fund, at):
    from tests.payments.conftest import banking_for, receive_by_mobile
    from wangyin.payments.models import TransferKind

    user = signed_in(page, live_server.url, enrolled)
    mine = CustomerAccount.objects.get(person_id=user.person_id)
    fund(mine.ledger_account, "5000.00")
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                        phone="13900000001")
    theirs = personal_account_open(person_id=other.pk, product="PERSONAL_I",
                                   face_to_face=True, actor="staff:1", opened_at=at)

    # Add 李四 to the payee book, confirmed with the SMS code.
    page.goto(f"{live_server.url}/transfers/new/")
    page.click("#payee-book-link")
    page.wait_for_url("**/payees/")
    page.click("#payee-add")
    page.fill("#id_payee_name", "李四")
    page.fill("#id_payee_account", theirs.number)
    page.fill("#id_alias", "房东")
    page.click("#payee-form button.primary")
    page.wait_for_url("**/payees/confirm/")
    page.fill("#code", sms_code("authn.payee.add"))
    _shot(page, "payee-confirm")
    page.click("#stepup-confirm")
    page.wait_for_url("**/payees/")
    assert "房东" in page.locator("#payee-table").inner_text()
    _shot(page, "payee-book")
    # Pay from the book: the form comes filled in.
    page.click("#payee-table a.button")
    page.wait_for_url(re.compile(r".*/transfers/new/\?payee=\d+$"))
    assert page.locator("#id_payee_account").input_value() == theirs.number
    page.fill("#id_amount", "10.00")
    page.click("#transfer-form button.primary")
    page.wait_for_url("**/transfers/confirm/")
    page.fill("#code", sms_code("authn.transfer.same_bank"))
    page.click("#transfer-confirm")
    page.wait_for_url("**/transfers/*/")
    assert page.locator("#transfer-result").inner_text() == "转账成功"

    # 李四 receives by mobile number; the payer sees only his masked name.
    receive_by_mobile(banking_for(theirs, at), theirs, at)
    page.goto(f"{live_server.url}/transfers/new/")
    assert "李四" in page.locator("#recent-payees").inner_text()
    page.fill("#id_payee_mobile", "13900000001")
    page.fill("#id_amount", "20.00")
    page.click("#transfer-form button.primary")
    page.wait_for_url("**/transfers/confirm/")
    assert page.locator("#confirm-payee-name").inner_text() == "*四"
    assert theirs.number not in page.content()
    page.fill("#code", sms_code("authn.transfer.mobile"))
    _shot(page, "transfer-mobile-confirm")
    page.click("#transfer-confirm")
    page.wait_for_url("**/transfers/*/")
    assert page.locator("#transfer-result").inner_text() == "转账成功"
    assert Transfer.objects.filter(kind=TransferKind.MOBILE).count() == 1
    assert Account.objects.get(pk=theirs.ledger_account_id).balance == 3000
    assert page.console_problems == []
