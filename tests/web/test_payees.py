"""Payee book pages and transfers by mobile number through the customer site."""

import pytest

from tests.payments.conftest import banking_for, receive_by_mobile
from tests.web.conftest import sms_code
from wangyin.payments.models import MobileReceiving, Payee, Transfer, TransferKind

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


@pytest.mark.req("FP-03", "TX-10")
def test_add_a_payee_with_a_code_then_pay_them_from_the_book(client, ready_customer, accounts):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    assert "payee-empty" in client.get("/payees/").content.decode()
    response = client.post("/payees/new/", {"payee_name": "李四",
                                            "payee_account": theirs.number, "alias": "房东"})
    assert response.url == "/payees/confirm/"
    page = client.get("/payees/confirm/").content.decode()
    assert theirs.number in page and "李四" in page
    code = sms_code("authn.payee.add")
    wrong = client.post("/payees/confirm/", {"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400 and not Payee.objects.exists()
    assert client.post("/payees/confirm/", {"code": code}).url == "/payees/"
    entry = Payee.objects.get()
    listed = client.get("/payees/").content.decode()
    assert "房东" in listed and theirs.number not in listed and theirs.number[-4:] in listed
    form = client.get(f"/transfers/new/?payee={entry.pk}").content.decode()
    assert f'value="{theirs.number}"' in form and 'value="李四"' in form


def test_the_book_is_searched_renamed_and_pruned(client, ready_customer, accounts):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    client.post("/payees/new/", {"payee_name": "李四", "payee_account": theirs.number})
    client.post("/payees/confirm/", {"code": sms_code("authn.payee.add")})
    entry = Payee.objects.get()
    assert client.post(f"/payees/{entry.pk}/rename/", {"alias": "老李"}).url == "/payees/"
    assert "老李" in client.get("/payees/?q=老李").content.decode()
    assert "payee-empty" in client.get("/payees/?q=王").content.decode()
    assert client.post("/payees/999999/delete/").status_code == 404
    client.post(f"/payees/{entry.pk}/delete/")
    assert not Payee.objects.exists()


def test_a_payee_that_does_not_check_out_is_not_offered(client, ready_customer, accounts):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    response = client.post("/payees/new/", {"payee_name": "李五",
                                            "payee_account": theirs.number})
    assert response.status_code == 400 and "payee-error" in response.content.decode()


@pytest.mark.req("FP-03")
def test_register_my_number_for_receiving(client, ready_customer, accounts):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    assert client.post("/transfers/mobile/", {"account": str(mine.pk)}).url \
        == "/transfers/mobile/confirm/"
    done = client.post("/transfers/mobile/confirm/",
                       {"code": sms_code("authn.mobile.register")})
    assert done.url == "/transfers/mobile/"
    assert MobileReceiving.objects.get().account_id == mine.pk
    assert mine.masked_number in client.get("/transfers/mobile/").content.decode()


@pytest.mark.req("FP-03", "TX-03")
def test_pay_a_mobile_number_seeing_the_masked_name(client, ready_customer, accounts, at):
    mine, theirs = accounts
    receive_by_mobile(banking_for(theirs, at), theirs, at)
    sign_in(client, "zhangwei_01", PASSWORD)
    both = client.post("/transfers/new/", {"debit_account": mine.pk,
                                           "payee_account": theirs.number,
                                           "payee_mobile": "13900000001", "amount": "5"})
    assert both.status_code == 400
    response = client.post("/transfers/new/", {"debit_account": mine.pk,
                                               "payee_mobile": "13900000001",
                                               "amount": "66.00"})
    assert response.url == "/transfers/confirm/"
    page = client.get("/transfers/confirm/").content.decode()
    assert "*四" in page and "李四" not in page and theirs.number not in page
    assert "139****0001" in page
    done = client.post("/transfers/confirm/", {"code": sms_code("authn.transfer.mobile")})
    transfer = Transfer.objects.get()
    assert done.url == f"/transfers/{transfer.pk}/"
    assert (transfer.kind, transfer.credit_account_id) == (TransferKind.MOBILE, theirs.pk)
    result = client.get(done.url).content.decode()
    assert theirs.number not in result and "李四" not in result and "*四" in result
