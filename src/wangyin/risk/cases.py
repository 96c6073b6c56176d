"""Cases: what the risk staff work. Every decision that is not "allow" opens a case for its
subject (the customer; the IP address when nobody is known) or joins the one already open,
raising its grade to the strongest decision's (RK-06). The staff side — assignment, notes,
call-backs, escalation, outcomes, compensation — builds on these rows."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from wangyin.risk.models import Case, CaseEvent, CaseStatus, Severity
from wangyin.risk.models import Decision as DecisionRow

SYSTEM = "system:risk"


def severity_of(score: int) -> int:
    """The grade of a decision from its score (0–100)."""
    if score >= 90:
        return Severity.CRITICAL
    if score >= 70:
        return Severity.HIGH
    if score >= 40:
        return Severity.MEDIUM
    return Severity.LOW


def subject_of(person_id: int | None, ip: str | None) -> str:
    return f"person:{person_id}" if person_id else f"ip:{ip or 'unknown'}"


def _open_case(subject: str, person_id: int | None, at: datetime) -> tuple[Case, bool]:
    case = Case.objects.select_for_update().filter(subject=subject,
                                                   status=CaseStatus.OPEN).first()
    if case is not None:
        return case, False
    try:
        with transaction.atomic():  # a concurrent decision may open it first
            return Case.objects.create(subject=subject, person_id=person_id, opened_at=at,
                                       updated_at=at, severity=Severity.LOW), True
    except IntegrityError:
        return Case.objects.select_for_update().get(subject=subject,
                                                    status=CaseStatus.OPEN), False


def on_decision(row: DecisionRow, *, ip: str | None) -> Case:
    """File a non-allow decision in its subject's open case (opening one if needed)."""
    case, opened = _open_case(subject_of(row.person_id, ip), row.person_id, row.at)
    case.severity = max(case.severity, severity_of(row.score))
    case.reasons = [*case.reasons, *(r for r in row.reasons if r not in case.reasons)]
    case.updated_at = max(case.updated_at, row.at)
    case.save(update_fields=["severity", "reasons", "updated_at"])
    row.case = case
    row.save(update_fields=["case"])
    CaseEvent.objects.create(case=case, at=row.at, actor=SYSTEM,
                             kind="opened" if opened else "decision",
                             details={"decision": row.pk, "kind": row.kind,
                                      "action": row.action, "score": row.score,
                                      "reasons": row.reasons})
    return case
