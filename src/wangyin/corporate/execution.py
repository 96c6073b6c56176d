"""Paying authorised corporate instructions (FC-02, TX-06, TX-09): once, only as signed.

``instruction_execute(instruction_id, now)`` runs in one transaction with the instruction
row locked: an instruction already EXECUTED or FAILED (or not authorised) is left as it
is; otherwise ``approvals.verify_for_execution`` must pass (what is paid is what every
approver signed — TX-06), the risk engine evaluates the payment again (segment
``corporate``, ref ``corporate:<id>``, the entering operator as the person, as at entry),
and ``payments.company_transfer_execute`` pays it under the key ``corporate:<id>`` (the
company's transfers are unique by key, the ledger's journals by theirs). The instruction
becomes EXECUTED with its transfer linked in the same transaction as the money moves, so a
crash leaves either both or neither; a retry of either kind (the job again, the sweep)
finds it EXECUTED, or pays it once.

What refuses it — altered or no longer fully approved (TX-06), a risk block, not enough
money, an account that cannot pay or a payee that no longer resolves — ends it FAILED with
the reason (in the bank's words), nothing posted and any reserved money released; the
refusal is audited (a TX-06 refusal as a FAILURE for staff to follow up). A risk *review*
holds it for the risk desk instead (``corporate.holds``: HELD in the decision's case;
released, it is paid here as signed without asking the engine again).

Jobs (``corporate.tasks``): ``corporate.execute_instruction`` is deferred in the
transaction of the last authorisation (``approvals._approval_record``), so it exists iff
the instruction became AUTHORISED; ``corporate.execute_authorised`` sweeps every few
minutes for AUTHORISED instructions left behind (a lost job, a worker that died)."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import translation

from wangyin.core.errors import DomainError
from wangyin.corporate import approvals, holds
from wangyin.corporate.errors import (
    AccountNotLinked,
    InstructionAltered,
    InstructionNotAuthorised,
    ServiceNotFound,
)
from wangyin.corporate.models import (
    Instruction,
    InstructionKind,
    InstructionStatus,
    ServiceAccount,
    ServiceStatus,
)
from wangyin.ledger import services as ledger
from wangyin.payments import payees
from wangyin.payments import services as payments
from wangyin.payments.errors import PaymentBlocked
from wangyin.risk import services as risk

log = structlog.get_logger(__name__)

SYSTEM = approvals.SYSTEM  # "system:corporate": the actor of execution


def payment_key(instruction: Instruction) -> str:
    """The idempotency key of the instruction's payment (unique per company)."""
    return f"corporate:{instruction.pk}"


