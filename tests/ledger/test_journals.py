"""Posting journals and transfers: balances, errors, idempotency."""

import pytest

from tests.conftest import cny
from wangyin.audit.models import AuditEvent
from wangyin.core.money import Money
from wangyin.ledger import selectors, services
from wangyin.ledger.errors import (
    AccountNotFound,
    CurrencyMismatch,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidAmount,
    UnbalancedJournal,
)
from wangyin.ledger.models import Account, Journal, Posting

pytestmark = [pytest.mark.django_db, pytest.mark.req("DT-05")]


def _transfer(a, b, yuan, key, at):
    return services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny(yuan),
                             idempotency_key=key, actor="customer:1", posted_at=at)


def test_transfer_moves_money_and_records_balance_after(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    journal = _transfer(a, b, "30.50", "t1", at)
    assert selectors.account_balance(account_id=a.pk).available == cny("69.50")
    assert selectors.account_balance(account_id=b.pk).balance == cny("30.50")
    postings = {p.account_id: p for p in Posting.objects.filter(journal=journal)}
    assert postings[a.pk].amount == 3050 and postings[a.pk].balance_after == 6950
    assert postings[b.pk].amount == -3050 and postings[b.pk].balance_after == 3050
    assert journal.replayed is False


def test_transfer_is_audited(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "1.00")
    journal = _transfer(a, b, "1.00", "audited", at)
    event = AuditEvent.objects.get(action="ledger.journal.posted", target=f"journal:{journal.pk}")
    assert event.actor == "customer:1" and event.details["amount_fen"] == 100


def test_insufficient_funds_changes_nothing(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "10.00")
    journals_before = Journal.objects.count()
    with pytest.raises(InsufficientFunds) as err:
        _transfer(a, b, "10.01", "too-much", at)
    assert err.value.code == "insufficient_funds"
    assert Journal.objects.count() == journals_before
    assert Account.objects.get(pk=a.pk).balance == 1000
    assert Account.objects.get(pk=b.pk).balance == 0
    # the failed request did not consume its key
    fund(a, "0.01")
    assert _transfer(a, b, "10.01", "too-much", at).replayed is False


def test_currency_mismatch(make_account, fund, at):
    a, usd = make_account(), make_account(currency="USD")
    fund(a, "10.00")
    with pytest.raises(CurrencyMismatch) as err:
        _transfer(a, usd, "1.00", "fx", at)
    assert err.value.code == "currency_mismatch"


def test_mixed_currency_lines_are_refused(make_account, at):
    a, b = make_account(), make_account()
    with pytest.raises(CurrencyMismatch):
        services.journal_post(idempotency_key="mixed", type="ADJUSTMENT", actor="staff:1",
                              posted_at=at, lines=[services.debit(a.pk, Money(100, "CNY")),
                                                   services.credit(b.pk, Money(100, "USD"))])


def test_unbalanced_journal_is_refused(make_account, at):
    a, b = make_account(), make_account()
    with pytest.raises(UnbalancedJournal) as err:
        services.journal_post(idempotency_key="unbalanced", type="ADJUSTMENT", actor="staff:1",
                              posted_at=at, lines=[services.debit(a.pk, cny("1.00")),
                                                   services.credit(b.pk, cny("0.99"))])
    assert err.value.code == "unbalanced_journal"


def test_single_line_journal_is_refused(make_account, at):
    a = make_account()
    with pytest.raises(UnbalancedJournal):
        services.journal_post(idempotency_key="one", type="ADJUSTMENT", actor="staff:1",
                              posted_at=at, lines=[services.debit(a.pk, Money(0))])


@pytest.mark.parametrize("fen", [0, -5])
def test_transfer_amount_must_be_positive(make_account, at, fen):
    a, b = make_account(), make_account()
    with pytest.raises(InvalidAmount):
        services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=Money(fen),
                          idempotency_key=f"neg{fen}", actor="customer:1", posted_at=at)


def test_unknown_account(make_account, fund, at):
    a = make_account()
    fund(a, "1.00")
    with pytest.raises(AccountNotFound):
        services.transfer(debit_account_id=a.pk, credit_account_id=999_999_999,
                          amount=cny("1.00"), idempotency_key="ghost", actor="c", posted_at=at)


def test_repeating_a_key_returns_the_first_journal_and_posts_nothing(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    first = _transfer(a, b, "10.00", "same-key", at)
    again = _transfer(a, b, "10.00", "same-key", at)
    assert again.pk == first.pk and again.replayed is True
    assert Journal.objects.filter(idempotency_key="same-key").count() == 1
    assert Account.objects.get(pk=a.pk).balance == 9000


def test_same_key_different_request_is_an_error(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    _transfer(a, b, "10.00", "key-x", at)
    with pytest.raises(IdempotencyKeyReused) as err:
        _transfer(a, b, "11.00", "key-x", at)
    assert err.value.code == "idempotency_key_reused"
    assert Account.objects.get(pk=a.pk).balance == 9000


def test_multi_line_journal(make_account, cash, at):
    a, b, c = make_account(), make_account(), make_account()
    services.journal_post(
        idempotency_key="split", type="DEPOSIT", actor="staff:1", posted_at=at,
        lines=[services.debit(cash.pk, cny("6.00")), services.credit(a.pk, cny("1.00")),
               services.credit(b.pk, cny("2.00")), services.credit(c.pk, cny("3.00"))],
    )
    assert [Account.objects.get(pk=x.pk).balance for x in (a, b, c)] == [100, 200, 300]
    assert Account.objects.get(pk=cash.pk).balance == 600


def test_unknown_journal_type_is_refused(make_account, at):
    a, b = make_account(), make_account()
    with pytest.raises(ValueError):
        services.journal_post(
            idempotency_key="bad-type", type="MAGIC", actor="x", posted_at=at,
            lines=[services.debit(a.pk, cny("1")), services.credit(b.pk, cny("1"))],
        )
