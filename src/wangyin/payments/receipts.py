"""Electronic receipts (电子回单) of the money that moves through payments: the payer's
receipt of a transfer, the payee's receipt of a transfer credited to their account here
(收款回单), and the receipt of a credit from another bank — what each says, and giving it
to the account holder it belongs to (a person or a company). ``receipt_sources`` says which
movements of an account (its statement lines) have a receipt and which one. The receipt
itself (number, code, signature, PDF, verification) is ``wangyin.receipts``; it is issued
on the first download."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.core.masking import mask_account, mask_name
from wangyin.core.money import Money, format_money
from wangyin.core.money_words import amount_in_words
from wangyin.customers import selectors as customers
from wangyin.payments import directory
from wangyin.payments.models import (
    Channel,
    IncomingPayment,
    IncomingStatus,
    Transfer,
    TransferStatus,
)
from wangyin.receipts import services as receipts
from wangyin.receipts.errors import ReceiptNotAvailable
from wangyin.receipts.models import Receipt
from wangyin.receipts.services import ACCOUNT, HIDDEN, NAME, Field

# The one place that says which transfers get a receipt — those whose money has moved —
# and the status the receipt prints for each. A status missing here gets no receipt.
RECEIPT_STATUSES = {
    TransferStatus.DONE: ("交易成功", "Successful"),
    TransferStatus.RELEASED: ("交易成功", "Successful"),
    # Paid out, then given back by the payee's bank: its own receipt (退汇回单) says so.
    TransferStatus.RETURNED: ("已退回", "Returned"),
}
# The payee's receipt: a transfer whose money reached the payee's account here and stays
# there (same-bank and own-account transfers are never returned).
CREDIT_STATUSES = (TransferStatus.DONE, TransferStatus.RELEASED)
CREDITED = ("入账成功", "Credited")
CHANNEL = ("网上银行", "Internet banking")
CLEARING_CHANNELS = {Channel.IBPS: ("网上支付跨行清算系统", "IBPS"),
                     Channel.HVPS: ("大额实时支付系统", "HVPS"),
                     Channel.BEPS: ("小额批量支付系统", "BEPS")}
CURRENCIES = {"CNY": ("人民币", "CNY")}


def receipt_available(transfer: Transfer) -> bool:
    return transfer.status in RECEIPT_STATUSES


def _holder(account) -> str:
    return account.person.name if account.person_id else account.company.name


def transfer_fields(transfer: Transfer) -> list[Field]:
    """What the receipt of ``transfer`` says, in the order it is printed (payer beside
    payee)."""
    amount = Money(transfer.amount_fen, transfer.currency)
    status, status_en = RECEIPT_STATUSES[transfer.status]
    currency, currency_en = CURRENCIES.get(transfer.currency,
                                           (transfer.currency, transfer.currency))
    bank = receipts.ISSUER
    return [
        Field("payer_name", "付款人户名", "Payer name", _holder(transfer.debit_account),
              show=NAME),
        Field("payee_name", "收款人户名", "Payee name", transfer.payee_name, show=NAME),
        Field("payer_account", "付款账号", "Payer account", transfer.debit_account.number,
              show=ACCOUNT),
        Field("payee_account", "收款账号", "Payee account", transfer.payee_account,
              show=ACCOUNT),
        Field("payer_bank", "付款银行", "Payer's bank", bank),
        # Interbank: the payee's branch as the bank directory names it.
        Field("payee_bank", "收款银行", "Payee's bank",
              transfer.payee_bank.name if transfer.payee_bank_id else bank),
        Field("amount", "金额（小写）", "Amount", format_money(amount)),
        *([Field("fee", "手续费", "Fee", format_money(Money(transfer.fee_fen,
                                                             transfer.currency)))]
          if transfer.fee_fen else []),
        Field("currency", "币种", "Currency", currency, value_en=currency_en),
        Field("amount_words", "金额（大写）", "Amount in words",
              f"{currency}{amount_in_words(amount)}", wide=True),
        Field("memo", "附言", "Memo", transfer.memo or "—", show=HIDDEN, wide=True),
        Field("transfer_number", "交易流水号", "Transfer number", str(transfer.pk)),
        Field("time", "交易时间", "Transaction time",
              timezone.localtime(transfer.created_at).strftime("%Y-%m-%d %H:%M:%S")),
        Field("channel", "交易渠道", "Channel", CHANNEL[0], value_en=CHANNEL[1]),
        Field("status", "交易状态", "Status", status, value_en=status_en),
        *_returned_fields(transfer),
    ]


def _returned_fields(transfer: Transfer) -> list[Field]:
    if transfer.status != TransferStatus.RETURNED:
        return []
    back = timezone.localtime(transfer.reversal_journal.posted_at)
    return [Field("returned_at", "退回时间", "Returned at", back.strftime("%Y-%m-%d %H:%M:%S")),
            Field("return_reason", "退回原因", "Reason", transfer.return_reason or "—",
                  wide=True)]


def _holder_filter(prefix: str, person_id: int | None, company_id: int | None) -> dict:
    if (person_id is None) == (company_id is None):
        raise ValueError("the holder is a person or a company")
    if person_id is not None:
        return {f"{prefix}person_id": person_id}
    return {f"{prefix}company_id": company_id}


def _download_audit(receipt: Receipt, target: str, actor: str, ip: str | None,
                    at: datetime) -> None:
    audit.record(actor=actor, action="payments.receipt.downloaded", target=target, ip=ip,
                 occurred_at=at, details={"receipt": receipt.number,
                                          "first": not receipt.replayed})


def _transfer_issue(transfer: Transfer, *, actor: str, at: datetime) -> Receipt:
    # A returned payment is a second event: its receipt is a receipt of its own, whether or
    # not the customer took the payment's receipt while it stood.
    returned = transfer.status == TransferStatus.RETURNED
    return receipts.receipt_issue(
        reference=f"transfer:{transfer.pk}" + (":return" if returned else ""),
        title="退汇电子回单" if returned else "转账电子回单",
        title_en="Returned payment receipt" if returned else "Transfer receipt",
        fields=transfer_fields(transfer), actor=actor, at=at)


_TRANSFER_RELATED = ("debit_account__person", "debit_account__company", "payee_bank",
                     "reversal_journal", "credit_account__person", "credit_account__company",
                     "journal")


@transaction.atomic
def transfer_receipt(*, person_id: int | None = None, company_id: int | None = None,
                     transfer_id: int, actor: str, ip: str | None, at: datetime,
                     debit_account_ids: Collection[int] | None = None) -> Receipt:
    """The receipt of one of the payer's transfers — a customer's (``person_id``) or a
    company's (``company_id``; ``debit_account_ids`` limits it to the accounts an operator
    sees) — issued on first asking; each download is audited. ``ReceiptNotAvailable`` for
    a transfer that is not theirs (it looks like none) or whose money has not moved."""
    payer = _holder_filter("", person_id, company_id)
    transfers = Transfer.objects.select_related(*_TRANSFER_RELATED).filter(pk=transfer_id,
                                                                            **payer)
    if debit_account_ids is not None:
        transfers = transfers.filter(debit_account_id__in=list(debit_account_ids))
    transfer = transfers.first()
    if transfer is None or not receipt_available(transfer):
        raise ReceiptNotAvailable(extra={"transfer": transfer_id})
    receipt = _transfer_issue(transfer, actor=actor, at=at)
    _download_audit(receipt, f"transfer:{transfer.pk}", actor, ip, at)
    return receipt


# --- the payee's side --------------------------------------------------------------------


def credit_fields(transfer: Transfer) -> list[Field]:
    """What the payee's receipt of a transfer credited here says (收款回单): the same parties
    as the payer's receipt, the time the money arrived, no fee (the payer's). A payer who
    found the payee by mobile number is shown masked, as on the payee's statement."""
    amount = Money(transfer.amount_fen, transfer.currency)
    currency, currency_en = CURRENCIES.get(transfer.currency,
                                           (transfer.currency, transfer.currency))
    payer_name = _holder(transfer.debit_account)
    payer_account = transfer.debit_account.number
    if transfer.journal.payee_masked:
        payer_name, payer_account = mask_name(payer_name), mask_account(payer_account)
    bank = receipts.ISSUER
    return [
        Field("payer_name", "付款人户名", "Payer name", payer_name, show=NAME),
        Field("payee_name", "收款人户名", "Payee name", _holder(transfer.credit_account),
              show=NAME),
        Field("payer_account", "付款账号", "Payer account", payer_account, show=ACCOUNT),
        Field("payee_account", "收款账号", "Payee account", transfer.credit_account.number,
              show=ACCOUNT),
        Field("payer_bank", "付款银行", "Payer's bank", bank),
        Field("payee_bank", "收款银行", "Payee's bank", bank),
        Field("amount", "金额（小写）", "Amount", format_money(amount)),
        Field("currency", "币种", "Currency", currency, value_en=currency_en),
        Field("amount_words", "金额（大写）", "Amount in words",
              f"{currency}{amount_in_words(amount)}", wide=True),
        Field("memo", "附言", "Memo", transfer.memo or "—", show=HIDDEN, wide=True),
        Field("transfer_number", "交易流水号", "Transfer number", str(transfer.pk)),
        Field("time", "入账时间", "Credited at",
              timezone.localtime(transfer.journal.posted_at).strftime("%Y-%m-%d %H:%M:%S")),
        Field("channel", "交易渠道", "Channel", CHANNEL[0], value_en=CHANNEL[1]),
        Field("status", "交易状态", "Status", CREDITED[0], value_en=CREDITED[1]),
    ]


