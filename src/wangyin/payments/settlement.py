"""The bank's side of interbank clearing: the outbox of messages, what the clearing
system's answers do to the money, credits from other banks, and the reconciliation job.

Money path of a payment to another bank (all GL accounts debit-normal, no overdraft
limit — they are the bank's own books):

- submitted (``services._move``): customer → clearing suspense, with the message row;
- settled: suspense → central-bank reserve (the money has left the bank);
- rejected before settlement: suspense → customer (reversal);
- returned after settlement: reserve → customer (reversal; the money came back);
- a fee (``payments.fees``) is its own journal to fee income, given back with the money.

A credit from another bank: reserve → customer, or — unknown, closed or under another
name — no posting and a return message to the sender.

Every event is applied once: messages are locked and move only forward
(QUEUED → SENT → SETTLED → RETURNED, or → REJECTED), journals carry keys derived from the
message id, incoming credits are unique by the sender's message id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from wangyin.audit import services as audit
from wangyin.core.masking import mask_account
from wangyin.core.money import Money
from wangyin.customers import selectors as customers
from wangyin.ledger import services as ledger
from wangyin.ledger.models import Account, AccountStatus, JournalType, NormalSide
from wangyin.payments import alerts, clearing, fees
from wangyin.payments.clearing import ClearingUnavailable, Event, Message
from wangyin.payments.models import (
    ClearingMessage,
    IncomingPayment,
    IncomingStatus,
    MessageKind,
    MessageStatus,
    Step,
    Transfer,
    TransferEvent,
    TransferStatus,
)
from wangyin.risk import services as risk

logger = logging.getLogger(__name__)
ACTOR = "system:clearing"
OPEN = (MessageStatus.QUEUED, MessageStatus.SENT)


# --- the bank's clearing accounts ---------------------------------------------------------


@dataclass(frozen=True)
class ClearingAccounts:
    suspense: int
    reserve: int


def clearing_accounts() -> ClearingAccounts:
    """The ledger ids of the clearing suspense and central-bank reserve accounts (numbers
    from settings), opened on first use."""
    found = ledger.gl_accounts(
        {settings.CLEARING_SUSPENSE_ACCOUNT: ("清算往来 Interbank clearing suspense",
                                              NormalSide.DEBIT),
         settings.CLEARING_RESERVE_ACCOUNT: ("存放中央银行款项 Deposits with the central bank",
                                             NormalSide.DEBIT)}, actor=ACTOR)
    return ClearingAccounts(suspense=found[settings.CLEARING_SUSPENSE_ACCOUNT],
                            reserve=found[settings.CLEARING_RESERVE_ACCOUNT])


# --- outgoing messages --------------------------------------------------------------------


def _defer_send(message: ClearingMessage) -> None:
    from wangyin.payments.tasks import send_message

    send_message.defer(message_id=message.pk)


def queue_payment(transfer: Transfer, debit, at: datetime) -> ClearingMessage:
    """Write the payment's message in the caller's transaction and ask the worker to send
    it: the money and its message commit together or not at all."""
    holder = debit.person.name if debit.person_id else debit.company.name
    message = Message(
        msg_id=clearing.new_msg_id(at), kind=MessageKind.PAYMENT, channel=transfer.channel,
        amount_fen=transfer.amount_fen, payer_name=holder, payer_account=debit.number,
        payer_bank=settings.BANK_CNAPS_CODE, payee_name=transfer.payee_name,
        payee_account=transfer.payee_account, payee_bank=transfer.payee_bank.code,
        memo=transfer.memo)
    row = ClearingMessage.objects.create(msg_id=message.msg_id, kind=message.kind,
                                         channel=message.channel, transfer=transfer,
                                         payload=message.as_dict(), created_at=at)
    _defer_send(row)
    return row


def clearing_send(*, message_id: int, now: datetime) -> ClearingMessage | None:
    """Hand a queued message to the clearing system (outside any transaction: never hold
    locks while waiting for another system). Sending twice is harmless — the clearing
    system de-duplicates by message id. Raises ``ClearingUnavailable`` for the job to
    retry; the message stays QUEUED."""
    message = ClearingMessage.objects.filter(pk=message_id).first()
    if message is None or message.status != MessageStatus.QUEUED:
        return message
    try:
        clearing.port().send(Message(**message.payload), at=now)
    except ClearingUnavailable as exc:
        ClearingMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED).update(
            attempts=F("attempts") + 1, last_error=str(exc)[:200])
        raise
    with transaction.atomic():
        message = ClearingMessage.objects.select_for_update().get(pk=message_id)
        if message.status == MessageStatus.QUEUED:
            message.status, message.sent_at = MessageStatus.SENT, now
            message.attempts += 1
            message.save(update_fields=["status", "sent_at", "attempts"])
            if message.transfer_id:
                TransferEvent.objects.create(transfer_id=message.transfer_id,
                                             step=Step.ACCEPTED, at=now,
                                             detail=message.channel)
    return message


# --- events from the clearing system ----------------------------------------------------


def clearing_receive(*, event: Event, now: datetime) -> str:
    """Apply one event from the clearing system, once. Returns what happened ("settled",
    "duplicate", "unknown" …) — the front-end processor's endpoint answers with it."""
    if event.kind == clearing.CREDIT:
        return _incoming(event, now)
    with transaction.atomic():
        message = (ClearingMessage.objects.select_for_update(of=("self",))
                   .select_related("transfer", "transfer__debit_account",
                                   "transfer__debit_account__person")
                   .filter(msg_id=event.msg_id, kind=MessageKind.PAYMENT).first())
        if message is None:
            audit.record(actor=ACTOR, action="payments.clearing.unknown_event",
                         target=f"clearing:{event.msg_id[:40]}", occurred_at=now,
                         details={"kind": event.kind})
            return "unknown"
        if event.kind == clearing.SETTLED:
            return _settle(message, now) if message.status in OPEN else "duplicate"
        if event.kind == clearing.REJECTED:
            if message.status not in OPEN:
                return _conflict(message, event, now)
            return _refund(message, event.reason, now, rejected=True)
        # returned after settlement (settle first if that answer never arrived)
        if message.status in OPEN:
            _settle(message, now)
        if message.status != MessageStatus.SETTLED:
            return "duplicate" if message.status == MessageStatus.RETURNED else _conflict(
                message, event, now)
        return _refund(message, event.reason, now, rejected=False)


