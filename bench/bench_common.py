"""What the ledger and the HTTP transfer benchmarks share: their command-line helpers, the
PostgreSQL server they run against and the pgbench phase that is their baseline."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import bench_pgbench
import bench_probe
import bench_server


def int_list(text: str) -> list[int]:
    """A comma-separated list of integers (``--connections 100,1000``)."""
    return [int(x) for x in text.split(",") if x.strip()]


def log(msg: str) -> None:
    print(msg, flush=True)


def median(values: list, digits: int = 1) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), digits) if values else None


def open_server(
    pgdata: Path, *, max_connections: int, need: int, statements: bool = False
) -> tuple[bench_server.Target, dict[str, str]]:
    """The server named by ``DATABASE_URL``, or the bench's embedded cluster at ``pgdata``
    with ``max_connections`` raised to at least that (and pg_stat_statements loaded if
    ``statements``); refuses to go on if the server allows fewer than ``need``
    connections. Returns the target and the server's settings."""
    user_url = os.environ.get("DATABASE_URL")
    if user_url:
        target = bench_server.target_from_url(user_url)
        log(f"[server] DATABASE_URL given: using {target.host} as {target.user}")
    else:
        target = bench_server.embedded_target(
            pgdata.resolve(), max_connections, statements=statements
        )
        log(f"[server] embedded cluster {pgdata} (socket {target.host})")
    settings = bench_server.server_settings(target)
    log("[server] " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    if int(settings.get("max_connections", "0")) < need:
        raise SystemExit(
            f"the server allows {settings.get('max_connections')} connections; "
            f"{need} are needed (raise max_connections or lower the concurrency)"
        )
    return target, settings


def run_pgbench_phase(
    target: bench_server.Target,
    dbname: str,
    clients: int,
    threads: int,
    duration: float,
    cpu: bench_probe.ServerCpu,
) -> dict:
    """pgbench's TPC-B-like script for ``duration`` seconds, with the server's CPU and what
    its backends were doing."""
    sampler = bench_probe.ActivitySampler(target.conninfo("postgres"), dbname)
    cpu.start()
    with sampler:
        result = bench_pgbench.run(target, dbname, clients, threads, duration)
    bench_probe.wait_for_backends_gone(lambda: target.connect("postgres"), dbname)
    result["server_cpu_s"] = cpu.stop()
    result["activity"] = sampler.profile()
    return result
