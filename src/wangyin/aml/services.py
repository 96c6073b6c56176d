"""AML use cases (RK-09): generate a day's large-value report lines and suspicious-transaction
alerts, staff review / analysis, and the export files.

Large-value reports (大额交易报告, PBOC rules) are built from the ledger: per customer, per
calendar day in Beijing time, per direction and per category, every line whose single or
same-day cumulative amount reaches the category's threshold (settings ``AML_*_FEN``):

- cash: journals of type DEPOSIT (in) and WITHDRAWAL (out) on a customer account;
- transfers: journals of type TRANSFER and HOLD_CAPTURE (a payment released after a risk
  review) on a customer account — corporate for a company's accounts, personal
  cross-border when the outside party's bank is a SWIFT BIC rather than a 12-digit CNAPS
  code, personal domestic otherwise. A transfer between two accounts of the same customer
  is not reported (the exemption for moves within one name at the same bank); fees,
  interest, reversals (money given back), openings and adjustments are not transactions
  with another account.

Only CNY journals are counted (no foreign-currency accounts exist). Generation is
idempotent: a line exists once per customer, day, direction and category (database unique
constraints) and running a day again adds nothing. A line is due within
``DUE_WORKING_DAYS`` working days of its day (the business calendar).

Suspicious alerts: one per risk decision whose fired rules include an AML-family rule (the
family found through the rules of the decision's rule-set version), and one per case
closed with the outcome "reported"; each keeps its indicators, the features the rules saw
and the transactions around it. Staff confirm or dismiss each with a reason; confirmed
alerts go into the suspicious-transaction report file.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q

from wangyin.aml import files
from wangyin.aml.errors import (
    AlreadyAnalysed,
    AlreadyReviewed,
    DayNotOver,
    NotExportedYet,
    NothingToExport,
    ReasonRequired,
    ReportNotFound,
)
from wangyin.aml.models import (
    AlertSource,
    AlertStatus,
    AlertTransaction,
    Category,
    Direction,
    ExportBatch,
    ExportKind,
    LargeValueItem,
    LargeValueReport,
    ReportStatus,
    SuspiciousAlert,
)
from wangyin.audit import services as audit
from wangyin.core.calendar import add_working_days
from wangyin.customers.models import CustomerAccount
from wangyin.ledger.models import JournalType, Posting
from wangyin.payments.models import Transfer
from wangyin.risk.models import Case, CaseOutcome, CaseStatus, Decision, Family, Rule

ACTOR = "system:aml"
BEIJING = ZoneInfo("Asia/Shanghai")
DUE_WORKING_DAYS = 5
CASH_TYPES = (JournalType.DEPOSIT, JournalType.WITHDRAWAL)
TRANSFER_TYPES = (JournalType.TRANSFER, JournalType.HOLD_CAPTURE)
MOVEMENT_TYPES = CASH_TYPES + TRANSFER_TYPES
# A cross-border party's bank is named by its SWIFT BIC (8 or 11 characters); domestic
# banks by their 12-digit CNAPS code.
_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
# An alert shows the customer's movements in the day before the hit, at most this many.
CONTEXT = timedelta(hours=24)
CONTEXT_ROWS = 50
# The daily job also catches up on the days before yesterday (a worker that was down).
CATCH_UP_DAYS = 7


def thresholds() -> dict[str, int]:
    return {Category.CASH: settings.AML_CASH_FEN,
            Category.CORPORATE: settings.AML_CORPORATE_TRANSFER_FEN,
            Category.PERSONAL_DOMESTIC: settings.AML_PERSONAL_DOMESTIC_FEN,
            Category.PERSONAL_CROSS_BORDER: settings.AML_PERSONAL_CROSS_BORDER_FEN}


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, BEIJING)
    return start, start + timedelta(days=1)


def day_of(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date()


def is_cross_border(party_bank: str) -> bool:
    return bool(_BIC.match(party_bank or ""))


def _finished(day: date, at: datetime) -> tuple[datetime, datetime]:
    start, end = day_bounds(day)
    if end > at:
        raise DayNotOver(extra={"day": day.isoformat()})
    return start, end


# --- reading the ledger ---------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    journal_id: int
    type: str
    posted_at: datetime
    party_name: str
    party_account: str
    party_bank: str
    amount: int  # debit > 0 (money out of a customer account), credit < 0 (in)
    customer_account_id: int | None
    number: str | None
    person_id: int | None
    company_id: int | None
    holder: str  # the ledger account's name (the holder, for a customer account)

    @property
    def owner(self) -> tuple[str, int] | None:
        if self.person_id:
            return ("P", self.person_id)
        if self.company_id:
            return ("C", self.company_id)
        return None

    @property
    def direction(self) -> str:
        return Direction.IN if self.amount < 0 else Direction.OUT


_LEG_FIELDS = ("journal_id", "journal__type", "journal__posted_at", "journal__party_name",
               "journal__party_account", "journal__party_bank", "amount",
               "account__customer_account__id", "account__customer_account__number",
               "account__customer_account__person_id", "account__customer_account__company_id",
               "account__name")


def _journals(postings) -> Iterable[list[Leg]]:
    """The legs of each journal, journal by journal."""
    rows = postings.order_by("journal_id", "pk").values_list(*_LEG_FIELDS)
    for _journal, legs in groupby((Leg(*row) for row in rows.iterator(chunk_size=2000)),
                                  key=lambda leg: leg.journal_id):
        yield list(legs)


def _counterparty(leg: Leg, legs: list[Leg]) -> tuple[str, str, str]:
    """(name, account, bank) on the other side of ``leg``: another account of this bank, or
    the outside party the journal names (nothing for cash)."""
    for other in legs:
        if other is not leg and other.customer_account_id and (other.amount < 0) != (
                leg.amount < 0):
            return other.holder, other.number or "", settings.BANK_CNAPS_CODE
    return leg.party_name, leg.party_account, leg.party_bank


def _between_own_accounts(legs: list[Leg]) -> bool:
    owners = {leg.owner for leg in legs}
    return len(owners) == 1 and None not in owners


def _category(leg: Leg) -> str:
    if leg.type in CASH_TYPES:
        return Category.CASH
    if leg.company_id:
        return Category.CORPORATE
    if is_cross_border(leg.party_bank):
        return Category.PERSONAL_CROSS_BORDER
    return Category.PERSONAL_DOMESTIC


def _day_movements(start: datetime, end: datetime) -> dict[tuple, list[tuple[Leg, tuple]]]:
    """The day's customer movements, grouped by (owner, direction, category)."""
    postings = Posting.objects.filter(journal__posted_at__gte=start, journal__posted_at__lt=end,
                                      journal__type__in=MOVEMENT_TYPES, journal__currency="CNY")
    grouped: dict[tuple, list[tuple[Leg, tuple]]] = defaultdict(list)
    for legs in _journals(postings):
        if legs[0].type in TRANSFER_TYPES and _between_own_accounts(legs):
            continue
        for leg in legs:
            if leg.customer_account_id:
                grouped[(leg.owner, leg.direction, _category(leg))].append(
                    (leg, _counterparty(leg, legs)))
    return grouped


