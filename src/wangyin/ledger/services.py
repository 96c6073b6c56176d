"""Ledger use cases: the only code in Wangyin that changes balances.

Every function is keyword-only, runs in one database transaction, takes the time it acts
at as an argument, and records an audit event. Money moves only as journals whose postings
sum to zero (checked here for a clear error, and by PostgreSQL at commit).

Idempotency: a journal's ``idempotency_key`` is claimed first with
``INSERT … ON CONFLICT DO NOTHING``. A second request with the same key waits for the
first to commit, then gets the first journal back (``journal.replayed = True``) and posts
nothing; the same key with a different request raises ``IdempotencyKeyReused``. A request
that fails (e.g. insufficient funds) rolls back, so its key stays unused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.core.money import Money
from wangyin.ledger import locks
from wangyin.ledger.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotEmpty,
    CurrencyMismatch,
    DuplicateAccountNumber,
    HoldNotPending,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidAmount,
    UnbalancedJournal,
)
from wangyin.ledger.models import (
    Account,
    AccountKind,
    AccountStatus,
    Hold,
    HoldStatus,
    Journal,
    JournalType,
    NormalSide,
    Posting,
)


@dataclass(frozen=True, slots=True)
class Party:
    """Who is on the other side outside the bank (interbank payments): name, account
    number at their bank, and that bank's CNAPS code."""

    name: str
    account: str
    bank: str


@dataclass(frozen=True, slots=True)
class Line:
    """One leg of a journal: a positive amount debits the account, a negative one credits it."""

    account_id: int
    amount: Money


def debit(account_id: int, amount: Money) -> Line:
    return Line(account_id, amount)


def credit(account_id: int, amount: Money) -> Line:
    return Line(account_id, -amount)


# --- accounts ---------------------------------------------------------------------------


@transaction.atomic
def account_open(
    *,
    number: str,
    name: str,
    kind: str,
    actor: str,
    opened_at: datetime,
    normal_side: str | None = None,
    currency: str = "CNY",
    overdraft_limit: int | None = 0,
) -> Account:
    if kind == AccountKind.CUSTOMER:
        # Customer deposits are the bank's liabilities and may never go below zero.
        normal_side, overdraft_limit = NormalSide.CREDIT, 0
    elif normal_side not in NormalSide.values:
        raise ValueError("a GL account needs normal_side DEBIT or CREDIT")
    Money(0, currency)  # validates the currency code
    try:
        with transaction.atomic():
            account = Account.objects.create(
                number=number, name=name, kind=kind, normal_side=normal_side,
                currency=currency, status=AccountStatus.ACTIVE,
                overdraft_limit=overdraft_limit, opened_at=opened_at,
            )
    except IntegrityError as exc:
        if Account.objects.filter(number=number).exists():
            raise DuplicateAccountNumber(extra={"number": number}) from exc
        raise
    audit.record(
        actor=actor, action="ledger.account.opened", target=f"account:{account.pk}",
        occurred_at=opened_at,
        details={"account_number": number, "kind": kind, "currency": currency},
    )
    return account


def gl_accounts(wanted: dict[str, tuple[str, str]], *, actor: str) -> dict[str, int]:
    """The ledger ids of the bank's own (GL) accounts ``{number: (name, normal side)}``,
    each opened on first use — no overdraft limit: they are the bank's books."""
    found = dict(Account.objects.filter(number__in=list(wanted)).values_list("number", "pk"))
    for number, (name, side) in wanted.items():
        if number not in found:
            try:
                found[number] = account_open(number=number, name=name, kind=AccountKind.GL,
                                             normal_side=side, overdraft_limit=None,
                                             actor=actor, opened_at=timezone.now()).pk
            except DuplicateAccountNumber:  # opened by a concurrent first use
                found[number] = Account.objects.get(number=number).pk
    return found


def _set_status(*, account_id: int, status: str, action: str, actor: str, reason: str,
                at: datetime) -> Account:
    account = locks.lock_accounts([account_id])[account_id]
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed(extra={"account_id": account_id})
    previous = account.status
    if previous != status:
        account.status = status
        account.save(update_fields=["status"])
    audit.record(
        actor=actor, action=action, target=f"account:{account_id}", occurred_at=at,
        details={"reason": reason, "from": previous, "to": status},
    )
    return account


