"""Payment instructions. A ``Transfer`` row is written when the money moves (or is held
for review), in the same transaction as the journal or the hold: there is never a posted
journal without its transfer, or a "done" transfer without its journal."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class TransferKind(models.TextChoices):
    OWN = "OWN", _("Between my accounts")
    SAME_BANK = "SAME_BANK", _("To another customer of this bank")


class TransferStatus(models.TextChoices):
    DONE = "DONE", _("Completed")
    HELD = "HELD", _("Held for review")
    RELEASED = "RELEASED", _("Released after review")
    REJECTED = "REJECTED", _("Rejected after review")


class Transfer(models.Model):
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="transfers")
    debit_account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                      related_name="transfers_out")
    credit_account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                       related_name="transfers_in")
    kind = models.CharField(max_length=12, choices=TransferKind.choices)
    payee_name = models.CharField(max_length=60)
    amount_fen = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="CNY")
    memo = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=10, choices=TransferStatus.choices)
    # The key the page drew for this instruction: a double click, a retry or a replay of
    # the same confirmation finds this row and shows it instead of paying again.
    idempotency_key = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)  # of the confirmed key data (TX-06)
    challenge = models.OneToOneField("authn.AuthChallenge", on_delete=models.PROTECT,
                                     null=True, blank=True)
    medium = models.CharField(max_length=10, blank=True)  # the limits it counts against
    risk_action = models.CharField(max_length=8)
    risk_reasons = models.JSONField(default=list)
    journal = models.OneToOneField("ledger.Journal", on_delete=models.PROTECT, null=True,
                                   blank=True)
    hold = models.OneToOneField("ledger.Hold", on_delete=models.PROTECT, null=True,
                                blank=True)
    device = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "idempotency_key"],
                                    name="payments_transfer_once_per_key"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0),
                                   name="payments_transfer_amount_positive"),
            models.CheckConstraint(condition=~Q(debit_account=models.F("credit_account")),
                                   name="payments_transfer_two_accounts"),
            # Done means posted; held means money reserved, not posted.
            models.CheckConstraint(
                condition=(Q(status="DONE", journal__isnull=False)
                           | Q(status="HELD", hold__isnull=False, journal__isnull=True)
                           | Q(status__in=["RELEASED", "REJECTED"], hold__isnull=False)),
                name="payments_transfer_status_matches_money"),
        ]
        indexes = [models.Index(fields=["person", "created_at"])]
