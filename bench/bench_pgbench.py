"""PostgreSQL's own pgbench, TPC-B-like built-in script, as the physical baseline."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import tempfile
from pathlib import Path

from bench_server import Target


def _pgbench() -> str:
    from wangyin.core import embedded_db

    return str(embedded_db.bin_path("pgbench"))


def _env(target: Target) -> dict[str, str]:
    env = dict(os.environ)
    if target.password:
        env["PGPASSWORD"] = target.password
    return env


def initialise(target: Target, dbname: str, scale: int) -> None:
    cmd = [_pgbench(), "-i", "-q", "-s", str(scale), *target.libpq_args(), dbname]
    subprocess.run(cmd, check=True, env=_env(target), capture_output=True, text=True)


def _parse_float(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text, re.MULTILINE)
    return float(m.group(1)) if m else None


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def run(target: Target, dbname: str, clients: int, threads: int, duration: float) -> dict:
    """Run the built-in TPC-B-like script; latency percentiles come from the
    per-transaction log (-l), whose third field is the latency in microseconds."""
    with tempfile.TemporaryDirectory(prefix="pgbench-") as tmp:
        prefix = Path(tmp) / "tx"
        cmd = [
            _pgbench(),
            "-c",
            str(clients),
            "-j",
            str(min(threads, clients)),
            "-T",
            str(max(1, round(duration))),
            "-l",
            f"--log-prefix={prefix}",
            *target.libpq_args(),
            dbname,
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, env=_env(target), capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"pgbench failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        latencies: list[float] = []
        for log in Path(tmp).glob("tx*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1000.0)
    out = proc.stdout
    latencies.sort()
    processed = _parse_float(r"^number of transactions actually processed: (\d+)", out)
    failed = _parse_float(r"^number of failed transactions: (\d+)", out)
    return {
        "clients": clients,
        "threads": min(threads, clients),
        "tps": _parse_float(r"^tps = ([\d.]+)", out),
        "transactions": int(processed or 0),
        "failed": int(failed or 0),
        "latency_avg_ms": _parse_float(r"^latency average = ([\d.]+) ms", out),
        "p50_ms": _round(_percentile(latencies, 50)),
        "p99_ms": _round(_percentile(latencies, 99)),
        "connect_ms": _parse_float(r"^initial connection time = ([\d.]+) ms", out),
        "client_cpu_s": round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2
        ),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
