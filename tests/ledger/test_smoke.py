import pytest

from tests.conftest import cny
from wangyin.ledger import selectors, services


@pytest.mark.django_db
@pytest.mark.req("DT-05")
def test_transfer_moves_money(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny("30.50"),
                      idempotency_key="k1", actor="customer:1", posted_at=at)
    assert selectors.account_balance(account_id=a.pk).available == cny("69.50")
    assert selectors.account_balance(account_id=b.pk).balance == cny("30.50")
