"""A faithful software model of a second-generation USB-Key (FA-05), for demos, the SDK
and tests — it behaves like the device, it is not a shortcut past it:

- the key pair is generated inside and there is no way to take the private key out (no
  export method; copying or pickling the object is refused);
- every operation needs the PIN; six wrong PINs in a row lock the key for good (the
  counter replaces it); a right PIN resets the count;
- before signing, the key shows the data it is about to sign (payee account and name,
  amount, time) and signs only when the holder confirms (the button on the device);
  nothing is remembered between signatures;
- SM2 with SM3 (the national algorithms), the request carries the key's serial.

``confirm`` is the device's screen and button: it receives the text shown and returns
whether the holder pressed "confirm"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from wangyin.core import pki

MAX_PIN_TRIES = 6


class UsbKeyError(Exception):
    pass


class WrongPin(UsbKeyError):
    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN, {tries_left} tries left")
        self.tries_left = tries_left


class UsbKeyLocked(UsbKeyError):
    pass


class NotConfirmed(UsbKeyError):
    pass


def display_text(payload: str) -> str:
    """What the key's screen shows for a signing payload."""
    data = json.loads(payload)
    lines = [f"操作 {data.get('what') or data.get('operation') or data.get('purpose', '')}"]
    if data.get("detail"):
        lines.append(f"内容 {data['detail']}")
    if data.get("payee_account"):
        lines.append(f"收款账号 {data['payee_account']}")
    if data.get("payee_name"):
        lines.append(f"收款户名 {data['payee_name']}")
    if data.get("amount_fen"):
        fen = int(data["amount_fen"])
        lines.append(f"金额 {data.get('currency', 'CNY')} {fen // 100:,}.{fen % 100:02d}")
    lines.append(f"时间 {data.get('time', '').replace('T', ' ')[:19]}")
    return "\n".join(lines)


class SoftUsbKey:
    """``path``: the file that plays the device's secure storage (written on every change,
    mode 0600). The private key is kept there only encrypted under the PIN and is
    decrypted inside ``sign`` after the PIN check; a file is not a secure element — a real
    key's chip is what makes the PIN counter impossible to bypass."""

    __slots__ = ("serial", "_pin_salt", "_pin_hash", "_tries_left", "_key_pem", "_public",
                 "_certificate", "_confirm", "_path")

    def __init__(self, serial: str, pin: str, *, confirm: Callable[[str], bool],
                 path: Path | None = None) -> None:
        if not (pin.isdigit() and 6 <= len(pin) <= 12):
            raise UsbKeyError("the PIN is 6 to 12 digits")
        self.serial = serial
        self._pin_salt = secrets.token_bytes(16)
        self._pin_hash = self._hash(pin)
        self._tries_left = MAX_PIN_TRIES
        self._key_pem: bytes | None = None
        self._public: bytes | None = None
        self._certificate: bytes | None = None
        self._confirm = confirm
        self._path = path
        self._persist()

    @classmethod
    def open(cls, path: Path, *, confirm: Callable[[str], bool]) -> SoftUsbKey:
        """The key whose storage is ``path`` (made by a ``SoftUsbKey(..., path=path)``)."""
        data = json.loads(Path(path).read_text())
        key = cls.__new__(cls)
        key.serial = data["serial"]
        key._pin_salt, key._pin_hash = (bytes.fromhex(data["pin_salt"]),
                                        bytes.fromhex(data["pin_hash"]))
        key._tries_left = int(data["tries_left"])
        key._key_pem = data["key_pem"].encode() if data.get("key_pem") else None
        key._public, key._certificate = (
            base64.b64decode(data[name]) if data.get(name) else None
            for name in ("public", "certificate"))
        key._confirm, key._path = confirm, Path(path)
        return key

    def _persist(self) -> None:
        if self._path is None:
            return
        encode = (lambda raw: base64.b64encode(raw).decode() if raw else "")  # noqa: E731
        text = json.dumps({
            "serial": self.serial, "pin_salt": self._pin_salt.hex(),
            "pin_hash": self._pin_hash.hex(), "tries_left": self._tries_left,
            "key_pem": self._key_pem.decode() if self._key_pem else "",
            "public": encode(self._public), "certificate": encode(self._certificate)})
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        temporary.write_text(text)
        os.replace(temporary, self._path)

    def __repr__(self) -> str:
        return f"SoftUsbKey(serial={self.serial!r}, locked={self.locked})"

    def __reduce__(self, *_args):
        raise TypeError("a USB-Key cannot be copied")

    __reduce_ex__ = __copy__ = __deepcopy__ = __reduce__

    @property
    def locked(self) -> bool:
        return self._tries_left == 0

    @property
    def certificate(self) -> bytes | None:
        return self._certificate

    def _hash(self, pin: str) -> bytes:
        return hashlib.scrypt(pin.encode(), salt=self._pin_salt, n=2 ** 12, r=8, p=1)

    def _check_pin(self, pin: str) -> None:
        if self.locked:
            raise UsbKeyLocked("the key is locked after too many wrong PINs")
        if hmac.compare_digest(self._hash(pin or ""), self._pin_hash):
            if self._tries_left != MAX_PIN_TRIES:
                self._tries_left = MAX_PIN_TRIES
                self._persist()
            return
        self._tries_left -= 1
        self._persist()
        if self.locked:
            raise UsbKeyLocked("the key is locked after too many wrong PINs")
        raise WrongPin(self._tries_left)

    def signing_request(self, pin: str) -> bytes:
        """Generate a new key pair inside the key and return its PKCS#10 request."""
        self._check_pin(pin)
        suite = pki.SUITES["sm2"]
        private_key = suite.generate()
        self._key_pem = suite.key_pem(private_key, password=pin.encode())
        self._public, self._certificate = suite.public_der(private_key), None
        self._persist()
        return pki.request_build(suite, private_key, common_name=self.serial,
                                 serial_number=self.serial)

    def install(self, certificate_der: bytes) -> None:
        """Keep the certificate the bank issued, if it is for this key."""
        try:
            certificate = pki.certificate_load(certificate_der)
        except pki.PkiError as exc:
            raise UsbKeyError("not a certificate") from exc
        if self._public is None or pki.public_der_of(certificate) != self._public:
            raise UsbKeyError("the certificate is not for this key")
        self._certificate = certificate_der
        self._persist()

    def sign(self, payload: str, pin: str) -> bytes:
        """Show the payload, wait for the button, sign (SM2/SM3, DER)."""
        if self._certificate is None or self._key_pem is None:
            raise UsbKeyError("no certificate installed")
        self._check_pin(pin)
        if not self._confirm(display_text(payload)):
            raise NotConfirmed("the holder did not confirm")
        suite = pki.SUITES["sm2"]
        return suite.sign(suite.key_load(self._key_pem, pin.encode()), payload.encode())
