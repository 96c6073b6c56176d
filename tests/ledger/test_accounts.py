"""Account lifecycle: open, freeze (止付), unfreeze, close."""

import pytest
from django.db import IntegrityError, transaction

from tests.conftest import cny
from wangyin.audit.models import AuditEvent
from wangyin.ledger import selectors, services
from wangyin.ledger.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotEmpty,
    DuplicateAccountNumber,
    InsufficientFunds,
)
from wangyin.ledger.models import Account, AccountKind, AccountStatus, NormalSide

pytestmark = pytest.mark.django_db


def test_customer_accounts_are_credit_normal_without_overdraft(make_account):
    account = make_account(kind=AccountKind.CUSTOMER, overdraft_limit=None)
    assert account.normal_side == NormalSide.CREDIT
    assert account.overdraft_limit == 0


def test_duplicate_account_number_is_refused(make_account):
    make_account(number="6230000000000001")
    with pytest.raises(DuplicateAccountNumber) as err:
        make_account(number="6230000000000001")
    assert err.value.code == "duplicate_account_number"


@pytest.mark.req("AD-02")
def test_freeze_blocks_debits_but_not_credits(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "10.00")
    fund(b, "10.00")
    services.account_freeze(account_id=a.pk, actor="staff:1", reason="court order", at=at)
    with pytest.raises(AccountFrozen) as err:
        services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny("1.00"),
                          idempotency_key="frozen-out", actor="customer:1", posted_at=at)
    assert err.value.code == "account_frozen"
    services.transfer(debit_account_id=b.pk, credit_account_id=a.pk, amount=cny("1.00"),
                      idempotency_key="frozen-in", actor="customer:2", posted_at=at)
    assert selectors.account_balance(account_id=a.pk).balance == cny("11.00")
    assert AuditEvent.objects.filter(action="ledger.account.frozen",
                                     target=f"account:{a.pk}").exists()


def test_unfreeze_allows_debits_again(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "10.00")
    services.account_freeze(account_id=a.pk, actor="staff:1", reason="check", at=at)
    services.account_unfreeze(account_id=a.pk, actor="staff:1", reason="cleared", at=at)
    services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny("10.00"),
                      idempotency_key="after-unfreeze", actor="customer:1", posted_at=at)
    assert Account.objects.get(pk=a.pk).balance == 0


def test_close_requires_an_empty_account(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "5.00")
    with pytest.raises(AccountNotEmpty):
        services.account_close(account_id=a.pk, actor="staff:1", reason="customer", at=at)
    services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny("5.00"),
                      idempotency_key="empty-it", actor="customer:1", posted_at=at)
    closed = services.account_close(account_id=a.pk, actor="staff:1", reason="customer", at=at)
    assert closed.status == AccountStatus.CLOSED and closed.closed_at == at


def test_closed_account_accepts_nothing(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(b, "5.00")
    services.account_close(account_id=a.pk, actor="staff:1", reason="customer", at=at)
    with pytest.raises(AccountClosed):
        services.transfer(debit_account_id=b.pk, credit_account_id=a.pk, amount=cny("1.00"),
                          idempotency_key="to-closed", actor="customer:2", posted_at=at)
    with pytest.raises(AccountClosed):
        services.account_freeze(account_id=a.pk, actor="staff:1", reason="x", at=at)


def test_close_refuses_pending_holds(make_account, fund, at):
    a = make_account()
    fund(a, "5.00")
    services.hold_place(account_id=a.pk, amount=cny("5.00"), idempotency_key="h", reason="r",
                        actor="system:test", placed_at=at)
    with pytest.raises(AccountNotEmpty):
        services.account_close(account_id=a.pk, actor="staff:1", reason="customer", at=at)


def test_gl_overdraft_limit_is_respected(make_account, at):
    gl = make_account(kind=AccountKind.GL, normal_side=NormalSide.DEBIT, overdraft_limit=1000)
    other = make_account(kind=AccountKind.GL, normal_side=NormalSide.DEBIT, overdraft_limit=None)
    services.transfer(debit_account_id=other.pk, credit_account_id=gl.pk, amount=cny("10.00"),
                      idempotency_key="gl-ok", actor="system:test", posted_at=at)
    assert Account.objects.get(pk=gl.pk).balance == -1000
    with pytest.raises(InsufficientFunds):
        services.transfer(debit_account_id=other.pk, credit_account_id=gl.pk,
                          amount=cny("0.01"), idempotency_key="gl-over", actor="system:test",
                          posted_at=at)


@pytest.mark.req("DT-05")
def test_database_refuses_a_negative_customer_balance(make_account):
    account = make_account()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=-1)


def test_database_refuses_overdraft_on_customer_accounts(make_account):
    account = make_account()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(overdraft_limit=100)
