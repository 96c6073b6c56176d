"""The interbank clearing port: routing, the messages and events that cross it, and the
adapters (the sandbox clearing system, and the bank's front-end processor over HTTPS).

The bank sends ``Message``s (a payment to another bank, or the return of a credit it could
not apply) and receives ``Event``s: a payment of ours settled, was rejected before
settlement or was returned after it, or another bank's credit arrived. Sending is
idempotent by message id: the clearing system ignores a message id it already has, so the
worker and the reconciliation job may send again whenever they are unsure. Events come in
through ``payments.services.clearing_receive`` — from the sandbox's worker job, or from
the front-end processor posting to ``/clearing/events/`` (HMAC-signed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, time
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from wangyin.core import calendar
from wangyin.core.keys import load_secret
from wangyin.payments.models import Channel

SIGNATURE_HEADER = "X-Wangyin-Signature"


class ClearingUnavailable(RuntimeError):
    """The clearing system did not take the message (network, closed, overloaded): send
    again later with the same message id."""


@dataclass(frozen=True)
class Message:
    msg_id: str
    kind: str  # PAYMENT / RETURN
    channel: str
    amount_fen: int
    payer_name: str
    payer_account: str
    payer_bank: str
    payee_name: str
    payee_account: str
    payee_bank: str
    memo: str = ""
    original_msg_id: str = ""  # a return names the credit it returns
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# Event kinds
SETTLED, REJECTED, RETURNED, CREDIT = "settled", "rejected", "returned", "credit"
EVENT_KINDS = (SETTLED, REJECTED, RETURNED, CREDIT)


@dataclass(frozen=True)
class Event:
    """What the clearing system tells the bank. For ``settled``/``rejected``/``returned``
    ``msg_id`` is the bank's own message; for ``credit`` it is the sender's, and the
    payer/payee fields describe the credit."""

    kind: str
    msg_id: str
    reason: str = ""
    channel: str = ""
    amount_fen: int = 0
    payer_name: str = ""
    payer_account: str = ""
    payer_bank: str = ""
    payee_name: str = ""
    payee_account: str = ""
    memo: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> Event:
        """Strictly: known kinds, string fields, a positive integer amount for credits."""
        if not isinstance(data, dict) or data.get("kind") not in EVENT_KINDS:
            raise ValueError("unknown event kind")
        fields = {}
        for name in cls.__dataclass_fields__:
            value = data.get(name, 0 if name == "amount_fen" else "")
            if name == "amount_fen":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError("amount_fen must be a non-negative integer")
            elif not isinstance(value, str) or len(value) > 120:
                raise ValueError(f"{name} must be a string of at most 120 characters")
            fields[name] = value
        event = cls(**fields)
        if not event.msg_id or (event.kind == CREDIT and event.amount_fen <= 0):
            raise ValueError("an event needs a message id (and a credit an amount)")
        return event


class ClearingPort(Protocol):
    name: str

    def send(self, message: Message, *, at: datetime) -> None:
        """Hand the message over; raises ``ClearingUnavailable`` if it was not taken."""

    def status(self, msg_id: str) -> Event | None:
        """The final outcome the clearing system has for one of our messages, if any
        (None: received but not final yet). Raises ``ClearingUnavailable``."""


# --- routing ------------------------------------------------------------------------------


def _hvps_open(at: datetime) -> bool:
    """HVPS runs on the bank's working days (public holidays closed, make-up working days
    open: ``core.calendar``) within its operating hours, local time."""
    local = timezone.localtime(at)
    start, end = (time.fromisoformat(x) for x in settings.CLEARING_HVPS_HOURS.split("-"))
    return start <= local.time() < end and calendar.is_working_day(local.date())


def route(amount_fen: int, at: datetime) -> str:
    """Which clearing system carries a payment of this amount made now."""
    if amount_fen <= settings.CLEARING_IBPS_MAX_FEN:
        return Channel.IBPS
    return Channel.HVPS if _hvps_open(at) else Channel.BEPS


def new_msg_id(at: datetime) -> str:
    """Our message id: the date, this bank's code and 12 random hex digits (unguessable,
    unique by the database constraint)."""
    return (f"{timezone.localtime(at):%Y%m%d}{settings.BANK_CNAPS_CODE[-6:]}"
            f"{secrets.token_hex(6)}")


# --- the front-end processor over HTTPS ----------------------------------------------------


def clearing_key() -> bytes:
    return load_secret("clearing-hmac.key", env="WANGYIN_CLEARING_KEY")


def sign(body: bytes) -> str:
    return hmac.new(clearing_key(), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(body), signature or "")


class HttpClearing:
    """The bank's CNAPS front-end processor (前置机), which speaks the clearing system's
    formats; we exchange JSON with it, signed both ways with the shared HMAC key."""

    name = "http"

    def __init__(self, *, url: str, timeout: float = 10.0) -> None:
        if not url.startswith("https://"):
            raise ValueError("the clearing front-end processor must be reached over https")
        self.url, self.timeout = url.rstrip("/"), timeout

    def _call(self, path: str, payload: dict | None) -> dict:
        body = json.dumps(payload or {}, sort_keys=True).encode()
        request = urllib.request.Request(  # noqa: S310 - https enforced in __init__
            f"{self.url}{path}", data=body, method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = response.read() or b"{}"
                if not signature_ok(answer, response.headers.get(SIGNATURE_HEADER, "")):
                    raise ClearingUnavailable("unsigned or wrongly signed answer")
                return json.loads(answer)
        except (OSError, ValueError) as exc:
            raise ClearingUnavailable(f"front-end processor: {type(exc).__name__}") from exc

    def send(self, message: Message, *, at: datetime) -> None:
        answer = self._call("/messages", message.as_dict())
        if answer.get("accepted") is not True:
            raise ClearingUnavailable(str(answer.get("error", "not accepted"))[:120])

    def status(self, msg_id: str) -> Event | None:
        answer = self._call("/status", {"msg_id": msg_id})
        event = answer.get("event")
        return Event.from_dict(event) if event else None


def port() -> ClearingPort:
    if settings.CLEARING_ADAPTER == "sandbox":
        from wangyin.payments.sandbox import SandboxClearing

        return SandboxClearing()
    if settings.CLEARING_ADAPTER == "http":
        return HttpClearing(url=settings.CLEARING_URL)
    raise ValueError(f"no clearing adapter ({settings.CLEARING_ADAPTER!r})")
