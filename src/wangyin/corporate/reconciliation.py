"""Bank–enterprise reconciliation (银企对账, FC-07): monthly balance statements, the
company's signed answers, reminders, and the bank staff's follow-up of disagreements.

**Issuing.** ``statements_issue(period, at)`` issues, once the month is over, a
``BalanceStatement`` for every account linked to every active *standard-edition* service
when it is issued, if the account existed in that month (opened before it ended, or with
movements by then): the balance at the end of the month, Beijing time, with
the month's opening balance, credits, debits and number of movements — the ledger's
``statement_summary`` of the month, so the figures are those of the statement the company
downloads. Idempotent (one statement per account and month, a database constraint): the
daily job ``corporate.issue_statements`` issues last month's and catches up on any it
missed. The company answers by ``due_on``: ``DUE_WORKING_DAYS`` working days after the day
of issue (the business calendar). The query edition has one operator, the administrator,
who holds no role: it has nobody who may answer, so its companies reconcile at the counter
and get no online statement.

**Answering.** An operator who holds the **authorising** role, with the account in their
scope, answers: the balances agree, or they do not — then with the balance in the
company's books and the items that explain the difference (未达账项: received or paid by
the bank and not yet in the company's books, or the other way round; or another
difference). Authorising because the answer commits the company as a payment does: it
tells the bank (and its auditors) that the company's books and the bank's agree. Never the
administrator (who holds no role), never an entering or checking operator. The answer is
signed like an approval: ``answer_challenge`` opens the challenge the operator's USB-Key
for this company signs, its digest the SHA-256 of the canonical answer (statement,
service, account, month, the bank's balance, the answer, the company's balance and every
difference) and its text the answer in words; ``answer_verify`` checks the signature and
``answer`` spends it against the canonical answer recomputed from what is stored, records
the answer with the kept ``authn.Signature`` and audits it. Late answers are accepted.

**Reminders.** ``reminders_send(at)`` (daily job): statements still unanswered
``REMIND_AFTER_DAYS`` days after issue get one SMS per service to the company's contact
number, again at most every ``REMIND_EVERY_DAYS`` days and at most ``REMINDERS_MAX`` times;
answering stops them. The corporate home page shows the unanswered statements to the
operators who see the account.

**Staff.** Back-office tellers see disagreements and overdue statements
(``staff_queue``), add follow-up notes (``note_add``) and resolve a disagreement
(``resolve``: the company's contact is told); each audited."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.authn import services as authn
from wangyin.authn.models import AuthChallenge, Factor
from wangyin.core.calendar import add_working_days
from wangyin.core.money import Money, format_money
from wangyin.core.money_words import amount_in_words
from wangyin.corporate import approvals, signin
from wangyin.corporate.errors import (
    ApprovalKeyRefused,
    CompanyBalanceRequired,
    DifferenceInvalid,
    DifferencesOnAgreement,
    DifferencesRequired,
    NoteRequired,
    ReconcileRoleRequired,
    StatementAnswered,
    StatementNotDisputed,
    StatementNotFound,
)
from wangyin.corporate.models import (
    Edition,
    Operator,
    Role,
    ServiceAccount,
    ServiceStatus,
)
from wangyin.corporate.models.reconciliation import (
    BalanceStatement,
    DifferenceKind,
    NoteAction,
    StatementDifference,
    StatementNote,
    StatementStatus,
)
from wangyin.ledger import selectors as ledger_selectors
from wangyin.notify import services as notify

log = structlog.get_logger(__name__)

PURPOSE = "corporate.reconcile"  # the challenge purpose of an answer
SYSTEM = "system:corporate"
DUE_WORKING_DAYS = 10  # settings.CORPORATE_RECONCILIATION_DUE_WORKING_DAYS when not set
REMIND_AFTER_DAYS = 5  # first reminder this many days after issue
REMIND_EVERY_DAYS = 5  # then at most this often
REMINDERS_MAX = 3
MAX_DIFFERENCES = 20
DESCRIPTION_MAX = 100
NOTE_MAX = 500
MAX_FEN = 10**15  # far above any balance; keeps typed amounts sane

KIND_WORDS = {
    DifferenceKind.BANK_IN: "银行已收企业未收",
    DifferenceKind.BANK_OUT: "银行已付企业未付",
    DifferenceKind.COMPANY_IN: "企业已收银行未收",
    DifferenceKind.COMPANY_OUT: "企业已付银行未付",
    DifferenceKind.OTHER: "其他差异",
}


def _yuan(fen: int) -> str:
    return format_money(Money(fen))


# --- months ---------------------------------------------------------------------------------


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_bounds(period: date) -> tuple[datetime, datetime]:
    """The month as a half-open range of moments, Beijing time: [its first midnight, the
    next month's first midnight)."""
    period = month_of(period)
    following = (period + timedelta(days=32)).replace(day=1)
    return (
        timezone.make_aware(datetime.combine(period, time.min)),
        timezone.make_aware(datetime.combine(following, time.min)),
    )


def previous_month(at: datetime) -> date:
    """The month before the Beijing date of ``at``."""
    return month_of(month_of(timezone.localdate(at)) - timedelta(days=1))


def due_on(at: datetime) -> date:
    days = getattr(settings, "CORPORATE_RECONCILIATION_DUE_WORKING_DAYS", DUE_WORKING_DAYS)
    return add_working_days(timezone.localdate(at), days)


def is_overdue(statement: BalanceStatement, at: datetime) -> bool:
    return statement.status == StatementStatus.ISSUED and timezone.localdate(at) > statement.due_on


def period_words(period: date) -> str:
    return f"{period.year}年{period.month}月"


# --- issuing ----------------------------------------------------------------------------


def _links() -> QuerySet[ServiceAccount]:
    return (
        ServiceAccount.objects.filter(
            service__status=ServiceStatus.ACTIVE,
            service__edition=Edition.STANDARD,
            unlinked_at__isnull=True,
        )
        .select_related("account", "service")
        .order_by("service_id", "account_id")
    )


def statements_issue(period: date, at: datetime) -> int:
    """Issue the month's statement of every account linked to an active standard-edition
    service that existed in the month, unless it has one. Returns how many were issued.
    Refuses (ValueError) a month that is not over at ``at``."""
    period = month_of(period)
    start, end = month_bounds(period)
    if end > at:
        raise ValueError(f"the month {period:%Y-%m} is not over at {at.isoformat()}")
    links = list(_links())
    issued_already = set(
        BalanceStatement.objects.filter(
            period=period, account_id__in=[link.account_id for link in links]
        ).values_list("account_id", flat=True)
    )
    filters = ledger_selectors.StatementFilters(since=start, until=end)
    issued = 0
    for link in links:
        if link.account_id in issued_already:
            continue
        summary = ledger_selectors.statement_summary(
            account_id=link.account.ledger_account_id, filters=filters
        )
        if link.account.opened_at >= end and not (summary.count or summary.closing.fen):
            continue  # the account did not exist yet in that month
        try:
            with transaction.atomic():
                statement = BalanceStatement.objects.create(
                    service=link.service,
                    account=link.account,
                    period=period,
                    currency=summary.closing.currency,
                    opening_fen=summary.opening.fen,
                    closing_fen=summary.closing.fen,
                    money_in_fen=summary.money_in.fen,
                    money_out_fen=summary.money_out.fen,
                    postings=summary.count,
                    issued_at=at,
                    due_on=due_on(at),
                )
                audit.record(
                    actor=SYSTEM,
                    action="corporate.statement.issued",
                    target=str(statement),
                    occurred_at=at,
                    details={
                        "service": link.service_id,
                        "account": link.account_id,
                        "period": f"{period:%Y-%m}",
                        "closing_fen": statement.closing_fen,
                        "due_on": statement.due_on.isoformat(),
                    },
                )
        except IntegrityError:  # another run issued it at the same time
            continue
        issued_already.add(link.account_id)
        issued += 1
    if issued:
        log.info("corporate.statements_issued", period=f"{period:%Y-%m}", issued=issued)
    return issued


# --- what an operator sees ---------------------------------------------------------------


def statements_for(operator: Operator) -> QuerySet[BalanceStatement]:
    """The statements of the accounts the operator sees (SE-09), newest month first."""
    accounts = [a.pk for a in signin.operator_accounts(operator)]
    return (
        BalanceStatement.objects.filter(service_id=operator.service_id, account_id__in=accounts)
        .select_related("account", "answered_by__person")
        .order_by("-period", "account_id")
    )


def unanswered_for(operator: Operator) -> list[BalanceStatement]:
    """What the home page tells the operator about: statements still awaiting an answer."""
    return list(statements_for(operator).filter(status=StatementStatus.ISSUED))


def statement_of(operator: Operator, statement_id: int) -> BalanceStatement:
    """One statement the operator sees; any other (another company's, an account outside
    their scope) looks missing."""
    statement = statements_for(operator).filter(pk=statement_id).first()
    if statement is None:
        raise StatementNotFound(extra={"statement": statement_id})
    return statement


def may_answer(operator: Operator) -> bool:
    return not operator.is_admin and Role.AUTHORISE in operator.roles


# --- the answer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DifferenceSpec:
    """One item the company reports: its kind (``DifferenceKind``), the date it was booked
    on the side that has it, the amount in fen (positive) and what it is."""

    kind: str
    day: date
    amount_fen: int
    description: str


@dataclass(frozen=True)
class Answer:
    agree: bool
    company_balance_fen: int | None = None
    differences: tuple[DifferenceSpec, ...] = field(default_factory=tuple)


def answer_clean(answer: Answer) -> Answer:
    """The answer in canonical form (descriptions' spaces normalised), or the error that
    says what is wrong with it."""
    if answer.agree:
        if answer.differences:
            raise DifferencesOnAgreement()
        return Answer(agree=True)
    balance = answer.company_balance_fen
    if type(balance) is not int or abs(balance) > MAX_FEN:
        raise CompanyBalanceRequired()
    if not answer.differences or len(answer.differences) > MAX_DIFFERENCES:
        raise DifferencesRequired()
    lines = []
    for item in answer.differences:
        text = " ".join((item.description or "").split())
        if (
            item.kind not in DifferenceKind.values
            or not isinstance(item.day, date)
            or type(item.amount_fen) is not int
            or not 0 < item.amount_fen <= MAX_FEN
            or not text
            or len(text) > DESCRIPTION_MAX
        ):
            raise DifferenceInvalid(extra={"difference": repr(item)})
        lines.append(
            DifferenceSpec(
                kind=item.kind, day=item.day, amount_fen=item.amount_fen, description=text
            )
        )
    return Answer(agree=False, company_balance_fen=balance, differences=tuple(lines))


def unexplained_fen(statement: BalanceStatement, answer: Answer) -> int:
    """What the reported items leave unexplained (0: they explain the whole difference):
    the bank's balance adjusted by the items only the company has booked, minus the
    company's balance adjusted by the items only the bank has booked. Shown, not enforced:
    a company may report a difference it cannot explain."""
    if answer.agree:
        return 0
    total = defaultdict(int)
    for item in answer.differences:
        total[item.kind] += item.amount_fen
    bank = (
        statement.closing_fen + total[DifferenceKind.COMPANY_IN] - total[DifferenceKind.COMPANY_OUT]
    )
    company = (
        answer.company_balance_fen + total[DifferenceKind.BANK_IN] - total[DifferenceKind.BANK_OUT]
    )
    return bank - company


def answer_canonical(statement: BalanceStatement, answer: Answer) -> str:
    """What the operator's USB-Key signs: the statement and the bank's figure as issued,
    and the company's answer."""
    return approvals.canonical_json(
        {
            "statement": statement.pk,
            "service": statement.service.number,
            "account": statement.account.number,
            "period": f"{statement.period:%Y-%m}",
            "currency": statement.currency,
            "bank_balance_fen": statement.closing_fen,
            "answer": "AGREE" if answer.agree else "DISAGREE",
            "company_balance_fen": answer.company_balance_fen,
            "differences": [
                {
                    "kind": d.kind,
                    "day": d.day.isoformat(),
                    "amount_fen": d.amount_fen,
                    "description": d.description,
                }
                for d in answer.differences
            ],
        }
    )


def answer_summary(statement: BalanceStatement, answer: Answer) -> str:
    """The answer in words, as the USB-Key shows it before signing."""
    bank = Money(statement.closing_fen, statement.currency)
    head = (
        f"银企对账：账户{statement.account.number}，{period_words(statement.period)}末"
        f"银行余额{format_money(bank)}（大写：人民币{amount_in_words(bank)}）"
    )
    if answer.agree:
        return f"{head}，确认余额相符"
    company = Money(answer.company_balance_fen, statement.currency)
    items = "；".join(
        f"{i}. {KIND_WORDS[d.kind]} {d.day.isoformat()} {_yuan(d.amount_fen)} {d.description}"
        for i, d in enumerate(answer.differences, 1)
    )
    return (
        f"{head}，余额不符：企业账面余额{format_money(company)}，"
        f"差异{len(answer.differences)}笔：{items}"
    )


def _answerable(
    operator: Operator, statement_id: int, *, lock: bool = False
) -> tuple[Operator, BalanceStatement]:
    operator = approvals.acting(operator)
    if not may_answer(operator):
        raise ReconcileRoleRequired(extra={"operator": operator.pk})
    statement = statement_of(operator, statement_id)
    if lock:
        statement = (
            BalanceStatement.objects.select_for_update(of=("self",))
            .select_related("service", "account")
            .get(pk=statement.pk)
        )
    if statement.status != StatementStatus.ISSUED:
        raise StatementAnswered(extra={"statement": statement.pk, "status": statement.status})
    return operator, statement


def answer_challenge(
    operator: Operator, statement_id: int, answer: Answer, at: datetime
) -> AuthChallenge:
    """Check that the operator may answer and the answer itself, and open the challenge
    their USB-Key for this company signs: bound to the canonical answer, showing it in
    words."""
    operator, statement = _answerable(operator, statement_id)
    answer = answer_clean(answer)
    return authn.challenge_issue(
        person=operator.person,
        purpose=PURPOSE,
        factors=[Factor.USBKEY],
        at=at,
        digest=approvals.sha256_hex(answer_canonical(statement, answer)),
        summary=answer_summary(statement, answer),
        company_id=operator.service.company_id,
    )


def answer_verify(
    operator: Operator,
    statement_id: int,
    answer: Answer,
    challenge_id: int,
    signature: str,
    at: datetime,
) -> AuthChallenge:
    """Check the key's signature (base64) over the challenge for exactly this answer;
    raises ``authn.ChallengeFailed`` otherwise (a wrong try is committed)."""
    operator, statement = _answerable(operator, statement_id)
    answer = answer_clean(answer)
    return authn.challenge_verify(
        challenge_id=challenge_id,
        person=operator.person,
        purpose=PURPOSE,
        digest=approvals.sha256_hex(answer_canonical(statement, answer)),
        codes={Factor.USBKEY: signature},
        at=at,
    )


def answer_submit(
    operator: Operator,
    statement_id: int,
    answer: Answer,
    challenge_id: int,
    at: datetime,
    *,
    ip: str | None = None,
    device_id: str = "",
) -> BalanceStatement:
    """Record the signed answer: the verified challenge is spent against the canonical
    answer recomputed here (a signature over another answer or statement is refused with
    ``authn.DigestMismatch``, and burnt), the kept signature must be the operator's key
    for this company; the statement becomes AGREED or DISAGREED with its differences, and
    the answer is audited."""
    refused = None
    with transaction.atomic():
        operator, statement = _answerable(operator, statement_id, lock=True)
        answer = answer_clean(answer)
        canonical = answer_canonical(statement, answer)
        digest = approvals.sha256_hex(canonical)
        spent = approvals._spend(
            challenge_id=challenge_id, person=operator.person, purpose=PURPOSE, digest=digest, at=at
        )
        if isinstance(spent, Exception):
            refused = spent
        else:
            try:
                signature = approvals._signature_of(spent, statement.service)
            except ApprovalKeyRefused as exc:
                refused = exc
        if refused is None:
            statement.status = StatementStatus.AGREED if answer.agree else StatementStatus.DISAGREED
            statement.answered_by, statement.answered_at = operator, at
            statement.company_balance_fen = answer.company_balance_fen
            statement.canonical, statement.digest = canonical, digest
            statement.signature = signature
            statement.save(
                update_fields=[
                    "status",
                    "answered_by",
                    "answered_at",
                    "company_balance_fen",
                    "canonical",
                    "digest",
                    "signature",
                ]
            )
            StatementDifference.objects.bulk_create(
                StatementDifference(
                    statement=statement,
                    line=n,
                    kind=d.kind,
                    day=d.day,
                    amount_fen=d.amount_fen,
                    description=d.description,
                )
                for n, d in enumerate(answer.differences, 1)
            )
            audit.record(
                actor=operator.actor,
                action="corporate.statement.answered",
                target=str(statement),
                occurred_at=at,
                ip=ip,
                device=device_id,
                details={
                    "service": statement.service_id,
                    "account": statement.account_id,
                    "period": f"{statement.period:%Y-%m}",
                    "answer": json.loads(canonical)["answer"],
                    "bank_balance_fen": statement.closing_fen,
                    "company_balance_fen": answer.company_balance_fen,
                    "differences": len(answer.differences),
                    "unexplained_fen": unexplained_fen(statement, answer),
                    "digest": digest,
                    "signature": signature.pk,
                    "challenge": spent.pk,
                },
            )
    if refused is not None:
        raise refused
    return statement


def signed_answer_holds(statement: BalanceStatement) -> bool:
    """The stored answer still gives its canonical data, which hashes to the digest the
    kept signature's challenge names, and the signature verifies."""
    if statement.signature_id is None:
        return False
    answer = Answer(
        agree=statement.status == StatementStatus.AGREED,
        company_balance_fen=statement.company_balance_fen,
        differences=tuple(
            DifferenceSpec(
                kind=d.kind, day=d.day, amount_fen=d.amount_fen, description=d.description
            )
            for d in statement.differences.order_by("line")
        ),
    )
    canonical = answer_canonical(statement, answer)
    signature = statement.signature
    return (
        canonical == statement.canonical
        and approvals.sha256_hex(canonical) == statement.digest
        and signature.challenge.digest == statement.digest
        and approvals._signature_holds(signature)
    )


# --- reminders ----------------------------------------------------------------------------


def _remindable(at: datetime) -> QuerySet[BalanceStatement]:
    return BalanceStatement.objects.filter(
        status=StatementStatus.ISSUED,
        service__status=ServiceStatus.ACTIVE,
        issued_at__lte=at - timedelta(days=REMIND_AFTER_DAYS),
        reminders_sent__lt=REMINDERS_MAX,
    ).filter(
        Q(reminded_at__isnull=True) | Q(reminded_at__lte=at - timedelta(days=REMIND_EVERY_DAYS))
    )


def reminders_send(at: datetime) -> int:
    """Remind companies of statements left unanswered: one SMS per service to the
    company's contact naming them, each statement reminded at most every
    ``REMIND_EVERY_DAYS`` days and ``REMINDERS_MAX`` times. One transaction per service;
    statements another run holds are left to it. Returns how many SMS were sent."""
    services = list(
        _remindable(at).order_by("service_id").values_list("service_id", flat=True).distinct()
    )
    sent = 0
    for service_id in services:
        try:
            with transaction.atomic():
                rows = list(
                    _remindable(at)
                    .filter(service_id=service_id)
                    .select_for_update(of=("self",), skip_locked=True)
                    .select_related("service__company", "account")
                    .order_by("period", "account_id")
                )
                if not rows:
                    continue
                service = rows[0].service
                listed = "、".join(
                    f"账户尾号{s.account.number[-4:]}{period_words(s.period)}" for s in rows[:5]
                )
                more = f"等{len(rows)}份" if len(rows) > 5 else ""
                due = min(s.due_on for s in rows)
                overdue = timezone.localdate(at) > due
                text = (
                    f"{service.company.name}：本行已出具{listed}{more}银企对账单，尚未确认。"
                    + ("已超过回复期限，" if overdue else f"请于{due.month}月{due.day}日前")
                    + "由授权操作员登录企业网上银行核对余额并确认。"
                )
                notify.sms_send(
                    phone=service.company.contact_phone,
                    purpose="corporate.reconciliation",
                    actor=SYSTEM,
                    at=at,
                    body=f"{settings.SMS_SIGNATURE}{text}",
                )
                for statement in rows:
                    statement.reminders_sent += 1
                    statement.reminded_at = at
                BalanceStatement.objects.bulk_update(rows, ["reminders_sent", "reminded_at"])
                audit.record(
                    actor=SYSTEM,
                    action="corporate.statement.reminded",
                    target=f"corporate_service:{service.pk}",
                    occurred_at=at,
                    details={"statements": [s.pk for s in rows], "overdue": overdue},
                )
                sent += 1
        except Exception:  # noqa: BLE001 - one company's failure must not stop the others
            log.exception("corporate.reminder_failed", service=service_id)
    return sent


# --- bank staff -----------------------------------------------------------------------------


def staff_queue(at: datetime, *, include_resolved: bool = False) -> QuerySet[BalanceStatement]:
    """What staff follow up: disagreements (resolved ones too if asked) and statements
    past their due day without an answer; oldest month first."""
    overdue = Q(status=StatementStatus.ISSUED, due_on__lt=timezone.localdate(at))
    wanted = [StatementStatus.DISAGREED]
    if include_resolved:
        wanted.append(StatementStatus.RESOLVED)
    return (
        BalanceStatement.objects.filter(Q(status__in=wanted) | overdue)
        .select_related("service__company", "account", "answered_by__person")
        .order_by("period", "service_id", "account_id")
    )


def statement_for_staff(statement_id: int) -> BalanceStatement:
    statement = (
        BalanceStatement.objects.select_related(
            "service__company", "account", "answered_by__person", "signature__certificate__usb_key"
        )
        .filter(pk=statement_id)
        .first()
    )
    if statement is None:
        raise StatementNotFound(extra={"statement": statement_id})
    return statement


def _text(text: str) -> str:
    text = " ".join((text or "").split())
    if not text or len(text) > NOTE_MAX:
        raise NoteRequired()
    return text


@transaction.atomic
def note_add(*, statement_id: int, staff: str, text: str, at: datetime) -> StatementNote:
    """A follow-up note on a disagreement or an unanswered statement (a call to the
    company, what it said)."""
    text = _text(text)
    statement = BalanceStatement.objects.select_for_update().filter(pk=statement_id).first()
    if statement is None:
        raise StatementNotFound(extra={"statement": statement_id})
    if statement.status not in (StatementStatus.ISSUED, StatementStatus.DISAGREED):
        raise StatementNotDisputed(extra={"statement": statement.pk})
    note = StatementNote.objects.create(statement=statement, at=at, actor=staff, text=text)
    audit.record(
        actor=staff,
        action="corporate.statement.noted",
        target=str(statement),
        occurred_at=at,
        details={"note": note.pk, "status": statement.status},
    )
    return note


@transaction.atomic
def resolve(*, statement_id: int, staff: str, text: str, at: datetime) -> BalanceStatement:
    """Close a disagreement with what was found and done; the company's contact is told."""
    text = _text(text)
    statement = (
        BalanceStatement.objects.select_for_update(of=("self",))
        .select_related("service__company", "account")
        .filter(pk=statement_id)
        .first()
    )
    if statement is None:
        raise StatementNotFound(extra={"statement": statement_id})
    if statement.status != StatementStatus.DISAGREED:
        raise StatementNotDisputed(extra={"statement": statement.pk})
    statement.status = StatementStatus.RESOLVED
    statement.resolved_at, statement.resolved_by, statement.resolution = at, staff, text
    statement.save(update_fields=["status", "resolved_at", "resolved_by", "resolution"])
    StatementNote.objects.create(
        statement=statement, at=at, actor=staff, action=NoteAction.RESOLVED, text=text
    )
    audit.record(
        actor=staff,
        action="corporate.statement.resolved",
        target=str(statement),
        occurred_at=at,
        details={"resolution": text},
    )
    company = statement.service.company
    notify.sms_send(
        phone=company.contact_phone,
        purpose="corporate.reconciliation",
        actor=staff,
        at=at,
        body=f"{settings.SMS_SIGNATURE}{company.name}：账户尾号"
        f"{statement.account.number[-4:]}{period_words(statement.period)}"
        "银企对账差异已由本行核实处理，详情请登录企业网上银行查看。",
    )
    return statement
