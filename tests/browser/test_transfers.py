"""A transfer in Chromium: the form, the confirmation with the key data and the SMS code
from the sandbox inbox, the result (FP-03), with screenshots."""

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
    assert page.console_problems == []