def _credit_issue(transfer: Transfer, *, actor: str, at: datetime) -> Receipt:
    return receipts.receipt_issue(
        reference=f"transfer:{transfer.pk}:credit", title="收款电子回单",
        title_en="Credit receipt", fields=credit_fields(transfer), actor=actor, at=at)


@transaction.atomic
def credit_receipt(*, person_id: int | None = None, company_id: int | None = None,
                   transfer_id: int, actor: str, ip: str | None, at: datetime) -> Receipt:
    """The payee's receipt of a transfer credited to their account here — a customer's or
    a company's —, issued on first asking, each download audited; ``ReceiptNotAvailable``
    for a transfer not credited to them."""
    payee = _holder_filter("credit_account__", person_id, company_id)
    transfer = (Transfer.objects.select_related(*_TRANSFER_RELATED)
                .filter(pk=transfer_id, status__in=CREDIT_STATUSES, journal__isnull=False,
                        **payee).first())
    if transfer is None:
        raise ReceiptNotAvailable(extra={"transfer": transfer_id})
    receipt = _credit_issue(transfer, actor=actor, at=at)
    _download_audit(receipt, f"transfer:{transfer.pk}:credit", actor, ip, at)
    return receipt


def incoming_fields(incoming: IncomingPayment) -> list[Field]:
    """What the receipt of a credit from another bank says: the payer as the clearing
    message gives them, their bank by the directory's name, the clearing system."""
    amount = Money(incoming.amount_fen, "CNY")
    currency, currency_en = CURRENCIES["CNY"]
    payer_bank = directory.bank_by_code(incoming.payer_bank)
    channel = CLEARING_CHANNELS.get(incoming.channel, (incoming.channel, incoming.channel))
    return [
        Field("payer_name", "付款人户名", "Payer name", incoming.payer_name, show=NAME),
        Field("payee_name", "收款人户名", "Payee name", _holder(incoming.credit_account),
              show=NAME),
        Field("payer_account", "付款账号", "Payer account", incoming.payer_account,
              show=ACCOUNT),
        Field("payee_account", "收款账号", "Payee account", incoming.credit_account.number,
              show=ACCOUNT),
        Field("payer_bank", "付款银行", "Payer's bank",
              payer_bank.name if payer_bank else incoming.payer_bank),
        Field("payee_bank", "收款银行", "Payee's bank", receipts.ISSUER),
        Field("amount", "金额（小写）", "Amount", format_money(amount)),
        Field("currency", "币种", "Currency", currency, value_en=currency_en),
        Field("amount_words", "金额（大写）", "Amount in words",
              f"{currency}{amount_in_words(amount)}", wide=True),
        Field("memo", "附言", "Memo", incoming.memo or "—", show=HIDDEN, wide=True),
        Field("message", "报文编号", "Clearing message", incoming.msg_id),
        Field("time", "入账时间", "Credited at",
              timezone.localtime(incoming.journal.posted_at).strftime("%Y-%m-%d %H:%M:%S")),
        Field("channel", "清算渠道", "Clearing system", channel[0], value_en=channel[1]),
        Field("status", "交易状态", "Status", CREDITED[0], value_en=CREDITED[1]),
    ]