@transaction.atomic
def account_freeze(*, account_id: int, actor: str, reason: str, at: datetime) -> Account:
    """止付: the account can still receive money but nothing can be debited from it."""
    return _set_status(account_id=account_id, status=AccountStatus.FROZEN,
                       action="ledger.account.frozen", actor=actor, reason=reason, at=at)


@transaction.atomic
def account_unfreeze(*, account_id: int, actor: str, reason: str, at: datetime) -> Account:
    return _set_status(account_id=account_id, status=AccountStatus.ACTIVE,
                       action="ledger.account.unfrozen", actor=actor, reason=reason, at=at)


@transaction.atomic
def account_close(*, account_id: int, actor: str, reason: str, at: datetime) -> Account:
    account = locks.lock_accounts([account_id])[account_id]
    if account.status == AccountStatus.CLOSED:
        return account
    pending = Hold.objects.filter(account_id=account_id, status=HoldStatus.PENDING).exists()
    if account.balance != 0 or account.held != 0 or pending:
        raise AccountNotEmpty(extra={"account_id": account_id, "balance": account.balance,
                                     "held": account.held})
    account.status, account.closed_at = AccountStatus.CLOSED, at
    account.save(update_fields=["status", "closed_at"])
    audit.record(actor=actor, action="ledger.account.closed", target=f"account:{account_id}",
                 occurred_at=at, details={"reason": reason})
    return account


# --- journals ---------------------------------------------------------------------------


def _validate_lines(lines: Sequence[Line]) -> str:
    if len(lines) < 2:
        raise UnbalancedJournal(extra={"reason": "a journal needs at least two postings"})
    currency = lines[0].amount.currency
    total = 0
    for line in lines:
        if line.amount.currency != currency:
            raise CurrencyMismatch(extra={"currencies": sorted({x.amount.currency for x in lines})})
        if line.amount.fen == 0:
            raise InvalidAmount(extra={"reason": "a posting cannot be zero"})
        total += line.amount.fen
    if total != 0:
        raise UnbalancedJournal(extra={"sum": total})
    return currency


