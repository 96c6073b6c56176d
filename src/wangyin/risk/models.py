"""Risk control's data: versioned rule sets (rules are data — CEL expressions over the
feature set — edited as a draft, approved by another staff member, then live), the black
and grey lists, and every decision taken with what it was based on (explainable later)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from wangyin.core.fields import EncryptedTextField


class Action(models.TextChoices):
    """What a decision does to the operation, weakest to strongest."""

    ALLOW = "allow", _("Allow")
    STEP_UP = "step_up", _("Ask for a stronger factor")
    REVIEW = "review", _("Hold for review")
    BLOCK = "block", _("Block")


STRENGTH = {Action.ALLOW: 0, Action.STEP_UP: 1, Action.REVIEW: 2, Action.BLOCK: 3}


class RuleSetStatus(models.TextChoices):
    DRAFT = "DRAFT", _("Draft")
    PENDING = "PENDING", _("Awaiting approval")
    LIVE = "LIVE", _("Live")
    RETIRED = "RETIRED", _("Retired")
    REJECTED = "REJECTED", _("Rejected")


class Family(models.TextChoices):
    """Rule families (RK-07). AML rules' hits become suspicious-transaction alerts."""

    LIST = "list", _("Black and grey lists")
    AML = "aml", _("Anti-money laundering")
    BEHAVIOUR = "behaviour", _("Abnormal operation")


class RuleSet(models.Model):
    """One version of all the rules. Exactly one is live; a new version is a copy edited
    as a draft, submitted by its maker and approved by someone else (maker–checker)."""

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=8, choices=RuleSetStatus.choices)
    note = models.CharField(max_length=200, blank=True)
    based_on = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    created_by = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=64, blank=True)  # the checker
    decided_at = models.DateTimeField(null=True, blank=True)
    live_from = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="LIVE"),
                                    name="risk_ruleset_one_live"),
            # Maker–checker: whoever approved (or rejected) it did not make it.
            models.CheckConstraint(condition=Q(decided_by="") | ~Q(decided_by=models.F(
                "created_by")), name="risk_ruleset_checker_is_not_maker"),
        ]

    def __str__(self) -> str:
        return f"rule set v{self.version} ({self.status})"


