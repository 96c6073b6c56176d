"""Sending SMS: queue in the caller's transaction, deliver from a worker job."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from wangyin.audit import services as audit
from wangyin.core.crypto import blind_index
from wangyin.notify.gateways import SmsDeliveryError, gateway
from wangyin.notify.models import SmsMessage, SmsStatus

PHONE_INDEX = "notify.sms.phone"
MAX_ATTEMPTS = 5


def phone_index(phone: str) -> str:
    return blind_index(phone, purpose=PHONE_INDEX)


@transaction.atomic
def sms_send(*, phone: str, body: str, purpose: str, actor: str, at: datetime) -> SmsMessage:
    """Queue a text to ``phone`` (already validated by the caller's domain). The delivery
    job is enqueued in the same transaction: no message without its business change, and
    no business change whose message is lost."""
    from wangyin.notify.tasks import deliver_sms

    message = SmsMessage.objects.create(phone=phone, phone_index=phone_index(phone),
                                        body=body, purpose=purpose, created_at=at)
    deliver_sms.defer(message_id=message.pk)
    audit.record(actor=actor, action="notify.sms.queued", target=f"sms:{message.pk}",
                 occurred_at=at, details={"phone": phone, "purpose": purpose})
    return message


@transaction.atomic
def sms_deliver(*, message_id: int, now: datetime) -> SmsMessage:
    """Hand one queued message to the gateway. A refusal is recorded (attempts, error) and
    the message stays QUEUED for the job to retry, until MAX_ATTEMPTS marks it FAILED."""
    message = SmsMessage.objects.select_for_update().get(pk=message_id)
    if message.status != SmsStatus.QUEUED:
        return message
    port = gateway()
    message.attempts += 1
    message.gateway = port.name
    try:
        message.provider_ref = port.send(phone=message.phone, body=message.body,
                                         reference=str(message.pk))
    except SmsDeliveryError as exc:
        message.error = str(exc)[:200]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = SmsStatus.FAILED
        message.save(update_fields=["attempts", "gateway", "error", "status"])
        return message
    message.status, message.sent_at, message.error = SmsStatus.SENT, now, ""
    message.save(update_fields=["attempts", "gateway", "provider_ref", "status", "sent_at",
                                "error"])
    return message
