"""Field encryption for personal data at rest (REQ PI-04) and keyed blind indexes.

Ciphertext layout (bytes)::

    b"W" | key version (1 byte) | 12-byte random nonce | AES-256-GCM ciphertext + tag

The associated data is the field's *purpose* (e.g. ``b"customers.person.id_number"``), so
a value copied into another column does not decrypt. Keys are versioned: the key ring is
``WANGYIN_PII_KEYS`` (``"2:<base64>,1:<base64>"``) or, on a development machine, the file
``var/keys/pii_keys`` generated on first use. The highest version encrypts; every version
in the ring decrypts, so rotation is "add a key, re-encrypt at leisure, drop the old one".

Exact look-ups (find a person by ID number) use a blind index: HMAC-SHA256 under a
separate key (``WANGYIN_BLIND_INDEX_KEY`` or ``var/keys/blind_index``) over the purpose
and the normalised value. It is deterministic, so it reveals equality and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wangyin.core.keys import MissingKey, key_dir, key_file, load_secret

MAGIC = b"W"
NONCE_BYTES = 12
KEYRING_ENV = "WANGYIN_PII_KEYS"
BLIND_INDEX_ENV = "WANGYIN_BLIND_INDEX_KEY"


class DecryptionFailed(RuntimeError):
    """The ciphertext is damaged, was moved to another field, or its key is not in the ring."""


@dataclass(frozen=True)
class KeyRing:
    keys: dict[int, bytes]

    @property
    def current(self) -> int:
        return max(self.keys)

    @classmethod
    def parse(cls, text: str, where: str) -> KeyRing:
        keys: dict[int, bytes] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            version, _, encoded = item.partition(":")
            try:
                number = int(version)
                key = base64.urlsafe_b64decode(encoded.encode())
            except ValueError as exc:
                raise MissingKey(f"{where}: entries look like '1:<base64 key>'") from exc
            if not 1 <= number <= 255 or len(key) != 32:
                raise MissingKey(f"{where}: version must be 1..255 and keys 32 bytes")
            keys[number] = key
        if not keys:
            raise MissingKey(f"{where} holds no keys")
        return cls(keys)


@cache
def keyring() -> KeyRing:
    text = os.environ.get(KEYRING_ENV)
    if text:
        return KeyRing.parse(text, KEYRING_ENV)
    text = key_file("pii_keys", env=KEYRING_ENV,
                    generate=lambda: "1:" + base64.urlsafe_b64encode(secrets.token_bytes(32))
                    .decode())
    return KeyRing.parse(text, str(key_dir() / "pii_keys"))


@cache
def _blind_index_key() -> bytes:
    return load_secret("blind_index", env=BLIND_INDEX_ENV)


def encrypt(plaintext: str, *, purpose: str, ring: KeyRing | None = None) -> bytes:
    ring = ring or keyring()
    version = ring.current
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(ring.keys[version]).encrypt(nonce, plaintext.encode(), purpose.encode())
    return MAGIC + bytes([version]) + nonce + sealed


def decrypt(blob: bytes, *, purpose: str, ring: KeyRing | None = None) -> str:
    ring = ring or keyring()
    blob = bytes(blob)
    if len(blob) < 2 + NONCE_BYTES + 16 or blob[:1] != MAGIC:
        raise DecryptionFailed("not a Wangyin ciphertext")
    key = ring.keys.get(blob[1])
    if key is None:
        raise DecryptionFailed(f"key version {blob[1]} is not in the key ring")
    nonce, sealed = blob[2:2 + NONCE_BYTES], blob[2 + NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, sealed, purpose.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionFailed("authentication failed") from exc


def key_version(blob: bytes) -> int:
    return bytes(blob)[1]


def blind_index(value: str, *, purpose: str) -> str:
    """Deterministic keyed digest of an already normalised value (64 hex characters)."""
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(_blind_index_key(), message, hashlib.sha256).hexdigest()


def reset_caches() -> None:
    """Forget loaded keys (after rotating them, and in tests)."""
    keyring.cache_clear()
    _blind_index_key.cache_clear()
