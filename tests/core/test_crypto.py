"""Field encryption: AES-GCM with versioned keys bound to the field's purpose (PI-04)."""

import base64
import os

import pytest

from wangyin.core import crypto
from wangyin.core.keys import MissingKey

pytestmark = pytest.mark.req("PI-04")


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def ring(monkeypatch):
    old, new = _key(), _key()
    monkeypatch.setenv(crypto.KEYRING_ENV, f"1:{old}")
    crypto.reset_caches()
    yield {"old": old, "new": new}
    crypto.reset_caches()


def test_round_trip_hides_the_plaintext_and_uses_a_fresh_nonce(ring):
    a = crypto.encrypt("110101199003071234", purpose="p")
    b = crypto.encrypt("110101199003071234", purpose="p")
    assert a != b and b"110101" not in a
    assert crypto.decrypt(a, purpose="p") == "110101199003071234"


def test_a_value_moved_to_another_field_does_not_decrypt(ring):
    blob = crypto.encrypt("13812345678", purpose="customers.person.phone")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(blob, purpose="customers.person.id_number")


def test_a_flipped_bit_is_detected(ring):
    blob = bytearray(crypto.encrypt("13812345678", purpose="p"))
    blob[-1] ^= 1
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(bytes(blob), purpose="p")


def test_rotation_encrypts_with_the_newest_key_and_still_reads_old_rows(ring, monkeypatch):
    old_blob = crypto.encrypt("secret", purpose="p")
    assert crypto.key_version(old_blob) == 1
    monkeypatch.setenv(crypto.KEYRING_ENV, f"2:{ring['new']},1:{ring['old']}")
    crypto.reset_caches()
    new_blob = crypto.encrypt("secret", purpose="p")
    assert crypto.key_version(new_blob) == 2
    assert crypto.decrypt(old_blob, purpose="p") == crypto.decrypt(new_blob, purpose="p")
    monkeypatch.setenv(crypto.KEYRING_ENV, f"2:{ring['new']}")
    crypto.reset_caches()
    with pytest.raises(crypto.DecryptionFailed, match="version 1"):
        crypto.decrypt(old_blob, purpose="p")


@pytest.mark.parametrize("text", ["", "1:short", "x:" + "A" * 44, "300:" + "A" * 43 + "="])
def test_a_malformed_key_ring_is_refused(text, monkeypatch):
    monkeypatch.setenv(crypto.KEYRING_ENV, text or " , ")
    crypto.reset_caches()
    try:
        with pytest.raises(MissingKey):
            crypto.keyring()
    finally:
        crypto.reset_caches()


def test_blind_index_is_keyed_deterministic_and_purpose_bound(monkeypatch):
    monkeypatch.setenv(crypto.BLIND_INDEX_ENV, _key())
    crypto.reset_caches()
    a = crypto.blind_index("13812345678", purpose="phone")
    assert a == crypto.blind_index("13812345678", purpose="phone")
    assert a != crypto.blind_index("13812345678", purpose="id")
    monkeypatch.setenv(crypto.BLIND_INDEX_ENV, _key())
    crypto.reset_caches()
    assert a != crypto.blind_index("13812345678", purpose="phone")
    crypto.reset_caches()