def _reason(exc: DomainError) -> str:
    """The refusal in the bank's words (the default language), as the history shows it."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(exc.message)[:approvals.REASON_MAX]


# The risk decision is saved with the outcome: the instruction row is updated once per
# execution. A second update in one transaction would make PostgreSQL check every foreign
# key of the row at commit (KEY SHARE on the service and operator rows), which the
# counter's cancellation holds FOR UPDATE while it waits for this row: a deadlock.
RISK_FIELDS = ("risk_action", "risk_reasons")


def _fail(instruction: Instruction, exc: DomainError, *, at: datetime,
          action: str = "failed") -> Instruction:
    """End the instruction unpaid: reserved money released, history, audit."""
    reason = _reason(exc)
    if instruction.hold_id is not None:
        ledger.hold_release(hold_id=instruction.hold_id, actor=SYSTEM, released_at=at)
    instruction.status = InstructionStatus.FAILED
    instruction.ended_at, instruction.ended_by, instruction.end_reason = at, SYSTEM, reason
    instruction.save(update_fields=["status", "ended_at", "ended_by", "end_reason",
                                    *RISK_FIELDS])
    # The history says failed or blocked (the reason says why); the audit names a TX-06
    # refusal as such for staff.
    approvals._event(instruction, actor=SYSTEM, action="failed" if action == "refused"
                     else action, at=at, reason=reason)
    approvals._audit(instruction, actor=SYSTEM, action=action, at=at, result="FAILURE",
                     code=exc.code, reason=reason, extra=exc.extra,
                     hold_released=instruction.hold_id)
    return instruction


def _risk_event(instruction: Instruction, kind: str, at: datetime) -> risk.Event:
    """As at entry: the entering operator is the person the engine knows (no device or
    address: the bank's worker pays)."""
    person = instruction.entered_by.person
    return risk.Event(kind=payments.OPERATION[kind], person_id=person.pk, channel="web",
                      device="", ip=None, at=at, amount_fen=instruction.amount_fen,
                      counterparty=instruction.payee_account,
                      id_number_index=person.id_number_index, phone_index=person.phone_index,
                      segment=approvals.SEGMENT, ref=f"corporate:{instruction.pk}")


def _kind(instruction: Instruction) -> str:
    """The kind of payment, as the payee resolves for the company now (a payee error is
    the payment's refusal)."""
    return payees.resolve(company_id=instruction.service.company_id,
                          account=instruction.payee_account, name=instruction.payee_name,
                          bank_code=instruction.payee_bank.code
                          if instruction.payee_bank_id else "").kind


def _locked(instruction_id: int) -> Instruction | None:
    return (Instruction.objects.select_for_update(of=("self",))
            .select_related("service", "debit_account", "payee_bank", "entered_by__person")
            .filter(pk=instruction_id).first())


def _usable(instruction: Instruction) -> None:
    """The service is still in use and the debit account still linked to it (a payment
    authorised before the counter cancelled the service or unlinked the account is not
    paid)."""
    if instruction.service.status != ServiceStatus.ACTIVE:
        raise ServiceNotFound(extra={"service": instruction.service_id})
    if not ServiceAccount.objects.filter(service_id=instruction.service_id,
                                         account_id=instruction.debit_account_id,
                                         unlinked_at__isnull=True).exists():
        raise AccountNotLinked(extra={"account": instruction.debit_account_id})


def _order(instruction: Instruction, event: risk.Event,
           decision: risk.Decision) -> payments.CompanyOrder:
    return payments.CompanyOrder(
        company_id=instruction.service.company_id,
        debit_account_id=instruction.debit_account_id,
        payee_account=instruction.payee_account, payee_name=instruction.payee_name,
        payee_bank=instruction.payee_bank.code if instruction.payee_bank_id else "",
        amount_fen=instruction.amount_fen, purpose=instruction.purpose,
        idempotency_key=payment_key(instruction), digest=instruction.digest,
        risk_event=event, risk_decision=decision, reserved_hold_id=instruction.hold_id,
        actor=SYSTEM)


def instruction_execute(instruction_id: int, now: datetime) -> Instruction | None:
    """Pay an authorised instruction once (see the module). Returns the instruction
    (EXECUTED, FAILED, or untouched when it is not authorised), None when there is none.
    A batch is paid row by row (``corporate.batches``): one run here, the next asked of
    the worker while rows are left."""
    kind = (Instruction.objects.filter(pk=instruction_id).values_list("kind", flat=True)
            .first())
    if kind == InstructionKind.BATCH:
        from wangyin.corporate import batches  # batches imports this module

        return batches.batch_run(instruction_id, now)
    with transaction.atomic():
        instruction = _locked(instruction_id)
        if instruction is None or instruction.status != InstructionStatus.AUTHORISED:
            return instruction
        try:
            approvals.verify_for_execution(instruction)  # TX-06: only what was signed
        except (InstructionAltered, InstructionNotAuthorised) as exc:
            log.error("corporate.execution_refused", instruction=instruction.pk,
                      code=exc.code, extra=exc.extra)
            return _fail(instruction, exc, at=now, action="refused")
        try:
            _usable(instruction)
            kind = _kind(instruction)
        except DomainError as exc:
            return _fail(instruction, exc, at=now)
        # Evaluated outside the payment's savepoint: a decision (and its case) is kept
        # whether or not the money moves.
        event = _risk_event(instruction, kind, now)
        decision = holds.risk_decision(instruction, event)  # or the risk desk's release
        if decision.action == risk.REVIEW:  # held for the risk desk (corporate.holds)
            return holds.hold(instruction, at=now)
        if decision.action == risk.BLOCK:
            return _fail(instruction, PaymentBlocked(extra={"reasons": list(decision.reasons),
                                                            "action": decision.action}),
                         at=now, action="blocked")
        try:  # its own savepoint: a refusal posts nothing
            transfer = payments.company_transfer_execute(
                order=_order(instruction, event, decision), at=now)
        except DomainError as exc:
            return _fail(instruction, exc, at=now)
        instruction.status, instruction.transfer = InstructionStatus.EXECUTED, transfer
        instruction.ended_at, instruction.ended_by = now, SYSTEM
        instruction.save(update_fields=["status", "transfer", "ended_at", "ended_by",
                                        *RISK_FIELDS])
        approvals._event(instruction, actor=SYSTEM, action="executed", at=now)
        approvals._audit(instruction, actor=SYSTEM, action="executed", at=now,
                         transfer=transfer.pk, transfer_status=transfer.status,
                         fee_fen=transfer.fee_fen, replayed=transfer.replayed,
                         digest=instruction.digest)
    return instruction


def execute_authorised(now: datetime, *, limit: int = 500) -> int:
    """The sweep: authorised instructions whose job did not pay them (lost, or its worker
    died) are paid now, each in its own transaction; one an execution holds right now is
    left to it. Returns how many it handled."""
    due = list(Instruction.objects.filter(status=InstructionStatus.AUTHORISED)
               .order_by("pk").values_list("pk", "kind")[:limit])
    done = 0
    for pk, kind in due:
        if kind == InstructionKind.BATCH:  # its rows each in their own transaction
            try:
                instruction_execute(pk, now)
                done += 1
            except Exception:  # noqa: BLE001 - one bad batch must not stop the others
                log.exception("corporate.execute_failed", instruction=pk)
            continue
        try:
            with transaction.atomic():
                busy = (Instruction.objects.select_for_update(skip_locked=True)
                        .filter(pk=pk, status=InstructionStatus.AUTHORISED).first()) is None
                if not busy:
                    instruction_execute(pk, now)
                    done += 1
        except Exception:  # noqa: BLE001 - one bad row must not stop the others
            log.exception("corporate.execute_failed", instruction=pk)
    return done


def defer_execution(instruction: Instruction) -> None:
    """Ask the worker to pay the instruction, in the caller's transaction (the job exists
    iff the authorisation commits)."""
    from wangyin.corporate.tasks import execute_instruction

    execute_instruction.defer(instruction_id=instruction.pk)
