"""The outcome of a payment held for review (the risk hook's "review"): the money was
reserved by a hold (amount and fee), nothing posted. Staff release it — the hold is posted
to the payee, or to the clearing suspense with its message for another bank, and the fee
is charged — or decline it — the hold is lifted and nothing is paid. The risk case work
calls these; each outcome happens once (a repeat of the same outcome returns the transfer,
the other outcome is refused), is audited under the staff member with the reason, and the
customer is told (TX-09)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from wangyin.audit import services as audit
from wangyin.core.money import Money
from wangyin.ledger import services as ledger
from wangyin.payments import alerts, fees, settlement
from wangyin.payments.errors import TransferNotHeld
from wangyin.payments.models import Step, Transfer, TransferEvent, TransferKind, TransferStatus

RELEASED_TO = {TransferKind.INTERBANK: TransferStatus.PROCESSING}


def _held(transfer_id: int, step: str) -> Transfer | None:
    """The transfer locked; None when this outcome (``step``) was already recorded."""
    transfer = (Transfer.objects.select_for_update(of=("self",))
                .select_related("debit_account__person", "credit_account__person",
                                "payee_bank")
                .filter(pk=transfer_id).first())
    if transfer is None:
        raise TransferNotHeld(extra={"transfer": transfer_id})
    if transfer.status != TransferStatus.HELD:
        if transfer.events.filter(step=step).exists():
            return None
        raise TransferNotHeld(extra={"transfer": transfer_id, "status": transfer.status})
    return transfer


@transaction.atomic
def held_release(*, transfer_id: int, staff: str, reason: str, at: datetime) -> Transfer:
    """Pay a held transfer: its hold is posted to the payee's account here, or to the
    clearing suspense account with the clearing message for another bank."""
    transfer = _held(transfer_id, Step.RELEASED)
    if transfer is None:
        return Transfer.objects.get(pk=transfer_id)
    debit = transfer.debit_account
    interbank = transfer.kind == TransferKind.INTERBANK
    transfer.journal = ledger.hold_capture(
        hold_id=transfer.hold_id, idempotency_key=f"transfer:{transfer.pk}:release",
        credit_account_id=(settlement.clearing_accounts().suspense if interbank
                           else transfer.credit_account.ledger_account_id),
        actor=staff, captured_at=at, memo=transfer.memo,
        amount=Money(transfer.amount_fen, transfer.currency),  # the rest (the fee) is freed
        party=ledger.Party(transfer.payee_name, transfer.payee_account,
                           transfer.payee_bank.code) if interbank else None,
        payee_masked=transfer.kind == TransferKind.MOBILE)
    if transfer.fee_fen:
        transfer.fee_journal = fees.charge(
            account_id=debit.ledger_account_id, fee_fen=transfer.fee_fen,
            key=f"transfer:{transfer.pk}:release:fee", actor=staff, at=at)
    transfer.status = RELEASED_TO.get(transfer.kind, TransferStatus.RELEASED)
    transfer.save(update_fields=["journal", "fee_journal", "status"])
    TransferEvent.objects.create(transfer=transfer, step=Step.RELEASED, at=at)
    if interbank:
        TransferEvent.objects.create(transfer=transfer, step=Step.SUBMITTED, at=at,
                                     detail=transfer.channel)
        settlement.queue_payment(transfer, debit, at)
    audit.record(actor=staff, action="payments.held.released", target=f"transfer:{transfer.pk}",
                 occurred_at=at, details={"reason": reason[:200],
                                          "amount_fen": transfer.amount_fen})
    alerts.debited(transfer, actor=staff, at=at, reviewed=True)
    alerts.credited(transfer, actor=staff, at=at)
    return transfer


@transaction.atomic
def held_decline(*, transfer_id: int, staff: str, reason: str, at: datetime) -> Transfer:
    """Do not pay a held transfer: the hold is lifted, the money is available again."""
    transfer = _held(transfer_id, Step.DECLINED)
    if transfer is None:
        return Transfer.objects.get(pk=transfer_id)
    ledger.hold_release(hold_id=transfer.hold_id, actor=staff, released_at=at)
    transfer.status = TransferStatus.REJECTED
    transfer.save(update_fields=["status"])
    TransferEvent.objects.create(transfer=transfer, step=Step.DECLINED, at=at)
    audit.record(actor=staff, action="payments.held.declined", target=f"transfer:{transfer.pk}",
                 occurred_at=at, details={"reason": reason[:200],
                                          "amount_fen": transfer.amount_fen})
    alerts.declined(transfer, actor=staff, at=at)
    return transfer