def _conflict(message: ClearingMessage, event: Event, now: datetime) -> str:
    """An answer that contradicts an earlier one: changes nothing, staff look at it."""
    audit.record(actor=ACTOR, action="payments.clearing.conflict",
                 target=f"clearing:{message.msg_id}", occurred_at=now,
                 details={"status": message.status, "event": event.kind})
    logger.warning("clearing event %s contradicts message status %s", event.kind,
                   message.status)
    return "conflict"


def _party(transfer: Transfer) -> ledger.Party:
    return ledger.Party(transfer.payee_name, transfer.payee_account, transfer.payee_bank.code)


def _settle(message: ClearingMessage, now: datetime) -> str:
    accounts = clearing_accounts()
    transfer = message.transfer
    ledger.transfer(debit_account_id=accounts.suspense, credit_account_id=accounts.reserve,
                    amount=Money(transfer.amount_fen, transfer.currency),
                    idempotency_key=f"clearing:{message.msg_id}:settled", actor=ACTOR,
                    posted_at=now, memo=f"{message.channel} 清算", party=_party(transfer))
    message.status, message.finished_at = MessageStatus.SETTLED, now
    message.save(update_fields=["status", "finished_at"])
    transfer.status = TransferStatus.DONE
    transfer.save(update_fields=["status"])
    TransferEvent.objects.create(transfer=transfer, step=Step.SETTLED, at=now,
                                 detail=message.channel)
    audit.record(actor=ACTOR, action="payments.clearing.settled",
                 target=f"transfer:{transfer.pk}", occurred_at=now,
                 details={"msg_id": message.msg_id, "channel": message.channel,
                          "amount_fen": transfer.amount_fen})
    return "settled"