# --- large-value reports --------------------------------------------------------------------


@dataclass
class Generated:
    created: int = 0
    existing: int = 0


def large_value_generate(*, day: date, at: datetime) -> Generated:
    """Build the large-value report lines of ``day`` (Beijing time; the day must be over)."""
    start, end = _finished(day, at)
    limits = thresholds()
    due = add_working_days(day, DUE_WORKING_DAYS)
    existing = {(("P", p) if p else ("C", c), d, cat) for p, c, d, cat in
                LargeValueReport.objects.filter(day=day).values_list(
                    "person_id", "company_id", "direction", "category")}
    result = Generated()
    for (owner, direction, category), rows in sorted(_day_movements(start, end).items()):
        total = sum(abs(leg.amount) for leg, _cp in rows)
        if total < limits[category]:
            continue
        if (owner, direction, category) in existing:
            result.existing += 1
            continue
        try:
            with transaction.atomic():
                report = LargeValueReport.objects.create(
                    day=day, direction=direction, category=category,
                    person_id=owner[1] if owner[0] == "P" else None,
                    company_id=owner[1] if owner[0] == "C" else None,
                    total_fen=total, count=len(rows), threshold_fen=limits[category],
                    due_date=due, generated_at=at)
                LargeValueItem.objects.bulk_create(
                    LargeValueItem(report=report, journal_id=leg.journal_id,
                                   account_id=leg.customer_account_id,
                                   amount_fen=abs(leg.amount), posted_at=leg.posted_at,
                                   counterparty_name=cp[0][:120],
                                   counterparty_account=cp[1][:40],
                                   counterparty_bank=cp[2][:12])
                    for leg, cp in rows)
        except IntegrityError:  # a concurrent run made the same line first
            result.existing += 1
            continue
        result.created += 1
    if result.created:
        audit.record(actor=ACTOR, action="aml.large_value.generated", occurred_at=at,
                     target=f"day:{day.isoformat()}",
                     details={"created": result.created, "existing": result.existing})
    return result