def _request_hash(type: str, memo: str, lines: Sequence[Line]) -> str:
    body = {
        "type": type,
        "memo": memo,
        "lines": [[x.account_id, x.amount.fen, x.amount.currency] for x in lines],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _claim(*, key: str, request_hash: str, type: str, memo: str, currency: str,
           posted_at: datetime, party: Party, payee_masked: bool) -> int | None:
    """Insert the journal row; None if the key is taken (after its owner committed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journal (idempotency_key, request_hash, type, memo, currency, "
            "posted_at, party_name, party_account, party_bank, payee_masked) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            [key, request_hash, type, memo, currency, posted_at, party.name[:120],
             party.account[:40], party.bank[:12], payee_masked],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _replay(*, key: str, request_hash: str) -> Journal:
    journal = Journal.objects.get(idempotency_key=key)
    if journal.request_hash != request_hash:
        raise IdempotencyKeyReused(extra={"idempotency_key": key})
    journal.replayed = True
    return journal


def _apply(journal: Journal, lines: Sequence[Line], *, release: dict[int, int]) -> None:
    """Lock the accounts, check every rule, update balances and write the postings.

    ``release`` lowers the held amount of accounts (a hold being captured)."""
    accounts = locks.lock_accounts([line.account_id for line in lines] + list(release))
    balance = {pk: a.balance for pk, a in accounts.items()}
    held = {pk: a.held for pk, a in accounts.items()}
    for pk, amount in release.items():
        held[pk] -= amount
    postings = []
    for line in lines:
        account = accounts[line.account_id]
        if account.currency != line.amount.currency:
            raise CurrencyMismatch(extra={"account": account.number})
        if account.status == AccountStatus.CLOSED:
            raise AccountClosed(extra={"account": account.number})
        change = account.sign * line.amount.fen
        if change < 0 and account.status == AccountStatus.FROZEN:
            raise AccountFrozen(extra={"account": account.number})
        balance[line.account_id] += change
        postings.append(Posting(
            journal=journal, account_id=line.account_id, amount=line.amount.fen,
            balance_after=balance[line.account_id], posted_at=journal.posted_at,
        ))
    ids, balances, helds = [], [], []
    for pk, account in accounts.items():
        limit = account.overdraft_limit
        went_down = balance[pk] < account.balance
        if went_down and limit is not None and balance[pk] - held[pk] < -limit:
            raise InsufficientFunds(extra={"account": account.number})
        if balance[pk] != account.balance or held[pk] != account.held:
            ids.append(pk)
            balances.append(balance[pk])
            helds.append(held[pk])
    if ids:  # every changed account in one statement: one round trip per journal
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE ledger_account AS a SET balance = v.balance, held = v.held "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, balance, held) "
                "WHERE a.id = v.id",
                [ids, balances, helds],
            )
    Posting.objects.bulk_create(postings)


NO_PARTY = Party("", "", "")


def _post(*, idempotency_key: str, type: str, lines: Sequence[Line], memo: str, actor: str,
          posted_at: datetime, release: dict[int, int] | None = None,
          party: Party | None = None, payee_masked: bool = False) -> Journal:
    currency = _validate_lines(lines)
    request_hash = _request_hash(type, memo, lines)
    party = party or NO_PARTY
    journal_id = _claim(key=idempotency_key, request_hash=request_hash, type=type, memo=memo,
                        currency=currency, posted_at=posted_at, party=party,
                        payee_masked=payee_masked)
    if journal_id is None:
        return _replay(key=idempotency_key, request_hash=request_hash)
    journal = Journal(id=journal_id, idempotency_key=idempotency_key, request_hash=request_hash,
                      type=type, memo=memo, currency=currency, posted_at=posted_at,
                      party_name=party.name[:120], party_account=party.account[:40],
                      party_bank=party.bank[:12], payee_masked=payee_masked)
    _apply(journal, lines, release=release or {})
    journal.replayed = False
    audit.record(
        actor=actor, action="ledger.journal.posted", target=f"journal:{journal_id}",
        occurred_at=posted_at,
        details={
            "type": type,
            "amount_fen": sum(x.amount.fen for x in lines if x.amount.fen > 0),
            "currency": currency,
            "account_ids": sorted({x.account_id for x in lines}),
        },
    )
    return journal


@transaction.atomic
def journal_post(*, idempotency_key: str, type: str, lines: Sequence[Line], actor: str,
                 posted_at: datetime, memo: str = "", party: Party | None = None) -> Journal:
    """Post a balanced journal of any number of lines."""
    if type not in JournalType.values:
        raise ValueError(f"unknown journal type {type!r}")
    return _post(idempotency_key=idempotency_key, type=type, lines=lines, memo=memo,
                 actor=actor, posted_at=posted_at, party=party)


@transaction.atomic
def transfer(*, debit_account_id: int, credit_account_id: int, amount: Money,
             idempotency_key: str, actor: str, posted_at: datetime, memo: str = "",
             type: str = JournalType.TRANSFER, party: Party | None = None,
             payee_masked: bool = False) -> Journal:
    """Move ``amount`` from the debited account to the credited one. ``party`` names the
    outside party when one side is a clearing account (interbank); ``payee_masked``: the
    payer's statement shows the payee's name masked (a payment to a mobile number)."""
    if amount.fen <= 0:
        raise InvalidAmount(extra={"reason": "a transfer amount must be positive"})
    if type not in JournalType.values:
        raise ValueError(f"unknown journal type {type!r}")
    return _post(idempotency_key=idempotency_key, type=type, memo=memo, actor=actor,
                 posted_at=posted_at, party=party, payee_masked=payee_masked,
                 lines=[debit(debit_account_id, amount), credit(credit_account_id, amount)])


# --- holds (two-phase transfers) ----------------------------------------------------------


@transaction.atomic
def hold_place(*, account_id: int, amount: Money, idempotency_key: str, reason: str,
               actor: str, placed_at: datetime, expires_at: datetime | None = None) -> Hold:
    """Reserve ``amount`` on a debit-able account: available balance drops, balance does not."""
    if amount.fen <= 0:
        raise InvalidAmount(extra={"reason": "a hold must be positive"})
    account = locks.lock_accounts([account_id])[account_id]
    # The account lock serialises requests for this account, so this read is race-free.
    existing = Hold.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if (existing.account_id, existing.amount) != (account_id, amount.fen):
            raise IdempotencyKeyReused(extra={"idempotency_key": idempotency_key})
        existing.replayed = True
        return existing
    if account.currency != amount.currency:
        raise CurrencyMismatch(extra={"account": account.number})
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed(extra={"account": account.number})
    if account.status == AccountStatus.FROZEN:
        raise AccountFrozen(extra={"account": account.number})
    limit = account.overdraft_limit
    if limit is not None and account.balance - account.held - amount.fen < -limit:
        raise InsufficientFunds(extra={"account": account.number})
    Account.objects.filter(pk=account_id).update(held=account.held + amount.fen)
    try:
        with transaction.atomic():
            hold = Hold.objects.create(
                account_id=account_id, amount=amount.fen, status=HoldStatus.PENDING,
                idempotency_key=idempotency_key, reason=reason, placed_at=placed_at,
                expires_at=expires_at,
            )
    except IntegrityError as exc:  # same key used concurrently on another account
        raise IdempotencyKeyReused(extra={"idempotency_key": idempotency_key}) from exc
    hold.replayed = False
    audit.record(actor=actor, action="ledger.hold.placed", target=f"hold:{hold.pk}",
                 occurred_at=placed_at,
                 details={"account_id": account_id, "amount_fen": amount.fen, "reason": reason})
    return hold


def _close_hold(*, hold_id: int, status: str, actor: str, at: datetime) -> Hold:
    hold = locks.lock_hold(hold_id)
    if hold.status in (HoldStatus.RELEASED, HoldStatus.EXPIRED):
        return hold
    if hold.status != HoldStatus.PENDING:
        raise HoldNotPending(extra={"hold_id": hold_id, "status": hold.status})
    account = locks.lock_accounts([hold.account_id])[hold.account_id]
    Account.objects.filter(pk=account.pk).update(held=account.held - hold.amount)
    hold.status, hold.closed_at = status, at
    hold.save(update_fields=["status", "closed_at"])
    audit.record(actor=actor, action=f"ledger.hold.{status.lower()}", target=f"hold:{hold_id}",
                 occurred_at=at, details={"account_id": hold.account_id,
                                          "amount_fen": hold.amount})
    return hold


@transaction.atomic
def hold_release(*, hold_id: int, actor: str, released_at: datetime) -> Hold:
    """Void a hold: the reserved money becomes available again. Repeating it is harmless."""
    return _close_hold(hold_id=hold_id, status=HoldStatus.RELEASED, actor=actor, at=released_at)


@transaction.atomic
def hold_capture(*, hold_id: int, credit_account_id: int, idempotency_key: str, actor: str,
                 captured_at: datetime, amount: Money | None = None, memo: str = "",
                 party: Party | None = None, payee_masked: bool = False) -> Journal:
    """Post a hold (fully, or partly with the rest released) to ``credit_account_id``;
    ``party`` and ``payee_masked`` as for ``transfer``."""
    hold = locks.lock_hold(hold_id)
    account = Account.objects.get(pk=hold.account_id)
    amount = amount if amount is not None else Money(hold.amount, account.currency)
    lines = [debit(hold.account_id, amount), credit(credit_account_id, amount)]
    if hold.status != HoldStatus.PENDING:
        if hold.status == HoldStatus.CAPTURED:
            try:
                journal = _replay(key=idempotency_key, request_hash=_request_hash(
                    JournalType.HOLD_CAPTURE, memo, lines))
            except Journal.DoesNotExist:
                journal = None
            if journal is not None and journal.pk == hold.capture_journal_id:
                return journal
        raise HoldNotPending(extra={"hold_id": hold_id, "status": hold.status})
    if not 0 < amount.fen <= hold.amount:
        raise InvalidAmount(extra={"reason": "capture must be positive and within the hold"})
    journal = _post(idempotency_key=idempotency_key, type=JournalType.HOLD_CAPTURE, lines=lines,
                    memo=memo, actor=actor, posted_at=captured_at,
                    release={hold.account_id: hold.amount}, party=party,
                    payee_masked=payee_masked)
    if journal.replayed:  # the key belongs to another journal with the same content
        raise IdempotencyKeyReused(extra={"idempotency_key": idempotency_key})
    hold.status, hold.captured_amount = HoldStatus.CAPTURED, amount.fen
    hold.closed_at, hold.capture_journal = captured_at, journal
    hold.save(update_fields=["status", "captured_amount", "closed_at", "capture_journal"])
    return journal


def holds_expire(*, now: datetime, actor: str = "system:ledger", limit: int = 500) -> int:
    """Release pending holds whose time is up; each in its own transaction."""
    due = list(
        Hold.objects.filter(status=HoldStatus.PENDING, expires_at__lte=now)
        .order_by("expires_at").values_list("pk", flat=True)[:limit]
    )
    for hold_id in due:
        with transaction.atomic():
            _close_hold(hold_id=hold_id, status=HoldStatus.EXPIRED, actor=actor, at=now)
    return len(due)
