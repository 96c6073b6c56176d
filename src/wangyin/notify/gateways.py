"""The SMS port and its two adapters.

- ``SandboxSmsGateway`` (default): a product feature for demos and tests. It behaves like
  a gateway that accepts every well-formed message at once; the messages stay readable in
  the sandbox inbox (back office, ``wangyin sms inbox``). Nothing leaves the machine.
- ``HttpSmsGateway``: production. POSTs JSON ``{"to", "text", "reference"}`` with a bearer
  token to ``WANGYIN_SMS_URL`` and expects a 2xx answer with ``{"id": ...}``.

Choose with ``WANGYIN_SMS_GATEWAY`` = ``sandbox`` | ``http``.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Protocol

from django.conf import settings


class SmsDeliveryError(RuntimeError):
    """The gateway did not accept the message; the job retries later."""


class SmsGateway(Protocol):
    name: str

    def send(self, *, phone: str, body: str, reference: str) -> str:
        """Hand the message over; return the gateway's id for it."""


class SandboxSmsGateway:
    name = "sandbox"

    def send(self, *, phone: str, body: str, reference: str) -> str:
        if not phone.isdigit() or not body:
            raise SmsDeliveryError("the sandbox refuses malformed messages")
        return f"sandbox-{reference}"


class HttpSmsGateway:
    name = "http"

    def __init__(self, *, url: str, token: str, timeout: float = 5.0) -> None:
        if not url.startswith("https://"):
            raise ValueError("the SMS gateway must be reached over https")
        self.url, self.token, self.timeout = url, token, timeout

    def send(self, *, phone: str, body: str, reference: str) -> str:
        payload = json.dumps({"to": phone, "text": body, "reference": reference}).encode()
        request = urllib.request.Request(  # noqa: S310 - https enforced in __init__
            self.url, data=payload, method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as exc:
            raise SmsDeliveryError(f"gateway error: {type(exc).__name__}") from exc
        return str(answer.get("id", ""))[:80]


def gateway() -> SmsGateway:
    if settings.SMS_GATEWAY == "sandbox":
        return SandboxSmsGateway()
    if settings.SMS_GATEWAY == "http":
        token = os.environ.get("WANGYIN_SMS_TOKEN", "")
        if not token:
            raise ValueError("WANGYIN_SMS_TOKEN is required with the http SMS gateway")
        return HttpSmsGateway(url=settings.SMS_URL, token=token)
    raise ValueError(f"unknown SMS gateway {settings.SMS_GATEWAY!r}")
