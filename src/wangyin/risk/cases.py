"""Cases: what the risk staff work. Every decision that is not "allow" opens a case for its
subject (the customer; the IP address when nobody is known) or joins the one already open,
raising its grade to the strongest decision's (RK-06).

When a customer's money ends up held by such a decision (a payment held for review), the
customer is asked once, in-app and by SMS, to confirm it was them (RK-12, TX-08); they answer
in internet banking, and a "no" makes the case critical and sends it to head office.

The staff side works a queue by desk (RK-14): a branch risk officer sees the branch cases, the
head-office risk manager sees every case, escalations first. Staff assign, note, record the
call-back to the customer's reserved phone, escalate, and close with an outcome: release or
reject the held money, stop-payment (止付) at the customer's request after a call-back that
reached them (RK-13), reported (for AML) or dismissed. A closed case changes no more, except
its fraud-loss record and the compensation decision, which someone other than the loss's
recorder takes (RK-17). Every change is a ``CaseEvent`` and an audit row (``case:<id>``).

``desk`` is where the acting staff member works, as the channel authenticated them:
``CaseLevel.BRANCH`` (a branch officer: branch cases only) or ``CaseLevel.HEAD_OFFICE``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from wangyin.audit import services as audit
from wangyin.core.masking import mask_account, mask_name, mask_phone
from wangyin.core.money import Money, format_money
from wangyin.customers import selectors as customers
from wangyin.customers.models import Person
from wangyin.ledger import services as ledger
from wangyin.ledger.models import AccountStatus
from wangyin.notify import services as notify
from wangyin.payments.alerts import payee_text
from wangyin.payments.models import Transfer, TransferStatus
from wangyin.risk import errors
from wangyin.risk.models import (
    Case,
    CaseEvent,
    CaseLevel,
    CaseOutcome,
    CaseStatus,
    Compensation,
    Confirmation,
    Severity,
)
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


# A non-allow decision's row, its case and the case's event, in one statement: the
# subject's open case is joined (locked until the caller's transaction ends: the stronger
# grade, the decision's reasons it has not seen yet after its own in the decision's order,
# the later time) or, when none is open, opened — as the model makes a new case, graded and
# reasoned by this decision (a test compares it with the model's defaults). ``{decision}``:
# the decision row's INSERT, reading its case from ``filed``. No row comes back only when a
# concurrent decision opened the case first: the statement is run again.
_FILE_SQL = (
    "WITH joined AS (UPDATE risk_case SET severity = greatest(severity, %(case_severity)s), "
    "reasons = reasons || coalesce((SELECT jsonb_agg(given.code ORDER BY given.n) "
    "FROM jsonb_array_elements(%(reasons)s) WITH ORDINALITY AS given(code, n) "
    "WHERE NOT risk_case.reasons @> jsonb_build_array(given.code)), '[]'), "
    "updated_at = greatest(updated_at, %(at)s) "
    "WHERE subject = %(case_subject)s AND status = 'OPEN' RETURNING id, false AS opened), "
    "opened AS (INSERT INTO risk_case (subject, person_id, opened_at, updated_at, severity, "
    "reasons, level, status, assigned_to, confirmation, outcome, outcome_reason, closed_by, "
    "loss_fen, loss_recorded_by, compensation, compensation_fen, compensation_reason, "
    "compensation_decided_by) SELECT %(case_subject)s, %(person_id)s, %(at)s, %(at)s, "
    "%(case_severity)s, %(reasons)s, 'BRANCH', 'OPEN', '', '', '', '', '', 0, '', '', 0, '', '' "
    "WHERE NOT EXISTS (SELECT FROM joined) "
    "ON CONFLICT (subject) WHERE status = 'OPEN' DO NOTHING RETURNING id, true AS opened), "
    "filed AS (SELECT id, opened FROM joined UNION ALL SELECT id, opened FROM opened), "
    "decision AS ({decision} RETURNING id, case_id), "
    "event AS (INSERT INTO risk_caseevent (case_id, at, actor, kind, text, details) "
    "SELECT decision.case_id, %(at)s, %(case_actor)s, "
    "CASE WHEN filed.opened THEN 'opened' ELSE 'decision' END, '', "
    "%(case_details)s || jsonb_build_object('decision', decision.id) FROM decision, filed) "
    "SELECT id FROM decision")


@lru_cache(maxsize=4)
def _file_sql(columns: tuple[str, ...]) -> str:
    values = ", ".join(f"%({column})s" for column in columns)
    return _FILE_SQL.format(decision=(
        f"INSERT INTO risk_decision ({', '.join(columns)}, case_id) "  # noqa: S608 - names
        f"SELECT {values}, filed.id FROM filed"))


def on_decision(row: dict, *, ip: str | None) -> int:
    """Store a non-allow decision (``row``: its columns, the JSON ones adapted) in its
    subject's open case, opening one if needed, with the case's event. In the caller's
    transaction. Returns the decision's id."""
    args = {**row, "case_subject": subject_of(row["person_id"], ip),
            "case_severity": severity_of(row["score"]), "case_actor": SYSTEM,
            "case_details": Jsonb({"kind": row["kind"], "action": row["action"],
                                   "score": row["score"], "reasons": row["reasons"].obj})}
    sql = _file_sql(tuple(row))
    with connection.cursor() as cursor:
        for _attempt in range(2):  # a concurrent decision opened the case: join it
            cursor.execute(sql, args)
            if (filed := cursor.fetchone()) is not None:
                return filed[0]
    raise IntegrityError(f"no open case to file the decision in ({args['case_subject']})")


