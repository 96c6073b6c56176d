"""Accounts, journals, postings and holds — with the invariants enforced by PostgreSQL.

Sign convention: a posting's ``amount`` is positive for a debit and negative for a credit,
so the postings of every journal sum to zero. An account's ``balance`` is kept in its
natural sign: debit-normal accounts (assets such as cash) grow with debits,
credit-normal accounts (customer deposits, income) grow with credits.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from wangyin.core.money import Money


class AccountKind(models.TextChoices):
    CUSTOMER = "CUSTOMER", "customer deposit account"
    GL = "GL", "internal general-ledger account"


class NormalSide(models.TextChoices):
    DEBIT = "DEBIT", "debit-normal (asset, expense)"
    CREDIT = "CREDIT", "credit-normal (liability, income, equity)"


class AccountStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("Normal")
    FROZEN = "FROZEN", _("Stop-payment (no debits)")
    CLOSED = "CLOSED", _("Closed")


class Account(models.Model):
    number = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=AccountKind.choices)
    normal_side = models.CharField(max_length=6, choices=NormalSide.choices)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=6, choices=AccountStatus.choices)
    balance = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    # How far below zero the available balance may go; NULL = unlimited. GL accounts only.
    overdraft_limit = models.BigIntegerField(null=True, default=0)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(held__gte=0), name="ledger_account_held_gte_0"),
            models.CheckConstraint(
                condition=Q(overdraft_limit__isnull=True) | Q(overdraft_limit__gte=0),
                name="ledger_account_overdraft_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(kind="GL")
                | (Q(normal_side="CREDIT") & Q(overdraft_limit=0)),
                name="ledger_customer_account_no_overdraft",
            ),
            models.CheckConstraint(
                condition=Q(overdraft_limit__isnull=True)
                | Q(balance__gte=F("held") - F("overdraft_limit")),
                name="ledger_account_available_within_limit",
            ),
            models.CheckConstraint(
                condition=~Q(status="CLOSED") | (Q(balance=0) & Q(held=0)),
                name="ledger_closed_account_is_empty",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="ledger_account_currency_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    @property
    def sign(self) -> int:
        """+1 when debits raise the balance, -1 when credits do."""
        return 1 if self.normal_side == NormalSide.DEBIT else -1

    @property
    def balance_money(self) -> Money:
        return Money(self.balance, self.currency)

    @property
    def available_money(self) -> Money:
        return Money(self.balance - self.held, self.currency)


class JournalType(models.TextChoices):
    OPENING = "OPENING", "opening balance"
    TRANSFER = "TRANSFER", "transfer"
    DEPOSIT = "DEPOSIT", "cash deposit"
    WITHDRAWAL = "WITHDRAWAL", "cash withdrawal"
    FEE = "FEE", "fee"
    INTEREST = "INTEREST", "interest"
    HOLD_CAPTURE = "HOLD_CAPTURE", "capture of a hold"
    REVERSAL = "REVERSAL", "reversal"
    ADJUSTMENT = "ADJUSTMENT", "adjustment"


class Journal(models.Model):
    """One business event. Append-only: corrections are new (reversing) journals."""

    idempotency_key = models.CharField(max_length=128, unique=True)
    request_hash = models.CharField(max_length=64)
    type = models.CharField(max_length=16, choices=JournalType.choices)
    memo = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3)
    posted_at = models.DateTimeField()
    # The party outside this bank (interbank payments and credits): the other legs of such
    # a journal are the bank's own clearing accounts, so the statement names this party.
    party_name = models.CharField(max_length=120, blank=True, db_default="")
    party_account = models.CharField(max_length=40, blank=True, db_default="")
    party_bank = models.CharField(max_length=12, blank=True, db_default="")  # CNAPS bank code
    # The payer's statement names the payee masked (a payment found by mobile number: the
    # payer never learns the full name behind a number).
    payee_masked = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [models.Index(fields=["posted_at"], name="ledger_journal_posted_at")]

    def __str__(self) -> str:
        return f"journal {self.pk} {self.type}"


class Posting(models.Model):
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField()  # debit > 0, credit < 0
    balance_after = models.BigIntegerField()
    posted_at = models.DateTimeField()  # copy of the journal's, for the statement index

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_posting_amount_nonzero"),
        ]
        indexes = [
            # Statement: WHERE account_id = ? [AND posted_at range] ORDER BY posted_at, id
            models.Index(
                fields=["account", "-posted_at", "-id"], name="ledger_posting_statement"
            ),
            models.Index(fields=["journal"], name="ledger_posting_journal"),
        ]


class HoldStatus(models.TextChoices):
    PENDING = "PENDING", "pending"
    CAPTURED = "CAPTURED", "captured"
    RELEASED = "RELEASED", "released"
    EXPIRED = "EXPIRED", "expired"


class Hold(models.Model):
    """Money reserved on an account (a two-phase transfer's first phase)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = models.BigIntegerField()
    captured_amount = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=HoldStatus.choices)
    idempotency_key = models.CharField(max_length=128, unique=True)
    reason = models.CharField(max_length=200)
    placed_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    capture_journal = models.ForeignKey(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_hold_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(captured_amount__gte=0) & Q(captured_amount__lte=F("amount")),
                name="ledger_hold_captured_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                name="ledger_hold_pending_expiry",
                condition=Q(status="PENDING"),
            )
        ]
