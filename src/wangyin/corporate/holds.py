"""Corporate payments held for the risk desk's review (RK-02, RK-18, FC-02).

When the risk engine says *review* as an authorised instruction is about to be paid
(``corporate.execution``), the instruction is not failed: it becomes HELD, nothing is
posted, money reserved on entry stays reserved, and it waits in the **risk case its
decision was filed in** — the case of the entering operator, the person the engine knows
(``risk.cases``: cases are per person; the company has no profile of its own). The
company's contact and the entering operator are told by SMS.

The risk desk works it as it works a customer's held transfer: closing the case decides
the case's held money, the company's held payments included — *released* releases them
(``held_release``: back to AUTHORISED, marked released by the staff member, and the
worker pays it as signed: TX-06's checks run again, the engine is not asked again — the
desk's release is the review's answer), *rejected*, *stop-payment* and *reported* refuse
them (``held_refuse``: REJECTED with the reason, reserved money released, the contact and
the enterer told), and *dismissed* is refused while one is held. Each outcome happens
once; a repeat of the same outcome changes nothing, the other is refused.

Cases and instructions are locked in the order case → instruction by the desk, and an
execution locks the instruction and then files its decision in the case only while the
instruction is AUTHORISED (a case's held instructions are HELD), so the two never wait on
each other in a circle."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from wangyin.core.masking import mask_account, mask_name
from wangyin.core.money import Money, format_money
from wangyin.corporate import approvals
from wangyin.corporate.errors import InstructionNotFound, InstructionStateRefused
from wangyin.corporate.models import Instruction, InstructionKind, InstructionStatus
from wangyin.ledger import services as ledger
from wangyin.notify import services as notify
from wangyin.risk import services as risk
from wangyin.risk.models import Decision as DecisionRow

HELD_BY = approvals.RISK  # "system:risk": the actor of the hold
RELEASED = "review_released"  # the reason the paid transfer's decision carries
# What the company's operators read in the history (the staff's own reason is audited).
HELD_TEXT = gettext_lazy("Held for the bank's risk review; the bank will release or refuse it")
RELEASED_TEXT = gettext_lazy("Released after the bank's risk review; it will be paid")
REFUSED_TEXT = gettext_lazy("Not paid after the bank's risk review")


def _bank_words(text) -> str:
    """In the bank's default language, as the history stores every reason."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)[: approvals.REASON_MAX]


def _when(at: datetime) -> str:
    return timezone.localtime(at).strftime("%m月%d日%H:%M")


def _words(instruction: Instruction) -> str:
    amount = format_money(Money(instruction.amount_fen, instruction.currency))
    tail = instruction.debit_account.number[-4:]
    if instruction.kind == InstructionKind.BATCH:
        return f"贵单位尾号{tail}的账户批量付款{amount}（指令号{instruction.pk}）"
    return (f"贵单位尾号{tail}的账户向{mask_name(instruction.payee_name)}付款{amount}"
            f"（指令号{instruction.pk}）")


def tell(instruction: Instruction, text: str, *, purpose: str, actor: str, at: datetime) -> None:
    """The company's contact (no message centre: by SMS, as the counter's notices) and the
    operator who entered it, once when they share a number."""
    body = f"{settings.SMS_SIGNATURE}{text}"
    contact = instruction.service.company.contact_phone
    phones = [contact] if contact else []
    enterer = instruction.entered_by.person.phone
    if enterer and enterer not in phones:
        phones.append(enterer)
    for phone in phones:
        notify.sms_send(phone=phone, body=body, purpose=purpose, actor=actor, at=at)


# --- at execution (called by corporate.execution with the instruction locked) -------------


def risk_decision(instruction: Instruction, event: risk.Event) -> risk.Decision:
    """The decision execution goes by: the engine's now (set on the instruction, saved
    with its outcome), or — the risk desk released it after a review — the release (the
    engine is not asked again: its answer would be the review the desk has just given)."""
    if instruction.review_released_at is not None:
        return risk.Decision(risk.ALLOW, 0, (RELEASED, *instruction.risk_reasons))
    decision = risk.evaluate(event)
    instruction.risk_action = decision.action
    instruction.risk_reasons = list(decision.reasons)
    return decision


def hold(instruction: Instruction, *, at: datetime) -> Instruction:
    """Hold the instruction (locked, AUTHORISED, the engine just said review) in the case
    its decision was filed in; nothing is posted, reserved money stays reserved."""
    from wangyin.corporate import execution  # execution imports this module

    case_id = (
        DecisionRow.objects.filter(ref=f"corporate:{instruction.pk}", case__isnull=False)
        .order_by("-pk")
        .values_list("case_id", flat=True)
        .first()
    )
    instruction.status, instruction.held_case_id = InstructionStatus.HELD, case_id
    instruction.save(update_fields=["status", "held_case", *execution.RISK_FIELDS])
    approvals._event(
        instruction, actor=HELD_BY, action="held", at=at, reason=_bank_words(HELD_TEXT)
    )
    approvals._audit(
        instruction,
        actor=HELD_BY,
        action="held",
        at=at,
        case=case_id,
        reasons=instruction.risk_reasons,
    )
    tell(
        instruction,
        f"{_words(instruction)}已于{_when(at)}暂停支付，等待本行风险审核，"
        f"审核后通知您。如有疑问请致电{settings.BANK_HOTLINE}。",
        purpose="corporate.held",
        actor=HELD_BY,
        at=at,
    )
    return instruction


