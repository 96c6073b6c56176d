"""Risk control's data: versioned rule sets (rules are data — CEL expressions over the
feature set — edited as a draft, approved by another staff member, then live), the black
and grey lists, and every decision taken with what it was based on (explainable later)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