class Rule(models.Model):
    """``expression`` (CEL, type-checked against the feature set, must be a bool) fires the
    rule; the decision takes the strongest action of the rules that fire."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="rules")
    code = models.SlugField(max_length=40)  # the reason code decisions carry
    description = models.CharField(max_length=200)
    expression = models.TextField()
    action = models.CharField(max_length=8, choices=Action.choices)
    score = models.PositiveSmallIntegerField(default=50)  # 0–100
    priority = models.PositiveSmallIntegerField(default=100)  # lower runs (and shows) first
    enabled = models.BooleanField(default=True)
    family = models.CharField(max_length=10, choices=Family.choices, default=Family.BEHAVIOUR)

    class Meta:
        ordering = ["priority", "code"]
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "code"], name="risk_rule_code_once"),
            models.CheckConstraint(condition=Q(score__lte=100), name="risk_rule_score_range"),
        ]

    def __str__(self) -> str:
        return self.code


class Decision(models.Model):
    """One evaluation: the event, what the rules saw (the features), which fired, and the
    outcome — enough to explain it later and to compare a draft against it (backtest)."""

    at = models.DateTimeField()
    kind = models.CharField(max_length=40)  # the event, e.g. "transfer.same_bank"
    person_id = models.BigIntegerField(null=True)
    channel = models.CharField(max_length=10)
    amount_fen = models.BigIntegerField(default=0)
    action = models.CharField(max_length=8, choices=Action.choices)
    score = models.PositiveSmallIntegerField(default=0)
    reasons = models.JSONField(default=list)  # codes of the rules that fired, in order
    features = models.JSONField(default=dict)  # no full account, ID or phone numbers
    rule_set_version = models.PositiveIntegerField(null=True)  # None: the fallback
    fallback = models.BooleanField(default=False)  # evaluation failed or overran
    elapsed_us = models.PositiveIntegerField(default=0)
    case = models.ForeignKey("Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="decisions")
    ref = models.CharField(max_length=64, blank=True)  # the operation (see risk.Event.ref)

    class Meta:
        indexes = [models.Index(fields=["person_id", "at"], name="risk_decision_person_at"),
                   models.Index(fields=["at"], name="risk_decision_at")]
        constraints = [models.CheckConstraint(condition=Q(score__lte=100),
                                              name="risk_decision_score_range")]

    def __str__(self) -> str:
        return f"decision {self.pk} {self.kind} {self.action}"


class ListColour(models.TextChoices):
    BLACK = "BLACK", _("Black list (deny)")
    GREY = "GREY", _("Grey list (step-up or review)")


class ListSubject(models.TextChoices):
    ACCOUNT = "ACCOUNT", _("Account number")
    ID_NUMBER = "ID_NUMBER", _("ID number")
    PHONE = "PHONE", _("Mobile number")
    DEVICE = "DEVICE", _("Device")
    IP = "IP", _("IP address")
    CARD = "CARD", _("Card number")


class ListEntry(models.Model):
    """One value on the black or grey list. Values are found by a keyed blind index of the
    normalised value (no ID, phone, card or account number stored in the clear); ``shown``
    is its masked form for staff screens. An entry counts until it expires or is removed."""

    colour = models.CharField(max_length=5, choices=ListColour.choices)
    subject = models.CharField(max_length=10, choices=ListSubject.choices)
    value_index = models.CharField(max_length=64)
    value = EncryptedTextField(purpose="risk.list.value", null=True)  # for export (sharing)
    shown = models.CharField(max_length=64)
    reason = models.CharField(max_length=200)
    source = models.CharField(max_length=60, blank=True)  # e.g. an import file's name
    added_by = models.CharField(max_length=64)
    added_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)  # None: until removed
    removed_by = models.CharField(max_length=64, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subject", "value_index"], name="risk_list_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["colour", "subject", "value_index"],
                                    condition=Q(removed_at__isnull=True),
                                    name="risk_list_entry_once"),
        ]

    def __str__(self) -> str:
        return f"{self.colour} {self.subject} {self.shown}"


class Counter(models.Model):
    """Sliding-window counters: the count and sum of events for one key (a customer, device,
    IP or counterparty, e.g. ``p:42``) in one time bucket of ``span`` seconds (a minute or a
    day). Written in the business transaction of the event they count, so a payment that
    rolls back is not counted; a window is the sum of its buckets."""

    key = models.CharField(max_length=80)
    span = models.PositiveIntegerField()  # seconds: 60 or 86 400
    bucket = models.DateTimeField()  # start of the bucket
    # The customer's share of a bucket (person id modulo a small number): customers who pay
    # from one IP or into one account at once do not wait for each other's row lock.
    shard = models.PositiveSmallIntegerField(default=0)
    count = models.PositiveIntegerField(default=0)
    sum_fen = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "span", "bucket", "shard"],
                                               name="risk_counter_bucket_once")]


class Profile(models.Model):
    """One customer's behaviour baseline (RK-05), updated with each payment and sign-in:
    how much and when they usually pay, where and when they were last seen."""

    person_id = models.BigIntegerField(unique=True)
    segment = models.CharField(max_length=20, default="personal")
    payments = models.PositiveIntegerField(default=0)
    amount_sum_fen = models.BigIntegerField(default=0)
    amount_max_fen = models.BigIntegerField(default=0)
    hours = models.JSONField(default=list)  # 24 counts of payments by local hour
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)  # any event
    last_payment_at = models.DateTimeField(null=True, blank=True)
    last_region = models.CharField(max_length=40, blank=True)
    last_latitude = models.FloatField(null=True, blank=True)
    last_longitude = models.FloatField(null=True, blank=True)
    last_located_at = models.DateTimeField(null=True, blank=True)


class PeerBaseline(models.Model):
    """What customers of one segment usually pay (RK-05 peer group), computed nightly."""

    segment = models.CharField(max_length=20, unique=True)
    customers = models.PositiveIntegerField(default=0)
    payments = models.PositiveIntegerField(default=0)
    amount_mean_fen = models.BigIntegerField(default=0)
    amount_p95_fen = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField()


class Severity(models.IntegerChoices):
    """Alert grading (RK-06), from the decision's score."""

    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


class CaseLevel(models.TextChoices):
    """Who works the case (RK-14): the branch queue, or head office after escalation."""

    BRANCH = "BRANCH", _("Branch")
    HEAD_OFFICE = "HEAD", _("Head office")


