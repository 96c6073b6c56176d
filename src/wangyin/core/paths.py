"""Where the running bank keeps its local state (database files, generated keys, reports)."""

from __future__ import annotations

import os
from pathlib import Path


def var_dir() -> Path:
    """``WANGYIN_VAR_DIR`` or ``./var``; created on demand, never committed."""
    path = Path(os.environ.get("WANGYIN_VAR_DIR") or Path.cwd() / "var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