def _locked(model, pk: int):
    row = model.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise ReportNotFound(extra={"id": pk})
    return row


@transaction.atomic
def large_value_review(*, report_id: int, actor: str, note: str, at: datetime
                       ) -> LargeValueReport:
    """Staff check a line against the transactions it sums and mark it ready to export."""
    report = _locked(LargeValueReport, report_id)
    if report.status != ReportStatus.NEW:
        raise AlreadyReviewed(extra={"report": report_id, "status": report.status})
    report.status, report.reviewed_by, report.reviewed_at = ReportStatus.REVIEWED, actor, at
    report.note = note.strip()[:500]
    report.save(update_fields=["status", "reviewed_by", "reviewed_at", "note"])
    audit.record(actor=actor, action="aml.large_value.reviewed", occurred_at=at,
                 target=f"aml_large:{report.pk}",
                 details={"day": report.day.isoformat(), "category": report.category,
                          "direction": report.direction, "total_fen": report.total_fen})
    return report


def _batch(*, kind: str, content: str, lines: int, actor: str, at: datetime,
           reexport: bool = False, reason: str = "") -> ExportBatch:
    batch = ExportBatch.objects.create(
        kind=kind, file_name=f"pending-{uuid.uuid4().hex}", content=content,
        sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(), lines=lines,
        reexport=reexport, reason=reason, created_by=actor, created_at=at)
    prefix = "LVTR" if kind == ExportKind.LARGE_VALUE else "STR"
    batch.file_name = f"{prefix}-{day_of(at):%Y%m%d}-{batch.pk:06d}.csv"
    batch.save(update_fields=["file_name"])
    return batch


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason[:200]


@transaction.atomic
def large_value_export(*, actor: str, at: datetime) -> ExportBatch:
    """One file with every reviewed line not yet exported; the lines become exported."""
    reports = list(LargeValueReport.objects.select_for_update(of=("self",))
                   .select_related("person", "company")
                   .filter(status=ReportStatus.REVIEWED).order_by("due_date", "day", "pk"))
    if not reports:
        raise NothingToExport()
    batch = _batch(kind=ExportKind.LARGE_VALUE, content=files.large_value_csv(reports),
                   lines=len(reports), actor=actor, at=at)
    LargeValueReport.objects.filter(pk__in=[r.pk for r in reports]).update(
        status=ReportStatus.EXPORTED, exported_at=at)
    batch.large_value_reports.add(*reports)
    audit.record(actor=actor, action="aml.large_value.exported", occurred_at=at,
                 target=f"aml_export:{batch.pk}",
                 details={"file": batch.file_name, "lines": len(reports), "sha256": batch.sha256,
                          "reports": [r.pk for r in reports]})
    return batch