# --- the customer's confirmation (RK-12, TX-08) -------------------------------------------


def _held(person_id: int):
    return Transfer.objects.filter(person_id=person_id, status=TransferStatus.HELD)


def _when(at: datetime) -> str:
    return timezone.localtime(at).strftime("%m月%d日%H:%M")


def money_held(*, person_id: int, at: datetime) -> bool:
    """The customer's money was just held for review (in the payment's transaction): ask
    them, through their open case, to confirm it (``confirmation_ask``)."""
    case_id = (Case.objects.filter(subject=subject_of(person_id, None), status=CaseStatus.OPEN)
               .values_list("pk", flat=True).first())
    return case_id is not None and confirmation_ask(case_id=case_id, since=at, at=at)


def confirmation_ask(*, case_id: int, since: datetime, at: datetime) -> bool:
    """Ask the customer of an open case to confirm the money held since ``since`` (in-app
    and SMS: no link, no code — they sign in, or call the bank). Asked once per held
    operation; not again after they said it was not them. True when asked now."""
    case = Case.objects.select_for_update().filter(pk=case_id, status=CaseStatus.OPEN).first()
    if case is None or case.person_id is None or case.confirmation == Confirmation.DENIED:
        return False
    held = list(_held(case.person_id).filter(created_at__gte=since)
                .select_related("debit_account__person", "payee_bank").order_by("-created_at"))
    if not held:
        return False
    newest = held[0]
    if (case.confirmation == Confirmation.ASKED and case.confirmation_asked_at is not None
            and case.confirmation_asked_at >= newest.created_at):
        return False
    case.confirmation, case.confirmation_asked_at = Confirmation.ASKED, at
    case.confirmation_answered_at = None
    case.save(update_fields=["confirmation", "confirmation_asked_at",
                             "confirmation_answered_at"])
    CaseEvent.objects.create(case=case, at=at, actor=SYSTEM, kind="asked",
                             details={"transfers": [t.pk for t in held]})
    tail, payee = newest.debit_account.number[-4:], payee_text(newest)
    amount = format_money(Money(newest.amount_fen, newest.currency))
    notify.notice_send(
        person=newest.debit_account.person, kind="risk.confirm", at=at,
        actor=f"customer:{case.person_id}", ref=f"case:{case.pk}", sms_purpose="risk.confirm",
        params={"tail": tail, "amount_fen": newest.amount_fen, "payee": payee,
                "date": _when(newest.created_at)},
        sms=f"{settings.SMS_SIGNATURE}您尾号{tail}的账户{_when(newest.created_at)}向{payee}"
            f"转账{amount}已暂停支付。请登录网上银行，在安全中心“交易确认”中确认是否本人操作，"
            f"或致电{settings.BANK_HOTLINE}。本行不会发送确认链接。")
    return True


