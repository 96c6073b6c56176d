"""Secrets come from the environment or from key files under var/keys — never from the code.

A development/demo machine gets its keys generated on first use (0600 files under
``var/keys``). Production sets the environment variables instead; set
``WANGYIN_REQUIRE_ENV_KEYS=1`` to refuse to generate anything.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
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
    text = key_file(name, env=env, generate=lambda: _encode(secrets.token_bytes(nbytes)))
    return _decode(text, str(key_dir() / name))


def key_file(name: str, *, env: str, generate: Callable[[], str]) -> str:
    """The text of ``var/keys/name``, created (0600) from ``generate()`` if it is missing —
    unless WANGYIN_REQUIRE_ENV_KEYS=1, where a missing key is an error naming ``env``."""
    path = key_dir() / name
    if not path.exists():
        if os.environ.get("WANGYIN_REQUIRE_ENV_KEYS") == "1":
            raise MissingKey(f"{env} is not set and key generation is disabled")
        # Write a private temporary file, then link it into place: a concurrent first
        # start either wins or reads the winner's complete file, never a partial one.
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _encode(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def _decode(text: str, where: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.encode())
    except (ValueError, TypeError) as exc:
        raise MissingKey(f"{where} is not valid base64") from exc
