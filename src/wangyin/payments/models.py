"""Payment instructions. A ``Transfer`` row is written when the money moves (or is held
for review), in the same transaction as the journal or the hold: there is never a posted
journal without its transfer, or a "done" transfer without its journal.

Interbank payments add the clearing side: the bank directory (``Bank``), the messages the
bank sends to the clearing system (``ClearingMessage``, the outbox of the clearing port)
and the credits it receives from other banks (``IncomingPayment``). The sandbox clearing
system keeps its own state (``SandboxClearingEntry``, ``SandboxExternalAccount``): it plays
the other side of the port and is a documented product feature (see docs/operations.md)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Bank(models.Model):
    """One entry of the bank directory: a branch with its CNAPS bank code (行号). The
    directory is data, loaded by ``wangyin banks load``."""

    code = models.CharField(max_length=12, unique=True)
    name = models.CharField(max_length=120)  # the branch, as the clearing system names it
    bank_name = models.CharField(max_length=60)  # the bank it belongs to
    city = models.CharField(max_length=30, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{12}$"),
                                              name="payments_bank_code_12_digits")]
        indexes = [models.Index(fields=["bank_name", "name"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TransferKind(models.TextChoices):
    OWN = "OWN", _("Between my accounts")
    SAME_BANK = "SAME_BANK", _("To another customer of this bank")
    INTERBANK = "INTERBANK", _("To an account at another bank")
    MOBILE = "MOBILE", _("To a mobile number")


class TransferStatus(models.TextChoices):
    DONE = "DONE", _("Completed")
    PROCESSING = "PROCESSING", _("Being processed by the clearing system")
    RETURNED = "RETURNED", _("Returned: the money is back in your account")
    HELD = "HELD", _("Held for review")
    RELEASED = "RELEASED", _("Released after review")
    REJECTED = "REJECTED", _("Rejected after review")


class Channel(models.TextChoices):
    """The clearing systems of the PBOC's payment system (CNAPS) an interbank payment can
    go through: real-time 24/7, large-value in its operating hours, deferred batch."""

    IBPS = "IBPS", _("Real-time interbank (IBPS)")
    HVPS = "HVPS", _("Large-value (HVPS)")
    BEPS = "BEPS", _("Batch (BEPS)")


class Transfer(models.Model):
    # The payer: a person (their own payment in the personal channels) or a company (an
    # approved corporate instruction, ``payments.services.company_transfer_execute``).
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="transfers", null=True, blank=True)
    company = models.ForeignKey("customers.Company", on_delete=models.PROTECT,
                                related_name="transfers", null=True, blank=True)
    debit_account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                      related_name="transfers_out")
    # The payee's account here (own and same-bank transfers); NULL for interbank ones.
    credit_account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                       related_name="transfers_in", null=True, blank=True)
    kind = models.CharField(max_length=12, choices=TransferKind.choices)
    payee_account = models.CharField(max_length=40)  # the number as confirmed
    payee_bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")  # interbank only
    channel = models.CharField(max_length=4, choices=Channel.choices, blank=True)
    payee_name = models.CharField(max_length=60)
    amount_fen = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="CNY")
    memo = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=10, choices=TransferStatus.choices)
    return_reason = models.CharField(max_length=120, blank=True)  # as the clearing gave it
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
    # The journal that gave the money back (an interbank payment rejected or returned).
    reversal_journal = models.OneToOneField("ledger.Journal", on_delete=models.PROTECT,
                                            null=True, blank=True, related_name="+")
    # The fee by the schedule (``payments.fees``), posted as a journal of its own when the
    # money moves (a held payment: on release), and given back with money that comes back.
    fee_fen = models.BigIntegerField(default=0, db_default=0)
    fee_journal = models.OneToOneField("ledger.Journal", on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="+")
    fee_refund_journal = models.OneToOneField("ledger.Journal", on_delete=models.PROTECT,
                                              null=True, blank=True, related_name="+")
    device = models.CharField(max_length=64, blank=True)
    # Made by the job queue from a scheduled or recurring order (authorised when the
    # customer confirmed the order, so no challenge of its own).
    standing_order = models.ForeignKey("StandingOrder", on_delete=models.PROTECT, null=True,
                                       blank=True, related_name="transfers")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "idempotency_key"],
                                    name="payments_transfer_once_per_key"),
            models.UniqueConstraint(fields=["company", "idempotency_key"],
                                    name="payments_transfer_once_per_company_key"),
            models.CheckConstraint(condition=Q(person__isnull=False, company__isnull=True)
                                   | Q(person__isnull=True, company__isnull=False),
                                   name="payments_transfer_one_payer"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0),
                                   name="payments_transfer_amount_positive"),
            models.CheckConstraint(condition=Q(fee_fen__gte=0),
                                   name="payments_transfer_fee_not_negative"),
            models.CheckConstraint(condition=Q(fee_fen=0) | ~Q(status="DONE")
                                   | Q(fee_journal__isnull=False),
                                   name="payments_transfer_fee_posted_when_done"),
            models.CheckConstraint(condition=~Q(debit_account=models.F("credit_account")),
                                   name="payments_transfer_two_accounts"),
            # Done means posted; held means money reserved, not posted; an interbank payment
            # in clearing is posted (to the clearing account); returned means given back.
            models.CheckConstraint(
                condition=(Q(status="DONE", journal__isnull=False)
                           | Q(status="PROCESSING", kind="INTERBANK", journal__isnull=False)
                           | Q(status="RETURNED", journal__isnull=False,
                               reversal_journal__isnull=False)
                           | Q(status="HELD", hold__isnull=False, journal__isnull=True)
                           | Q(status__in=["RELEASED", "REJECTED"], hold__isnull=False)),
                name="payments_transfer_status_matches_money"),
            # An interbank payment names the payee's bank and has no account here.
            models.CheckConstraint(
                condition=(Q(kind="INTERBANK", credit_account__isnull=True,
                             payee_bank__isnull=False)
                           | (~Q(kind="INTERBANK") & Q(credit_account__isnull=False,
                                                      payee_bank__isnull=True))),
                name="payments_transfer_payee_matches_kind"),
        ]
        indexes = [models.Index(fields=["person", "created_at"]),
                   models.Index(fields=["company", "created_at"],
                                name="payments_transfer_company")]


class Frequency(models.TextChoices):
    ONCE = "ONCE", _("Once, on a date")
    WEEKLY = "WEEKLY", _("Every week")
    MONTHLY = "MONTHLY", _("Every month")


class OrderStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("Active")
    FINISHED = "FINISHED", _("Finished")
    CANCELLED = "CANCELLED", _("Cancelled")


class StandingOrder(models.Model):
    """A scheduled (预约, one date) or recurring transfer: confirmed with the step-up once,
    executed by the job queue on each date, cancellable until it runs."""

    user = models.ForeignKey("identity.ChannelUser", on_delete=models.PROTECT,
                             related_name="standing_orders")
    debit_account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                      related_name="standing_orders")
    payee_account = models.CharField(max_length=40)
    payee_bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    payee_name = models.CharField(max_length=60)
    amount_fen = models.BigIntegerField()
    memo = models.CharField(max_length=60, blank=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    first_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)  # recurring orders only
    next_date = models.DateField(null=True, blank=True)  # None once finished or cancelled
    status = models.CharField(max_length=9, choices=OrderStatus.choices,
                              default=OrderStatus.ACTIVE)
    idempotency_key = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)  # of the confirmed key data, schedule included
    challenge = models.OneToOneField("authn.AuthChallenge", on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="+")
    device = models.CharField(max_length=64, blank=True)
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"],
                                    name="payments_order_once_per_key"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0),
                                   name="payments_order_amount_positive"),
            models.CheckConstraint(
                condition=(Q(frequency="ONCE", end_date__isnull=True)
                           | (~Q(frequency="ONCE") & Q(end_date__gte=models.F("first_date")))),
                name="payments_order_schedule"),
            models.CheckConstraint(
                condition=Q(status="ACTIVE", next_date__isnull=False)
                | (~Q(status="ACTIVE") & Q(next_date__isnull=True)),
                name="payments_order_next_date_when_active"),
        ]
        indexes = [models.Index(fields=["next_date"], name="payments_order_due",
                                condition=Q(status="ACTIVE"))]


class Step(models.TextChoices):
    """What happened to a transfer, as its status history shows it."""

    DONE = "DONE", _("Paid into the payee's account")
    SUBMITTED = "SUBMITTED", _("Debited and sent to the clearing system")
    ACCEPTED = "ACCEPTED", _("Accepted by the clearing system")
    SETTLED = "SETTLED", _("Settled with the payee's bank")
    REJECTED = "REJECTED", _("Refused by the clearing system or the payee's bank")
    RETURNED = "RETURNED", _("Returned by the payee's bank")
    REFUNDED = "REFUNDED", _("Money returned to your account")
    HELD = "HELD", _("Held for review")
    RELEASED = "RELEASED", _("Released after review")
    DECLINED = "DECLINED", _("Not paid after review: the held money is available again")


class TransferEvent(models.Model):
    """The status history of a transfer, shown to the customer."""

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events")
    step = models.CharField(max_length=10, choices=Step.choices)
    detail = models.CharField(max_length=120, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]


class MessageKind(models.TextChoices):
    PAYMENT = "PAYMENT", "credit transfer to another bank"
    RETURN = "RETURN", "return of a credit we could not apply"


class MessageStatus(models.TextChoices):
    QUEUED = "QUEUED", "queued, not yet accepted by the clearing system"
    SENT = "SENT", "accepted by the clearing system"
    SETTLED = "SETTLED", "settled"
    REJECTED = "REJECTED", "rejected before settlement"
    RETURNED = "RETURNED", "returned after settlement"


class ClearingMessage(models.Model):
    """A message to the clearing system: the outbox of the clearing port. Written in the
    transaction that moves the money; sent (and re-sent with the same ``msg_id``, which
    the clearing system de-duplicates) by the worker and the reconciliation job."""

    msg_id = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=8, choices=MessageKind.choices)
    channel = models.CharField(max_length=4, choices=Channel.choices)
    transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="clearing")
    incoming = models.OneToOneField("IncomingPayment", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="return_message")
    payload = models.JSONField()  # the message as sent
    status = models.CharField(max_length=8, choices=MessageStatus.choices,
                              default=MessageStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(Q(kind="PAYMENT", transfer__isnull=False, incoming__isnull=True)
                       | Q(kind="RETURN", transfer__isnull=True, incoming__isnull=False)),
            name="payments_clearing_message_has_subject")]
        indexes = [models.Index(fields=["status", "created_at"],
                                name="payments_clearing_open",
                                condition=Q(status__in=["QUEUED", "SENT"]))]


class IncomingStatus(models.TextChoices):
    CREDITED = "CREDITED", "credited to the payee's account"
    RETURNED = "RETURNED", "returned to the sending bank"


class IncomingPayment(models.Model):
    """A credit from another bank received through the clearing port; applied once per
    the sender's message id."""

    msg_id = models.CharField(max_length=40, unique=True)
    channel = models.CharField(max_length=4, choices=Channel.choices)
    payer_name = models.CharField(max_length=120)
    payer_account = models.CharField(max_length=40)
    payer_bank = models.CharField(max_length=12)
    payee_account = models.CharField(max_length=40)
    payee_name = models.CharField(max_length=120)
    amount_fen = models.BigIntegerField()
    memo = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=8, choices=IncomingStatus.choices)
    credit_account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                       null=True, blank=True, related_name="incoming")
    journal = models.OneToOneField("ledger.Journal", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    return_reason = models.CharField(max_length=120, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0),
                                   name="payments_incoming_amount_positive"),
            models.CheckConstraint(
                condition=(Q(status="CREDITED", journal__isnull=False,
                             credit_account__isnull=False)
                           | Q(status="RETURNED", journal__isnull=True)),
                name="payments_incoming_status_matches_money"),
        ]


