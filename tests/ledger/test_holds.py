"""Holds: two-phase transfers (place -> capture / release / expire)."""

from datetime import timedelta

import pytest

from tests.conftest import cny
from wangyin.ledger import selectors, services
from wangyin.ledger.errors import (
    AccountFrozen,
    HoldNotPending,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidAmount,
)
from wangyin.ledger.models import Hold, HoldStatus

pytestmark = [pytest.mark.django_db, pytest.mark.req("DT-05")]


def _hold(account, yuan, key, at, **kw):
    return services.hold_place(account_id=account.pk, amount=cny(yuan), idempotency_key=key,
                               reason="test", actor="system:test", placed_at=at, **kw)


def test_hold_reduces_available_not_balance(make_account, fund, at):
    a = make_account()
    fund(a, "100.00")
    _hold(a, "40.00", "h1", at)
    bal = selectors.account_balance(account_id=a.pk)
    assert (bal.balance, bal.held, bal.available) == (cny("100"), cny("40"), cny("60"))


def test_held_money_cannot_be_spent_twice(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    _hold(a, "80.00", "h1", at)
    with pytest.raises(InsufficientFunds):
        services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny("20.01"),
                          idempotency_key="spend", actor="customer:1", posted_at=at)
    with pytest.raises(InsufficientFunds):
        _hold(a, "20.01", "h2", at)


def test_hold_on_frozen_account_is_refused(make_account, fund, at):
    a = make_account()
    fund(a, "10.00")
    services.account_freeze(account_id=a.pk, actor="staff:1", reason="x", at=at)
    with pytest.raises(AccountFrozen):
        _hold(a, "1.00", "hf", at)


def test_hold_is_idempotent(make_account, fund, at):
    a = make_account()
    fund(a, "10.00")
    first = _hold(a, "5.00", "hk", at)
    again = _hold(a, "5.00", "hk", at)
    assert again.pk == first.pk and again.replayed is True
    assert selectors.account_balance(account_id=a.pk).held == cny("5.00")
    with pytest.raises(IdempotencyKeyReused):
        _hold(a, "6.00", "hk", at)


def test_full_capture(make_account, fund, at, later):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    hold = _hold(a, "40.00", "hc", at)
    journal = services.hold_capture(hold_id=hold.pk, credit_account_id=b.pk,
                                    idempotency_key="cap", actor="system:test",
                                    captured_at=later)
    a_bal = selectors.account_balance(account_id=a.pk)
    assert (a_bal.balance, a_bal.held) == (cny("60"), cny("0"))
    assert selectors.account_balance(account_id=b.pk).balance == cny("40")
    hold.refresh_from_db()
    assert hold.status == HoldStatus.CAPTURED and hold.capture_journal_id == journal.pk
    again = services.hold_capture(hold_id=hold.pk, credit_account_id=b.pk,
                                  idempotency_key="cap", actor="system:test", captured_at=later)
    assert again.pk == journal.pk and again.replayed is True


def test_partial_capture_releases_the_rest(make_account, fund, at, later):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    hold = _hold(a, "40.00", "hp", at)
    services.hold_capture(hold_id=hold.pk, credit_account_id=b.pk, amount=cny("15.00"),
                          idempotency_key="cap-part", actor="system:test", captured_at=later)
    bal = selectors.account_balance(account_id=a.pk)
    assert (bal.balance, bal.held, bal.available) == (cny("85"), cny("0"), cny("85"))
    hold.refresh_from_db()
    assert hold.captured_amount == 1500


def test_capture_more_than_held_is_refused(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    hold = _hold(a, "10.00", "hm", at)
    with pytest.raises(InvalidAmount):
        services.hold_capture(hold_id=hold.pk, credit_account_id=b.pk, amount=cny("10.01"),
                              idempotency_key="over", actor="system:test", captured_at=at)


def test_capture_on_frozen_account_is_refused(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "10.00")
    hold = _hold(a, "10.00", "hz", at)
    services.account_freeze(account_id=a.pk, actor="staff:1", reason="court", at=at)
    with pytest.raises(AccountFrozen):
        services.hold_capture(hold_id=hold.pk, credit_account_id=b.pk, idempotency_key="cz",
                              actor="system:test", captured_at=at)


def test_release_then_capture_is_refused(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "10.00")
    hold = _hold(a, "10.00", "hr", at)
    services.hold_release(hold_id=hold.pk, actor="system:test", released_at=at)
    services.hold_release(hold_id=hold.pk, actor="system:test", released_at=at)  # harmless
    assert selectors.account_balance(account_id=a.pk).held == cny("0")
    with pytest.raises(HoldNotPending):
        services.hold_capture(hold_id=hold.pk, credit_account_id=b.pk, idempotency_key="cr",
                              actor="system:test", captured_at=at)


def test_captured_hold_cannot_be_released(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "10.00")
    hold = _hold(a, "10.00", "hcr", at)
    services.hold_capture(hold_id=hold.pk, credit_account_id=b.pk, idempotency_key="c1",
                          actor="system:test", captured_at=at)
    with pytest.raises(HoldNotPending):
        services.hold_release(hold_id=hold.pk, actor="system:test", released_at=at)


def test_expiry_releases_due_holds_only(make_account, fund, at):
    a = make_account()
    fund(a, "10.00")
    due = _hold(a, "3.00", "due", at, expires_at=at + timedelta(minutes=1))
    not_due = _hold(a, "4.00", "not-due", at, expires_at=at + timedelta(hours=1))
    assert services.holds_expire(now=at + timedelta(minutes=2)) == 1
    assert Hold.objects.get(pk=due.pk).status == HoldStatus.EXPIRED
    assert Hold.objects.get(pk=not_due.pk).status == HoldStatus.PENDING
    assert selectors.account_balance(account_id=a.pk).held == cny("4.00")
