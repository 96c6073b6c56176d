"""Property: any sequence of transfers keeps the total constant and no customer negative."""

import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wangyin.core.money import Money
from wangyin.ledger import services
from wangyin.ledger.errors import InsufficientFunds
from wangyin.ledger.models import Account, AccountKind, NormalSide
from wangyin.ledger.selectors import ledger_verify

pytestmark = [pytest.mark.django_db, pytest.mark.req("DT-05")]
_n = itertools.count()

transfers = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(1, 30_000)), max_size=25
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=transfers, opening=st.lists(st.integers(0, 50_000), min_size=5, max_size=5))
def test_transfers_conserve_money_and_never_overdraw(ops, opening, at):
    with transaction.atomic():
        run = next(_n)
        cash = services.account_open(number=f"P{run}-cash", name="cash", kind=AccountKind.GL,
                                     normal_side=NormalSide.DEBIT, overdraft_limit=None,
                                     actor="system:test", opened_at=at)
        ids = []
        for i, fen in enumerate(opening):
            acc = services.account_open(number=f"P{run}-{i}", name="c", kind=AccountKind.CUSTOMER,
                                        actor="system:test", opened_at=at)
            ids.append(acc.pk)
            if fen:
                services.transfer(debit_account_id=cash.pk, credit_account_id=acc.pk,
                                  amount=Money(fen), idempotency_key=f"P{run}-open-{i}",
                                  actor="system:test", posted_at=at)
        expected = {pk: fen for pk, fen in zip(ids, opening, strict=True)}
        for n, (src, dst, fen) in enumerate(ops):
            if src == dst:
                continue
            try:
                services.transfer(debit_account_id=ids[src], credit_account_id=ids[dst],
                                  amount=Money(fen), idempotency_key=f"P{run}-t{n}",
                                  actor="customer:p", posted_at=at)
            except InsufficientFunds:
                assert expected[ids[src]] < fen  # refused only when it really was short
                continue
            expected[ids[src]] -= fen
            expected[ids[dst]] += fen
        actual = dict(Account.objects.filter(pk__in=ids).values_list("pk", "balance"))
        assert actual == expected
        assert sum(actual.values()) == sum(opening)
        assert min(actual.values()) >= 0
        assert ledger_verify().ok
        transaction.set_rollback(True)