# --- the sandbox clearing system (the other side of the port) ---------------------------


class SandboxExternalAccount(models.Model):
    """An account at another bank, as the sandbox clearing system knows it."""

    bank_code = models.CharField(max_length=12)
    number = models.CharField(max_length=40)
    name = models.CharField(max_length=120)
    closed = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bank_code", "number"],
                                               name="payments_sandbox_account_once")]


class SandboxClearingEntry(models.Model):
    """A message the sandbox clearing system received (``OUT``: from this bank) or will
    deliver (``IN``: a credit from another bank), with what it decided and when."""

    msg_id = models.CharField(max_length=40, unique=True)
    direction = models.CharField(max_length=3)  # OUT / IN
    channel = models.CharField(max_length=4, choices=Channel.choices)
    payload = models.JSONField()
    state = models.CharField(max_length=10)  # RECEIVED / SETTLED / REJECTED / RETURNED
    reason = models.CharField(max_length=120, blank=True)
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()  # when the next step happens
    delivered = models.BooleanField(default=False)  # the bank was told of ``state``

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="payments_sandbox_due",
                                condition=Q(delivered=False))]


class Payee(models.Model):
    """An entry of a customer's payee book (收款人名册). Adding one is an information change
    confirmed with a step-up over its key data (TX-10): ``authorisation`` is the challenge
    that confirmed it. The alias can be changed and the entry deleted without one."""

    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="payees")
    name = models.CharField(max_length=60)
    account = models.CharField(max_length=40)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")  # NULL: an account at this bank
    alias = models.CharField(max_length=30, blank=True)
    authorisation = models.OneToOneField("authn.AuthChallenge", on_delete=models.PROTECT,
                                         related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "account", "bank"],
                                               nulls_distinct=False,
                                               name="payments_payee_once_per_book")]

    def __str__(self) -> str:
        return f"payee:{self.pk}"

    @property
    def display_name(self) -> str:
        return self.alias or self.name


class MobileReceiving(models.Model):
    """手机号收款: a customer's reserved mobile number registered to receive transfers into
    one of their accounts. ``phone_index`` is the blind index of the number registered; a
    registration whose number is no longer the customer's reserved one resolves to
    nothing (the customer registers again after a change of number)."""

    person = models.OneToOneField("customers.Person", on_delete=models.PROTECT,
                                  related_name="mobile_receiving")
    account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                related_name="+")
    phone_index = models.CharField(max_length=64, unique=True)
    authorisation = models.OneToOneField("authn.AuthChallenge", on_delete=models.PROTECT,
                                         related_name="+")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"mobile-receiving:{self.pk}"
