"""How a password travels from the browser (AU-05, AU-06, AU-07).

The login page shows a soft keyboard whose keys the server shuffles on every load. The
browser never sends characters: it sends the *positions* of the keys pressed (and whether
shift was on), together with the single-use nonce the server issued for that page,
encrypted with the server's RSA-OAEP (SHA-256) public key through WebCrypto. Only this
module can turn positions back into a password, using the layout kept in the server-side
session. A replayed, altered or stale payload decodes to nothing.

Envelope (RSA-OAEP alone holds only 190 bytes): the browser draws a fresh AES-256-GCM
key, encrypts the JSON with it and wraps the key with RSA-OAEP. Wire format, base64:
``wrapped key (256 bytes) | 12-byte IV | AES-GCM ciphertext and tag``.

The key pair is ``WANGYIN_LOGIN_KEY`` (PEM) or ``var/keys/login_rsa.pem`` on a demo machine.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wangyin.core.keys import key_file

KEYS = "0123456789abcdefghijklmnopqrstuvwxyz!@#$%^&*-_=+.?"
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                     label=None)


class BadPayload(ValueError):
    """The encrypted password could not be read (wrong key, nonce or layout)."""


@dataclass(frozen=True)
class PasswordPad:
    """What one page load of the password step needs: a fresh layout and nonce."""

    layout: tuple[str, ...]
    nonce: str

    @classmethod
    def new(cls) -> PasswordPad:
        keys = list(KEYS)
        secrets.SystemRandom().shuffle(keys)
        return cls(layout=tuple(keys), nonce=secrets.token_urlsafe(24))

    def as_session(self) -> dict:
        return {"layout": "".join(self.layout), "nonce": self.nonce}

    @classmethod
    def from_session(cls, data: dict | None) -> PasswordPad | None:
        if not data:
            return None
        return cls(layout=tuple(data["layout"]), nonce=data["nonce"])


@cache
def _private_key() -> rsa.RSAPrivateKey:
    pem = os.environ.get("WANGYIN_LOGIN_KEY") or key_file(
        "login_rsa.pem", env="WANGYIN_LOGIN_KEY", generate=_new_pem)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ValueError("the login key must be an RSA key of at least 2048 bits")
    return key


def _new_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode().strip()


def public_key_spki() -> str:
    """The public key as base64 SPKI, for ``crypto.subtle.importKey("spki", ...)``."""
    der = _private_key().public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def encrypt_payload(payload: dict) -> str:
    """What the browser does in JavaScript, in Python (for API clients and tests)."""
    key, iv = AESGCM.generate_key(bit_length=256), secrets.token_bytes(12)
    wrapped = _private_key().public_key().encrypt(key, _OAEP)
    sealed = AESGCM(key).encrypt(iv, json.dumps(payload).encode(), None)
    return base64.b64encode(wrapped + iv + sealed).decode()


def _open(ciphertext: str) -> dict:
    blob = base64.b64decode(ciphertext, validate=True)
    size = _private_key().key_size // 8
    if len(blob) < size + 12 + 16 or len(blob) > 16_384:
        raise ValueError("bad envelope size")
    key = _private_key().decrypt(blob[:size], _OAEP)
    plain = AESGCM(key).decrypt(blob[size:size + 12], blob[size + 12:], None)
    return json.loads(plain)


def read_secrets(ciphertext: str, pad: PasswordPad | None, *, fields: tuple[str, ...]
                 ) -> dict[str, str]:
    """Decrypt the browser's payload ``{"nonce": ..., "fields": {name: [[position, shift],
    ...]}}`` and map each field's key positions through ``pad``'s layout."""
    if pad is None:
        raise BadPayload("no password pad in this session")
    try:
        data = _open(ciphertext)
        nonce, given = data["nonce"], data["fields"]
    except (ValueError, KeyError, TypeError, InvalidTag) as exc:
        raise BadPayload("undecipherable") from exc
    if not isinstance(nonce, str) or not secrets.compare_digest(nonce, pad.nonce):
        raise BadPayload("nonce mismatch")
    if not isinstance(given, dict) or set(given) != set(fields):
        raise BadPayload("unexpected fields")
    return {name: _decode(given[name], pad) for name in fields}


def _decode(keys: object, pad: PasswordPad) -> str:
    if not isinstance(keys, list) or len(keys) > 64:
        raise BadPayload("bad key list")
    chars = []
    for item in keys:
        if (not isinstance(item, list) or len(item) != 2 or type(item[0]) is not int
                or not 0 <= item[0] < len(pad.layout) or type(item[1]) is not bool):
            raise BadPayload("bad key")
        char = pad.layout[item[0]]
        chars.append(char.upper() if item[1] and char.isalpha() else char)
    return "".join(chars)


def reset_caches() -> None:
    _private_key.cache_clear()