@dataclass(frozen=True)
class Awaiting:
    """One case waiting for its customer's answer, with the money it holds."""

    case: Case
    held: list[Transfer] = field(default_factory=list)


def awaiting_confirmation(*, person_id: int) -> list[Awaiting]:
    """The customer's open cases that asked them to confirm, newest question first."""
    cases = list(Case.objects.filter(person_id=person_id, status=CaseStatus.OPEN,
                                     confirmation=Confirmation.ASKED)
                 .order_by("-confirmation_asked_at", "-pk"))
    if not cases:
        return []
    held = list(_held(person_id).select_related("debit_account", "payee_bank")
                .order_by("-created_at", "-pk"))
    return [Awaiting(case, held) for case in cases]


@transaction.atomic
def confirmation_answer(*, case_id: int, person_id: int, confirmed: bool, at: datetime,
                        ip: str | None = None, device: str = "") -> Case:
    """The customer's answer. Only their own case, only while asked. "Not me" makes the
    case critical and sends it to head office (RK-14). Either way no money moves: staff
    decide, having the answer."""
    case = Case.objects.select_for_update().filter(pk=case_id, person_id=person_id).first()
    if case is None:
        raise errors.CaseNotFound(extra={"case": case_id})
    if case.status != CaseStatus.OPEN or case.confirmation != Confirmation.ASKED:
        raise errors.NothingToConfirm(extra={"case": case_id})
    actor = f"customer:{person_id}"
    answer = Confirmation.CONFIRMED if confirmed else Confirmation.DENIED
    case.confirmation, case.confirmation_answered_at = answer, at
    case.updated_at = max(case.updated_at, at)
    fields = ["confirmation", "confirmation_answered_at", "updated_at"]
    CaseEvent.objects.create(case=case, at=at, actor=actor, kind=answer)
    if not confirmed:
        case.severity = Severity.CRITICAL
        fields.append("severity")
        if case.level == CaseLevel.BRANCH:
            case.level, case.assigned_to = CaseLevel.HEAD_OFFICE, ""
            fields += ["level", "assigned_to"]
            CaseEvent.objects.create(case=case, at=at, actor=SYSTEM, kind="escalated",
                                     text="customer: not me")
    case.save(update_fields=fields)
    audit.record(actor=actor, action=f"risk.case.{answer}", target=f"case:{case.pk}",
                 occurred_at=at, ip=ip, device=device,
                 details={"level": case.level, "severity": case.severity})
    return case


# --- the staff's queue and case file -------------------------------------------------------


def _customers(person_ids) -> dict[int, Person]:
    return Person.objects.in_bulk([p for p in set(person_ids) if p])


def who(case: Case, person: Person | None) -> str:
    """The case's subject as staff see it: the customer's masked name, or the IP."""
    if person is not None:
        return mask_name(person.name)
    return case.subject


def queue(*, desk: str, level: str = "", assigned_to: str = "", limit: int = 200) -> list[Case]:
    """Open cases for ``desk``, strongest grade first, then oldest. Head office sees every
    case (or one ``level``), its escalations first; a branch sees the branch cases. Each
    case carries ``who`` (the masked subject)."""
    cases = Case.objects.filter(status=CaseStatus.OPEN)
    if desk != CaseLevel.HEAD_OFFICE:
        cases = cases.filter(level=CaseLevel.BRANCH)
    elif level in CaseLevel.values:
        cases = cases.filter(level=level)
    if assigned_to:
        cases = cases.filter(assigned_to=assigned_to)
    # "HEAD" sorts after "BRANCH": descending puts the escalations first.
    found = list(cases.order_by("-level", "-severity", "opened_at", "pk")[:limit])
    people = _customers(c.person_id for c in found)
    for case in found:
        case.who = who(case, people.get(case.person_id))
    return found


