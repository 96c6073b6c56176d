"""Many threads, few hot accounts, real commits: money is conserved and never negative,
every successful transfer is exactly one journal, racing duplicates post once."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum

from tests.conftest import cny
from tests.race import race
from wangyin.core.money import Money
from wangyin.ledger import services
from wangyin.ledger.errors import InsufficientFunds
from wangyin.ledger.models import Account, Journal
from wangyin.ledger.selectors import ledger_verify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.req("DT-05"),
              pytest.mark.slow]


def _run_threads(n, target):
    _results, errors = race(n, target)
    assert not errors, errors


def test_random_transfers_among_hot_accounts(make_account, fund, at):
    accounts = [make_account() for _ in range(4)]
    for a in accounts:
        fund(a, "100.00")
    ids = [a.pk for a in accounts]
    total_before = Account.objects.filter(pk__in=ids).aggregate(s=Sum("balance"))["s"]
    journals_before = Journal.objects.count()
    outcome = Counter()
    lock = threading.Lock()

    def worker(i):
        rng = random.Random(i)
        for n in range(15):
            src, dst = rng.sample(ids, 2)
            try:
                services.transfer(debit_account_id=src, credit_account_id=dst,
                                  amount=Money(rng.randint(1, 6000)),
                                  idempotency_key=f"c-{i}-{n}", actor=f"customer:{i}",
                                  posted_at=at)
                result = "ok"
            except InsufficientFunds:
                result = "insufficient"
            with lock:
                outcome[result] += 1

    _run_threads(24, worker)
    assert outcome["ok"] + outcome["insufficient"] == 24 * 15
    assert outcome["ok"] > 0
    balances = list(Account.objects.filter(pk__in=ids).values_list("balance", flat=True))
    assert sum(balances) == total_before
    assert min(balances) >= 0
    assert Journal.objects.count() - journals_before == outcome["ok"]
    report = ledger_verify()
    assert report.ok, report.problems


@pytest.mark.req("DT-05")
def test_racing_requests_with_one_key_post_once(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    barrier = threading.Barrier(16)
    results = []
    lock = threading.Lock()

    def worker(i):
        barrier.wait()
        journal = services.transfer(debit_account_id=a.pk, credit_account_id=b.pk,
                                    amount=cny("10.00"), idempotency_key="once",
                                    actor="customer:1", posted_at=at)
        with lock:
            results.append((journal.pk, journal.replayed))

    _run_threads(16, worker)
    assert len({pk for pk, _ in results}) == 1
    assert sorted(r for _, r in results) == [False] + [True] * 15
    assert Journal.objects.filter(idempotency_key="once").count() == 1
    assert Account.objects.get(pk=a.pk).balance == 9000
    assert Account.objects.get(pk=b.pk).balance == 1000
    assert ledger_verify().ok


def test_racing_holds_never_overdraw(make_account, fund, at):
    a = make_account()
    fund(a, "100.00")
    placed = []
    lock = threading.Lock()

    def worker(i):
        try:
            services.hold_place(account_id=a.pk, amount=cny("30.00"), idempotency_key=f"rh{i}",
                                reason="race", actor="system:test", placed_at=at)
            with lock:
                placed.append(i)
        except InsufficientFunds:
            pass

    _run_threads(10, worker)
    assert len(placed) == 3
    assert Account.objects.get(pk=a.pk).held == 9000
    assert connection.vendor == "postgresql"