@transaction.atomic
def large_value_reexport(*, report_ids: list[int], actor: str, reason: str, at: datetime
                         ) -> ExportBatch:
    """Export lines already exported once more (a file lost or refused): asked explicitly,
    with a reason, audited; the lines keep their first export time."""
    reason = _reason(reason)
    reports = list(LargeValueReport.objects.select_for_update(of=("self",))
                   .select_related("person", "company").filter(pk__in=report_ids)
                   .order_by("due_date", "day", "pk"))
    if not reports or any(r.status != ReportStatus.EXPORTED for r in reports):
        raise NotExportedYet(extra={"reports": report_ids})
    batch = _batch(kind=ExportKind.LARGE_VALUE, content=files.large_value_csv(reports),
                   lines=len(reports), actor=actor, at=at, reexport=True, reason=reason)
    batch.large_value_reports.add(*reports)
    audit.record(actor=actor, action="aml.large_value.reexported", occurred_at=at,
                 target=f"aml_export:{batch.pk}",
                 details={"file": batch.file_name, "reason": reason, "sha256": batch.sha256,
                          "reports": [r.pk for r in reports]})
    return batch


def export_download(*, batch_id: int, actor: str, at: datetime) -> ExportBatch:
    """The file of a batch, as it was exported; every download is audited (AD-06)."""
    batch = ExportBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise ReportNotFound(extra={"batch": batch_id})
    audit.record(actor=actor, action="aml.export.downloaded", occurred_at=at,
                 target=f"aml_export:{batch.pk}",
                 details={"file": batch.file_name, "kind": batch.kind})
    return batch


# --- suspicious-transaction alerts ------------------------------------------------------------


class _Rules:
    """Rule codes → (description, family) per rule-set version, read once per run."""

    def __init__(self) -> None:
        self._by_version: dict[int, dict[str, tuple[str, str]]] = {}

    def of(self, version: int | None) -> dict[str, tuple[str, str]]:
        if version is None:
            return {}
        if version not in self._by_version:
            self._by_version[version] = {
                code: (description, family) for code, description, family in
                Rule.objects.filter(rule_set__version=version).values_list(
                    "code", "description", "family")}
        return self._by_version[version]

    def indicators(self, codes: Iterable[str], versions: Iterable[int | None]) -> list[dict]:
        known: dict[str, tuple[str, str]] = {}
        for version in versions:  # newest first: an older version fills only what is missing
            for code, value in self.of(version).items():
                known.setdefault(code, value)
        return [{"code": code, "description": known.get(code, ("", ""))[0],
                 "family": known.get(code, ("", ""))[1]} for code in codes]


def _context(person_id: int | None, since: datetime, until: datetime,
             decisions: list[Decision]) -> list[AlertTransaction]:
    """The payment each decision was about (matched by customer, time and amount: held
    payments have no journal yet) and the customer's movements from ``since`` to ``until``."""
    if not person_id:
        return []
    rows, seen = [], set()
    for decision in decisions:
        if not decision.kind.startswith("transfer.") or not decision.amount_fen:
            continue
        for transfer in (Transfer.objects.filter(person_id=person_id, created_at=decision.at,
                                                 amount_fen=decision.amount_fen)
                         .select_related("debit_account", "payee_bank")):
            rows.append(AlertTransaction(
                transfer=transfer, journal_id=transfer.journal_id, hit=True,
                at=transfer.created_at, direction=Direction.OUT, amount_fen=transfer.amount_fen,
                account=transfer.debit_account.number, counterparty_name=transfer.payee_name,
                counterparty_account=transfer.payee_account,
                counterparty_bank=(transfer.payee_bank.code if transfer.payee_bank_id
                                   else settings.BANK_CNAPS_CODE),
                what=f"{transfer.kind} {transfer.status}"))
            seen.add(transfer.journal_id)
    ledger_ids = list(CustomerAccount.objects.filter(person_id=person_id)
                      .values_list("ledger_account_id", flat=True))
    journal_ids = list(Posting.objects.filter(
        account_id__in=ledger_ids, posted_at__gte=since, posted_at__lte=until,
        journal__type__in=MOVEMENT_TYPES).exclude(journal_id__in=seen - {None})
        .order_by("-posted_at", "-pk").values_list("journal_id", flat=True)[:CONTEXT_ROWS])
    for legs in _journals(Posting.objects.filter(journal_id__in=journal_ids)):
        for leg in legs:
            if leg.person_id == person_id:
                name, account, bank = _counterparty(leg, legs)
                rows.append(AlertTransaction(
                    journal_id=leg.journal_id, at=leg.posted_at, direction=leg.direction,
                    amount_fen=abs(leg.amount), account=leg.number or "",
                    counterparty_name=name[:120], counterparty_account=account[:40],
                    counterparty_bank=bank[:12], what=leg.type))
    return rows


