"""The ledger side of the benchmark: seeding accounts and the worker processes.

N concurrent workers = N threads spread over a few processes (the GIL would serialise one
process), each thread with its own Django database connection. Every worker calls
``wangyin.ledger.services.transfer`` in a loop until the shared deadline.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import resource
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

BENCH_ACTOR = "bench"


# --- seeding (runs in the parent, after django.setup()) -----------------------------------


def seed_accounts(*, accounts: int, initial_fen: int) -> dict:
    """Open a GL cash account and ``accounts`` customer accounts, and fund each customer
    with ``initial_fen`` by DEPOSIT journals (cash debited, deposit credited)."""
    from django.db import transaction

    from wangyin.core.money import Money
    from wangyin.ledger import services
    from wangyin.ledger.models import AccountKind, JournalType, NormalSide

    now = datetime.now(UTC)
    with transaction.atomic():
        cash = services.account_open(
            number="BENCH-CASH",
            name="Bench cash",
            kind=AccountKind.GL,
            normal_side=NormalSide.DEBIT,
            overdraft_limit=None,
            actor=BENCH_ACTOR,
            opened_at=now,
        )
        customers = [
            services.account_open(
                number=f"BENCH{i:08d}",
                name=f"Bench customer {i}",
                kind=AccountKind.CUSTOMER,
                actor=BENCH_ACTOR,
                opened_at=now,
            ).pk
            for i in range(accounts)
        ]
    for start in range(0, accounts, 500):
        chunk = customers[start : start + 500]
        services.journal_post(
            idempotency_key=f"bench:fund:{start}",
            type=JournalType.DEPOSIT,
            lines=[services.debit(cash.pk, Money(initial_fen * len(chunk)))]
            + [services.credit(pk, Money(initial_fen)) for pk in chunk],
            actor=BENCH_ACTOR,
            posted_at=now,
            memo="bench funding",
        )
    return {"cash": cash.pk, "customers": customers}


# --- workers ------------------------------------------------------------------------------


@dataclass
class Spec:
    """What one benchmark phase does; picklable, sent to every worker process."""

    run_id: str
    scenario: str  # "uniform" or "hot"
    customers: list[int]
    hot: int  # hot scenario: payees are the first ``hot`` customers
    min_fen: int
    max_fen: int
    actor: str  # "payer", "worker" or "single"
    seed: int


@dataclass
class ThreadStats:
    ok: int = 0
    insufficient: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    last_end: float = 0.0
    error_sample: str = ""


def _actor(spec: Spec, payer: int, worker: str) -> str:
    if spec.actor == "payer":
        return f"customer:{payer}"
    if spec.actor == "worker":
        return f"bench:{worker}"
    return BENCH_ACTOR


def _pick(spec: Spec, rng: random.Random) -> tuple[int, int]:
    ids = spec.customers
    if spec.scenario == "hot":
        payee = ids[rng.randrange(spec.hot)]
        payer = ids[rng.randrange(spec.hot, len(ids))]
        return payer, payee
    payer, payee = rng.sample(ids, 2)
    return payer, payee


def _transfer_loop(
    spec: Spec, proc: int, thread: int, deadline: mp.Value, stats: ThreadStats
) -> None:
    from django.db import DatabaseError

    from wangyin.core.errors import DomainError
    from wangyin.core.money import Money
    from wangyin.ledger import services
    from wangyin.ledger.errors import InsufficientFunds

    rng = random.Random(spec.seed * 1_000_003 + proc * 10_007 + thread)
    worker = f"{proc}.{thread}"
    end = deadline.value
    seq = 0
    while time.monotonic() < end:
        payer, payee = _pick(spec, rng)
        amount = Money(rng.randint(spec.min_fen, spec.max_fen))
        seq += 1
        t0 = time.perf_counter()
        try:
            services.transfer(
                debit_account_id=payer,
                credit_account_id=payee,
                amount=amount,
                idempotency_key=f"bench:{spec.run_id}:{worker}:{seq}",
                actor=_actor(spec, payer, worker),
                posted_at=datetime.now(UTC),
                memo="bench transfer",
            )
        except InsufficientFunds:
            stats.insufficient += 1
        except (DomainError, DatabaseError) as exc:
            stats.errors[type(exc).__name__] += 1
            stats.error_sample = stats.error_sample or f"{type(exc).__name__}: {exc}"[:300]
            if sum(stats.errors.values()) > 1000:
                break
        else:
            stats.latencies.append((time.perf_counter() - t0) * 1000.0)
            stats.ok += 1
        stats.last_end = time.monotonic()


def worker_process(
    proc: int,
    n_threads: int,
    spec: Spec,
    ready_q: mp.Queue,
    start_evt: mp.Event,
    deadline: mp.Value,
    result_q: mp.Queue,
    release_evt: mp.Event,
) -> None:
    """One process of ``n_threads`` workers. Protocol with the parent: report "ready" once
    every thread is connected, run from ``start_evt`` to ``deadline``, send the results,
    keep the connections open until ``release_evt`` (so the parent can read the server's
    CPU time before the backends exit)."""
    import django

    django.setup()
    from django.db import connection

    stats = [ThreadStats() for _ in range(n_threads)]
    connected = threading.Barrier(n_threads + 1)
    finished = threading.Barrier(n_threads + 1)
    problems: list[str] = []

    def thread_main(t: int) -> None:
        try:
            connection.ensure_connection()
        except Exception:  # noqa: BLE001 - reported to the parent, which aborts
            problems.append(traceback.format_exc(limit=3))
        connected.wait()
        start_evt.wait()
        try:
            if not problems:
                _transfer_loop(spec, proc, t, deadline, stats[t])
        except Exception:  # noqa: BLE001
            problems.append(traceback.format_exc(limit=5))
        finished.wait()
        release_evt.wait()
        connection.close()

    threads = [
        threading.Thread(target=thread_main, args=(t,), daemon=True) for t in range(n_threads)
    ]
    for th in threads:
        th.start()
    connected.wait()
    ready_q.put((proc, problems[:1]))
    start_evt.wait()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    finished.wait()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    errors: Counter = Counter()
    for s in stats:
        errors.update(s.errors)
    result_q.put(
        {
            "proc": proc,
            "ok": sum(s.ok for s in stats),
            "insufficient": sum(s.insufficient for s in stats),
            "errors": dict(errors),
            "error_sample": next((s.error_sample for s in stats if s.error_sample), ""),
            "latencies": [x for s in stats for x in s.latencies],
            "last_end": max((s.last_end for s in stats), default=0.0),
            "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "problems": problems[:3],
        }
    )
    for th in threads:
        th.join(timeout=60)