def _incoming_issue(incoming: IncomingPayment, *, actor: str, at: datetime) -> Receipt:
    return receipts.receipt_issue(
        reference=f"incoming:{incoming.pk}", title="来账电子回单",
        title_en="Incoming payment receipt", fields=incoming_fields(incoming), actor=actor,
        at=at)


def _incoming_of(pk: int, **holder) -> IncomingPayment | None:
    return (IncomingPayment.objects
            .select_related("credit_account__person", "credit_account__company", "journal")
            .filter(pk=pk, status=IncomingStatus.CREDITED, **holder).first())


@transaction.atomic
def incoming_receipt(*, person_id: int | None = None, company_id: int | None = None,
                     incoming_id: int, actor: str, ip: str | None, at: datetime) -> Receipt:
    """The receipt of a credit from another bank to the holder's account, issued on first
    asking, each download audited; ``ReceiptNotAvailable`` for one that is not theirs."""
    incoming = _incoming_of(incoming_id,
                            **_holder_filter("credit_account__", person_id, company_id))
    if incoming is None:
        raise ReceiptNotAvailable(extra={"incoming": incoming_id})
    receipt = _incoming_issue(incoming, actor=actor, at=at)
    _download_audit(receipt, f"incoming:{incoming.pk}", actor, ip, at)
    return receipt


