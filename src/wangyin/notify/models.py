"""Messages the bank sends. An ``SmsMessage`` row is the outbox entry: written in the
business transaction, delivered afterwards by a worker job through the configured gateway.
Phone and text are encrypted at rest (texts carry one-time codes)."""

from __future__ import annotations

from django.db import models

from wangyin.core import masking
from wangyin.core.fields import EncryptedTextField


class SmsStatus(models.TextChoices):
    QUEUED = "QUEUED", "queued"
    SENT = "SENT", "sent"
    FAILED = "FAILED", "failed"


class SmsMessage(models.Model):
    phone = EncryptedTextField(purpose="notify.sms.phone")
    phone_index = models.CharField(max_length=64, db_index=True)
    body = EncryptedTextField(purpose="notify.sms.body")
    purpose = models.CharField(max_length=40)
    status = models.CharField(max_length=6, choices=SmsStatus.choices, default=SmsStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    gateway = models.CharField(max_length=20, blank=True)
    provider_ref = models.CharField(max_length=80, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at", "-id"], name="notify_sms_recent")]

    def __str__(self) -> str:
        return f"sms:{self.pk} to {masking.mask_phone(self.phone)} ({self.purpose})"