def _refund(message: ClearingMessage, reason: str, now: datetime, *, rejected: bool) -> str:
    """Give the money back: from the suspense account if it never left, from the reserve
    if it was settled and came back."""
    accounts = clearing_accounts()
    transfer = message.transfer
    journal = ledger.transfer(
        debit_account_id=accounts.suspense if rejected else accounts.reserve,
        credit_account_id=transfer.debit_account.ledger_account_id,
        amount=Money(transfer.amount_fen, transfer.currency), type=JournalType.REVERSAL,
        idempotency_key=f"clearing:{message.msg_id}:refund", actor=ACTOR, posted_at=now,
        memo=f"退回：{reason}"[:60], party=_party(transfer))
    if transfer.fee_journal_id:  # nothing was delivered: the fee comes back too
        transfer.fee_refund_journal = fees.refund(
            account_id=transfer.debit_account.ledger_account_id, fee_fen=transfer.fee_fen,
            key=f"clearing:{message.msg_id}:fee-refund", actor=ACTOR, at=now)
    message.status = MessageStatus.REJECTED if rejected else MessageStatus.RETURNED
    message.finished_at = now
    message.save(update_fields=["status", "finished_at"])
    transfer.status, transfer.reversal_journal = TransferStatus.RETURNED, journal
    transfer.return_reason = reason[:120]
    transfer.save(update_fields=["status", "reversal_journal", "fee_refund_journal",
                                 "return_reason"])
    TransferEvent.objects.bulk_create([
        TransferEvent(transfer=transfer, step=Step.REJECTED if rejected else Step.RETURNED,
                      detail=reason[:120], at=now),
        TransferEvent(transfer=transfer, step=Step.REFUNDED, at=now)])
    audit.record(actor=ACTOR, action="payments.clearing.refunded",
                 target=f"transfer:{transfer.pk}", occurred_at=now,
                 details={"msg_id": message.msg_id, "rejected": rejected, "reason": reason,
                          "amount_fen": transfer.amount_fen})
    alerts.returned(transfer, reason=reason, actor=ACTOR, at=now)
    return "rejected" if rejected else "returned"


def _incoming(event: Event, now: datetime) -> str:
    """A credit from another bank: into the named account if it can take it, otherwise
    back to the sender (no posting here)."""
    with transaction.atomic():
        if IncomingPayment.objects.filter(msg_id=event.msg_id).exists():
            return "duplicate"
        account = customers.account_by_number(number=event.payee_account)
        reason = ""
        if account is None:
            reason = "收款账号不存在"
        elif account.ledger_account.status == AccountStatus.CLOSED:
            reason = "收款账户已销户"
        else:
            holder = account.person.name if account.person_id else account.company.name
            if holder != event.payee_name:
                reason = "收款人户名与账号不符"
        incoming = IncomingPayment(
            msg_id=event.msg_id, channel=event.channel or "IBPS", payer_name=event.payer_name,
            payer_account=event.payer_account, payer_bank=event.payer_bank,
            payee_account=event.payee_account, payee_name=event.payee_name,
            amount_fen=event.amount_fen, memo=event.memo[:60], received_at=now,
            status=IncomingStatus.RETURNED if reason else IncomingStatus.CREDITED,
            return_reason=reason, credit_account=None if reason else account)
        if not reason:
            incoming.journal = ledger.transfer(
                debit_account_id=clearing_accounts().reserve,
                credit_account_id=account.ledger_account_id,
                amount=Money(event.amount_fen), idempotency_key=f"clearing-in:{event.msg_id}",
                actor=ACTOR, posted_at=now, memo=event.memo[:60],
                party=ledger.Party(event.payer_name, event.payer_account, event.payer_bank))
        try:
            with transaction.atomic():
                incoming.save()
        except IntegrityError:  # the same credit, applied by a concurrent delivery
            transaction.set_rollback(True)
            return "duplicate"
        if reason:
            _return_incoming(incoming, reason, now)
        else:
            alerts.credited_from_other_bank(account, amount_fen=event.amount_fen,
                                            payer_name=event.payer_name, actor=ACTOR, at=now)
            if account.person_id:
                risk.credit_received(person_id=account.person_id, amount_fen=event.amount_fen,
                                     at=now)
        audit.record(actor=ACTOR, action="payments.clearing.incoming",
                     target=f"incoming:{incoming.pk}", occurred_at=now,
                     details={"msg_id": event.msg_id, "status": incoming.status,
                              "amount_fen": event.amount_fen, "reason": reason,
                              "payee": mask_account(event.payee_account)})
    return "credited" if not reason else "returned"


