"""Anti-money-laundering reports (RK-09): large-value transaction reports (大额交易报告) built
from the ledger day by day, suspicious-transaction alerts (可疑交易) raised from the risk
engine's AML-family hits and from cases closed as "reported", and the files that carry
both to the bank's AML system or the PBOC client. Report lines are confidential: only the
risk roles see them (RK-15)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wangyin.core.fields import EncryptedTextField


class Direction(models.TextChoices):
    IN = "IN", _("Received")
    OUT = "OUT", _("Paid")


class Category(models.TextChoices):
    """The four large-value categories of the PBOC rules, each with its threshold in
    settings (``AML_*_FEN``)."""

    CASH = "CASH", _("Cash")
    CORPORATE = "CORPORATE", _("Corporate transfer")
    PERSONAL_DOMESTIC = "PERSONAL_DOMESTIC", _("Personal domestic transfer")
    PERSONAL_CROSS_BORDER = "PERSONAL_CROSS_BORDER", _("Personal cross-border transfer")


class ReportStatus(models.TextChoices):
    NEW = "NEW", _("To review")
    REVIEWED = "REVIEWED", _("Reviewed, to export")
    EXPORTED = "EXPORTED", _("Exported")


class ExportKind(models.TextChoices):
    LARGE_VALUE = "LARGE_VALUE", _("Large-value transaction report")
    SUSPICIOUS = "SUSPICIOUS", _("Suspicious transaction report")


class ExportBatch(models.Model):
    """One exported file, kept as it was handed over (encrypted at rest: it carries full
    names and ID numbers for the regulator) with its SHA-256, so a download later is the
    same file. A re-export of lines already exported is a batch of its own, with a reason."""

    kind = models.CharField(max_length=12, choices=ExportKind.choices)
    file_name = models.CharField(max_length=80, unique=True)
    content = EncryptedTextField(purpose="aml.export.content")
    sha256 = models.CharField(max_length=64)
    lines = models.PositiveIntegerField()  # report lines / alerts in the file
    reexport = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(reexport=False) | ~Q(reason=""),
                                   name="aml_reexport_has_reason"),
        ]

    def __str__(self) -> str:
        return self.file_name


class LargeValueReport(models.Model):
    """One customer's large-value report line: a calendar day (Beijing time), a direction
    and a category whose single or cumulative amount reached the threshold, with the
    transactions it sums (``items``). Generated once (unique per customer, day, direction,
    category), reviewed by staff, exported; due within five working days of the day."""

    day = models.DateField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    category = models.CharField(max_length=24, choices=Category.choices)
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT, null=True,
                               blank=True, related_name="+")
    company = models.ForeignKey("customers.Company", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    total_fen = models.BigIntegerField()
    count = models.PositiveIntegerField()
    threshold_fen = models.BigIntegerField()  # the threshold in force when generated
    due_date = models.DateField()
    generated_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=ReportStatus.choices,
                              default=ReportStatus.NEW)
    reviewed_by = models.CharField(max_length=64, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)  # first export
    batches = models.ManyToManyField(ExportBatch, related_name="large_value_reports")

    class Meta:
        ordering = ["due_date", "day", "pk"]
        indexes = [models.Index(fields=["status", "due_date"], name="aml_large_queue")]
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=False, company__isnull=True)
                | Q(person__isnull=True, company__isnull=False),
                name="aml_large_one_customer"),
            models.UniqueConstraint(fields=["person", "day", "direction", "category"],
                                    condition=Q(person__isnull=False),
                                    name="aml_large_once_per_person"),
            models.UniqueConstraint(fields=["company", "day", "direction", "category"],
                                    condition=Q(company__isnull=False),
                                    name="aml_large_once_per_company"),
            models.CheckConstraint(condition=Q(total_fen__gte=models.F("threshold_fen")),
                                   name="aml_large_reaches_threshold"),
            models.CheckConstraint(
                condition=Q(status="NEW") | (~Q(reviewed_by="") & Q(reviewed_at__isnull=False)),
                name="aml_large_reviewed_by_someone"),
            models.CheckConstraint(condition=~Q(status="EXPORTED") | Q(exported_at__isnull=False),
                                   name="aml_large_exported_when"),
        ]

    def __str__(self) -> str:
        return f"large-value {self.pk} {self.day} {self.direction} {self.category}"


class LargeValueItem(models.Model):
    """One transaction of a report line: a customer account's leg of a journal."""

    report = models.ForeignKey(LargeValueReport, on_delete=models.CASCADE, related_name="items")
    journal = models.ForeignKey("ledger.Journal", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                related_name="+")
    amount_fen = models.BigIntegerField()
    posted_at = models.DateTimeField()
    # The other side as the ledger knows it: another account here, or the outside party.
    counterparty_name = models.CharField(max_length=120, blank=True)
    counterparty_account = models.CharField(max_length=40, blank=True)
    counterparty_bank = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["posted_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["report", "journal", "account"],
                                    name="aml_large_item_once"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="aml_large_item_positive"),
        ]