def _raise_alert(alert: SuspiciousAlert, transactions: list[AlertTransaction]) -> bool:
    try:
        with transaction.atomic():
            alert.save()
            for row in transactions:
                row.alert = alert
            AlertTransaction.objects.bulk_create(transactions)
    except IntegrityError:  # a concurrent run raised it first
        return False
    return True


def alerts_generate(*, day: date, at: datetime) -> Generated:
    """Raise the alerts of ``day`` (Beijing time; the day must be over)."""
    start, end = _finished(day, at)
    result, rules = Generated(), _Rules()
    aml = set(Rule.objects.filter(family=Family.AML).values_list("rule_set__version", "code"))
    if aml:
        hit = Q()
        for code in {code for _version, code in aml}:
            hit |= Q(reasons__contains=[code])
        decisions = list(Decision.objects.filter(at__gte=start, at__lt=end,
                                                 rule_set_version__isnull=False)
                         .filter(hit).order_by("at", "pk"))
        done = set(SuspiciousAlert.objects.filter(decision__in=decisions)
                   .values_list("decision_id", flat=True))
        # One operation, one alert: a payment is evaluated when confirmed and again when
        # executed (same ``ref``); only its last decision counts.
        last = dict(Decision.objects.filter(ref__in={d.ref for d in decisions if d.ref})
                    .values("ref").annotate(last=Max("pk")).values_list("ref", "last"))
        for decision in decisions:
            if not any((decision.rule_set_version, code) in aml for code in decision.reasons):
                continue
            if decision.ref and last[decision.ref] != decision.pk:
                continue
            if decision.pk in done:
                result.existing += 1
                continue
            alert = SuspiciousAlert(
                source=AlertSource.DECISION, decision=decision, person_id=decision.person_id,
                day=day, raised_at=decision.at, amount_fen=decision.amount_fen,
                summary=f"{decision.kind} · {decision.action} · {decision.score}",
                indicators=rules.indicators(decision.reasons, [decision.rule_set_version]),
                features=decision.features, generated_at=at)
            created = _raise_alert(alert, _context(decision.person_id, decision.at - CONTEXT,
                                                   decision.at, [decision]))
            result.created += created
            result.existing += not created
    cases = (Case.objects.filter(status=CaseStatus.CLOSED, outcome=CaseOutcome.REPORTED,
                                 closed_at__gte=start, closed_at__lt=end)
             .order_by("closed_at", "pk"))
    done = set(SuspiciousAlert.objects.filter(case__in=cases).values_list("case_id", flat=True))
    for case in cases:
        if case.pk in done:
            result.existing += 1
            continue
        decisions = list(case.decisions.order_by("-at", "-pk"))
        latest = decisions[0] if decisions else None
        alert = SuspiciousAlert(
            source=AlertSource.CASE, case=case, person_id=case.person_id, day=day,
            raised_at=case.closed_at,
            amount_fen=max((d.amount_fen for d in decisions), default=0),
            summary=f"{case.closed_by}: {case.outcome_reason}"[:300],
            indicators=rules.indicators(case.reasons, [d.rule_set_version for d in decisions]),
            features=latest.features if latest else {}, generated_at=at)
        created = _raise_alert(alert, _context(case.person_id, case.opened_at - CONTEXT,
                                               case.closed_at, decisions))
        result.created += created
        result.existing += not created
    if result.created:
        audit.record(actor=ACTOR, action="aml.alert.generated", occurred_at=at,
                     target=f"day:{day.isoformat()}",
                     details={"created": result.created, "existing": result.existing})
    return result


