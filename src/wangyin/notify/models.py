"""Messages the bank sends. An ``SmsMessage`` row is the outbox entry: written in the
business transaction, delivered afterwards by a worker job through the configured gateway.
Phone and text are encrypted at rest (texts carry one-time codes). A ``Notice`` is a
message in the customer's in-app message centre (消息中心): written in the same
transaction as the change it tells of, read by its owner only."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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


class Category(models.TextChoices):
    FUNDS = "FUNDS", _("Funds")
    SECURITY = "SECURITY", _("Security")
    SERVICE = "SERVICE", _("Service")


class Notice(models.Model):
    """One in-app message to one person. The text is not stored: ``kind`` names a fixed
    template (``notify.kinds``) and ``params`` fill it when the customer reads it, in the
    customer's language. Params are checked when written: no one-time codes, passwords or
    full account or phone numbers (masked tails only)."""

    # The indexes below lead with person: a separate one on the key would only cost writes.
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="notices", db_index=False)
    category = models.CharField(max_length=8, choices=Category.choices)
    kind = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    ref = models.CharField(max_length=40, blank=True)  # what it is about: "transfer:42"
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["person", "-created_at", "-id"], name="notify_notice_recent"),
            models.Index(fields=["person", "category", "-created_at", "-id"],
                         name="notify_notice_category"),
            models.Index(fields=["person"], condition=Q(read_at__isnull=True),
                         name="notify_notice_unread"),
        ]

    def __str__(self) -> str:
        return f"notice:{self.pk} {self.kind}"

    @property
    def unread(self) -> bool:
        return self.read_at is None

    @property
    def title(self) -> str:
        from wangyin.notify.kinds import render_title

        return render_title(self.kind)

    @property
    def body(self) -> str:
        from wangyin.notify.kinds import render_body

        return render_body(self.kind, self.params)

    @property
    def transfer_id(self) -> int | None:
        prefix, _sep, pk = self.ref.partition(":")
        return int(pk) if prefix == "transfer" and pk.isdigit() else None