# --- the risk desk (through risk.cases) ------------------------------------------------------


def held_in_case(case_id: int) -> list[Instruction]:
    """The company payments a case holds, oldest first, with what the case page shows."""
    rows = list(
        Instruction.objects.filter(held_case_id=case_id, status=InstructionStatus.HELD)
        .select_related("service__company", "debit_account", "entered_by")
        .order_by("pk")
    )
    for row in rows:
        row.company_shown = row.service.company.name
        row.debit_shown = mask_account(row.debit_account.number)
        row.payee_shown = mask_name(row.payee_name)
        row.payee_account_shown = mask_account(row.payee_account)
        row.entered_by_shown = row.entered_by.code
    return rows


def _locked(instruction_id: int) -> Instruction:
    instruction = (
        Instruction.objects.select_for_update(of=("self",))
        .select_related("service__company", "debit_account", "entered_by__person")
        .filter(pk=instruction_id)
        .first()
    )
    if instruction is None:
        raise InstructionNotFound(extra={"instruction": instruction_id})
    return instruction


@transaction.atomic
def held_release(*, instruction_id: int, staff: str, reason: str, at: datetime) -> Instruction:
    """The risk desk lets the held payment go: AUTHORISED again, marked released, and the
    worker pays it (its job written in this transaction; the sweep would find it too)."""
    instruction = _locked(instruction_id)
    if instruction.status != InstructionStatus.HELD:
        if instruction.review_released_at is not None:
            return instruction  # released already
        raise InstructionStateRefused(
            extra={"instruction": instruction_id, "status": instruction.status}
        )
    instruction.status = InstructionStatus.AUTHORISED
    instruction.review_released_at, instruction.review_released_by = at, staff[:64]
    instruction.save(update_fields=["status", "review_released_at", "review_released_by"])
    approvals._event(
        instruction, actor=staff, action="released", at=at, reason=_bank_words(RELEASED_TEXT)
    )
    approvals._audit(
        instruction,
        actor=staff,
        action="released",
        at=at,
        case=instruction.held_case_id,
        reason=reason[: approvals.REASON_MAX],
    )
    from wangyin.corporate import execution  # execution imports this module

    execution.defer_execution(instruction)
    return instruction


@transaction.atomic
def held_refuse(*, instruction_id: int, staff: str, reason: str, at: datetime) -> Instruction:
    """The risk desk does not let it go: REJECTED with the reason, reserved money
    released, the contact and the enterer told."""
    instruction = _locked(instruction_id)
    if instruction.status != InstructionStatus.HELD:
        if (
            instruction.status == InstructionStatus.REJECTED
            and instruction.events.filter(action="declined").exists()
        ):
            return instruction  # refused already
        raise InstructionStateRefused(
            extra={"instruction": instruction_id, "status": instruction.status}
        )
    if instruction.hold_id is not None:
        ledger.hold_release(hold_id=instruction.hold_id, actor=staff, released_at=at)
    instruction.status = InstructionStatus.REJECTED
    instruction.ended_at, instruction.ended_by = at, staff[:40]
    instruction.end_reason = _bank_words(REFUSED_TEXT)
    instruction.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
    approvals._event(
        instruction, actor=staff, action="declined", at=at, reason=instruction.end_reason
    )
    approvals._audit(
        instruction,
        actor=staff,
        action="declined",
        at=at,
        case=instruction.held_case_id,
        reason=reason[: approvals.REASON_MAX],
        hold_released=instruction.hold_id,
    )
    tell(
        instruction,
        f"经本行风险审核，{_words(instruction)}未予支付"
        f"{'，预留资金已解冻' if instruction.hold_id else ''}。"
        f"如有疑问请致电{settings.BANK_HOTLINE}。",
        purpose="corporate.declined",
        actor=staff,
        at=at,
    )
    return instruction


def case_settle(*, case_id: int, release: bool, staff: str, reason: str, at: datetime) -> list[int]:
    """Closing a case (``risk.cases.case_close``, the case locked): release or refuse
    every company payment it holds. Returns their ids."""
    ids = list(
        Instruction.objects.filter(held_case_id=case_id, status=InstructionStatus.HELD)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    settle = held_release if release else held_refuse
    for instruction_id in ids:
        settle(instruction_id=instruction_id, staff=staff, reason=reason, at=at)
    return ids
