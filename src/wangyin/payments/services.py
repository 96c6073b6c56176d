"""Transfers between a customer's own accounts, to other customers of this bank and to
accounts at other banks (through the clearing port, ``payments.clearing``).

Two steps, as the customer sees them:

``transfer_quote`` checks an instruction (the debit account is the customer's — TX-07 —
and can pay, the payee account exists, is open and carries the name given, the edition,
account-class and medium limits, the risk hook) and returns what the confirmation page
shows: the key data (with a server nonce), the factors to ask for, the fee, the
large-amount warning and the limits that apply.

``transfer_execute``, in one transaction with the customer's payments serialised, runs
the same checks (and the risk hook) again on the current state, spends the step-up
authorisation with the digest recomputed from the instruction it is about to execute (any
difference is refused — TX-06), then either posts the journal or places a hold (risk
"review"), writes the ``Transfer`` and queues the SMS alerts (TX-09). The page's
idempotency key makes double clicks, retries and replays return the first transfer.

An interbank payment is posted to the clearing suspense account and its message to the
clearing system is written in the same transaction (the outbox). ``payments.settlement``
does the rest: ``clearing_send`` hands the message over, ``clearing_receive`` applies
what the clearing system answers (settled: the suspense clears against the central-bank
reserve; rejected or returned: a reversing journal gives the money back) and credits from
other banks, each event once; ``clearing_reconcile`` finds messages stuck between steps
(a worker that died, a lost answer) and completes them, so no money stays in limbo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wangyin.audit import services as audit
from wangyin.authn import limits
from wangyin.authn import services as authn
from wangyin.authn.errors import DigestMismatch, NotAuthorised
from wangyin.authn.keydata import KeyData, new_nonce
from wangyin.core.masking import mask_account
from wangyin.core.money import Money, format_money
from wangyin.customers import selectors as customers
from wangyin.customers.models import CustomerAccount, Product
from wangyin.customers.validation import normalise_identifier
from wangyin.identity.models import ChannelUser
from wangyin.ledger import services as ledger
from wangyin.ledger.errors import InsufficientFunds, InvalidAmount
from wangyin.ledger.models import AccountStatus, Hold, HoldStatus, Journal
from wangyin.payments import alerts, clearing, directory, fees, payees, settlement
from wangyin.payments.errors import (
    AccountCannotPay,
    AccountClassLimit,
    InstructionChanged,
    MobileNotScheduled,
    NotYourAccount,
    PaymentBlocked,
    SameAccount,
)
from wangyin.payments.models import (
    Bank,
    Step,
    Transfer,
    TransferEvent,
    TransferKind,
    TransferStatus,
)
from wangyin.risk import services as risk

MAX_AMOUNT_FEN = 100_000_000 * 100  # one hundred million yuan: beyond any medium's cap
OPERATION = {TransferKind.OWN: limits.OWN_ACCOUNTS,
             TransferKind.SAME_BANK: "transfer.same_bank",
             TransferKind.INTERBANK: "transfer.interbank",
             TransferKind.MOBILE: "transfer.mobile"}
SEGMENT = "personal"  # the fee schedule's segment of personal internet banking
TO_OTHERS = (TransferKind.SAME_BANK, TransferKind.INTERBANK, TransferKind.MOBILE)
# Statuses whose money left (or is reserved to leave) the account today.
COUNTED = (TransferStatus.DONE, TransferStatus.PROCESSING, TransferStatus.HELD,
           TransferStatus.RELEASED)


@dataclass(frozen=True)
class Payer:
    """Who pays and who acts: a person paying through a channel (``of_user``), or a
    company paying an instruction its operators approved (``actor`` the system's)."""

    actor: str
    person_id: int | None = None
    company_id: int | None = None
    # False: the payer is not told of this debit here; the caller tells them itself (a
    # corporate batch: one summary for all its rows, not one SMS per row).
    told: bool = True

    def __post_init__(self) -> None:
        if (self.person_id is None) == (self.company_id is None):
            raise ValueError("the payer is a person or a company")

    @classmethod
    def of_user(cls, user: ChannelUser) -> Payer:
        return cls(actor=user.actor, person_id=user.person_id)

    @property
    def ledger_prefix(self) -> str:
        """Of the payment's journal keys (a person's as they always were)."""
        if self.person_id is not None:
            return f"transfer:{self.person_id}"
        return f"transfer:company:{self.company_id}"


@dataclass(frozen=True)
class Instruction:
    """What the customer asked for, as the form gave it (amount already in fen)."""

    debit_account_id: int
    payee_account: str
    payee_name: str
    amount_fen: int
    memo: str = ""
    payee_bank: str = ""  # CNAPS code of the payee's bank; empty (or ours): this bank
    payee_mobile: str = ""  # instead of the account: a number registered for receiving


@dataclass(frozen=True)
class Quote:
    instruction: Instruction
    kind: str
    operation: str
    key: KeyData
    factors: tuple[str, ...]
    debit: CustomerAccount
    credit: CustomerAccount | None  # None: an account at another bank
    available_fen: int
    large: bool  # TX-12: the confirmation page warns
    limits_text: tuple[str, ...]
    risk: risk.Decision
    risk_event: risk.Event
    fee_fen: int = 0  # by the bank's fee schedule (``payments.fees``)
    bank: Bank | None = None
    channel: str = ""  # the clearing system an interbank payment goes through

    @property
    def medium(self) -> str:
        return limits.medium_of(self.factors) if self.factors else ""

    @property
    def held_for_review(self) -> bool:
        """Confirming it holds the money until the bank's review releases it."""
        return self.risk.action == risk.REVIEW


def _day_start(at: datetime) -> datetime:
    local = timezone.localtime(at)
    return datetime.combine(local.date(), time.min, local.tzinfo)


def _paid_today(at: datetime, **filters) -> tuple[int, int]:
    row = Transfer.objects.filter(created_at__gte=_day_start(at), status__in=COUNTED,
                                  **filters).aggregate(total=Sum("amount_fen"), n=Count("id"))
    return row["total"] or 0, row["n"]


def _class_cap(account: CustomerAccount) -> tuple[int, str] | None:
    """The daily cap on payments to others from this account, and why (PBOC account
    classes; ON-13 for accounts opened remotely); None for a Class I account opened face
    to face."""
    caps = []
    if account.product == Product.PERSONAL_II:
        caps.append((settings.CLASS_II_DAILY_OUT_FEN, _("a Class II account")))
    if account.product == Product.PERSONAL_III:
        caps.append((settings.CLASS_III_DAILY_OUT_FEN, _("a Class III account")))
    if not account.face_to_face:
        caps.append((settings.REMOTE_ACCOUNT_DAILY_OUT_FEN,
                     _("an account not opened at a counter")))
    return min(caps, key=lambda cap: cap[0]) if caps else None


def _yuan(fen: int) -> str:
    return format_money(Money(fen))


def _checked(*, user: ChannelUser, instruction: Instruction, device_id: str, ip: str | None,
             at: datetime, nonce: str, schedule: str = "") -> Quote:
    """Every check of an instruction. With a ``schedule`` (an order for later dates) the
    day's totals are not counted: each run is checked against its own day when it runs."""
    person = user.person
    amount = instruction.amount_fen
    if not 0 < amount <= MAX_AMOUNT_FEN:
        raise InvalidAmount(extra={"amount_fen": amount})
    debit = customers.account_of_person(person_id=person.pk,
                                        account_id=instruction.debit_account_id)
    if debit is None:
        raise NotYourAccount(extra={"account_id": instruction.debit_account_id})
    if debit.ledger_account.status != AccountStatus.ACTIVE:
        raise AccountCannotPay(extra={"account": debit.number})
    debit.person = person  # the account was found by its owner: no second read for alerts
    payee = payees.resolve(person=person, account=instruction.payee_account,
                           name=instruction.payee_name, bank_code=instruction.payee_bank,
                           mobile=instruction.payee_mobile)
    kind, credit, bank = payee.kind, payee.credit, payee.bank
    payee_account, holder = payee.account, payee.name
    if credit is not None and credit.pk == debit.pk:
        raise SameAccount()
    if instruction.payee_mobile and schedule:
        raise MobileNotScheduled()
    channel = clearing.route(amount, at) if kind == TransferKind.INTERBANK else ""
    operation = OPERATION[kind]
    event = risk.Event(
        kind=operation, person_id=person.pk, channel="web", device=device_id, ip=ip, at=at,
        amount_fen=amount, counterparty=payee_account, id_number_index=person.id_number_index,
        phone_index=person.phone_index, segment=SEGMENT, ref=f"payment:{nonce}")
    decision = risk.evaluate(event)
    if decision.action == risk.BLOCK:
        raise PaymentBlocked(extra={"reasons": list(decision.reasons)})
    # The bank's and the customer's own limits, read once for all the checks below.
    limit_set = limits.limit_set_of(person) if kind in TO_OTHERS else None
    try:
        factors = limits.funds_factors(
            person=person, edition=user.edition, operation=operation, amount_fen=amount,
            device_id=device_id, risk="step_up" if decision.action == risk.STEP_UP else "allow",
            limit_set=limit_set)
    except limits.NoStrongerFactor:
        # Nothing stronger than the SMS code to ask this customer for: the payment is held
        # for review instead (they are asked to confirm it; staff release it).
        decision = risk.Decision(risk.REVIEW, decision.score,
                                 (*decision.reasons, "no_stronger_factor"))
        factors = limits.funds_factors(person=person, edition=user.edition,
                                       operation=operation, amount_fen=amount,
                                       device_id=device_id, limit_set=limit_set)
    limits_text = []
    if kind in TO_OTHERS:
        medium = limits.medium_of(factors)
        paid, count = (0, 0) if schedule else _paid_today(at, person=person, medium=medium)
        limits.limits_check(person=person, medium=medium, amount_fen=amount,
                            paid_today_fen=paid, paid_today_count=count, limit_set=limit_set)
        caps = limit_set.caps_of(medium)
        limits_text.append(_("Bank limit for this security method: %(once)s per payment, "
                             "%(day)s per day (%(left)s left today).")
                           % {"once": _yuan(caps.per_transaction_fen),
                              "day": _yuan(caps.per_day_fen),
                              "left": _yuan(max(0, caps.per_day_fen - paid))})
        own = limit_set.own
        if own is not None:
            limits_text.append(_("Your own limits: %(once)s per payment, %(day)s per day.")
                               % {"once": _yuan(own.per_transaction_fen),
                                  "day": _yuan(own.per_day_fen)})
        class_cap = _class_cap(debit)
        if class_cap is not None:
            cap, which = class_cap
            paid_here, _count = ((0, 0) if schedule else
                                 _paid_today(at, debit_account=debit, kind__in=TO_OTHERS))
            if paid_here + amount > cap:
                raise AccountClassLimit(
                    _("Payments to others from %(which)s are limited to %(cap)s a day "
                      "(%(left)s left today). Use a Class I account, or pay the rest "
                      "tomorrow.") % {"which": which, "cap": _yuan(cap),
                                      "left": _yuan(max(0, cap - paid_here))},
                    extra={"account": debit.number, "cap": cap})
            limits_text.append(_("This account (%(which)s): %(cap)s a day to others.")
                               % {"which": which, "cap": _yuan(cap)})
    available = debit.ledger_account.balance - debit.ledger_account.held
    # A payment now binds its fee; an order pays the schedule of the day each run.
    fee = fees.fee_for(segment=SEGMENT, kind=kind, amount_fen=amount)
    key = KeyData(operation=operation, device=device_id, nonce=nonce,
                  payee_account=payee_account, payee_name=holder, amount_fen=amount,
                  payee_bank=bank.code if bank else "", schedule=schedule,
                  fee_fen=0 if schedule else fee)
    return Quote(instruction=instruction, kind=kind, operation=operation, key=key,
                 factors=tuple(factors), debit=debit, credit=credit, available_fen=available,
                 large=amount >= settings.LARGE_PAYMENT_WARNING_FEN,
                 limits_text=tuple(str(t) for t in limits_text), risk=decision,
                 risk_event=event, bank=bank,
                 channel=channel, fee_fen=fee)


def transfer_quote(*, user: ChannelUser, instruction: Instruction, device_id: str,
                   ip: str | None, at: datetime, schedule: str = "") -> Quote:
    """Check an instruction (for now, or for the dates of a ``schedule`` — see
    ``payments.orders``) and say what confirming it takes. Raises a ``DomainError`` that
    names the problem (the customer's message) when it cannot be paid."""
    if instruction.payee_mobile:
        payees.mobile_lookup_allow(user.person, at)
    return _checked(user=user, instruction=instruction, device_id=device_id, ip=ip, at=at,
                    nonce=new_nonce(), schedule=schedule)


def _existing(person_id: int, idempotency_key: str, instruction: Instruction):
    # Almost always none: a replay (rare) reads its payee bank when it needs it.
    transfer = Transfer.objects.filter(person_id=person_id,
                                       idempotency_key=idempotency_key).first()
    if transfer is not None:
        bank = "" if directory.is_this_bank(instruction.payee_bank) else instruction.payee_bank
        same = (transfer.debit_account_id == instruction.debit_account_id
                and (transfer.payee_account == normalise_identifier(instruction.payee_account)
                     or (instruction.payee_mobile and not instruction.payee_account))
                and (transfer.payee_bank.code if transfer.payee_bank_id else "") == bank
                and transfer.amount_fen == instruction.amount_fen)
        if not same:
            raise InstructionChanged(extra={"transfer": transfer.pk})
        transfer.replayed = True
    return transfer


def transfer_execute(*, user: ChannelUser, instruction: Instruction, nonce: str,
                     challenge_id: int | None, idempotency_key: str, device_id: str,
                     ip: str | None, at: datetime) -> Transfer:
    """Execute a confirmed instruction once. Returns the ``Transfer`` (``replayed`` is True
    when this key had already paid). Raises ``DigestMismatch`` if the instruction is not
    the confirmed one, ``NotAuthorised`` without a fresh verified step-up, and the quote's
    errors if the state changed (balance, limits, account status).

    Everything runs with the customer's row locked, so one customer's payments go one at a
    time: the daily limits count only what is committed, and a duplicate (double click,
    retry) waits for the first request and returns its transfer."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise ValueError("an idempotency key of 1 to 64 characters")
    with transaction.atomic():
        ChannelUser.objects.select_for_update().filter(pk=user.pk).first()
        found = _existing(user.person_id, idempotency_key, instruction)
        if found is not None:
            return found
        try:
            quote = _checked(user=user, instruction=instruction, device_id=device_id, ip=ip,
                             at=at, nonce=nonce)
            challenge = authn.authorisation_use(
                challenge_id=challenge_id or 0, person=user.person, purpose=quote.operation,
                digest=quote.key.digest(), requires=quote.factors,
                at=at) if quote.factors else None
        except (NotAuthorised, DigestMismatch, PaymentBlocked) as exc:
            # Leave the block normally: the burnt authorisation and the audit of a
            # mismatch (TX-06), or the risk decision that blocked the payment, are
            # committed although no money moves.
            refused = exc
        else:
            refused = None
            transfer = _move(payer=Payer.of_user(user), quote=quote, challenge=challenge,
                             idempotency_key=idempotency_key, ip=ip, at=at)
    if refused is not None:
        raise refused
    return transfer


def _debit(*, payer: Payer, quote: Quote, credit_account_id: int, amount: Money,
           ledger_key: str, memo: str, at: datetime, reserved_hold_id: int | None,
           party: ledger.Party | None = None) -> Journal:
    """The payment's journal: from the debit account's available money, or — money reserved
    for it beforehand (a corporate "reserve on entry") — by capturing that hold, which
    releases it and posts in one step (the reserved money is never spent twice)."""
    payee_masked = quote.kind == TransferKind.MOBILE
    if reserved_hold_id is not None:
        return ledger.hold_capture(hold_id=reserved_hold_id,
                                   credit_account_id=credit_account_id,
                                   idempotency_key=ledger_key, actor=payer.actor,
                                   captured_at=at, amount=amount, memo=memo, party=party,
                                   payee_masked=payee_masked)
    return ledger.transfer(debit_account_id=quote.debit.ledger_account_id,
                           credit_account_id=credit_account_id, amount=amount,
                           idempotency_key=ledger_key, actor=payer.actor, posted_at=at,
                           memo=memo, party=party, payee_masked=payee_masked)


def _move(*, payer: Payer, quote: Quote, challenge, idempotency_key: str, ip, at,
          standing_order=None, digest: str = "", reserved_hold_id: int | None = None,
          ) -> Transfer:
    """Post the journal (to the payee, or to the clearing suspense account for another
    bank), or hold the money for a risk review; write the transfer and its history.
    ``digest``: what was authorised, when not the quote's key data (a corporate
    instruction's approved digest)."""
    decision = quote.risk
    amount = Money(quote.key.amount_fen, quote.key.currency)
    ledger_key = f"{payer.ledger_prefix}:{idempotency_key}"
    memo = quote.instruction.memo[:60]
    journal = hold = fee_journal = None
    if decision.action == risk.REVIEW:  # the fee is held too, and paid only on release
        if reserved_hold_id is not None:
            raise ValueError("a payment from reserved money is not held for review")
        hold = ledger.hold_place(account_id=quote.debit.ledger_account_id,
                                 amount=Money(amount.fen + quote.fee_fen, amount.currency),
                                 idempotency_key=ledger_key, reason="risk review",
                                 actor=payer.actor, placed_at=at)
        status, step = TransferStatus.HELD, Step.HELD
    elif quote.kind == TransferKind.INTERBANK:
        journal = _debit(payer=payer, quote=quote,
                         credit_account_id=settlement.clearing_accounts().suspense,
                         amount=amount, ledger_key=ledger_key, memo=memo, at=at,
                         reserved_hold_id=reserved_hold_id,
                         party=ledger.Party(quote.key.payee_name, quote.key.payee_account,
                                            quote.bank.code))
        status, step = TransferStatus.PROCESSING, Step.SUBMITTED
    else:
        journal = _debit(payer=payer, quote=quote,
                         credit_account_id=quote.credit.ledger_account_id, amount=amount,
                         ledger_key=ledger_key, memo=memo, at=at,
                         reserved_hold_id=reserved_hold_id)
        status, step = TransferStatus.DONE, Step.DONE
    if journal is not None and quote.fee_fen:
        fee_journal = fees.charge(account_id=quote.debit.ledger_account_id,
                                  fee_fen=quote.fee_fen, key=f"{ledger_key}:fee",
                                  actor=payer.actor, at=at)
    transfer = Transfer.objects.create(
        person_id=payer.person_id, company_id=payer.company_id, debit_account=quote.debit,
        credit_account=quote.credit,
        kind=quote.kind, payee_account=quote.key.payee_account, payee_bank=quote.bank,
        channel=quote.channel, payee_name=quote.key.payee_name, amount_fen=amount.fen,
        currency=amount.currency, memo=memo, status=status,
        idempotency_key=idempotency_key, digest=digest or quote.key.digest(),
        challenge=challenge, medium=quote.medium, risk_action=decision.action,
        risk_reasons=list(decision.reasons), journal=journal, hold=hold,
        fee_fen=quote.fee_fen, fee_journal=fee_journal,
        device="" if payer.company_id else quote.key.device[:64], created_at=at,
        standing_order=standing_order)
    transfer.replayed = False
    credited = (quote.credit.person_id if status == TransferStatus.DONE and quote.credit
                else None)
    if payer.person_id:
        risk.payment_made(quote.risk_event, credited_person_id=credited)
    elif credited:
        # A company's payment is not counted in the operator's own windows and baseline
        # (the engine knows persons; a company profile is future work); the payee's inflow
        # is.
        risk.credit_received(person_id=credited, amount_fen=amount.fen, at=at)
    TransferEvent.objects.create(transfer=transfer, step=step, at=at,
                                 detail=quote.channel)
    if status == TransferStatus.PROCESSING:
        settlement.queue_payment(transfer, quote.debit, at)
    audit.record(actor=payer.actor, action="payments.transfer",
                 target=f"transfer:{transfer.pk}",
                 occurred_at=at, ip=ip, device=transfer.device,
                 details={"kind": quote.kind, "status": transfer.status,
                          "amount_fen": amount.fen, "fee_fen": quote.fee_fen,
                          "medium": transfer.medium,
                          "channel": quote.channel,
                          "debit": mask_account(quote.debit.number),
                          "credit": mask_account(quote.key.payee_account)})
    _alerts(transfer, payer, at)
    return transfer


def _alerts(transfer: Transfer, payer: Payer, at: datetime) -> None:
    """Tell payer and payee in the payment's transaction (``payments.alerts``), under the
    payer's actor, whose audit chain the transfer's own audit row already holds."""
    actor = f"customer:{payer.person_id}" if payer.person_id else payer.actor
    if transfer.status == TransferStatus.HELD:
        alerts.held(transfer, actor=actor, at=at)
        risk.money_held(person_id=transfer.person_id, at=at)
        return
    if payer.told:
        alerts.debited(transfer, actor=actor, at=at)
    if transfer.status == TransferStatus.DONE:
        alerts.credited(transfer, actor=actor, at=at)


# --- a company pays an instruction its operators approved (``corporate.execution``) ------

CORPORATE_SEGMENT = "corporate"  # the fee schedule's segment of corporate internet banking


@dataclass(frozen=True)
class CompanyOrder:
    """An approved corporate payment instruction, as its execution hands it over: no
    channel user, no step-up of its own — the operators' USB-Key approvals are its
    authorisation, verified by the caller against ``digest`` (TX-06)."""

    company_id: int
    debit_account_id: int
    payee_account: str
    payee_name: str
    amount_fen: int
    purpose: str
    idempotency_key: str  # "corporate:<instruction id>": once per company
    digest: str  # what every approver signed
    risk_event: risk.Event
    risk_decision: risk.Decision
    payee_bank: str = ""  # CNAPS code; empty (or ours): this bank
    reserved_hold_id: int | None = None  # the money reserved on entry, if any
    actor: str = "system:corporate"
    tell_payer: bool = True  # False: the caller tells the company (a batch's summary)


def _funds_check(debit: CustomerAccount, need_fen: int, hold: Hold | None) -> None:
    """Enough available money for the amount and fee (the reserved hold counts: capturing
    it frees it). The ledger checks again under its locks; this names the problem first."""
    account = debit.ledger_account
    available = account.balance - account.held + (hold.amount if hold is not None else 0)
    if available < need_fen:
        raise InsufficientFunds(extra={"account": debit.number, "need_fen": need_fen,
                                       "available_fen": available})


def _company_replay(found: Transfer, order: CompanyOrder) -> Transfer:
    if (found.debit_account_id, found.amount_fen, found.digest) != (
            order.debit_account_id, order.amount_fen, order.digest):
        raise InstructionChanged(extra={"transfer": found.pk})
    found.replayed = True
    return found


def company_transfer_execute(*, order: CompanyOrder, at: datetime) -> Transfer:
    """Pay an approved corporate instruction, once: the same key again returns the first
    transfer (``replayed``), also after a crash between paying and the caller's own
    bookkeeping. Same bank: posted at once; the company's own other account: OWN; another
    bank: to the clearing suspense account with its message (``settlement``). The fee by
    the schedule's corporate segment. Money reserved on entry is captured (released and
    posted in one step).

    Refuses — nothing posted, the caller's transaction usable — with ``PaymentBlocked``
    (risk said block or review), ``InsufficientFunds``, ``AccountCannotPay``,
    ``NotYourAccount`` or the payee's errors (an account closed since entry …)."""
    if not order.idempotency_key or len(order.idempotency_key) > 64:
        raise ValueError("an idempotency key of 1 to 64 characters")
    payer = Payer(actor=order.actor, company_id=order.company_id, told=order.tell_payer)
    with transaction.atomic():
        found = (Transfer.objects.filter(company_id=order.company_id,
                                         idempotency_key=order.idempotency_key).first())
        if found is not None:
            return _company_replay(found, order)
        decision = order.risk_decision
        if decision.action in (risk.BLOCK, risk.REVIEW):
            raise PaymentBlocked(extra={"reasons": list(decision.reasons),
                                        "action": decision.action})
        amount = order.amount_fen
        if not 0 < amount <= MAX_AMOUNT_FEN:
            raise InvalidAmount(extra={"amount_fen": amount})
        debit = (CustomerAccount.objects.select_related("ledger_account", "company")
                 .filter(pk=order.debit_account_id, company_id=order.company_id).first())
        if debit is None:
            raise NotYourAccount(extra={"account_id": order.debit_account_id})
        if debit.ledger_account.status != AccountStatus.ACTIVE:
            raise AccountCannotPay(extra={"account": debit.number})
        payee = payees.resolve(company_id=order.company_id, account=order.payee_account,
                               name=order.payee_name, bank_code=order.payee_bank)
        if payee.credit is not None and payee.credit.pk == debit.pk:
            raise SameAccount()
        kind = payee.kind
        fee = fees.fee_for(segment=CORPORATE_SEGMENT, kind=kind, amount_fen=amount)
        hold = None
        if order.reserved_hold_id is not None:
            hold = Hold.objects.filter(pk=order.reserved_hold_id,
                                       account_id=debit.ledger_account_id,
                                       status=HoldStatus.PENDING).first()
        _funds_check(debit, amount + fee, hold)
        operation = OPERATION[kind]
        bank_code = payee.bank.code if payee.bank else ""
        key = KeyData(operation=operation, device="corporate", nonce=order.digest,
                      payee_account=payee.account, payee_name=payee.name, amount_fen=amount,
                      payee_bank=bank_code, fee_fen=fee)
        quote = Quote(
            instruction=Instruction(debit_account_id=debit.pk, payee_account=payee.account,
                                    payee_name=payee.name, amount_fen=amount,
                                    memo=order.purpose, payee_bank=bank_code),
            kind=kind, operation=operation, key=key, factors=(), debit=debit,
            credit=payee.credit, available_fen=debit.ledger_account.available_money.fen,
            large=amount >= settings.LARGE_PAYMENT_WARNING_FEN, limits_text=(),
            risk=decision, risk_event=order.risk_event, fee_fen=fee, bank=payee.bank,
            channel=clearing.route(amount, at) if kind == TransferKind.INTERBANK else "")
        return _move(payer=payer, quote=quote, challenge=None,
                     idempotency_key=order.idempotency_key, ip=None, at=at,
                     digest=order.digest, reserved_hold_id=hold.pk if hold else None)
