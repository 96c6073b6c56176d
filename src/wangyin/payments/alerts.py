"""What payer and payee are told when their money moves (TX-09): an in-app notice and an
SMS each, written in the business transaction (the outbox delivers them). Audited under
the actor of the change — the payer for their own payment, the staff member who released
or declined a held one — never a bank-wide actor whose audit chain every payment would
queue on."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from wangyin.core.masking import mask_name
from wangyin.core.money import Money, format_money
from wangyin.ledger.models import Account
from wangyin.notify import services as notify
from wangyin.payments.models import Transfer


def payee_text(transfer: Transfer) -> str:
    """The payee as a message names it: masked, with the bank for another bank's account."""
    name = mask_name(transfer.payee_name)
    return f"{transfer.payee_bank.bank_name}{name}" if transfer.payee_bank_id else name


def _when(at: datetime) -> str:
    return timezone.localtime(at).strftime("%m月%d日%H:%M")


def _yuan(fen: int) -> str:
    return format_money(Money(fen))


def _holder_name(account) -> str:
    return account.person.name if account.person_id else account.company.name


def _tell_payer(account, *, kind: str, params: dict, sms: str, sms_purpose: str, actor: str,
                at: datetime, ref: str) -> None:
    """The payer's notice and SMS. A company has no message centre: its contact hears by
    SMS at the number the counter keeps (as for changes to its internet banking)."""
    if account.person_id:
        notify.notice_send(person=account.person, kind=kind, actor=actor, at=at, ref=ref,
                           sms_purpose=sms_purpose, params=params, sms=sms)
    else:
        notify.sms_send(phone=account.company.contact_phone, body=sms, purpose=sms_purpose,
                        actor=actor, at=at)


def debited(transfer: Transfer, *, actor: str, at: datetime, reviewed: bool = False) -> None:
    debit = transfer.debit_account
    tail, to = debit.number[-4:], payee_text(transfer)
    after = Account.objects.get(pk=debit.ledger_account_id)
    available = after.balance - after.held
    params = {"tail": tail, "amount_fen": transfer.amount_fen, "payee": to,
              "available_fen": available}
    fee = ""
    if transfer.fee_fen:
        params["fee_fen"], fee = transfer.fee_fen, f"，手续费{_yuan(transfer.fee_fen)}"
    _tell_payer(
        debit, kind="funds.debit_fee" if fee else "funds.debit", actor=actor,
        at=at, ref=f"transfer:{transfer.pk}", sms_purpose="payments.debit", params=params,
        sms=f"{settings.SMS_SIGNATURE}{'经审核，' if reviewed else ''}您尾号{tail}的账户"
            f"{_when(at)}转出{_yuan(transfer.amount_fen)}{fee}，收款人{to}，可用余额"
            f"{_yuan(available)}。如非本人操作请致电本行。")


def held(transfer: Transfer, *, actor: str, at: datetime) -> None:
    tail = transfer.debit_account.number[-4:]
    _tell_payer(
        transfer.debit_account, kind="funds.held", actor=actor, at=at,
        ref=f"transfer:{transfer.pk}", sms_purpose="payments.debit",
        params={"tail": tail, "amount_fen": transfer.amount_fen,
                "payee": payee_text(transfer)},
        sms=f"{settings.SMS_SIGNATURE}您尾号{tail}的账户{_when(at)}转账"
            f"{_yuan(transfer.amount_fen)}正在审核，资金暂时冻结，审核后通知您。"
            "如非本人操作请致电本行。")


def declined(transfer: Transfer, *, actor: str, at: datetime) -> None:
    tail, to = transfer.debit_account.number[-4:], payee_text(transfer)
    _tell_payer(
        transfer.debit_account, kind="funds.declined", actor=actor, at=at,
        ref=f"transfer:{transfer.pk}", sms_purpose="payments.declined",
        params={"tail": tail, "amount_fen": transfer.amount_fen, "payee": to},
        sms=f"{settings.SMS_SIGNATURE}经审核，您尾号{tail}的账户转给{to}的"
            f"{_yuan(transfer.amount_fen)}未予支付，冻结资金已于{_when(at)}解冻。"
            "如有疑问请致电本行。")


def credited(transfer: Transfer, *, actor: str, at: datetime) -> None:
    """The payee of a payment within this bank (not the payer's own account); a company
    payer is shown by its name."""
    credit, debit = transfer.credit_account, transfer.debit_account
    if credit is None or credit.person_id is None or credit.person_id == debit.person_id:
        return
    tail, payer = credit.number[-4:], mask_name(_holder_name(debit))
    notify.notice_send(
        person=credit.person, kind="funds.credit", actor=actor, at=at,
        sms_purpose="payments.credit",
        params={"tail": tail, "amount_fen": transfer.amount_fen, "payer": payer},
        sms=f"{settings.SMS_SIGNATURE}您尾号{tail}的账户{_when(at)}转入"
            f"{_yuan(transfer.amount_fen)}，付款人{payer}。")


def returned(transfer: Transfer, *, reason: str, actor: str, at: datetime) -> None:
    """An interbank payment refused or returned: the money is back in the payer's account."""
    tail, payee = transfer.debit_account.number[-4:], mask_name(transfer.payee_name)
    paid_on = timezone.localtime(transfer.created_at)
    _tell_payer(
        transfer.debit_account, kind="funds.returned", actor=actor, at=at,
        ref=f"transfer:{transfer.pk}", sms_purpose="payments.returned",
        params={"tail": tail, "amount_fen": transfer.amount_fen, "payee": payee,
                "reason": reason, "date": paid_on.date().isoformat()},
        sms=f"{settings.SMS_SIGNATURE}您{paid_on:%m月%d日}向{payee}的跨行转账"
            f"{_yuan(transfer.amount_fen)}未能入账（{reason}），"
            f"款项已于{_when(at)}退回您尾号{tail}的账户。")


def credited_from_other_bank(account, *, amount_fen: int, payer_name: str, actor: str,
                             at: datetime) -> None:
    """A credit from another bank into a personal account here."""
    if not account.person_id:
        return
    tail, payer = account.number[-4:], mask_name(payer_name)
    after = Account.objects.get(pk=account.ledger_account_id)
    notify.notice_send(
        person=account.person, kind="funds.credit", actor=actor, at=at,
        sms_purpose="payments.credit",
        params={"tail": tail, "amount_fen": amount_fen, "payer": payer},
        sms=f"{settings.SMS_SIGNATURE}您尾号{tail}的账户{_when(at)}跨行转入{_yuan(amount_fen)}，"
            f"付款人{payer}，余额{format_money(after.balance_money)}。")


def order_failed(order, *, run_date, reason: str, actor: str, at: datetime) -> None:
    """A scheduled or recurring transfer that could not be paid on ``run_date``."""
    payee = mask_name(order.payee_name)
    notify.notice_send(
        person=order.user.person, kind="funds.order_failed", actor=actor, at=at,
        sms_purpose="payments.order_failed",
        params={"amount_fen": order.amount_fen, "payee": payee,
                "date": run_date.isoformat(), "reason": reason},
        sms=f"{settings.SMS_SIGNATURE}您{run_date:%m月%d日}向{payee}的预约转账"
            f"{_yuan(order.amount_fen)}未能执行：{reason}")
