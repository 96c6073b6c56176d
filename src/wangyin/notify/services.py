"""Telling customers: in-app notices and SMS, written in the caller's transaction; SMS
delivered afterwards by a worker job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from wangyin.audit import services as audit
from wangyin.core.crypto import blind_index
from wangyin.notify import kinds
from wangyin.notify.errors import NoticeNotFound
from wangyin.notify.gateways import SmsDeliveryError, gateway
from wangyin.notify.models import Notice, SmsMessage, SmsStatus

PHONE_INDEX = "notify.sms.phone"
MAX_ATTEMPTS = 5


def phone_index(phone: str) -> str:
    return blind_index(phone, purpose=PHONE_INDEX)


def _queue_sms(*, phone: str, body: str, purpose: str, at: datetime) -> SmsMessage:
    from wangyin.notify.tasks import deliver_sms

    message = SmsMessage.objects.create(phone=phone, phone_index=phone_index(phone),
                                        body=body, purpose=purpose, created_at=at)
    deliver_sms.defer(message_id=message.pk)
    return message


@transaction.atomic
def sms_send(*, phone: str, body: str, purpose: str, actor: str, at: datetime) -> SmsMessage:
    """Queue a text to ``phone`` (already validated by the caller's domain). The delivery
    job is enqueued in the same transaction: no message without its business change, and
    no business change whose message is lost."""
    message = _queue_sms(phone=phone, body=body, purpose=purpose, at=at)
    audit.record(actor=actor, action="notify.sms.queued", target=f"sms:{message.pk}",
                 occurred_at=at, details={"phone": phone, "purpose": purpose})
    return message


@transaction.atomic(savepoint=False)  # nothing to undo on its own: callers roll back
def notice_send(*, person, kind: str, params: dict[str, Any], at: datetime,
                actor: str = "", sms: str = "", sms_purpose: str = "",
                phones: Sequence[str] = (), ref: str = "") -> Notice:
    """Tell ``person`` of a change in their in-app message centre and, given ``sms`` (the
    text; ``sms_purpose`` names it in the outbox, default the kind), by SMS to their phone
    or to ``phones``; all in the caller's transaction: rolled back with it, never sent
    without it (TX-09, CS-05).

    The notice is audited once, and only when it leaves the bank as an SMS; in-app notices
    describe a change the caller audits itself. ``actor`` is the business actor of the
    change (default: the customer), so notices share the chain its own audit row has
    already locked instead of contending on one chain for the whole bank."""
    spec, params = kinds.check_params(kind, params)
    notice = Notice.objects.create(person_id=person.pk, category=spec.category, kind=kind,
                                   params=params, ref=ref[:40], created_at=at)
    if sms:
        numbers = list(dict.fromkeys(phones)) or [person.phone]
        queued = [_queue_sms(phone=number, body=sms, purpose=sms_purpose or kind, at=at).pk
                  for number in numbers]
        audit.record(actor=actor or f"customer:{person.pk}", action="notify.notice.sent",
                     target=f"notice:{notice.pk}", occurred_at=at,
                     details={"kind": kind, "sms": queued, "phone": numbers})
    return notice


@transaction.atomic
def notice_read(*, person_id: int, notice_id: int, at: datetime) -> Notice:
    """Open one of the person's own notices, marking it read the first time."""
    notice = Notice.objects.filter(pk=notice_id, person_id=person_id).first()
    if notice is None:
        raise NoticeNotFound()
    if notice.read_at is None:
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=at)
        notice.read_at = at
    return notice


@transaction.atomic
def notices_read_all(*, person_id: int, at: datetime, category: str = "") -> int:
    """Mark all of the person's unread notices (of one category, if given) read."""
    unread = Notice.objects.filter(Q(person_id=person_id) & Q(read_at__isnull=True))
    if category:
        unread = unread.filter(category=category)
    return unread.update(read_at=at)


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
