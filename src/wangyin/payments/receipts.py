"""Electronic receipts (电子回单) of transfers: what a transfer's receipt says, and giving
it to the customer who made the transfer. The receipt itself (number, code, signature,
PDF, verification) is ``wangyin.receipts``; it is issued on the first download."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.core.money import Money, format_money
from wangyin.core.money_words import amount_in_words
from wangyin.payments.models import Transfer, TransferStatus
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
CHANNEL = ("网上银行", "Internet banking")
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


@transaction.atomic
def transfer_receipt(*, person_id: int | None = None, company_id: int | None = None,
                     transfer_id: int, actor: str, ip: str | None, at: datetime) -> Receipt:
    """The receipt of one of the payer's transfers — a customer's (``person_id``) or a
    company's (``company_id``) — issued on first asking; each download is audited.
    ``ReceiptNotAvailable`` for a transfer that is not theirs (it looks like none) or
    whose money has not moved."""
    if (person_id is None) == (company_id is None):
        raise ValueError("the payer is a person or a company")
    payer = {"person_id": person_id} if person_id is not None else {"company_id": company_id}
    transfer = (Transfer.objects
                .select_related("debit_account__person", "debit_account__company",
                                "payee_bank", "reversal_journal")
                .filter(pk=transfer_id, **payer).first())
    if transfer is None or not receipt_available(transfer):
        raise ReceiptNotAvailable(extra={"transfer": transfer_id})
    # A returned payment is a second event: its receipt is a receipt of its own, whether or
    # not the customer took the payment's receipt while it stood.
    returned = transfer.status == TransferStatus.RETURNED
    receipt = receipts.receipt_issue(
        reference=f"transfer:{transfer.pk}" + (":return" if returned else ""),
        title="退汇电子回单" if returned else "转账电子回单",
        title_en="Returned payment receipt" if returned else "Transfer receipt",
        fields=transfer_fields(transfer), actor=actor, at=at)
    audit.record(actor=actor, action="payments.receipt.downloaded",
                 target=f"transfer:{transfer.pk}", ip=ip, occurred_at=at,
                 details={"receipt": receipt.number, "first": not receipt.replayed})
    return receipt
