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

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable

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
    __slots__ = ("serial", "_pin_salt", "_pin_hash", "_tries_left", "_key", "_certificate",
                 "_confirm")

    def __init__(self, serial: str, pin: str, *, confirm: Callable[[str], bool]) -> None:
        if not (pin.isdigit() and 6 <= len(pin) <= 12):
            raise UsbKeyError("the PIN is 6 to 12 digits")
        self.serial = serial
        self._pin_salt = secrets.token_bytes(16)
        self._pin_hash = self._hash(pin)
        self._tries_left = MAX_PIN_TRIES
        self._key = None
        self._certificate: bytes | None = None
        self._confirm = confirm

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
            self._tries_left = MAX_PIN_TRIES
            return
        self._tries_left -= 1
        if self.locked:
            raise UsbKeyLocked("the key is locked after too many wrong PINs")
        raise WrongPin(self._tries_left)

    def signing_request(self, pin: str) -> bytes:
        """Generate a new key pair inside the key and return its PKCS#10 request."""
        self._check_pin(pin)
        suite = pki.SUITES["sm2"]
        self._key, self._certificate = suite.generate(), None
        return pki.request_build(suite, self._key, common_name=self.serial,
                                 serial_number=self.serial)

    def install(self, certificate_der: bytes) -> None:
        """Keep the certificate the bank issued, if it is for this key."""
        certificate = pki.certificate_load(certificate_der)
        if self._key is None or pki.public_der_of(certificate) != \
                pki.SUITES["sm2"].public_der(self._key):
            raise UsbKeyError("the certificate is not for this key")
        self._certificate = certificate_der

    def sign(self, payload: str, pin: str) -> bytes:
        """Show the payload, wait for the button, sign (SM2/SM3, DER)."""
        if self._certificate is None:
            raise UsbKeyError("no certificate installed")
        self._check_pin(pin)
        if not self._confirm(display_text(payload)):
            raise NotConfirmed("the holder did not confirm")
        return pki.SUITES["sm2"].sign(self._key, payload.encode())
