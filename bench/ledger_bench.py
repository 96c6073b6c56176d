"""Ledger throughput benchmark: ``wangyin.ledger.services.transfer`` against pgbench.

    make bench-ledger                 # or: .venv/bin/python bench/ledger_bench.py --help

One run, one PostgreSQL server, for each worker count (default 16, 64, 256):

1. pgbench's built-in TPC-B-like script ("update balances, insert history") at that many
   clients (-j 2) on its own database — the physical baseline of this machine and server;
2. that many concurrent ledger workers (threads spread over a few processes, one Django
   connection each) posting random transfers between customer accounts through the real
   service (locks, postings, deferred balance triggers, audit hash chain).

It prints transfers/s, p50/p99 latency and the ratio to pgbench, a profile of what the
server's backends were doing (pg_stat_activity samples) and the CPU each side used per
transaction; then checks the ledger (``ledger_verify``) and the audit chains, and writes
everything to ``var/bench-ledger.json``.

The server is the bench's own embedded cluster (``var/pgdata-bench``, max_connections
raised to 400) unless ``DATABASE_URL`` is set; the databases ``wangyin_bench`` and
``wangyin_pgbench`` are dropped and recreated on every run. Not a test: pytest never
collects it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_ledger  # noqa: E402
import bench_pgbench  # noqa: E402
import bench_probe  # noqa: E402
import bench_server  # noqa: E402
from bench_common import int_list as _int_list  # noqa: E402
from bench_common import log as _log  # noqa: E402
from bench_common import median, open_server, run_pgbench_phase  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark the ledger's transfer service against pgbench (TPC-B).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--workers",
        type=_int_list,
        default=[16, 64, 256],
        help="comma-separated concurrency levels (ledger workers = pgbench clients)",
    )
    p.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    p.add_argument("--accounts", type=int, default=1000, help="customer accounts")
    p.add_argument(
        "--initial-yuan",
        type=int,
        default=100_000,
        help="opening balance of every customer account",
    )
    p.add_argument(
        "--amount-fen", type=_int_list, default=[1, 10_000], help="min,max transfer amount in fen"
    )
    p.add_argument(
        "--scenarios",
        default="uniform",
        help="comma-separated: uniform (random payer and payee) and/or hot "
        "(every transfer pays one of --hot-accounts accounts)",
    )
    p.add_argument("--hot-accounts", type=int, default=10)
    p.add_argument(
        "--actor",
        choices=["payer", "worker", "single"],
        default="payer",
        help="audit actor of a transfer: the paying customer, the worker thread, "
        "or one actor for all (= one audit hash chain for everything)",
    )
    p.add_argument(
        "--procs", type=int, default=2, help="worker processes the ledger workers are spread over"
    )
    p.add_argument("--pgbench-scale", type=int, default=10)
    p.add_argument("--pgbench-threads", type=int, default=2)
    p.add_argument("--no-pgbench", action="store_true", help="skip the pgbench baseline")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the whole matrix this many times and report medians",
    )
    p.add_argument(
        "--pgdata",
        type=Path,
        default=REPO / "var" / "pgdata-bench",
        help="embedded cluster directory (ignored when DATABASE_URL is set)",
    )
    p.add_argument("--max-connections", type=int, default=400)
    p.add_argument("--ledger-db", default="wangyin_bench")
    p.add_argument("--pgbench-db", default="wangyin_pgbench")
    p.add_argument(
        "--no-audit-verify", action="store_true", help="skip re-hashing the audit chains at the end"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, default=REPO / "var" / "bench-ledger.json")
    args = p.parse_args(argv)
    if len(args.amount_fen) != 2 or not 0 < args.amount_fen[0] <= args.amount_fen[1]:
        p.error("--amount-fen needs min,max with 0 < min <= max")
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not set(args.scenarios) <= {"uniform", "hot"}:
        p.error("--scenarios: uniform and/or hot")
    if args.accounts < 2 or ("hot" in args.scenarios and not 0 < args.hot_accounts < args.accounts):
        p.error("need at least 2 accounts, and 0 < --hot-accounts < --accounts")
    if min(args.workers) < 1 or args.procs < 1 or args.duration <= 0:
        p.error("--workers, --procs and --duration must be positive")
    return args


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values)) - 1))
    return round(sorted_values[rank], 2)


# --- one ledger phase ---------------------------------------------------------------------


def run_ledger_phase(
    spec: bench_ledger.Spec,
    workers: int,
    procs: int,
    duration: float,
    cpu: bench_probe.ServerCpu,
    target: bench_server.Target,
    dbname: str,
) -> dict:
    ctx = mp.get_context("spawn")
    nprocs = min(procs, workers)
    split = [workers // nprocs + (1 if i < workers % nprocs else 0) for i in range(nprocs)]
    ready_q, result_q = ctx.Queue(), ctx.Queue()
    start_evt, release_evt = ctx.Event(), ctx.Event()
    deadline = ctx.Value("d", 0.0, lock=False)
    processes = [
        ctx.Process(
            target=bench_ledger.worker_process,
            name=f"ledger-bench-{i}",
            args=(i, n, spec, ready_q, start_evt, deadline, result_q, release_evt),
        )
        for i, n in enumerate(split)
    ]
    for proc in processes:
        proc.start()
    try:
        for _ in processes:
            idx, problems = ready_q.get(timeout=300)
            if problems:
                raise RuntimeError(f"worker process {idx} could not connect:\n{problems[0]}")
        sampler = bench_probe.ActivitySampler(target.conninfo("postgres"), dbname)
        cpu.start()
        with sampler:
            t0 = time.monotonic()
            deadline.value = t0 + duration
            start_evt.set()
            results = [result_q.get(timeout=duration + 300) for _ in processes]
        release_evt.set()
        for proc in processes:
            proc.join(timeout=60)
        bench_probe.wait_for_backends_gone(lambda: target.connect("postgres"), dbname)
        server_cpu = cpu.stop()
    finally:
        release_evt.set()
        start_evt.set()
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=10)
    problems = [p for r in results for p in r["problems"]]
    if problems:
        raise RuntimeError("a ledger worker crashed:\n" + problems[0])
    elapsed = max(r["last_end"] for r in results) - t0
    latencies = sorted(x for r in results for x in r["latencies"])
    ok = sum(r["ok"] for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for name, n in r["errors"].items():
            errors[name] = errors.get(name, 0) + n
    return {
        "workers": workers,
        "processes": nprocs,
        "scenario": spec.scenario,
        "tps": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "transfers": ok,
        "insufficient_funds": sum(r["insufficient"] for r in results),
        "errors": errors,
        "error_sample": next((r["error_sample"] for r in results if r["error_sample"]), ""),
        "elapsed_s": round(elapsed, 2),
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "client_cpu_s": round(sum(r["cpu_s"] for r in results), 2),
        "server_cpu_s": server_cpu,
        "activity": sampler.profile(),
    }


# --- reporting ----------------------------------------------------------------------------


def _per_tx_ms(cpu_s: float | None, count: int) -> float | None:
    return round(1000 * cpu_s / count, 2) if cpu_s is not None and count else None


def _describe(kind: str, r: dict) -> str:
    count = r.get("transfers", r.get("transactions", 0))
    line = (
        f"  {kind:<16} {r['tps']:>9.1f} tx/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms"
        f"  | CPU/tx: server {_per_tx_ms(r['server_cpu_s'], count)} ms,"
        f" client {_per_tx_ms(r['client_cpu_s'], count)} ms"
    )
    extra = []
    if "insufficient_funds" in r:
        extra.append(f"insufficient funds {r['insufficient_funds']}")
        if r["errors"]:
            extra.append(f"errors {r['errors']} e.g. {r['error_sample']}")
    if r.get("failed"):
        extra.append(f"failed {r['failed']}")
    if extra:
        line += "\n  " + " " * 17 + "; ".join(extra)
    if r["activity"]:
        line += (
            "\n  "
            + " " * 17
            + "backends: "
            + ", ".join(f"{share}% {what}" for what, share in r["activity"][:5])
        )
    return line


def _median(values: list) -> float | None:
    return median(values, 2)


def summarise(runs: list[dict], args: argparse.Namespace) -> list[dict]:
    rows = []
    for workers in args.workers:
        pgb = [r for r in runs if r["kind"] == "pgbench" and r["clients"] == workers]
        pg_tps = _median([r["tps"] for r in pgb])
        for scenario in args.scenarios:
            led = [
                r
                for r in runs
                if r["kind"] == "ledger" and r["workers"] == workers and r["scenario"] == scenario
            ]
            tps = _median([r["tps"] for r in led])
            rows.append(
                {
                    "workers": workers,
                    "scenario": scenario,
                    "runs": len(led),
                    "ledger_tps": tps,
                    "ledger_p50_ms": _median([r["p50_ms"] for r in led]),
                    "ledger_p99_ms": _median([r["p99_ms"] for r in led]),
                    "insufficient_funds": sum(r["insufficient_funds"] for r in led),
                    "errors": sum(sum(r["errors"].values()) for r in led),
                    "pgbench_tps": pg_tps,
                    "pgbench_p50_ms": _median([r["p50_ms"] for r in pgb]),
                    "pgbench_p99_ms": _median([r["p99_ms"] for r in pgb]),
                    "ratio": round(tps / pg_tps, 3) if tps and pg_tps else None,
                }
            )
    return rows


def print_table(rows: list[dict], repeat: int) -> None:
    title = f"median of {repeat} runs" if repeat > 1 else "one run"
    _log(f"\nSummary ({title}; latencies in ms; ratio = ledger tps / pgbench tps)")
    head = (
        f"{'workers':>7} {'scenario':<8} {'ledger tps':>10} {'p50':>7} {'p99':>8} "
        f"{'pgbench tps':>11} {'p50':>7} {'p99':>8} {'ratio':>6} {'insuff':>6} {'errors':>6}"
    )
    _log(head)
    _log("-" * len(head))

    def f(v: float | None, width: int, digits: int = 1) -> str:
        return f"{v:>{width}.{digits}f}" if v is not None else f"{'-':>{width}}"

    for r in rows:
        _log(
            f"{r['workers']:>7} {r['scenario']:<8} {f(r['ledger_tps'], 10)} "
            f"{f(r['ledger_p50_ms'], 7)} {f(r['ledger_p99_ms'], 8)} "
            f"{f(r['pgbench_tps'], 11)} {f(r['pgbench_p50_ms'], 7)} "
            f"{f(r['pgbench_p99_ms'], 8)} {f(r['ratio'], 6, 3)} "
            f"{r['insufficient_funds']:>6} {r['errors']:>6}"
        )


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    os.chdir(REPO)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangyin.settings")
    os.environ.setdefault("WANGYIN_LOG_LEVEL", "WARNING")

    target, settings = open_server(
        args.pgdata, max_connections=args.max_connections, need=max(args.workers) + 5
    )

    # The ledger database: fresh, migrated, seeded. Child processes inherit DATABASE_URL.
    t = time.monotonic()
    bench_server.recreate_database(target, args.ledger_db)
    os.environ["DATABASE_URL"] = target.database_url(args.ledger_db)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    accounts = bench_ledger.seed_accounts(
        accounts=args.accounts, initial_fen=args.initial_yuan * 100
    )
    connection.close()
    _log(
        f"[ledger] {args.ledger_db}: migrated, {args.accounts} customer accounts funded "
        f"with {args.initial_yuan} yuan each ({time.monotonic() - t:.1f} s)"
    )

    if not args.no_pgbench:
        t = time.monotonic()
        bench_server.recreate_database(target, args.pgbench_db)
        bench_pgbench.initialise(target, args.pgbench_db, args.pgbench_scale)
        _log(
            f"[pgbench] {args.pgbench_db}: initialised at scale {args.pgbench_scale} "
            f"({time.monotonic() - t:.1f} s)"
        )

    cpu = bench_probe.ServerCpu(bench_probe.postmaster_pid(target.conninfo("postgres")))
    load = os.getloadavg()
    _log(
        f"[machine] {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f}; "
        f"{args.duration:g} s per phase, ledger workers over {args.procs} processes"
    )

    runs: list[dict] = []
    run_id = uuid.uuid4().hex[:8]
    for rep in range(args.repeat):
        for workers in args.workers:
            _log(
                f"\n== {workers} concurrent workers"
                + (f" (run {rep + 1}/{args.repeat})" if args.repeat > 1 else "")
            )
            if not args.no_pgbench:
                bench_server.checkpoint(target)
                r = run_pgbench_phase(
                    target, args.pgbench_db, workers, args.pgbench_threads, args.duration, cpu
                )
                runs.append({"kind": "pgbench", "repeat": rep, **r})
                _log(_describe("pgbench TPC-B", r))
            for scenario in args.scenarios:
                spec = bench_ledger.Spec(
                    run_id=f"{run_id}:{rep}:{workers}:{scenario}",
                    scenario=scenario,
                    customers=accounts["customers"],
                    hot=args.hot_accounts,
                    min_fen=args.amount_fen[0],
                    max_fen=args.amount_fen[1],
                    actor=args.actor,
                    seed=args.seed + rep * 7919 + workers,
                )
                bench_server.checkpoint(target)
                r = run_ledger_phase(
                    spec, workers, args.procs, args.duration, cpu, target, args.ledger_db
                )
                runs.append({"kind": "ledger", "repeat": rep, **r})
                _log(_describe(f"ledger {scenario}", r))

    rows = summarise(runs, args)
    print_table(rows, args.repeat)

    from wangyin.ledger.selectors import ledger_verify

    t = time.monotonic()
    report = ledger_verify()
    verdict = "OK" if report.ok else f"{len(report.problems)} PROBLEM(S)"
    _log(
        f"\n[verify] ledger: {verdict} — {report.accounts} accounts, {report.journals} "
        f"journals, {report.postings} postings ({time.monotonic() - t:.1f} s)"
    )
    for problem in report.problems[:20]:
        _log(f"  ! {problem}")
    audit = None
    if not args.no_audit_verify:
        from wangyin.audit.selectors import audit_verify

        t = time.monotonic()
        audit = audit_verify()
        _log(
            f"[verify] audit chains: {'OK' if audit.ok else 'PROBLEMS'} — {audit.chains} "
            f"chains, {audit.events} events ({time.monotonic() - t:.1f} s)"
        )
        for problem in audit.problems[:20]:
            _log(f"  ! {problem}")

    payload = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - began, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load]},
        "server": {"embedded": target.embedded, **settings},
        "config": {
            "workers": args.workers,
            "duration_s": args.duration,
            "accounts": args.accounts,
            "initial_yuan": args.initial_yuan,
            "amount_fen": args.amount_fen,
            "scenarios": args.scenarios,
            "hot_accounts": args.hot_accounts,
            "actor": args.actor,
            "procs": args.procs,
            "repeat": args.repeat,
            "pgbench_scale": None if args.no_pgbench else args.pgbench_scale,
            "pgbench_threads": args.pgbench_threads,
        },
        "summary": rows,
        "runs": runs,
        "verify": {
            "ledger_ok": report.ok,
            "ledger_problems": report.problems,
            "accounts": report.accounts,
            "journals": report.journals,
            "postings": report.postings,
            "audit_ok": None if audit is None else audit.ok,
            "audit_problems": [] if audit is None else audit.problems[:50],
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    _log(f"[done] {args.output} written; {payload['wall_s']} s in all")
    connection.close()
    ok = report.ok and (audit is None or audit.ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
