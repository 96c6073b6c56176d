"""The sandbox inbox: what the bank has sent, newest first."""

from __future__ import annotations

from wangyin.notify.models import SmsMessage
from wangyin.notify.services import phone_index


def sms_inbox(*, phone: str | None = None, limit: int = 50) -> list[SmsMessage]:
    messages = SmsMessage.objects.order_by("-created_at", "-id")
    if phone:
        messages = messages.filter(phone_index=phone_index(phone))
    return list(messages[:limit])
