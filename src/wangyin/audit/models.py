"""The audit log: append-only rows in several hash chains.

Each row stores the hash of the previous row of its chain; the chain head holds the last
sequence number and hash. A trigger refuses UPDATE and DELETE of rows (migration 0002).
"""

from django.db import models


class AuditResult(models.TextChoices):
    SUCCESS = "SUCCESS", "success"
    FAILURE = "FAILURE", "failure"
    DENIED = "DENIED", "denied"


class AuditEvent(models.Model):
    chain = models.PositiveSmallIntegerField()
    seq = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    actor = models.CharField(max_length=80)
    action = models.CharField(max_length=80)
    target = models.CharField(max_length=120, blank=True)
    result = models.CharField(max_length=8, choices=AuditResult.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    device = models.CharField(max_length=120, blank=True)
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_chain_seq"),
        ]
        indexes = [
            models.Index(fields=["actor", "occurred_at"], name="audit_event_actor"),
            models.Index(fields=["target", "occurred_at"], name="audit_event_target"),
            models.Index(fields=["occurred_at"], name="audit_event_occurred_at"),
        ]


class AuditChainHead(models.Model):
    chain = models.PositiveSmallIntegerField(primary_key=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