@dataclass
class CaseFile:
    """Everything a case page shows: the case, its customer (masked), the money it holds,
    every decision with its rule codes and the features they were taken on, the history."""

    case: Case
    who: str
    phone: str
    held: list[Transfer]
    decisions: list[DecisionRow]
    events: list[CaseEvent]
    reached: bool  # a call-back reached the customer (stop-payment possible)
    # Company payments held in this case (``corporate.holds``): the subject is the operator
    # who entered them; closing the case releases or refuses them with the person's.
    company_held: list = field(default_factory=list)


def _visible(case: Case | None, desk: str, case_id: int) -> Case:
    if case is None or (desk != CaseLevel.HEAD_OFFICE and case.level != CaseLevel.BRANCH):
        raise errors.CaseNotFound(extra={"case": case_id})
    return case


def _reached(case: Case) -> bool:
    return case.events.filter(kind="callback", details__reached=True).exists()


def case_file(*, case_id: int, desk: str) -> CaseFile:
    case = _visible(Case.objects.filter(pk=case_id).first(), desk, case_id)
    person = Person.objects.filter(pk=case.person_id).first() if case.person_id else None
    held = (list(_held(case.person_id).select_related("debit_account", "payee_bank")
                 .order_by("created_at", "pk")) if case.person_id else [])
    for transfer in held:
        transfer.payee_shown = payee_text(transfer)
        transfer.payee_account_shown = mask_account(transfer.payee_account)
        transfer.debit_shown = mask_account(transfer.debit_account.number)
    decisions = list(case.decisions.order_by("at", "pk"))
    for decision in decisions:
        decision.feature_rows = sorted(decision.features.items())
    from wangyin.corporate import holds as company_holds  # corporate calls the engine

    return CaseFile(case=case, who=who(case, person),
                    phone=mask_phone(person.phone) if person else "", held=held,
                    decisions=decisions, events=list(case.events.all()), reached=_reached(case),
                    company_held=company_holds.held_in_case(case.pk))


# --- the staff's changes ----------------------------------------------------------------------


def _locked(case_id: int, desk: str, *, closed_too: bool = False) -> Case:
    case = _visible(Case.objects.select_for_update().filter(pk=case_id).first(), desk, case_id)
    if not closed_too and case.status != CaseStatus.OPEN:
        raise errors.CaseClosed(extra={"case": case_id})
    return case


