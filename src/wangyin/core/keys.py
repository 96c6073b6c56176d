"""Secrets come from the environment or from key files under var/keys — never from the code.

A development/demo machine gets its keys generated on first use (0600 files under
``var/keys``). Production sets the environment variables instead; set
``WANGYIN_REQUIRE_ENV_KEYS=1`` to refuse to generate anything.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from wangyin.core.paths import var_dir


class MissingKey(RuntimeError):
    pass


def key_dir() -> Path:
    path = var_dir() / "keys"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def load_secret(name: str, *, env: str, nbytes: int = 32) -> bytes:
    """Return the secret called ``name``: from ``env`` if set, else from ``var/keys/name``.

    The environment value and the file hold URL-safe base64 text.
    """
    value = os.environ.get(env)
    if value:
        return _decode(value, env)
    path = key_dir() / name
    if not path.exists():
        if os.environ.get("WANGYIN_REQUIRE_ENV_KEYS") == "1":
            raise MissingKey(f"{env} is not set and key generation is disabled")
        text = base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
    return _decode(path.read_text().strip(), str(path))


def _decode(text: str, where: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.encode())
    except (ValueError, TypeError) as exc:
        raise MissingKey(f"{where} is not valid base64") from exc
