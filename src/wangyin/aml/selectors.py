"""Reads for the AML screens: the report lines with the overdue ones first, the alert
queue, one line or alert with its transactions, the recent export files."""

from __future__ import annotations

from datetime import date

from django.db.models import BooleanField, Case, Q, Value, When

from wangyin.aml.models import (
    AlertStatus,
    ExportBatch,
    LargeValueReport,
    ReportStatus,
    SuspiciousAlert,
)
from wangyin.core import masking
from wangyin.customers.models import Person

PAGE = 200


def _overdue(today: date):
    return Case(When(Q(due_date__lt=today) & ~Q(status=ReportStatus.EXPORTED), then=Value(True)),
                default=Value(False), output_field=BooleanField())


def customer_label(report: LargeValueReport) -> str:
    """The customer as staff screens show them: the masked name."""
    if report.person_id:
        return report.person.masked_name
    return masking.mask_name(report.company.name)


def large_value_reports(*, today: date, status: str = "") -> list[LargeValueReport]:
    """Report lines, overdue (past due and not exported) first, then by due date."""
    rows = (LargeValueReport.objects.select_related("person", "company")
            .annotate(overdue=_overdue(today)).order_by("-overdue", "due_date", "day", "pk"))
    if status:
        rows = rows.filter(status=status)
    rows = list(rows[:PAGE])
    for row in rows:
        row.customer = customer_label(row)
    return rows


def large_value_report(*, report_id: int, today: date) -> LargeValueReport | None:
    report = (LargeValueReport.objects.select_related("person", "company")
              .annotate(overdue=_overdue(today)).filter(pk=report_id).first())
    if report is not None:
        report.customer = customer_label(report)
        report.rows = list(report.items.select_related("account", "journal"))
        for item in report.rows:
            item.masked_account = item.account.masked_number
            item.masked_counterparty = masking.mask_name(item.counterparty_name)
            item.masked_counterparty_account = masking.mask_account(item.counterparty_account)
        report.files = list(report.batches.order_by("-created_at", "-pk"))
    return report


def overdue_count(*, today: date) -> int:
    return (LargeValueReport.objects.filter(due_date__lt=today)
            .exclude(status=ReportStatus.EXPORTED).count())


def _label_alerts(alerts: list[SuspiciousAlert]) -> None:
    people = Person.objects.in_bulk([a.person_id for a in alerts if a.person_id])
    for alert in alerts:
        person = people.get(alert.person_id)
        alert.customer = person.masked_name if person else "—"


def alert_queue(*, status: str = AlertStatus.OPEN) -> list[SuspiciousAlert]:
    """Alerts to analyse (oldest hit first), or those of another status (newest first)."""
    rows = SuspiciousAlert.objects.all()
    if status:
        rows = rows.filter(status=status)
    rows = list((rows.order_by("raised_at", "pk") if status == AlertStatus.OPEN
                 else rows.order_by("-raised_at", "-pk"))[:PAGE])
    _label_alerts(rows)
    return rows


def alert(*, alert_id: int) -> SuspiciousAlert | None:
    found = SuspiciousAlert.objects.filter(pk=alert_id).first()
    if found is not None:
        _label_alerts([found])
        found.rows = list(found.transactions.all())
        for tx in found.rows:
            tx.masked_account = masking.mask_account(tx.account)
            tx.masked_counterparty = masking.mask_name(tx.counterparty_name)
            tx.masked_counterparty_account = masking.mask_account(tx.counterparty_account)
        found.files = list(found.batches.order_by("-created_at", "-pk"))
    return found


def confirmed_to_export() -> int:
    return SuspiciousAlert.objects.filter(status=AlertStatus.CONFIRMED,
                                          exported_at__isnull=True).count()


def reviewed_to_export() -> int:
    return LargeValueReport.objects.filter(status=ReportStatus.REVIEWED).count()


def recent_exports(*, kind: str, limit: int = 10) -> list[ExportBatch]:
    return list(ExportBatch.objects.filter(kind=kind).defer("content")[:limit])