def _return_incoming(incoming: IncomingPayment, reason: str, now: datetime) -> None:
    message = Message(
        msg_id=clearing.new_msg_id(now), kind=MessageKind.RETURN, channel=incoming.channel,
        amount_fen=incoming.amount_fen, payer_name=incoming.payee_name,
        payer_account=incoming.payee_account, payer_bank=settings.BANK_CNAPS_CODE,
        payee_name=incoming.payer_name, payee_account=incoming.payer_account,
        payee_bank=incoming.payer_bank, original_msg_id=incoming.msg_id, reason=reason)
    row = ClearingMessage.objects.create(msg_id=message.msg_id, kind=message.kind,
                                         channel=message.channel, incoming=incoming,
                                         payload=message.as_dict(), created_at=now)
    _defer_send(row)


# --- reconciliation -----------------------------------------------------------------------


@dataclass
class Reconciliation:
    sent: int = 0
    completed: int = 0
    unavailable: int = 0
    suspense_difference_fen: int = 0  # the suspense balance against the open payments


def clearing_reconcile(*, now: datetime) -> Reconciliation:
    """Find messages stuck between steps and move them on: queued too long (the send job
    died or was lost) → send; sent and unanswered too long (an answer lost) → send again
    (harmless) and ask the clearing system for the outcome. Then check that the suspense
    account holds exactly the payments still open; a difference is audited for staff."""
    report = Reconciliation()
    stuck = settings.CLEARING_STUCK_SECONDS
    queued = ClearingMessage.objects.filter(
        status=MessageStatus.QUEUED,
        created_at__lte=now - timedelta(seconds=stuck["QUEUED"])).order_by("pk")
    for message_id in queued.values_list("pk", flat=True)[:500]:
        try:
            clearing_send(message_id=message_id, now=now)
            report.sent += 1
        except ClearingUnavailable:
            report.unavailable += 1
    port = clearing.port()
    for message in ClearingMessage.objects.filter(status=MessageStatus.SENT).order_by("pk")[:500]:
        if message.sent_at > now - timedelta(seconds=stuck[message.channel]):
            continue
        try:
            port.send(Message(**message.payload), at=now)
            event = port.status(message.msg_id)
        except ClearingUnavailable:
            report.unavailable += 1
            continue
        if event is not None:
            clearing_receive(event=event, now=now)
            report.completed += 1
    report.suspense_difference_fen = suspense_difference()
    if report.suspense_difference_fen:
        audit.record(actor=ACTOR, action="payments.clearing.suspense_mismatch",
                     target=f"account:{settings.CLEARING_SUSPENSE_ACCOUNT}", occurred_at=now,
                     details={"difference_fen": report.suspense_difference_fen})
        logger.error("clearing suspense differs from open payments by %s fen",
                     report.suspense_difference_fen)
    return report


def suspense_difference() -> int:
    """Suspense balance + open payments' amounts: zero when every fen in the suspense
    account belongs to a payment still in clearing."""
    balance = Account.objects.get(pk=clearing_accounts().suspense).balance
    open_fen = (Transfer.objects.filter(clearing__status__in=OPEN)
                .aggregate(total=Sum("amount_fen"))["total"] or 0)
    return balance + open_fen
