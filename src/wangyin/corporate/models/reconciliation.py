"""Bank–enterprise reconciliation (银企对账, FC-07): the bank's monthly balance statements
and the company's answers (``corporate.reconciliation``).

Each month the bank issues, for every account linked to a company's internet banking, a
``BalanceStatement``: the account's balance at the end of the month (Beijing time) as the
ledger has it, with the month's movements in total. An operator who authorises payments
answers it — the balances agree, or they do not, with the company's own balance and the
items that explain the difference (``StatementDifference``, the classic 未达账项) — and
their USB-Key signs the answer. Unanswered statements are reminded; bank staff follow a
disagreement up with notes (``StatementNote``) until they resolve it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class StatementStatus(models.TextChoices):
    ISSUED = "ISSUED", pgettext_lazy("balance statement", "Awaiting the company's answer")
    AGREED = "AGREED", pgettext_lazy("balance statement", "Balances agree")
    DISAGREED = "DISAGREED", pgettext_lazy("balance statement", "Differences reported")
    RESOLVED = "RESOLVED", pgettext_lazy("balance statement", "Differences resolved")


ANSWERED_STATUSES = (StatementStatus.AGREED, StatementStatus.DISAGREED, StatementStatus.RESOLVED)


class BalanceStatement(models.Model):
    """The bank's balance of one account at the end of one month, and the company's signed
    answer to it. ``period`` is the first day of the month; the balance is the ledger's at
    the start of the next month, Beijing time (postings from then on are not in it)."""

    service = models.ForeignKey(
        "corporate.CorporateService", on_delete=models.PROTECT, related_name="balance_statements"
    )
    account = models.ForeignKey(
        "customers.CustomerAccount", on_delete=models.PROTECT, related_name="balance_statements"
    )
    period = models.DateField()  # the month's first day
    currency = models.CharField(max_length=3, default="CNY")
    opening_fen = models.BigIntegerField()  # the balance when the month began
    closing_fen = models.BigIntegerField()  # the bank's balance when it ended
    money_in_fen = models.BigIntegerField(default=0)  # the month's credits
    money_out_fen = models.BigIntegerField(default=0)  # the month's debits
    postings = models.PositiveIntegerField(default=0)  # how many movements
    issued_at = models.DateTimeField()
    due_on = models.DateField()  # the last day to answer (a working day, Beijing time)
    status = models.CharField(
        max_length=9, choices=StatementStatus.choices, default=StatementStatus.ISSUED
    )
    # The answer: who, when, the company's balance when it disagrees, and the USB-Key
    # signature over the canonical answer (``canonical``, its SHA-256 ``digest``).
    answered_by = models.ForeignKey(
        "corporate.Operator", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    company_balance_fen = models.BigIntegerField(null=True, blank=True)
    canonical = models.TextField(blank=True)
    digest = models.CharField(max_length=64, blank=True)
    signature = models.OneToOneField(
        "authn.Signature", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Reminders of an unanswered statement (SMS to the company's contact).
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # Staff closing a disagreement.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=40, blank=True)  # "staff:<username>"
    resolution = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period"], name="corporate_statement_once_per_month"
            ),
            models.CheckConstraint(
                condition=Q(period__day=1), name="corporate_statement_period_month"
            ),
            models.CheckConstraint(
                condition=Q(status="ISSUED")
                | (
                    Q(answered_by__isnull=False)
                    & Q(answered_at__isnull=False)
                    & Q(signature__isnull=False)
                    & ~Q(digest="")
                ),
                name="corporate_statement_answer_signed",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["DISAGREED", "RESOLVED"])
                | Q(company_balance_fen__isnull=False),
                name="corporate_statement_disagreement_balance",
            ),
            models.CheckConstraint(
                condition=~Q(status="RESOLVED") | Q(resolved_at__isnull=False),
                name="corporate_statement_resolved_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="corporate_statement_due"),
            models.Index(fields=["service", "-period"], name="corporate_statement_service"),
        ]

    def __str__(self) -> str:
        return f"balance_statement:{self.pk}"


class DifferenceKind(models.TextChoices):
    """The four kinds of item in transit (未达账项) that make the two balances differ, and
    anything else."""

    BANK_IN = "BANK_IN", _("Received by the bank, not yet in the company's books")
    BANK_OUT = "BANK_OUT", _("Paid by the bank, not yet in the company's books")
    COMPANY_IN = "COMPANY_IN", _("Received in the company's books, not yet by the bank")
    COMPANY_OUT = "COMPANY_OUT", _("Paid in the company's books, not yet by the bank")
    OTHER = "OTHER", _("Other difference")


class StatementDifference(models.Model):
    """One item the company reports when the balances do not agree (signed with the
    answer)."""

    statement = models.ForeignKey(
        BalanceStatement, on_delete=models.PROTECT, related_name="differences"
    )
    line = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=11, choices=DifferenceKind.choices)
    day = models.DateField()
    amount_fen = models.BigIntegerField()
    description = models.CharField(max_length=100)

    class Meta:
        ordering = ["line"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "line"], name="corporate_difference_line_once"
            ),
            models.CheckConstraint(
                condition=Q(amount_fen__gt=0), name="corporate_difference_amount_positive"
            ),
        ]


class NoteAction(models.TextChoices):
    NOTE = "NOTE", _("Follow-up note")
    RESOLVED = "RESOLVED", _("Resolved")


class StatementNote(models.Model):
    """Bank staff following up a disagreement: who, when, what (the resolution too)."""

    statement = models.ForeignKey(BalanceStatement, on_delete=models.PROTECT, related_name="notes")
    at = models.DateTimeField()
    actor = models.CharField(max_length=40)  # "staff:<username>"
    action = models.CharField(max_length=8, choices=NoteAction.choices, default=NoteAction.NOTE)
    text = models.CharField(max_length=500)

    class Meta:
        ordering = ["at", "pk"]
