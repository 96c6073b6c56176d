"""Risk decision latency in-process (issue #6, "Performance"): ``risk.evaluate`` on realistic
transfer events against the embedded PostgreSQL, with the database's own costs measured in
the same loop as the baseline.

    make bench-risk              # or: .venv/bin/python bench/risk_evaluate.py --help

1. customers: the transfer benchmark's template (``bench_web``: customers with a bound
   device and a funded Class I account, made through the domain services), cloned into
   this bench's own database and migrated; the shipped rule pack live;
2. a warm-up of payments through ``risk.payment_made`` (the counters, the payers'
   profiles, the payees' inflows) spread over the last 24 hours, one earlier payment to
   each customer's usual payees (days ago: "paid this account before"), the peer baseline
   computed and black/grey list entries added (a few on bench payee accounts, so list hits
   happen);
3. timed, ``--events`` times, each in its own transaction as a payment's: ``SELECT 1``, a
   raw INSERT of a decision-sized row into a copy of ``risk_decision`` (same columns and
   indexes, no ORM) — the database's own cost —, ``risk.evaluate`` (features, rules, the
   Decision INSERT, the case of a non-allow decision), ``risk.payment_made`` (as the payment
   that follows), COMMIT;
4. it prints p50/p90/p99/max of each, evaluate split into features (and their queries),
   rules and the rest (the Decision INSERT, a non-allow decision's case and audit row), and
   every SQL statement evaluate ran with its time; ``var/bench-risk.json``.

Events: a customer's usual payees (1-5 other bench customers) 80 % of the time, another
customer or an account at another bank otherwise; amounts log-normal around 500 yuan; the
customer's bound device 95 % of the time; IPs from the shipped IP table (a home network per
customer, another one in 10 % of events). Not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import log as _log  # noqa: E402
from bench_common import open_server  # noqa: E402

HOME_NETWORKS = [("192.0.2", 70), ("198.51.100", 20), ("203.0.113", 5), ("10.20.30", 5)]
STAFF = "staff:bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time risk.evaluate in-process on realistic transfer events.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--events", type=int, default=5000, help="timed evaluations")
    p.add_argument("--customers", type=int, default=3000, help="bench customers")
    p.add_argument(
        "--warmup-payments", type=int, default=20_000, help="payments counted before timing"
    )
    p.add_argument("--list-entries", type=int, default=500, help="black/grey list entries")
    p.add_argument("--initial-yuan", type=int, default=100_000, help="(the template's)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--pgdata",
        type=Path,
        default=REPO / "var" / "pgdata-bench",
        help="embedded cluster directory (ignored when DATABASE_URL is set)",
    )
    p.add_argument("--db", default="wangyin_bench_risk", help="this bench's database")
    p.add_argument(
        "--template-db",
        default="wangyin_bench_web_tpl",
        help="the transfer benchmark's template (built if missing or too small)",
    )
    p.add_argument("--rebuild-template", action="store_true")
    p.add_argument("--output", type=Path, default=REPO / "var" / "bench-risk.json")
    args = p.parse_args(argv)
    if args.events < 1 or args.customers < 10 or args.warmup_payments < 0:
        p.error("--events >= 1, --customers >= 10 and --warmup-payments >= 0")
    return args


def pct(values: list[float]) -> dict:
    """n, mean, p50, p90, p99, max (nearest rank), in ms."""
    if not values:
        return {"n": 0}
    s = sorted(values)

    def q(p: float) -> float:
        return round(s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))], 3)

    return {
        "n": len(s),
        "mean": round(statistics.fmean(s), 3),
        "p50": q(50),
        "p90": q(90),
        "p99": q(99),
        "max": round(s[-1], 3),
    }


# --- the data -----------------------------------------------------------------------------


class World:
    """The bench customers and a generator of their transfer events."""

    def __init__(self, rng: random.Random, customers: list[dict]) -> None:
        self.rng = rng
        self.customers = customers
        for i, c in enumerate(customers):
            c["home"] = self._network()
            payees = {rng.choice(customers)["account"] for _ in range(rng.randint(1, 5))}
            payees.discard(c["account"])
            c["payees"] = sorted(payees) or [customers[(i + 1) % len(customers)]["account"]]
        self.by_account = {c["account"]: c for c in customers}

    def _network(self) -> str:
        nets, weights = zip(*HOME_NETWORKS, strict=True)
        return self.rng.choices(nets, weights)[0]

    def ip(self, c: dict) -> str:
        net = c["home"] if self.rng.random() < 0.9 else self._network()
        return f"{net}.{self.rng.randint(1, 254)}"

    def event(self, at: datetime):
        from wangyin.risk.services import Event

        rng = self.rng
        c = rng.choice(self.customers)
        roll = rng.random()
        if roll < 0.8:
            payee = rng.choice(c["payees"])
        elif roll < 0.92:
            payee = rng.choice(self.customers)["account"]
            if payee == c["account"]:
                payee = c["payees"][0]
        else:
            payee = "62" + "".join(str(rng.randint(0, 9)) for _ in range(17))
        same_bank = payee in self.by_account
        # log-normal, median 500 yuan; p99 about 16 000 yuan
        amount = max(100, min(int(math.exp(rng.gauss(math.log(50_000), 1.5))), 10**9))
        device = c["device"] if rng.random() < 0.95 else f"{rng.getrandbits(128):032x}"
        event = Event(
            kind="transfer.same_bank" if same_bank else "transfer.interbank",
            person_id=c["person_id"],
            channel="web",
            device=device,
            ip=self.ip(c),
            at=at,
            amount_fen=amount,
            counterparty=payee,
            id_number_index=c["id_index"],
            phone_index=c["phone_index"],
            segment="personal",
            ref=f"payment:{rng.getrandbits(128):032x}",
        )
        credited = self.by_account[payee]["person_id"] if same_bank else None
        return event, credited


def load_customers(count: int) -> list[dict]:
    import bench_web

    from wangyin.customers.models import CustomerAccount
    from wangyin.web.customer import _device_id

    rows = (
        CustomerAccount.objects.select_related("person")
        .filter(person__channel_users__login_name__startswith="bench")
        .order_by("person__channel_users__login_name")
    )
    out = []
    for account in rows[:count]:
        person = account.person
        index = int(person.name[-5:])
        out.append(
            {
                "person_id": person.pk,
                "account": account.number,
                "device": _device_id(bench_web.device_cookie(index), bench_web.USER_AGENT),
                "id_index": person.id_number_index,
                "phone_index": person.phone_index,
            }
        )
    if len(out) < count:
        raise RuntimeError(f"the bench database holds {len(out)} customers, not {count}")
    return out


def warm_up(world: World, payments: int, list_entries: int, now: datetime) -> dict:
    """Counters, profiles, known payees, the peer baseline and list entries."""
    from django.db import transaction

    from wangyin.risk import features, lists, rules
    from wangyin.risk import services as risk

    rng = world.rng
    t0 = time.monotonic()
    rules.live()  # the shipped pack, installed if the bank has none
    # "Paid this account before": one payment to each usual payee, 2-300 days ago.
    earlier = []
    for c in world.customers:
        for payee in c["payees"]:
            event, credited = world.event(now - timedelta(days=rng.randint(2, 300)))
            earlier.append(
                (
                    replace(
                        event, person_id=c["person_id"], counterparty=payee, device=c["device"]
                    ),
                    world.by_account[payee]["person_id"],
                )
            )
    # The day's payments, in time order (profiles remember the latest place and time).
    stamps = sorted(now - timedelta(seconds=rng.uniform(60, 86_000)) for _ in range(payments))
    recent = [world.event(at) for at in stamps]
    done = 0
    for start in range(0, len(earlier) + len(recent), 200):
        with transaction.atomic():
            for event, credited in (earlier + recent)[start : start + 200]:
                risk.payment_made(event, credited_person_id=credited)
                done += 1
        if start and start % 10_000 == 0:
            _log(f"[warm-up] {done} payments counted ({time.monotonic() - t0:.0f} s)")
    features.peers_compute(now=now)
    # Black and grey lists: mostly values no bench event carries, a few payee accounts.
    subjects = ["ACCOUNT", "PHONE", "IP", "DEVICE", "ID_NUMBER"]
    added = 0
    for i in range(list_entries):
        subject = subjects[i % len(subjects)]
        if subject == "ACCOUNT" and i % 100 == 0:
            value = rng.choice(world.customers)["account"]
        elif subject == "ACCOUNT":
            value = "9" + "".join(str(rng.randint(0, 9)) for _ in range(15))
        elif subject == "PHONE":
            value = f"137{rng.randint(0, 10**8 - 1):08d}"
        elif subject == "IP":
            value = f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        elif subject == "DEVICE":
            value = f"{rng.getrandbits(128):032x}"
        else:
            value = f"11010119{rng.randint(50, 99)}0101{rng.randint(100, 999)}X"
        lists.entry_add(
            colour="BLACK" if i % 2 else "GREY",
            subject=subject,
            value=value,
            reason="bench list",
            staff=STAFF,
            at=now - timedelta(days=1),
        )
        added += 1
    return {
        "payments": done,
        "known_payees": len(earlier),
        "list_entries": added,
        "seconds": round(time.monotonic() - t0, 1),
    }


# --- timing -------------------------------------------------------------------------------


class Probe:
    """Wall time of named functions and of every SQL statement, per evaluation."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.sql: list[tuple[str, float]] = []
        self.recording = False
        self.last_features: dict = {}

    def wrap(self, module, name: str, label: str, keep: bool = False) -> None:
        fn = getattr(module, name)

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
                if keep:
                    self.last_features = result.features
                return result
            finally:
                if self.recording:
                    self.current[label] += (time.perf_counter() - t) * 1000

        setattr(module, name, timed)

    def execute(self, execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if self.recording:
                self.sql.append((sql, (time.perf_counter() - t) * 1000))

    def start(self) -> None:
        self.current.clear()
        self.sql.clear()
        self.recording = True

    def stop(self) -> tuple[dict[str, float], list[tuple[str, float]]]:
        self.recording = False
        return dict(self.current), list(self.sql)


FEATURE_PARTS = {"_read": "features: the one read (SQL)"}
FEATURE_INNER = (
    *FEATURE_PARTS.values(),
    "features: list subjects (blind indexes)",
    "features: IP place",
)
RULES = ("rules: live set", "rules: CEL")


def instrument(probe: Probe) -> None:
    from wangyin.risk import features, geo, lists, rules
    from wangyin.risk import services as risk

    probe.wrap(features, "observe", "features", keep=True)
    for name, label in FEATURE_PARTS.items():
        probe.wrap(features, name, label)
    probe.wrap(lists, "wanted", "features: list subjects (blind indexes)")
    probe.wrap(geo, "place_of", "features: IP place")
    probe.wrap(rules, "live", "rules: live set")
    probe.wrap(risk, "_decide", "rules: CEL")


_LITERALS = re.compile(r"'[^']*'|\b\d+\b")


def _statement(sql: str) -> str:
    return " ".join(_LITERALS.sub("?", sql).split())


def run_timed(world: World, events: int, probe: Probe) -> dict:
    from django.db import connection, transaction

    from wangyin.risk import services as risk

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_decision_copy")
        cursor.execute("CREATE TABLE bench_decision_copy (LIKE risk_decision INCLUDING ALL)")
    insert_sql = (
        "INSERT INTO bench_decision_copy (at, kind, person_id, channel, amount_fen, action, "
        "score, reasons, features, rule_set_version, fallback, elapsed_us, ref) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s) RETURNING id"
    )
    times: dict[str, list[float]] = defaultdict(list)
    parts: dict[str, list[float]] = defaultdict(list)
    statements: dict[str, list[float]] = defaultdict(list)
    actions: dict[str, int] = defaultdict(int)
    fallbacks = 0
    features_json = "{}"
    began = time.monotonic()
    with connection.execute_wrapper(probe.execute):
        for _i in range(events):
            event, credited = world.event(datetime.now(UTC))
            with transaction.atomic():
                with connection.cursor() as cursor:
                    t = time.perf_counter()
                    cursor.execute("SELECT 1")
                    cursor.fetchone()
                    times["SELECT 1"].append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    cursor.execute(
                        insert_sql,
                        [
                            event.at,
                            event.kind,
                            event.person_id,
                            event.channel,
                            event.amount_fen,
                            "allow",
                            0,
                            "[]",
                            features_json,
                            1,
                            False,
                            0,
                            event.ref,
                        ],
                    )
                    cursor.fetchone()
                    times["INSERT (raw, same row)"].append((time.perf_counter() - t) * 1000)
                probe.start()
                t, cpu = time.perf_counter(), time.thread_time()
                decision = risk.evaluate(event)
                elapsed = (time.perf_counter() - t) * 1000
                times["evaluate: CPU of this thread"].append((time.thread_time() - cpu) * 1000)
                split, sql = probe.stop()
                times["evaluate"].append(elapsed)
                if decision.action == "allow":
                    times["evaluate (allow decisions)"].append(elapsed)
                actions[str(decision.action)] += 1
                fallbacks += any(r.startswith("evaluation_") for r in decision.reasons)
                inner = sum(split.get(label, 0.0) for label in FEATURE_INNER)
                split["features: assembly"] = split.get("features", 0.0) - inner
                split["rest: Decision INSERT (+ case)"] = elapsed - sum(
                    split.get(label, 0.0) for label in ("features", *RULES)
                )
                for label, ms in split.items():
                    parts[label].append(ms)
                for statement, ms in sql:
                    statements[_statement(statement)].append(ms)
                times["evaluate: SQL"].append(sum(ms for _s, ms in sql))
                times["evaluate: Python"].append(elapsed - sum(ms for _s, ms in sql))
                times["evaluate: statements"].append(len(sql))
                if decision.action != "block":  # the payment goes ahead (or is held)
                    t = time.perf_counter()
                    risk.payment_made(event, credited_person_id=credited)
                    times["payment_made"].append((time.perf_counter() - t) * 1000)
                features_json = json.dumps(probe.last_features, default=str)
                t_commit = time.perf_counter()
            times["COMMIT"].append((time.perf_counter() - t_commit) * 1000)
    wall = time.monotonic() - began
    total_eval = sum(times["evaluate"])
    return {
        "events": events,
        "wall_s": round(wall, 1),
        "actions": dict(actions),
        "fallbacks": fallbacks,
        "ms": {k: pct(v) for k, v in times.items()},
        "split": {
            k: {**pct(v), "share_pct": round(100 * sum(v) / total_eval, 1)}
            for k, v in sorted(parts.items(), key=lambda kv: -sum(kv[1]))
        },
        "statements": [
            {
                "sql": s[:200],
                "per_evaluate": round(len(v) / events, 2),
                **pct(v),
                "share_pct": round(100 * sum(v) / total_eval, 1),
            }
            for s, v in sorted(statements.items(), key=lambda kv: -sum(kv[1]))
        ],
    }


def describe(r: dict) -> str:
    ms = r["ms"]
    lines = [
        f"{r['events']} evaluations in {r['wall_s']} s; decisions {r['actions']}; "
        f"fallbacks {r['fallbacks']}",
        "",
        f"{'ms':<34} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'mean':>8}",
    ]
    for name in (
        "SELECT 1",
        "INSERT (raw, same row)",
        "evaluate",
        "evaluate (allow decisions)",
        "evaluate: SQL",
        "evaluate: Python",
        "evaluate: CPU of this thread",
        "payment_made",
        "COMMIT",
    ):
        q = ms.get(name, {})
        if q.get("n"):
            lines.append(
                f"{name:<34} {q['p50']:>8.3f} {q['p90']:>8.3f} {q['p99']:>8.3f} "
                f"{q['max']:>8.3f} {q['mean']:>8.3f}"
            )
    q = ms["evaluate: statements"]
    lines.append(f"statements per evaluate: p50 {q['p50']:.0f}, max {q['max']:.0f}")
    p50 = ms["evaluate"]["p50"]
    lines.append(
        f"evaluate p50 = {p50 / ms['SELECT 1']['p50']:.1f}x SELECT 1, "
        f"{p50 / ms['INSERT (raw, same row)']['p50']:.1f}x the raw INSERT"
    )
    lines += ["", "evaluate, split (share of its total time):"]
    for name, q in r["split"].items():
        lines.append(
            f"  {name:<40} p50 {q['p50']:>7.3f}  p99 {q['p99']:>7.3f}  mean "
            f"{q['mean']:>7.3f}  {q['share_pct']:>5.1f}%"
        )
    lines += ["", "SQL statements evaluate ran (by total time):"]
    for s in r["statements"][:12]:
        lines.append(
            f"  {s['share_pct']:>5.1f}%  x{s['per_evaluate']:<5} p50 {s['p50']:>6.3f} "
            f"p99 {s['p99']:>6.3f}  {s['sql'][:110]}"
        )
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    os.chdir(REPO)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangyin.settings")
    os.environ.setdefault("WANGYIN_LOG_LEVEL", "WARNING")
    target, settings = open_server(args.pgdata, max_connections=40, need=20)
    import transfers_bench

    transfers_bench.prepare_database(args, target)  # clones the template into args.db
    os.environ["DATABASE_URL"] = target.database_url(args.db)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(args.seed)
    world = World(rng, load_customers(args.customers))
    now = datetime.now(UTC)
    _log(f"[prepare] {len(world.customers)} customers; warming up")
    warm = warm_up(world, args.warmup_payments, args.list_entries, now)
    with django.db.connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(
            "SELECT (SELECT count(*) FROM risk_counter), (SELECT count(*) FROM risk_profile), "
            "(SELECT count(*) FROM risk_decision), (SELECT count(*) FROM identity_device)"
        )
        counters, profiles, decisions, devices = cursor.fetchone()
    _log(
        f"[warm-up] {warm['payments']} payments ({warm['known_payees']} of them days ago) "
        f"and {warm['list_entries']} list entries in {warm['seconds']} s: {counters} counter "
        f"rows, {profiles} profiles, {decisions} decisions, {devices} devices"
    )
    probe = Probe()
    instrument(probe)
    load = os.getloadavg()
    _log(f"[machine] {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f}\n")
    result = run_timed(world, args.events, probe)
    _log(describe(result))
    payload = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - began, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load]},
        "server": settings,
        "data": {**warm, "counter_rows": counters, "profiles": profiles, "devices": devices},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "result": result,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    _log(f"\n[done] {args.output} written; {payload['wall_s']} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