class AlertSource(models.TextChoices):
    DECISION = "DECISION", _("AML rule hit")
    CASE = "CASE", _("Case closed as reported")


class AlertStatus(models.TextChoices):
    OPEN = "OPEN", _("To analyse")
    CONFIRMED = "CONFIRMED", _("Confirmed: to report")
    DISMISSED = "DISMISSED", _("Dismissed")


class SuspiciousAlert(models.Model):
    """A suspicious-transaction alert: one per risk decision that fired an AML-family rule,
    and one per case closed with the outcome "reported". Staff analyse each (RK-09: model
    hits are verified by staff): confirm it for the report or dismiss it, with a reason."""

    source = models.CharField(max_length=8, choices=AlertSource.choices)
    decision = models.OneToOneField("risk.Decision", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    case = models.OneToOneField("risk.Case", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    person_id = models.BigIntegerField(null=True, blank=True)
    day = models.DateField()  # Beijing time, of the hit or of the case's closing
    raised_at = models.DateTimeField()
    amount_fen = models.BigIntegerField(default=0)
    summary = models.CharField(max_length=300, blank=True)
    indicators = models.JSONField(default=list)  # [{code, description, family}]
    features = models.JSONField(default=dict)  # what the rules saw (no full numbers)
    generated_at = models.DateTimeField()
    status = models.CharField(max_length=9, choices=AlertStatus.choices,
                              default=AlertStatus.OPEN)
    reason = models.CharField(max_length=500, blank=True)
    analysed_by = models.CharField(max_length=64, blank=True)
    analysed_at = models.DateTimeField(null=True, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)  # first export
    batches = models.ManyToManyField(ExportBatch, related_name="alerts")

    class Meta:
        ordering = ["-raised_at", "-pk"]
        indexes = [models.Index(fields=["status", "raised_at"], name="aml_alert_queue")]
        constraints = [
            models.CheckConstraint(
                condition=Q(source="DECISION", decision__isnull=False, case__isnull=True)
                | Q(source="CASE", case__isnull=False, decision__isnull=True),
                name="aml_alert_source_matches"),
            # Analysed means by someone, when, and why.
            models.CheckConstraint(
                condition=Q(status="OPEN", reason="", analysed_by="")
                | (~Q(status="OPEN") & ~Q(reason="") & ~Q(analysed_by="")
                   & Q(analysed_at__isnull=False)),
                name="aml_alert_analysed_with_reason"),
            models.CheckConstraint(condition=Q(exported_at__isnull=True) | Q(status="CONFIRMED"),
                                   name="aml_alert_only_confirmed_exported"),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} {self.source} {self.status}"


class AlertTransaction(models.Model):
    """A transaction shown with an alert: the payment the decision was about (possibly
    held, not posted) and the customer's other movements around it."""

    alert = models.ForeignKey(SuspiciousAlert, on_delete=models.CASCADE,
                              related_name="transactions")
    journal = models.ForeignKey("ledger.Journal", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    transfer = models.ForeignKey("payments.Transfer", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+")
    hit = models.BooleanField(default=False)  # the operation the decision was about
    at = models.DateTimeField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    amount_fen = models.BigIntegerField()
    account = models.CharField(max_length=40, blank=True)  # the customer's account
    counterparty_name = models.CharField(max_length=120, blank=True)
    counterparty_account = models.CharField(max_length=40, blank=True)
    counterparty_bank = models.CharField(max_length=12, blank=True)
    what = models.CharField(max_length=60, blank=True)  # journal type / transfer status

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(journal__isnull=False) | Q(transfer__isnull=False),
                                   name="aml_alert_tx_has_source"),
        ]
