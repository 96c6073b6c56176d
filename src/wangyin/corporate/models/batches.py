"""Batch payments and payroll (FC-04): an uploaded file's rows, approved as one
instruction and paid row by row (``corporate.batches``).

A ``Batch`` is the file behind an ``Instruction`` of kind BATCH (its amount the total of
the rows included, its payee fields blank); a ``BatchRow`` is one data row of the file as
it was read and checked, and later paid (its own ``payments.Transfer``) or failed."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy


class BatchFormat(models.TextChoices):
    CSV = "CSV", "CSV"
    XLSX = "XLSX", "Excel (.xlsx)"


class Batch(models.Model):
    """The uploaded file of a batch instruction: its name, format, SHA-256 (what the
    approvers' signatures cover, with the rows' digest and the totals) and, once it is
    being paid, the progress of execution."""

    instruction = models.OneToOneField("corporate.Instruction", on_delete=models.PROTECT,
                                       related_name="batch")
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=4, choices=BatchFormat.choices)
    file_sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField()
    rows_count = models.PositiveIntegerField()  # the data rows the file holds
    # Execution: the first run starts it; it finishes when every included row is final.
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    paid_count = models.PositiveIntegerField(default=0)
    paid_fen = models.BigIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(file_sha256__regex=r"^[0-9a-f]{64}$"),
                                   name="corporate_batch_sha256_hex"),
            models.CheckConstraint(condition=Q(finished_at__isnull=True)
                                   | Q(started_at__isnull=False),
                                   name="corporate_batch_finished_after_start"),
            models.CheckConstraint(condition=Q(paid_fen__gte=0),
                                   name="corporate_batch_paid_not_negative"),
        ]

    def __str__(self) -> str:
        return f"batch:{self.pk}"


class RowStatus(models.TextChoices):
    VALID = "VALID", pgettext_lazy("batch row", "Ready to pay")
    INVALID = "INVALID", pgettext_lazy("batch row", "Has an error")
    REMOVED = "REMOVED", pgettext_lazy("batch row", "Removed")
    PAID = "PAID", pgettext_lazy("batch row", "Paid")
    FAILED = "FAILED", pgettext_lazy("batch row", "Not paid")


# The rows that make up the instruction (its total, its canonical data): not removed and
# not in error. VALID until paid, then PAID or FAILED.
INCLUDED = (RowStatus.VALID, RowStatus.PAID, RowStatus.FAILED)


class BatchRow(models.Model):
    """One data row of the file: what was typed (the account normalised, the name the bank
    resolved for a valid row), whether it can be paid and why not, then its payment."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="rows")
    line = models.PositiveIntegerField()  # the row number in the file as the user sees it
    payee_account = models.CharField(max_length=64, blank=True)
    payee_name = models.CharField(max_length=100, blank=True)
    bank_code = models.CharField(max_length=20, blank=True)  # as typed; empty: this bank
    payee_bank = models.ForeignKey("payments.Bank", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")  # None: this bank
    kind = models.CharField(max_length=9, blank=True)  # payments.TransferKind, when valid
    amount_fen = models.BigIntegerField(null=True, blank=True)  # None: unreadable
    amount_text = models.CharField(max_length=40, blank=True)  # as typed, when unreadable
    purpose = models.CharField(max_length=100, blank=True)
    # The fee reserved for the row (by the schedule of the day of upload) when the company
    # reserves money on entry; execution charges the schedule of its own day.
    fee_fen = models.BigIntegerField(default=0)
    status = models.CharField(max_length=7, choices=RowStatus.choices)
    error_code = models.CharField(max_length=60, blank=True)
    error = models.CharField(max_length=200, blank=True)  # in the bank's default language
    transfer = models.OneToOneField("payments.Transfer", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "line"], name="corporate_batch_line_once"),
            models.CheckConstraint(condition=Q(transfer__isnull=True) | Q(status="PAID"),
                                   name="corporate_batch_row_transfer_when_paid"),
            models.CheckConstraint(condition=~Q(status="PAID") | Q(transfer__isnull=False),
                                   name="corporate_batch_row_paid_has_transfer"),
            models.CheckConstraint(condition=~Q(status__in=["VALID", "PAID"])
                                   | Q(amount_fen__gt=0),
                                   name="corporate_batch_row_amount_positive"),
            models.CheckConstraint(condition=~Q(status__in=["INVALID", "FAILED"])
                                   | ~Q(error_code=""),
                                   name="corporate_batch_row_error_has_code"),
            models.CheckConstraint(condition=~Q(status__in=["PAID", "FAILED"])
                                   | Q(ended_at__isnull=False),
                                   name="corporate_batch_row_final_has_time"),
            models.CheckConstraint(condition=Q(fee_fen__gte=0),
                                   name="corporate_batch_row_fee_not_negative"),
        ]
        indexes = [models.Index(fields=["batch", "status", "line"],
                                name="corporate_batch_row_status")]

    def __str__(self) -> str:
        return f"batch_row:{self.pk}"