@transaction.atomic
def alert_analyse(*, alert_id: int, confirm: bool, reason: str, actor: str, at: datetime
                  ) -> SuspiciousAlert:
    """Staff verify a hit (RK-09): confirm it for the suspicious-transaction report, or
    dismiss it; the reason is required and recorded with who and when."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    alert = _locked(SuspiciousAlert, alert_id)
    if alert.status != AlertStatus.OPEN:
        raise AlreadyAnalysed(extra={"alert": alert_id, "status": alert.status})
    alert.status = AlertStatus.CONFIRMED if confirm else AlertStatus.DISMISSED
    alert.reason, alert.analysed_by, alert.analysed_at = reason[:500], actor, at
    alert.save(update_fields=["status", "reason", "analysed_by", "analysed_at"])
    audit.record(actor=actor, action=f"aml.alert.{alert.status.lower()}", occurred_at=at,
                 target=f"aml_alert:{alert.pk}",
                 details={"reason": alert.reason, "source": alert.source,
                          "indicators": [i["code"] for i in alert.indicators]})
    return alert


@transaction.atomic
def suspicious_export(*, actor: str, at: datetime) -> ExportBatch:
    """One file with every confirmed alert not yet exported."""
    alerts = list(SuspiciousAlert.objects.select_for_update()
                  .filter(status=AlertStatus.CONFIRMED, exported_at__isnull=True)
                  .order_by("raised_at", "pk"))
    if not alerts:
        raise NothingToExport()
    batch = _batch(kind=ExportKind.SUSPICIOUS, content=files.suspicious_csv(alerts),
                   lines=len(alerts), actor=actor, at=at)
    SuspiciousAlert.objects.filter(pk__in=[a.pk for a in alerts]).update(exported_at=at)
    batch.alerts.add(*alerts)
    audit.record(actor=actor, action="aml.suspicious.exported", occurred_at=at,
                 target=f"aml_export:{batch.pk}",
                 details={"file": batch.file_name, "lines": len(alerts), "sha256": batch.sha256,
                          "alerts": [a.pk for a in alerts]})
    return batch


@transaction.atomic
def suspicious_reexport(*, alert_ids: list[int], actor: str, reason: str, at: datetime
                        ) -> ExportBatch:
    reason = _reason(reason)
    alerts = list(SuspiciousAlert.objects.select_for_update().filter(pk__in=alert_ids)
                  .order_by("raised_at", "pk"))
    if not alerts or any(a.exported_at is None for a in alerts):
        raise NotExportedYet(extra={"alerts": alert_ids})
    batch = _batch(kind=ExportKind.SUSPICIOUS, content=files.suspicious_csv(alerts),
                   lines=len(alerts), actor=actor, at=at, reexport=True, reason=reason)
    batch.alerts.add(*alerts)
    audit.record(actor=actor, action="aml.suspicious.reexported", occurred_at=at,
                 target=f"aml_export:{batch.pk}",
                 details={"file": batch.file_name, "reason": reason, "sha256": batch.sha256,
                          "alerts": [a.pk for a in alerts]})
    return batch


# --- the daily run ----------------------------------------------------------------------------


@dataclass
class DayRun:
    day: date
    large_value: Generated
    alerts: Generated


def aml_run(*, day: date, at: datetime) -> DayRun:
    """Both generations for one finished day (``wangyin aml run --day``)."""
    _finished(day, at)
    return DayRun(day=day, large_value=large_value_generate(day=day, at=at),
                  alerts=alerts_generate(day=day, at=at))


def daily_run(*, at: datetime) -> list[DayRun]:
    """The job: yesterday, and the days before it back to ``CATCH_UP_DAYS`` (idempotent, so
    a day already done costs one read)."""
    yesterday = day_of(at) - timedelta(days=1)
    return [aml_run(day=yesterday - timedelta(days=n), at=at)
            for n in reversed(range(CATCH_UP_DAYS))]
