"""Where the time goes: a sampler of pg_stat_activity and the server's CPU accounting.

The sampler looks at every client backend of one database a few times a second and tallies
what it is doing: waiting for the client between or inside transactions, running on a CPU,
or waiting (row lock, WAL flush, …) in a given statement. The CPU meter reads the
postmaster's own and reaped-children CPU time plus that of its live children, so the
difference over a phase is the whole server's CPU (backends, WAL writer, checkpointer…).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import psutil
import psycopg

_ACTIVITY = """
SELECT state, wait_event_type, wait_event, left(query, 300)
FROM pg_stat_activity
WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""

_STATEMENTS = (
    ("auditchainhead", "audit chain head"),
    ("audit_auditevent", "insert audit event"),
    ("pgbench_accounts", "pgbench accounts"),
    ("pgbench_tellers", "pgbench tellers"),
    ("pgbench_branches", "pgbench branches"),
    ("pgbench_history", "pgbench history"),
    ("ledger_posting", "insert postings"),
    ("ledger_journal", "claim journal"),
)


def statement_label(query: str) -> str:
    q = " ".join(query.lower().split())
    if q.startswith(("commit", "end")):
        return "commit"
    if "ledger_account" in q:
        return "lock accounts" if "for update" in q else "update balances"
    for needle, label in _STATEMENTS:
        if needle in q:
            return label
    return q[:40] or "?"


def classify(state: str | None, wait_type: str | None, wait: str | None, query: str) -> str:
    if state == "idle":
        return "client: between transactions"
    if state and state.startswith("idle in transaction"):
        return "client: inside transaction"
    where = statement_label(query or "")
    if not wait_type:
        return f"CPU @ {where}"
    return f"{wait_type}:{wait} @ {where}"


class ActivitySampler:
    def __init__(self, conninfo: dict, dbname: str, interval: float = 0.25) -> None:
        self.conninfo, self.dbname, self.interval = conninfo, dbname, interval
        self.tally: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def __enter__(self) -> ActivitySampler:
        self._thread = threading.Thread(target=self._run, name="activity-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            with psycopg.connect(**self.conninfo, autocommit=True) as conn:
                while not self._stop.wait(self.interval):
                    rows = conn.execute(_ACTIVITY, [self.dbname]).fetchall()
                    if rows:
                        self.samples += 1
                    for state, wait_type, wait, query in rows:
                        self.tally[classify(state, wait_type, wait, query)] += 1
        except psycopg.Error as exc:  # a probe must never break the benchmark
            self.error = str(exc)

    def profile(self, top: int = 6) -> list[tuple[str, float]]:
        """The most frequent states, as a share of all backend observations."""
        total = sum(self.tally.values())
        if not total:
            return []
        return [(k, round(100 * v / total, 1)) for k, v in self.tally.most_common(top)]


class ServerCpu:
    """CPU seconds used by the PostgreSQL server (all its processes) since ``start``."""

    def __init__(self, postmaster_pid: int | None) -> None:
        self.proc = None
        if postmaster_pid:
            try:
                self.proc = psutil.Process(postmaster_pid)
                self._read()
            except (psutil.Error, OSError):
                self.proc = None
        self._t0 = 0.0

    def _read(self) -> float:
        assert self.proc is not None
        t = self.proc.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in self.proc.children():
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass
        return total

    def start(self) -> None:
        if self.proc is not None:
            self._t0 = self._read()

    def stop(self) -> float | None:
        if self.proc is None:
            return None
        return round(self._read() - self._t0, 2)


def postmaster_pid(conninfo: dict) -> int | None:
    """The server's pid, when it runs on this machine and we may look at it."""
    try:
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            pid = psutil.Process(backend).ppid()
        return pid if psutil.Process(pid).name() in ("postgres", "postmaster") else None
    except (psycopg.Error, psutil.Error):
        return None


def wait_for_backends_gone(target_connect, dbname: str, timeout: float = 30.0) -> None:
    """Wait until no client backend of ``dbname`` is left (their CPU is then accounted)."""
    deadline = time.monotonic() + timeout
    with target_connect() as conn:
        while time.monotonic() < deadline:
            n = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                [dbname],
            ).fetchone()[0]
            if n == 0:
                return
            time.sleep(0.1)