# --- the receipts of an account's movements ----------------------------------------------

TRANSFER, CREDIT, INCOMING = "transfer", "credit", "incoming"


@dataclass(frozen=True)
class ReceiptSource:
    """The receipt of a movement: the payer's receipt of a transfer (its payment, its fee,
    money it got back), the payee's receipt of a transfer credited here, or the receipt of a
    credit from another bank."""

    kind: str  # TRANSFER / CREDIT / INCOMING
    pk: int
    main: bool = True  # False: the transfer's fee or fee refund (its receipt shows the fee)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.pk}"


def receipt_sources(*, account_id: int, journal_ids: Iterable[int]
                    ) -> dict[int, ReceiptSource]:
    """Which of these journals — movements of the customer account ``account_id``, as its
    statement lists them — have a receipt for that account's holder, and which receipt
    (by journal id; journals without one are left out). Three queries, whatever the
    number of journals."""
    ids = set(journal_ids)
    found: dict[int, ReceiptSource] = {}
    if not ids:
        return found
    paid = (Transfer.objects.filter(debit_account_id=account_id,
                                    status__in=list(RECEIPT_STATUSES))
            .filter(Q(journal_id__in=ids) | Q(fee_journal_id__in=ids)
                    | Q(reversal_journal_id__in=ids) | Q(fee_refund_journal_id__in=ids))
            .values_list("pk", "journal_id", "reversal_journal_id", "fee_journal_id",
                         "fee_refund_journal_id"))
    for pk, journal, reversal, fee, fee_refund in paid:
        for journal_id, main in ((journal, True), (reversal, True), (fee, False),
                                 (fee_refund, False)):
            if journal_id in ids:
                found[journal_id] = ReceiptSource(TRANSFER, pk, main)
    credited = (Transfer.objects.filter(credit_account_id=account_id, journal_id__in=ids,
                                        status__in=CREDIT_STATUSES)
                .values_list("pk", "journal_id"))
    for pk, journal_id in credited:
        found[journal_id] = ReceiptSource(CREDIT, pk)
    incoming = (IncomingPayment.objects.filter(credit_account_id=account_id,
                                               journal_id__in=ids,
                                               status=IncomingStatus.CREDITED)
                .values_list("pk", "journal_id"))
    for pk, journal_id in incoming:
        found[journal_id] = ReceiptSource(INCOMING, pk)
    return found


def source_receipt(source: ReceiptSource, *, actor: str, at: datetime) -> Receipt:
    """The receipt of ``source``, issued now if it has none. The caller found the source
    with ``receipt_sources`` for an account the asker may see, and audits the download."""
    if source.kind == TRANSFER:
        transfer = Transfer.objects.select_related(*_TRANSFER_RELATED).get(pk=source.pk)
        if not receipt_available(transfer):
            raise ReceiptNotAvailable(extra={"transfer": source.pk})
        return _transfer_issue(transfer, actor=actor, at=at)
    if source.kind == CREDIT:
        return _credit_issue(Transfer.objects.select_related(*_TRANSFER_RELATED)
                             .get(pk=source.pk), actor=actor, at=at)
    incoming = _incoming_of(source.pk)
    if incoming is None:
        raise ReceiptNotAvailable(extra={"incoming": source.pk})
    return _incoming_issue(incoming, actor=actor, at=at)


@transaction.atomic
def account_receipt(*, person_id: int | None = None, company_id: int | None = None,
                    account_id: int, journal_id: int, actor: str, ip: str | None,
                    at: datetime) -> Receipt:
    """The receipt of one movement (``journal_id``) of the holder's account ``account_id``
    — whichever receipt it has: the payer's, the payee's or an incoming credit's —, issued
    on first asking, each download audited. ``ReceiptNotAvailable`` for an account that is
    not theirs or a movement without a receipt."""
    _holder_filter("", person_id, company_id)
    accounts = (customers.accounts_of_person(person_id=person_id) if person_id is not None
                else customers.accounts_of_company(company_id=company_id))
    if account_id not in {account.pk for account in accounts}:
        raise ReceiptNotAvailable(extra={"account": account_id})
    source = receipt_sources(account_id=account_id, journal_ids=[journal_id]).get(journal_id)
    if source is None:
        raise ReceiptNotAvailable(extra={"journal": journal_id})
    receipt = source_receipt(source, actor=actor, at=at)
    target = {TRANSFER: f"transfer:{source.pk}", CREDIT: f"transfer:{source.pk}:credit",
              INCOMING: f"incoming:{source.pk}"}[source.kind]
    _download_audit(receipt, target, actor, ip, at)
    return receipt
