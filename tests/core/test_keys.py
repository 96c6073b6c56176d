"""Keys come from the environment or from 0600 files generated under var/keys (OP-04)."""

import base64
import stat

import pytest

from wangyin.core import crypto
from wangyin.core.keys import MissingKey, load_secret

pytestmark = pytest.mark.req("OP-04")


@pytest.fixture
def var(tmp_path, monkeypatch):
    monkeypatch.setenv("WANGYIN_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("WANGYIN_REQUIRE_ENV_KEYS", raising=False)
    monkeypatch.delenv(crypto.KEYRING_ENV, raising=False)
    monkeypatch.delenv(crypto.BLIND_INDEX_ENV, raising=False)
    crypto.reset_caches()
    yield tmp_path
    crypto.reset_caches()


def test_a_missing_key_is_generated_once_into_a_private_file(var):
    first = load_secret("test_key", env="WANGYIN_TEST_KEY")
    path = var / "keys" / "test_key"
    assert len(first) == 32 and load_secret("test_key", env="WANGYIN_TEST_KEY") == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_the_environment_wins_over_the_file(var, monkeypatch):
    load_secret("test_key", env="WANGYIN_TEST_KEY")
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    monkeypatch.setenv("WANGYIN_TEST_KEY", key)
    assert load_secret("test_key", env="WANGYIN_TEST_KEY") == b"k" * 32


def test_production_mode_refuses_to_generate(var, monkeypatch):
    monkeypatch.setenv("WANGYIN_REQUIRE_ENV_KEYS", "1")
    with pytest.raises(MissingKey, match="WANGYIN_TEST_KEY"):
        load_secret("test_key", env="WANGYIN_TEST_KEY")
    with pytest.raises(MissingKey, match=crypto.KEYRING_ENV):
        crypto.keyring()
    assert not (var / "keys" / "test_key").exists()


def test_the_personal_data_key_ring_is_generated_as_version_1(var):
    blob = crypto.encrypt("13812345678", purpose="p")
    assert crypto.key_version(blob) == 1
    assert (var / "keys" / "pii_keys").read_text().startswith("1:")
    crypto.reset_caches()
    assert crypto.decrypt(blob, purpose="p") == "13812345678"  # same key read back
