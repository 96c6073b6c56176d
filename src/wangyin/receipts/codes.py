"""Verification codes: 16 characters of Crockford's base32 drawn with ``secrets`` (80 bits,
so not guessable even without the verify page's rate limit), printed in groups of four.
Crockford's alphabet has no I, L, O or U, and reading accepts the look-alikes people type
(O for 0, I and L for 1), lower case, spaces and hyphens."""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.·]+")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """The code someone typed, in its stored form; None if it cannot be a code."""
    code = _SEPARATORS.sub("", (text or "")[:64]).upper().translate(_LOOK_ALIKES)
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def grouped(code: str) -> str:
    """``7K3M9QXD2F8HWN4P`` -> ``7K3M-9QXD-2F8H-WN4P``."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))