def _text(value: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise errors.ReasonRequired()
    return value[:limit]


def _record(case: Case, *, by: str, kind: str, at: datetime, text: str = "",
            fields: tuple[str, ...] = (), **details) -> Case:
    """Save ``fields`` of the case, add the event and the audit row."""
    case.updated_at = max(case.updated_at, at)
    case.save(update_fields=["updated_at", *fields])
    CaseEvent.objects.create(case=case, at=at, actor=by[:64], kind=kind, text=text,
                             details=details)
    audit.record(actor=by, action=f"risk.case.{kind}", target=f"case:{case.pk}",
                 occurred_at=at, details={**details, "text": text[:200]} if text else details)
    return case


@transaction.atomic
def case_assign(*, case_id: int, to: str, by: str, desk: str, at: datetime) -> Case:
    """Give the case to a staff member (``staff:<username>``), usually oneself."""
    case = _locked(case_id, desk)
    case.assigned_to = _text(to, 64)
    return _record(case, by=by, kind="assigned", at=at, fields=("assigned_to",),
                   to=case.assigned_to)


@transaction.atomic
def case_note(*, case_id: int, text: str, by: str, desk: str, at: datetime) -> Case:
    case = _locked(case_id, desk)
    return _record(case, by=by, kind="note", at=at, text=_text(text, 1000))


@transaction.atomic
def case_callback(*, case_id: int, reached: bool, text: str, by: str, desk: str,
                  at: datetime) -> Case:
    """The call to the customer on their reserved phone number (TX-08, RK-13): reached or
    not, and what was said — e.g. that they did not make the payment and ask to stop
    payments from their accounts."""
    case = _locked(case_id, desk)
    if case.person_id is None:
        raise errors.NoCustomer(extra={"case": case_id})
    return _record(case, by=by, kind="callback", at=at, text=_text(text, 1000),
                   reached=bool(reached))


@transaction.atomic
def case_escalate(*, case_id: int, reason: str, by: str, desk: str, at: datetime) -> Case:
    """Branch to head office (RK-14): the case leaves the branch queue and heads the
    head-office queue, unassigned, with the reason in its history and the audit trail."""
    case = _locked(case_id, desk)
    if case.level != CaseLevel.BRANCH:
        raise errors.NotAtBranch(extra={"case": case_id})
    reason = _text(reason, 1000)
    case.level, case.assigned_to = CaseLevel.HEAD_OFFICE, ""
    return _record(case, by=by, kind="escalated", at=at, text=reason,
                   fields=("level", "assigned_to"), to=CaseLevel.HEAD_OFFICE)


def _stop_payment(case: Case, *, by: str, reason: str, at: datetime) -> list[str]:
    """Freeze (止付: no debits, credits still arrive) every active account of the customer:
    whoever has their credentials could pay from any of them. Returns the accounts' last
    four digits. Lifting it is a counter matter (``ledger.account_unfreeze``)."""
    tails = []
    for account in customers.accounts_of_person(person_id=case.person_id):
        if account.ledger_account.status != AccountStatus.ACTIVE:
            continue
        ledger.account_freeze(account_id=account.ledger_account_id, actor=by, at=at,
                              reason=f"risk case {case.pk}: {reason}"[:200])
        tails.append(account.number[-4:])
    if tails:
        shown = "、".join(tails)
        notify.notice_send(
            person=Person.objects.get(pk=case.person_id), kind="risk.stop_payment", at=at,
            actor=by, ref=f"case:{case.pk}", sms_purpose="risk.stop_payment",
            params={"tail": shown},
            sms=f"{settings.SMS_SIGNATURE}应您的要求，本行已于{_when(at)}对您尾号{shown}的账户"
                f"止付（暂停转出，转入不受影响）。解除请本人持身份证到网点办理。咨询请致电"
                f"{settings.BANK_HOTLINE}。")
    return tails


@transaction.atomic
def case_close(*, case_id: int, outcome: str, reason: str, by: str, desk: str,
               at: datetime) -> Case:
    """Close the case with its outcome. The customer's held money follows it: released
    pays it; rejected, stop-payment and reported decline it (the hold is lifted); dismissed
    ("no risk") is refused while money is held — release it instead. Company payments held
    in the case (``corporate.holds``) follow it the same way. Stop-payment needs a
    call-back that reached the customer (RK-13), freezes their accounts and tells them
    (TX-13). Reported marks the case for the AML desk (``wangyin.aml`` reads it)."""
    from wangyin.corporate import holds as company_holds  # both call the risk engine:
    from wangyin.payments import review  # import late

    case = _locked(case_id, desk)
    reason = _text(reason, 500)
    if outcome not in CaseOutcome.values:
        raise errors.UnknownOutcome(extra={"outcome": outcome})
    if outcome == CaseOutcome.STOP_PAYMENT:
        if case.person_id is None:
            raise errors.NoCustomer(extra={"case": case_id})
        if not _reached(case):
            raise errors.CallbackRequired(extra={"case": case_id})
    held = (list(_held(case.person_id).order_by("pk").values_list("pk", flat=True))
            if case.person_id else [])
    company_held = [i.pk for i in company_holds.held_in_case(case.pk)]
    if (held or company_held) and outcome == CaseOutcome.DISMISSED:
        raise errors.MoneyStillHeld(extra={"case": case_id, "transfers": held,
                                           "instructions": company_held})
    settle = review.held_release if outcome == CaseOutcome.RELEASED else review.held_decline
    for transfer_id in held:
        settle(transfer_id=transfer_id, staff=by, reason=f"risk case {case.pk}: {reason}",
               at=at)
    company_holds.case_settle(case_id=case.pk, release=outcome == CaseOutcome.RELEASED,
                              staff=by, reason=f"risk case {case.pk}: {reason}", at=at)
    frozen = (_stop_payment(case, by=by, reason=reason, at=at)
              if outcome == CaseOutcome.STOP_PAYMENT else [])
    case.status, case.outcome, case.outcome_reason = CaseStatus.CLOSED, outcome, reason
    case.closed_by, case.closed_at = by[:64], at
    return _record(case, by=by, kind="closed", at=at, text=reason,
                   fields=("status", "outcome", "outcome_reason", "closed_by", "closed_at"),
                   outcome=outcome, transfers=held, instructions=company_held,
                   frozen=frozen)


# --- fraud loss and compensation (RK-17) ------------------------------------------------------


DECIDED = (Compensation.BANK, Compensation.INSURANCE, Compensation.DECLINED)


@transaction.atomic
def case_loss_record(*, case_id: int, loss_fen: int, by: str, desk: str,
                     at: datetime) -> Case:
    """The customer's fraud loss (open or closed case), until compensation is decided."""
    case = _locked(case_id, desk, closed_too=True)
    if case.compensation in DECIDED:
        raise errors.CompensationDecided(extra={"case": case_id})
    if type(loss_fen) is not int or loss_fen <= 0:
        raise errors.LossInvalid(extra={"case": case_id})
    case.loss_fen, case.loss_recorded_by, case.loss_recorded_at = loss_fen, by[:64], at
    case.compensation, case.compensation_fen = Compensation.PENDING, 0
    return _record(case, by=by, kind="loss", at=at,
                   fields=("loss_fen", "loss_recorded_by", "loss_recorded_at",
                           "compensation", "compensation_fen"), loss_fen=loss_fen)


@transaction.atomic
def case_compensation_decide(*, case_id: int, decision: str, amount_fen: int, reason: str,
                             by: str, desk: str, at: datetime) -> Case:
    """The decision on a recorded loss — the bank pays, insurance is claimed, or nothing —
    taken once, by someone other than who recorded the loss (maker–checker; the database
    refuses it too), for at most the loss."""
    case = _locked(case_id, desk, closed_too=True)
    if case.compensation in DECIDED:
        raise errors.CompensationDecided(extra={"case": case_id})
    if case.compensation != Compensation.PENDING:
        raise errors.NoLossRecorded(extra={"case": case_id})
    if by[:64] == case.loss_recorded_by:
        raise errors.SameAsLossRecorder(extra={"case": case_id})
    reason = _text(reason, 500)
    amount_fen = 0 if decision == Compensation.DECLINED else amount_fen
    if (decision not in DECIDED or type(amount_fen) is not int
            or (decision != Compensation.DECLINED and not 0 < amount_fen <= case.loss_fen)):
        raise errors.CompensationInvalid(extra={"case": case_id})
    case.compensation, case.compensation_fen = decision, amount_fen
    case.compensation_reason = reason
    case.compensation_decided_by, case.compensation_decided_at = by[:64], at
    return _record(case, by=by, kind="compensation", at=at, text=reason,
                   fields=("compensation", "compensation_fen", "compensation_reason",
                           "compensation_decided_by", "compensation_decided_at"),
                   decision=decision, amount_fen=amount_fen, loss_fen=case.loss_fen)