class CaseStatus(models.TextChoices):
    OPEN = "OPEN", pgettext_lazy("case", "Open")
    CLOSED = "CLOSED", pgettext_lazy("case", "Closed")


class CaseOutcome(models.TextChoices):
    RELEASED = "released", _("Released: the customer's operation goes ahead")
    REJECTED = "rejected", _("Rejected: the held operation is declined")
    STOP_PAYMENT = "stop_payment", _("Stop-payment (止付) at the customer's request")
    REPORTED = "reported", _("Reported as suspicious")
    DISMISSED = "dismissed", _("No risk found")


class Confirmation(models.TextChoices):
    """The customer's answer when asked to confirm a suspicious operation (RK-12)."""

    NONE = "", _("Not asked")
    ASKED = "asked", _("Asked, no answer yet")
    CONFIRMED = "confirmed", _("The customer confirmed it was them")
    DENIED = "denied", _("The customer said it was not them")


class Compensation(models.TextChoices):
    """The decision on a fraud loss (RK-17)."""

    NONE = "", _("Not a fraud loss")
    PENDING = "pending", _("Loss recorded, decision pending")
    BANK = "bank", _("The bank compensates")
    INSURANCE = "insurance", _("Claimed from insurance")
    DECLINED = "declined", _("No compensation")


class Case(models.Model):
    """Everything the risk staff do about one subject (a customer, or an IP address when
    nobody is known): every non-allow decision opens the subject's open case or joins it.
    Graded by the strongest decision, assigned, noted, escalated, closed with an outcome."""

    subject = models.CharField(max_length=64)  # "person:42" or "ip:203.0.113.7"
    person_id = models.BigIntegerField(null=True, blank=True)
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    level = models.CharField(max_length=6, choices=CaseLevel.choices,
                             default=CaseLevel.BRANCH)
    status = models.CharField(max_length=6, choices=CaseStatus.choices,
                              default=CaseStatus.OPEN)
    reasons = models.JSONField(default=list)  # rule codes seen, in order of first sight
    assigned_to = models.CharField(max_length=64, blank=True)  # "staff:<username>"
    confirmation = models.CharField(max_length=10, choices=Confirmation.choices, blank=True,
                                    default=Confirmation.NONE)
    confirmation_asked_at = models.DateTimeField(null=True, blank=True)
    confirmation_answered_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=CaseOutcome.choices, blank=True)
    outcome_reason = models.CharField(max_length=500, blank=True)
    closed_by = models.CharField(max_length=64, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    loss_fen = models.BigIntegerField(default=0)  # fraud loss suffered by the customer
    loss_recorded_by = models.CharField(max_length=64, blank=True)  # the maker
    loss_recorded_at = models.DateTimeField(null=True, blank=True)
    compensation = models.CharField(max_length=10, choices=Compensation.choices, blank=True,
                                    default=Compensation.NONE)
    compensation_fen = models.BigIntegerField(default=0)
    compensation_reason = models.CharField(max_length=500, blank=True)
    compensation_decided_by = models.CharField(max_length=64, blank=True)  # the checker
    compensation_decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "level", "-severity", "opened_at"],
                                name="risk_case_queue")]
        constraints = [
            models.UniqueConstraint(fields=["subject"], condition=Q(status="OPEN"),
                                    name="risk_case_one_open_per_subject"),
            models.CheckConstraint(condition=Q(status="OPEN") | ~Q(outcome=""),
                                   name="risk_case_closed_with_outcome"),
            models.CheckConstraint(condition=Q(loss_fen__gte=0) & Q(compensation_fen__gte=0)
                                   & Q(compensation_fen__lte=models.F("loss_fen")),
                                   name="risk_case_compensation_within_loss"),
            # Maker–checker (RK-17): who decides the compensation did not record the loss.
            models.CheckConstraint(condition=Q(compensation_decided_by="") | ~Q(
                compensation_decided_by=models.F("loss_recorded_by")),
                name="risk_case_compensation_checker_is_not_maker"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} {self.subject} {self.status}"


class CaseEvent(models.Model):
    """The case's history: opened, decisions joined, assigned, notes, call-backs, customer
    confirmations, escalation, outcome, compensation — who, when, what."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.CharField(max_length=64)
    kind = models.CharField(max_length=20)  # e.g. "opened", "note", "callback", "escalated"
    text = models.CharField(max_length=1000, blank=True)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "pk"]
