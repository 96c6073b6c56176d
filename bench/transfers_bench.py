"""Transfers over HTTP (PF-01, PF-02): signed-in customers pay each other through the web
pages, at 100, 1000 and 1200 concurrent connections, against pgbench on the same server.

    make bench-transfers              # or: .venv/bin/python bench/transfers_bench.py --help

One run, one PostgreSQL server:

1. bench customers (professional edition, bound device, funded Class I account) come from a
   template database made once through the domain services (``bench_web``); the run clones
   it, migrates the clone and starts one live session per customer, before timing;
2. the bank's web server (gunicorn as ``wangyin run`` starts it, or granian) and its SMS
   worker serve the clone;
3. for each connection count: pgbench's TPC-B-like script at that many clients on its own
   database, then the load generator (``bench_http``, its own process, its CPU counted)
   drives complete transfers — form, SMS code, confirmation, result page — over that many
   keep-alive connections;
4. it prints transfers/s, latency percentiles (per transfer and per request), errors by
   kind, the ratio to pgbench and the CPU each side used per transfer; then runs
   ``wangyin ledger verify`` and ``wangyin audit verify`` on the clone and fails if they
   find anything; everything goes to ``var/bench-transfers.json``.

The CPU of a phase is counted until the SMS worker has delivered what the phase queued (it
may lag behind under load). ``--statements`` also counts the SQL statements per transfer
(pg_stat_statements: the top-level statements of every client of the bank's database,
BEGIN/COMMIT and the connections' health checks included). ``--profile`` also records the
web workers with py-spy during the first HTTP phase.
Not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_appserver  # noqa: E402
import bench_pgbench  # noqa: E402
import bench_probe  # noqa: E402
import bench_server  # noqa: E402
import psutil  # noqa: E402
from bench_common import int_list as _int_list  # noqa: E402
from bench_common import log as _log  # noqa: E402
from bench_common import median as _median  # noqa: E402
from bench_common import open_server, run_pgbench_phase  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark same-bank transfers over HTTP against pgbench (TPC-B).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--connections",
        type=_int_list,
        default=[100, 1000, 1200],
        help="comma-separated concurrency levels (HTTP connections = pgbench clients)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="seconds of each pgbench phase and the least of each HTTP "
        "measurement window (at least two median transfer times)",
    )
    p.add_argument(
        "--ramp-rate",
        type=float,
        default=20.0,
        help="HTTP users joining per second (a staggered start, not in step)",
    )
    p.add_argument(
        "--warmup-max",
        type=float,
        default=240.0,
        help="an HTTP phase measures once as many transfers as connections have "
        "completed, or after this many seconds",
    )
    p.add_argument(
        "--customers",
        type=int,
        default=1200,
        help="signed-in bench customers (at least the largest connection count)",
    )
    p.add_argument(
        "--initial-yuan", type=int, default=100_000, help="opening balance of every bench customer"
    )
    p.add_argument(
        "--amount-fen", type=_int_list, default=[100, 10_000], help="min,max transfer amount in fen"
    )
    p.add_argument("--server", choices=bench_appserver.SERVERS, default="gunicorn")
    p.add_argument("--workers", type=int, default=2, help="web server processes")
    p.add_argument("--threads", type=int, default=8, help="threads per web server process")
    p.add_argument(
        "--no-sms-worker",
        action="store_true",
        help="do not run the procrastinate worker that delivers the SMS",
    )
    p.add_argument(
        "--drain-max",
        type=float,
        default=300.0,
        help="after each HTTP phase, wait at most this long for the SMS worker to "
        "deliver what the phase queued (its CPU and the server's count until "
        "then)",
    )
    p.add_argument(
        "--pages",
        action="store_true",
        help="also load the form and confirmation pages (GET) like a browser",
    )
    p.add_argument(
        "--sms-budget",
        type=int,
        default=5,
        help="transfers per customer per phase (the bank sends 5 SMS codes per "
        "customer in 10 minutes)",
    )
    p.add_argument("--request-timeout", type=float, default=300.0)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the whole matrix this many times and report medians",
    )
    p.add_argument(
        "--risk-compare",
        action="store_true",
        help="run each phase twice, with the risk engine and with an always-allow stub in "
        "the web server (bench/bench_norisk.py), in alternating order (engine-stub, "
        "stub-engine, ...; restarted for each phase), and print the throughput ratio",
    )
    p.add_argument(
        "--risk-budget-ms",
        type=float,
        default=0,
        help="the web server's WANGYIN_RISK_BUDGET_MS (the bank's setting: how long an "
        "evaluation may take before the fallback decides); 0: the bank's default",
    )
    p.add_argument("--pgbench-scale", type=int, default=10)
    p.add_argument("--pgbench-threads", type=int, default=2)
    p.add_argument("--no-pgbench", action="store_true", help="skip the pgbench baseline")
    p.add_argument(
        "--profile", action="store_true", help="py-spy the web workers during the first HTTP phase"
    )
    p.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    p.add_argument(
        "--statements",
        action="store_true",
        help="count the SQL statements per transfer with pg_stat_statements (the "
        "embedded cluster loads it, with a restart; a run without this "
        "option unloads it again)",
    )
    p.add_argument(
        "--pgdata",
        type=Path,
        default=REPO / "var" / "pgdata-bench",
        help="embedded cluster directory (ignored when DATABASE_URL is set)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=0,
        help="raise the embedded server's max_connections to this (0: enough "
        "for the largest pgbench phase)",
    )
    p.add_argument("--db", default="wangyin_bench_web", help="the run's bank database")
    p.add_argument(
        "--template-db",
        default="wangyin_bench_web_tpl",
        help="prepared customers, cloned by every run",
    )
    p.add_argument("--rebuild-template", action="store_true")
    p.add_argument("--pgbench-db", default="wangyin_pgbench")
    p.add_argument("--port", type=int, default=18_080, help="web server port (loopback)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, default=REPO / "var" / "bench-transfers.json")
    args = p.parse_args(argv)
    if len(args.amount_fen) != 2 or not 0 < args.amount_fen[0] <= args.amount_fen[1]:
        p.error("--amount-fen needs min,max with 0 < min <= max")
    if not args.connections or min(args.connections) < 1 or args.duration <= 0:
        p.error("--connections and --duration must be positive")
    if args.customers < max(args.connections) or args.customers < 2:
        p.error(
            "--customers must be at least the largest connection count (one session "
            "per connection) and at least 2"
        )
    if args.workers < 1 or args.threads < 1 or args.sms_budget < 1 or args.ramp_rate <= 0:
        p.error("--workers, --threads, --sms-budget and --ramp-rate must be positive")
    return args


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    s = sorted(values)

    def q(p: float) -> float:
        return round(s[max(0, min(len(s) - 1, round(p / 100 * len(s)) - 1))], 1)

    return {
        "n": len(s),
        "mean": round(statistics.fmean(s), 1),
        "p50": q(50),
        "p95": q(95),
        "p99": q(99),
        "max": round(s[-1], 1),
    }


# --- the bank's database ------------------------------------------------------------------


def _build_template_child(
    url: str, target: bench_server.Target, name: str, customers: int, initial_yuan: int
) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "wangyin.settings"
    os.environ.setdefault("WANGYIN_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    import bench_web

    bench_web.build_template(target, name, customers=customers, initial_yuan=initial_yuan, log=_log)


def prepare_database(args: argparse.Namespace, target: bench_server.Target) -> None:
    import bench_web

    stamp = bench_web.template_stamp(target, args.template_db)
    if args.rebuild_template or not bench_web.template_usable(
        stamp, customers=args.customers, initial_yuan=args.initial_yuan
    ):
        _log(
            f"[prepare] building template {args.template_db} with {args.customers} "
            "customers (once; later runs clone it)"
        )
        bench_server.recreate_database(target, args.template_db)
        ctx = mp.get_context("spawn")
        child = ctx.Process(
            target=_build_template_child,
            name="bench-template",
            args=(
                target.database_url(args.template_db),
                target,
                args.template_db,
                args.customers,
                args.initial_yuan,
            ),
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"building the template failed ({child.exitcode})")
    else:
        _log(
            f"[prepare] template {args.template_db}: {stamp['customers']} customers, "
            f"made {stamp['made']}"
        )
    t = time.monotonic()
    bench_web.clone(target, args.template_db, args.db)
    _log(f"[prepare] {args.db} cloned from the template ({time.monotonic() - t:.1f} s)")


# --- phases -------------------------------------------------------------------------------


def _py_spy(pids: list[int], seconds: float, rate: int, out: Path) -> list[subprocess.Popen]:
    """One ``py-spy record`` per web worker process (raw collapsed stacks)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    procs = []
    for pid in pids:
        cmd = [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--gil",
            "--output",
            str(out.with_name(f"{out.stem}-{pid}.txt")),
        ]
        procs.append(
            subprocess.Popen(
                cmd,
                stdout=subprocess.DEVNULL,  # noqa: S603
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def drain_sms_jobs(target, dbname: str, limit_s: float) -> float:
    """Wait (at most ``limit_s``) until the SMS worker has no job left to do; the seconds
    waited."""
    began = time.monotonic()
    with target.connect(dbname) as conn:
        while time.monotonic() - began < limit_s:
            left = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
            ).fetchone()[0]
            if not left:
                break
            time.sleep(0.5)
    return round(time.monotonic() - began, 1)


def run_http_phase(
    args,
    target,
    app: bench_appserver.AppServer,
    customers: list[dict],
    texts: dict,
    connections: int,
    cpu: bench_probe.ServerCpu,
    seed: int,
    profile_to: Path | None,
) -> dict:
    spec = {
        "base_url": app.url,
        "customers": customers,
        "connections": connections,
        "duration": args.duration,
        "min_fen": args.amount_fen[0],
        "max_fen": args.amount_fen[1],
        "seed": seed,
        "pages": args.pages,
        "sms_budget": args.sms_budget,
        "request_timeout": args.request_timeout,
        "warmup_max": args.warmup_max,
        "ramp_rate": args.ramp_rate,
        "user_agent": __import__("bench_web").USER_AGENT,
        "texts": texts,
        "sms_db": target.conninfo(args.db),
    }
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        gen = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                str(Path(__file__).with_name("bench_http.py")),
                str(spec_path),
                str(out_path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )
        try:
            line = gen.stdout.readline().strip()
            if line != "READY":
                raise RuntimeError(f"the load generator did not start: {line!r}")
            sampler = bench_probe.ActivitySampler(target.conninfo("postgres"), args.db)
            app_cpu0 = app.cpu_seconds()
            machine0, wall0 = psutil.cpu_times(), time.monotonic()
            cpu.start()
            spies = []
            if profile_to is not None:
                spies = _py_spy(
                    app.pids(web_only=True), args.duration, args.profile_rate, profile_to
                )
            with sampler:
                gen.stdin.write("GO\n")
                gen.stdin.flush()
                line = gen.stdout.readline().strip()
            # The SMS worker may lag behind under load: its CPU counts until the messages
            # the phase queued are delivered.
            drain_s = drain_sms_jobs(target, args.db, args.drain_max) if app.sms_worker else 0.0
            server_cpu = cpu.stop()
            app_cpu1 = app.cpu_seconds()
            machine1, wall1 = psutil.cpu_times(), time.monotonic()
            gen.wait(timeout=60)
            if line != "DONE" or gen.returncode != 0:
                raise RuntimeError(f"the load generator failed ({gen.returncode})")
            result = json.loads(out_path.read_text())
        finally:
            if gen.poll() is None:
                gen.kill()
        spy_errors = []
        for spy in spies:
            try:
                _out, err = spy.communicate(timeout=args.duration + 60)
            except subprocess.TimeoutExpired:
                spy.kill()
                err = "timed out"
            if spy.returncode != 0:
                spy_errors.append((err or "").strip()[-300:])
    lat = result.pop("latency_ms")
    done = result["completed"]
    result.update(
        {
            "tps": round(done / result["window_s"], 1) if result["window_s"] else 0.0,
            "transfer_ms": _percentiles(lat.pop("transfer", [])),
            "request_ms": {k: _percentiles(v) for k, v in sorted(lat.items())},
            "all_requests_ms": _percentiles([x for v in lat.values() for x in v]),
            "requests": sum(len(v) for v in lat.values()),
            "server_cpu_s": server_cpu,
            "app_cpu_s": round(app_cpu1["web"] - app_cpu0["web"], 2),
            "sms_worker_cpu_s": round(
                app_cpu1.get("sms_worker", 0.0) - app_cpu0.get("sms_worker", 0.0), 2
            ),
            "activity": sampler.profile(),
            "profile_errors": spy_errors,
        }
    )
    result["sms_drain_s"] = drain_s
    # How busy the whole machine was, and how much of it this benchmark used: the rest is
    # other work on a shared machine.
    capacity = (wall1 - wall0) * (os.cpu_count() or 1)
    ours = sum(
        result[k] or 0.0 for k in ("app_cpu_s", "server_cpu_s", "sms_worker_cpu_s", "client_cpu_s")
    )
    busy = sum(
        getattr(machine1, f) - getattr(machine0, f)
        for f in ("user", "nice", "system", "irq", "softirq", "steal")
        if hasattr(machine1, f)
    )
    result["machine_busy_pct"] = round(100 * busy / capacity, 1) if capacity else None
    result["bench_cpu_pct"] = round(100 * ours / capacity, 1) if capacity else None
    n = result["completed_total"]
    result["cpu_ms_per_transfer"] = round(1000 * ours / n, 1) if n else None
    result["cpu_ceiling_tps"] = (
        round(1000 * (os.cpu_count() or 1) / result["cpu_ms_per_transfer"], 1)
        if result["cpu_ms_per_transfer"]
        else None
    )
    return result


def decisions_mark(target, dbname: str) -> int:
    """The newest risk decision so far (the phase's are the ones after it)."""
    with target.connect(dbname) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM risk_decision").fetchone()[0]


def decisions_since(target, dbname: str, mark: int) -> dict:
    """The in-line decisions of the phase's transfers (two per transfer: at the quote and at
    execution): how many, their time as the engine recorded it (``elapsed_us``: features and
    rules, not the Decision INSERT), fallbacks and non-allow decisions."""
    with target.connect(dbname) as conn:
        n, q, top, fallback, other = conn.execute(
            "SELECT count(*), percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP "
            "(ORDER BY elapsed_us), max(elapsed_us), count(*) FILTER (WHERE fallback), "
            "count(*) FILTER (WHERE action <> 'allow') FROM risk_decision "
            "WHERE id > %s AND kind LIKE 'transfer.%%'",
            [mark],
        ).fetchone()
    ms = [round(x / 1000, 2) for x in q] if q else [None] * 3
    return {
        "n": n,
        "p50_ms": ms[0],
        "p90_ms": ms[1],
        "p99_ms": ms[2],
        "max_ms": round(top / 1000, 2) if top else None,
        "fallbacks": fallback,
        "not_allow": other,
    }


GENERATOR_QUERY = "SELECT id, body FROM notify_smsmessage WHERE"  # bench_http's SMS look-up


def statements_per_transfer(rows: list[tuple[int, str]], transfers: int) -> dict:
    """SQL statements run in the bank's database during a phase, per completed transfer:
    all of them (web server, SMS worker, BEGIN/COMMIT, connection health checks, the load
    generator's SMS look-up) and without the load generator's."""
    if not transfers:
        return {}
    total = sum(calls for calls, _q in rows)
    generator = sum(calls for calls, q in rows if q.startswith(GENERATOR_QUERY))
    return {
        "per_transfer": round(total / transfers, 1),
        "bank_per_transfer": round((total - generator) / transfers, 1),
        "top": [[round(calls / transfers, 2), " ".join(q.split())[:160]] for calls, q in rows[:40]],
    }


# --- reporting ----------------------------------------------------------------------------


def _per(cpu_s: float | None, n: int) -> str:
    return f"{1000 * cpu_s / n:.1f}" if cpu_s is not None and n else "-"


def describe_http(r: dict) -> str:
    t = r["transfer_ms"]
    lines = [
        f"  transfers over HTTP {r['tps']:>7.1f} /s  ({r['completed']} completed in the "
        f"{r['window_s']} s window after {r['warmup_s']} s warm-up ({r['ramp_s']} s "
        f"ramp); {r['requests']} "
        f"requests)  transfer ms: p50 {t.get('p50')} p95 {t.get('p95')} p99 "
        f"{t.get('p99')} mean {t.get('mean')}"
    ]
    for kind, q in r["request_ms"].items():
        lines.append(
            f"    {kind:<17} n={q['n']:<6} mean {q['mean']:>8} p50 {q['p50']:>8} "
            f"p95 {q['p95']:>8} p99 {q['p99']:>8} max {q['max']:>8}"
        )
    n = r["completed_total"]  # the CPU was measured over the whole phase
    lines.append(
        f"    CPU ms per transfer: web {_per(r['app_cpu_s'], n)}, PostgreSQL "
        f"{_per(r['server_cpu_s'], n)}, SMS worker {_per(r['sms_worker_cpu_s'], n)}, "
        f"load generator {_per(r['client_cpu_s'], n)} (SMS look-up "
        f"{r['sms_lookup_ms_mean']} ms each); in all {r['cpu_ms_per_transfer']} ms, "
        f"so at most ~{r['cpu_ceiling_tps']} transfers/s on this machine's "
        f"{os.cpu_count()} CPUs"
    )
    if r.get("statements"):
        lines.append(
            f"    SQL statements per transfer: {r['statements']['bank_per_transfer']} "
            f"by the bank (web and SMS worker, BEGIN/COMMIT included), "
            f"{r['statements']['per_transfer']} with the load generator's"
        )
    if r.get("risk_decisions"):
        d = r["risk_decisions"]
        lines.append(
            f"    risk decisions in-line: {d['n']} (features + rules as recorded: p50 "
            f"{d['p50_ms']} ms, p90 {d['p90_ms']}, p99 {d['p99_ms']}, max {d['max_ms']}); "
            f"fallbacks {d['fallbacks']}, not allow {d['not_allow']}"
        )
    if r.get("sms_drain_s", 0) >= 1:
        lines.append(
            f"    the SMS worker finished the phase's messages {r['sms_drain_s']} s "
            "after the last transfer (counted in its CPU)"
        )
    lines.append(
        f"    machine busy {r['machine_busy_pct']}% of its CPUs during the phase, "
        f"this benchmark {r['bench_cpu_pct']}% (the rest: other work)"
    )
    errors = sum(r["errors"].values())
    lines.append(
        f"    errors {errors}"
        + (
            ": " + "; ".join(f"{k} x{v}" for k, v in list(r["errors"].items())[:6])
            if errors
            else ""
        )
        + (f"; held {r['held']}" if r["held"] else "")
        + (
            f" (+{r['errors_outside_window']} outside the window)"
            if r["errors_outside_window"]
            else ""
        )
    )
    if r["pool_wait_s"] > 1:
        lines.append(
            f"    ! users waited {r['pool_wait_s']} s in all for a customer with SMS "
            f"budget left ({r['customers_exhausted']} customers used up): raise "
            "--customers"
        )
    if r["activity"]:
        lines.append("    backends: " + ", ".join(f"{s}% {w}" for w, s in r["activity"][:5]))
    if r["profile_errors"]:
        lines.append(f"    py-spy failed: {r['profile_errors'][0]}")
    return "\n".join(lines)


def describe_pgbench(r: dict) -> str:
    return (
        f"  pgbench TPC-B      {r['tps']:>7.1f} tx/s  p50 {r['p50_ms']} ms  p99 "
        f"{r['p99_ms']} ms  failed {r['failed']}  | server CPU/tx "
        f"{_per(r['server_cpu_s'], r['transactions'])} ms"
    )


RISK_MODES = ("engine", "stub")  # --risk-compare: the risk engine, the always-allow stub


def summarise(runs: list[dict], args) -> list[dict]:
    rows = []
    modes = RISK_MODES if args.risk_compare else (None,)
    for c, mode in ((c, mode) for c in args.connections for mode in modes):
        web = [
            r
            for r in runs
            if r["kind"] == "http" and r["connections"] == c and r.get("risk") == mode
        ]
        pgb = [r for r in runs if r["kind"] == "pgbench" and r["clients"] == c]
        tps, pg_tps = _median([r["tps"] for r in web]), _median([r["tps"] for r in pgb])
        rows.append(
            {
                "connections": c,
                "risk": mode,
                "runs": len(web),
                "tps_runs": [r["tps"] for r in web],
                "web_cpu_ms": _median(
                    [
                        1000 * r["app_cpu_s"] / r["completed_total"]
                        for r in web
                        if r["completed_total"]
                    ]
                ),
                "cpu_ms": _median([r["cpu_ms_per_transfer"] for r in web]),
                "decision_p50_ms": _median(
                    [r["risk_decisions"]["p50_ms"] for r in web if r.get("risk_decisions")], 2
                ),
                "decision_p99_ms": _median(
                    [r["risk_decisions"]["p99_ms"] for r in web if r.get("risk_decisions")], 2
                ),
                "transfers_per_s": tps,
                "p50_ms": _median([r["transfer_ms"].get("p50") for r in web]),
                "p95_ms": _median([r["transfer_ms"].get("p95") for r in web]),
                "p99_ms": _median([r["transfer_ms"].get("p99") for r in web]),
                "mean_ms": _median([r["transfer_ms"].get("mean") for r in web]),
                "request_mean_ms": _median([r["all_requests_ms"].get("mean") for r in web]),
                "errors": sum(sum(r["errors"].values()) for r in web),
                "statements_per_transfer": _median(
                    [r.get("statements", {}).get("bank_per_transfer") for r in web]
                ),
                "pgbench_tps": pg_tps,
                "ratio": round(tps / pg_tps, 4) if tps and pg_tps else None,
            }
        )
    return rows


def print_table(rows: list[dict], repeat: int) -> None:
    title = f"median of {repeat} runs" if repeat > 1 else "one run"
    _log(
        f"\nSummary ({title}; ms per transfer = its HTTP requests' time; ratio = transfers/s "
        "/ pgbench tx/s)"
    )
    head = (
        f"{'conns':>6} {'transfers/s':>11} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8} "
        f"{'req mean':>8} {'errors':>6} {'pgbench':>8} {'ratio':>7}"
    )
    _log(head)
    _log("-" * len(head))

    def f(v, w, d=1):
        return f"{v:>{w}.{d}f}" if v is not None else f"{'-':>{w}}"

    for r in rows:
        _log(
            f"{r['connections']:>6}{'' if r['risk'] is None else ' ' + r['risk']} "
            f"{f(r['transfers_per_s'], 11)} {f(r['p50_ms'], 8, 0)} "
            f"{f(r['p95_ms'], 8, 0)} {f(r['p99_ms'], 8, 0)} {f(r['mean_ms'], 8, 0)} "
            f"{f(r['request_mean_ms'], 8, 0)} {r['errors']:>6} {f(r['pgbench_tps'], 8)} "
            f"{f(r['ratio'], 7, 4)}"
        )
    _log(
        "Standards' bar: 1 000 concurrent users at 1 288.9 transfers/s with mean response "
        "<= 1.1 s; >= 1 200 concurrent with simple operations <= 1 s, complex <= 2 s."
    )


def compare_risk(rows: list[dict]) -> list[dict]:
    """Per connection count: the medians with the engine and with the stub, and their ratio."""
    out = []
    for c in dict.fromkeys(r["connections"] for r in rows):
        engine, stub = (
            next(r for r in rows if r["connections"] == c and r["risk"] == m) for m in RISK_MODES
        )
        ratio = (
            round(engine["transfers_per_s"] / stub["transfers_per_s"], 3)
            if engine["transfers_per_s"] and stub["transfers_per_s"]
            else None
        )
        out.append(
            {
                "connections": c,
                "engine_tps": engine["transfers_per_s"],
                "stub_tps": stub["transfers_per_s"],
                "engine_runs": engine["tps_runs"],
                "stub_runs": stub["tps_runs"],
                "ratio": ratio,
                "cost_pct": round(100 * (1 - ratio), 1) if ratio is not None else None,
                "engine_web_cpu_ms": engine["web_cpu_ms"],
                "stub_web_cpu_ms": stub["web_cpu_ms"],
                "engine_cpu_ms": engine["cpu_ms"],
                "stub_cpu_ms": stub["cpu_ms"],
                "decision_p50_ms": engine["decision_p50_ms"],
                "decision_p99_ms": engine["decision_p99_ms"],
                "errors": [engine["errors"], stub["errors"]],
            }
        )
    _log("\nRisk engine vs always-allow stub (medians; ratio = engine / stub transfers/s)")
    for r in out:
        _log(
            f"  {r['connections']} connections: engine {r['engine_tps']} transfers/s "
            f"{r['engine_runs']}, stub {r['stub_tps']} {r['stub_runs']}: ratio {r['ratio']} "
            f"(cost {r['cost_pct']} %); CPU ms per transfer: web {r['engine_web_cpu_ms']} vs "
            f"{r['stub_web_cpu_ms']}, all {r['engine_cpu_ms']} vs {r['stub_cpu_ms']}; "
            f"in-line decisions p50 {r['decision_p50_ms']} ms, p99 {r['decision_p99_ms']} ms; "
            f"errors {r['errors'][0]} vs {r['errors'][1]}"
        )
    return out


def verify(url: str) -> dict:
    """``wangyin ledger verify`` and ``wangyin audit verify`` on the run's database."""
    env = {**os.environ, "DATABASE_URL": url}
    out = {}
    for what in ("ledger", "audit"):
        t = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "wangyin.cli", what, "verify"],  # noqa: S603
            env=env,
            capture_output=True,
            text=True,
        )
        text = (proc.stdout + proc.stderr).strip()
        _log(
            f"[verify] wangyin {what} verify ({time.monotonic() - t:.1f} s): "
            f"{'OK' if proc.returncode == 0 else 'FAILED'}\n  " + text.replace("\n", "\n  ")
        )
        out[what] = {"ok": proc.returncode == 0, "output": text[-4000:]}
    return out


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    os.chdir(REPO)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangyin.settings")
    os.environ.setdefault("WANGYIN_LOG_LEVEL", "WARNING")
    app_conns = args.workers * args.threads + 10
    need = (0 if args.no_pgbench else max(args.connections)) + app_conns + 10
    target, settings = open_server(
        args.pgdata,
        max_connections=max(args.max_connections, need),
        need=need,
        statements=args.statements,
    )

    prepare_database(args, target)
    url = target.database_url(args.db)
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    import bench_web
    from django.core.management import call_command
    from django.db import connection

    t = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    customers = bench_web.load_customers(args.customers)
    texts = bench_web.result_texts()
    connection.close()
    _log(f"[prepare] migrated; {len(customers)} customers ({time.monotonic() - t:.1f} s)")

    counting = args.statements and bench_server.statements_ready(target, args.db)
    if args.statements and not counting:
        _log("[statements] pg_stat_statements is not loaded on this server: not counted")

    if not args.no_pgbench:
        t = time.monotonic()
        bench_server.recreate_database(target, args.pgbench_db)
        bench_pgbench.initialise(target, args.pgbench_db, args.pgbench_scale)
        _log(
            f"[pgbench] {args.pgbench_db}: initialised at scale {args.pgbench_scale} "
            f"({time.monotonic() - t:.1f} s)"
        )

    def make_app(mode: str | None) -> bench_appserver.AppServer:
        env, spec = bench_appserver.server_env(url), "wangyin.wsgi:application"
        if args.risk_budget_ms:
            env["WANGYIN_RISK_BUDGET_MS"] = str(args.risk_budget_ms)
        if mode == "stub":  # the bench's own WSGI module stubs the engine out
            here = str(Path(__file__).resolve().parent)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
            spec = "bench_norisk:application"
        return bench_appserver.AppServer(
            server=args.server,
            workers=args.workers,
            threads=args.threads,
            port=args.port,
            env=env,
            sms_worker=not args.no_sms_worker,
            app=spec,
        )

    modes = list(RISK_MODES) if args.risk_compare else [None]
    app = make_app(modes[0])
    runs: list[dict] = []
    cpu = bench_probe.ServerCpu(bench_probe.postmaster_pid(target.conninfo("postgres")))
    load = os.getloadavg()
    profile_to = None
    if args.profile:
        profile_to = REPO / "var" / "bench-transfers-profile.txt"
        for old in profile_to.parent.glob(f"{profile_to.stem}-*.txt"):
            old.unlink()
    try:
        app.start()
        app.warm(["/healthz"])
        _log(
            f"[bank] {args.server}: {args.workers} workers x {args.threads} threads at "
            f"{app.url}; SMS worker {'on' if app.sms_worker else 'off'}"
        )
        _log(
            f"[machine] {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f}; "
            f"{args.duration:g} s per phase"
        )
        for rep in range(args.repeat):
            for c in args.connections:
                _log(
                    f"\n== {c} concurrent connections"
                    + (f" (run {rep + 1}/{args.repeat})" if args.repeat > 1 else "")
                )
                if not args.no_pgbench:
                    bench_server.checkpoint(target)
                    r = run_pgbench_phase(
                        target, args.pgbench_db, c, args.pgbench_threads, args.duration, cpu
                    )
                    runs.append({"kind": "pgbench", "repeat": rep, **r})
                    _log(describe_pgbench(r))
                # --risk-compare: engine then stub, stub then engine, ... (a drift over the
                # run weighs on both alike); a fresh web server for every phase.
                for mode in modes if rep % 2 == 0 else modes[::-1]:
                    if mode is not None:
                        app.stop()
                        app = make_app(mode)
                        app.start()
                        app.warm(["/healthz"])
                        _log(f"  -- risk {mode}: {app.app}")
                    # Fresh sessions (the customers signed in again, before timing) and SMS
                    # budgets (as if ten minutes had passed) for every HTTP phase.
                    t = time.monotonic()
                    bench_web.sign_in(customers)
                    bench_web.reset_sms_budgets()
                    connection.close()
                    _log(f"  {len(customers)} customers signed in ({time.monotonic() - t:.1f} s)")
                    if app.sms_worker:  # nothing left over from before is counted
                        drain_sms_jobs(target, args.db, args.drain_max)
                    bench_server.checkpoint(target)
                    if counting:
                        bench_server.statements_reset(target, args.db)
                    mark = decisions_mark(target, args.db) if mode != "stub" else None
                    r = run_http_phase(
                        args,
                        target,
                        app,
                        bench_web.as_dicts(customers),
                        texts,
                        c,
                        cpu,
                        seed=args.seed + 7919 * rep + c,
                        profile_to=profile_to,
                    )
                    profile_to = None
                    if counting:
                        r["statements"] = statements_per_transfer(
                            bench_server.statements_read(target, args.db), r["completed_total"]
                        )
                    if mark is not None:
                        r["risk_decisions"] = decisions_since(target, args.db, mark)
                    runs.append({"kind": "http", "repeat": rep, "risk": mode, **r})
                    _log(describe_http(r))
    finally:
        app.stop()

    rows = summarise(runs, args)
    print_table(rows, args.repeat)
    comparison = compare_risk(rows) if args.risk_compare else None
    verdict = verify(url)
    if args.profile:
        _log(
            "[profile] py-spy raw stacks: var/bench-transfers-profile-<pid>.txt "
            "(summarise with bench/profile_summary.py)"
        )
    payload = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - began, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load]},
        "server": {"embedded": target.embedded, **settings},
        "bank": {
            "server": args.server,
            "workers": args.workers,
            "threads": args.threads,
            "sms_worker": not args.no_sms_worker,
        },
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "summary": rows,
        "risk_comparison": comparison,
        "runs": runs,
        "verify": verdict,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    _log(f"[done] {args.output} written; {payload['wall_s']} s in all")
    ok = all(v["ok"] for v in verdict.values())
    if not ok:
        _log("!! VERIFY FAILED: the ledger or the audit log has problems (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
