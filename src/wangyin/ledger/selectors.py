"""Ledger reads: balances, statements (keyset-paginated) and the integrity check."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field, fields
from datetime import datetime

from django.db import connection, models
from django.db.models import Case, Count, Exists, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Sign
from django.utils.translation import gettext_lazy as _

from wangyin.core.masking import mask_account, mask_name
from wangyin.core.money import Money
from wangyin.ledger.errors import AccountNotFound
from wangyin.ledger.models import Account, AccountKind, Journal, JournalType, Posting


@dataclass(frozen=True)
class Balance:
    balance: Money
    held: Money
    available: Money


def account_balance(*, account_id: int) -> Balance:
    try:
        a = Account.objects.only("balance", "held", "currency").get(pk=account_id)
    except Account.DoesNotExist as exc:
        raise AccountNotFound(extra={"account_id": account_id}) from exc
    return Balance(Money(a.balance, a.currency), Money(a.held, a.currency),
                   Money(a.balance - a.held, a.currency))


class Direction(models.TextChoices):
    IN = "IN", _("Money in")
    OUT = "OUT", _("Money out")


class StatementKind(models.TextChoices):
    """The kinds of movement a customer filters by; each covers one or more journal types."""

    TRANSFER = "TRANSFER", _("Transfer")
    DEPOSIT = "DEPOSIT", _("Cash deposit")
    WITHDRAWAL = "WITHDRAWAL", _("Cash withdrawal")
    FEE = "FEE", _("Fee")
    INTEREST = "INTEREST", _("Interest")
    REVERSAL = "REVERSAL", _("Reversal")
    OTHER = "OTHER", _("Other")


STATEMENT_KIND_TYPES = {
    # A captured hold is a payment held for review or settlement, then made: a transfer.
    StatementKind.TRANSFER: (JournalType.TRANSFER, JournalType.HOLD_CAPTURE),
    StatementKind.DEPOSIT: (JournalType.DEPOSIT,),
    StatementKind.WITHDRAWAL: (JournalType.WITHDRAWAL,),
    StatementKind.FEE: (JournalType.FEE,),
    StatementKind.INTEREST: (JournalType.INTEREST,),
    StatementKind.REVERSAL: (JournalType.REVERSAL,),
    StatementKind.OTHER: (JournalType.OPENING, JournalType.ADJUSTMENT),
}
_KIND_OF_TYPE = {t: kind for kind, types in STATEMENT_KIND_TYPES.items() for t in types}


def statement_kind(journal_type: str) -> StatementKind:
    return _KIND_OF_TYPE.get(journal_type, StatementKind.OTHER)


@dataclass(frozen=True)
class Counterparty:
    """Who is on the other side of a movement, as the statement shows it: the party outside
    the bank, another account of this bank, or the bank's own book (cash desk, fees)."""

    name: str
    account: str = ""  # masked
    bank: str = ""  # CNAPS code of another bank; empty for this bank
    more: int = 0  # further accounts of this bank in the same journal (batch payments)


@dataclass(frozen=True)
class StatementLine:
    posting_id: int
    journal_id: int
    posted_at: datetime
    amount: Money  # from the account holder's point of view: + money in, - money out
    balance_after: Money
    journal_type: str
    memo: str
    counterparty: Counterparty | None = None

    @property
    def kind(self) -> StatementKind:
        return statement_kind(self.journal_type)


@dataclass
class StatementPage:
    lines: list[StatementLine]
    next_cursor: str | None


@dataclass(frozen=True)
class StatementFilters:
    """What a statement shows: a half-open period [since, until) and optional filters on the
    size of the movement (either direction), its direction, its kind and its counterparty."""

    since: datetime | None = None
    until: datetime | None = None
    min_amount: Money | None = None
    max_amount: Money | None = None
    direction: str | None = None  # Direction
    kind: str | None = None  # StatementKind
    counterparty: str = ""

    def as_kwargs(self) -> dict:
        """For ``account_statement(**filters.as_kwargs())`` (a shallow copy, Money kept)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def fingerprint(self, account_id: int) -> str:
        """Binds a cursor to its account and filters: a cursor taken under other filters
        would silently skip movements, so it is refused instead."""
        text = "|".join(str(x) for x in (
            account_id, self.since and self.since.isoformat(),
            self.until and self.until.isoformat(), self.min_amount and self.min_amount.fen,
            self.max_amount and self.max_amount.fen, self.direction, self.kind,
            self.counterparty.strip()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_cursor(posted_at: datetime, posting_id: int, fingerprint: str) -> str:
    text = f"{posted_at.isoformat()}|{posting_id}|{fingerprint}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode_cursor(cursor: str, fingerprint: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        when, pk, bound_to = text.rsplit("|", 2)
        if bound_to != fingerprint:
            raise ValueError("the cursor belongs to other filters")
        return datetime.fromisoformat(when), int(pk)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid statement cursor") from exc


_DIGITS = re.compile(r"^[0-9]+$")


def _number_matches(field_name: str, text: str) -> Q | None:
    """A counterparty number is found by its last four digits (what the masked number shows)
    or by the whole number; nothing in between, so the hidden digits cannot be probed."""
    digits = re.sub(r"[\s-]+", "", text)
    if not _DIGITS.match(digits):
        return None
    if len(digits) == 4:
        return Q(**{f"{field_name}__endswith": digits})
    if len(digits) >= 8:
        return Q(**{field_name: digits})
    return None


_NO_PARTY, _OTHER_PARTY, _PARTY_MATCHES = 0, 1, 2


def _counterparty_filter(qs, text: str):
    """The same rule as ``_counterparties``, as SQL: the journal's outside party when it has
    one, else the customer accounts on the other side of the journal, else its GL accounts
    on the other side (by name).

    Each part is a subquery of the line itself that PostgreSQL cannot turn into a join or a
    hash: the journal's party by primary key (a scalar subquery), the legs correlated on the
    line's journal, account and side (posting_journal index). So it checks each candidate
    line, instead of hashing every journal or every posting of a matching account (the
    cash desk's are millions)."""
    text = text.strip()
    party_set = ~Q(party_name="") | ~Q(party_account="")
    party = Q(party_name__icontains=text)
    # A payee shown masked to the payer (``payee_masked``) is not found by their name from
    # the payer's side (the other leg, the payee's, is a credit): no probing of the name.
    leg = Q(account__name__icontains=text) & (Q(journal__payee_masked=False) | Q(amount__gt=0))
    if (by_number := _number_matches("party_account", text)) is not None:
        party |= by_number
        leg |= _number_matches("account__number", text)
    party_state = (Journal.objects.filter(pk=OuterRef("journal_id"))
                   .annotate(state=Case(When(party_set & party, then=Value(_PARTY_MATCHES)),
                                        When(party_set, then=Value(_OTHER_PARTY)),
                                        default=Value(_NO_PARTY)))
                   .values("state")[:1])
    others = (Posting.objects.filter(journal_id=OuterRef("journal_id"))
              .exclude(account_id=OuterRef("account_id"))
              .alias(side=Sign("amount")).filter(side=Sign(OuterRef("amount")) * -1))
    customer_legs = others.filter(account__kind=AccountKind.CUSTOMER)
    return qs.alias(party_state=Subquery(party_state)).filter(
        Q(party_state=_PARTY_MATCHES)
        | (Q(party_state=_NO_PARTY)
           & (Exists(customer_legs.filter(leg))
              | (~Exists(customer_legs)
                 & Exists(others.filter(account__kind=AccountKind.GL,
                                        account__name__icontains=text))))))


def _filtered(*, account_id: int, sign: int, filters: StatementFilters):
    qs = Posting.objects.filter(account_id=account_id)
    f = filters
    if f.since is not None:
        qs = qs.filter(posted_at__gte=f.since)
    if f.until is not None:
        qs = qs.filter(posted_at__lt=f.until)
    if f.min_amount is not None:
        qs = qs.filter(Q(amount__gte=f.min_amount.fen) | Q(amount__lte=-f.min_amount.fen))
    if f.max_amount is not None:
        qs = qs.filter(amount__gte=-f.max_amount.fen, amount__lte=f.max_amount.fen)
    if f.direction:
        if f.direction not in Direction.values:
            raise ValueError(f"unknown direction {f.direction!r}")
        money_in = Q(amount__gt=0) if sign > 0 else Q(amount__lt=0)
        qs = qs.filter(money_in if f.direction == Direction.IN else ~money_in)
    if f.kind:
        # A per-line look-up by primary key, not a join: a join would let the planner hash
        # all the bank's journals of that type.
        journal_type = Journal.objects.filter(pk=OuterRef("journal_id")).values("type")[:1]
        qs = qs.alias(journal_type=Subquery(journal_type)).filter(
            journal_type__in=STATEMENT_KIND_TYPES[StatementKind(f.kind)])
    if f.counterparty.strip():
        qs = _counterparty_filter(qs, f.counterparty)
    return qs


def statement_queryset(
    *,
    account_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    min_amount: Money | None = None,
    max_amount: Money | None = None,
    direction: str | None = None,
    kind: str | None = None,
    counterparty: str = "",
    after: str | None = None,
    sign: int = -1,
):
    """The statement query (newest first), kept next to its index; exposed for EXPLAIN.
    ``sign`` is the account's (-1: credit-normal, as customer accounts are); it only matters
    for the direction filter."""
    filters = StatementFilters(since=since, until=until, min_amount=min_amount,
                               max_amount=max_amount, direction=direction, kind=kind,
                               counterparty=counterparty)
    qs = _filtered(account_id=account_id, sign=sign, filters=filters)
    if after:
        at, pk = _decode_cursor(after, filters.fingerprint(account_id))
        qs = qs.filter(Q(posted_at__lt=at) | Q(posted_at=at, id__lt=pk))
    # No join with the journals: ``account_statement`` reads the page's journals by key.
    return (qs.order_by("-posted_at", "-id")
            .only("id", "journal_id", "posted_at", "amount", "balance_after"))


def _account(account_id: int) -> Account:
    try:
        return Account.objects.only("normal_side", "currency", "balance").get(pk=account_id)
    except Account.DoesNotExist as exc:
        raise AccountNotFound(extra={"account_id": account_id}) from exc


def _counterparties(account_id: int, postings, journals: dict[int, Journal]
                    ) -> dict[int, Counterparty]:
    """The counterparty of each line (by posting id), in one query for the whole page: the
    journal's outside party, else the customer accounts on the other side of the journal
    (the payer for a payee, the payees for a payer), else the bank's book on that side."""
    found: dict[int, Counterparty] = {}
    pending = {}
    for p in postings:
        journal = journals[p.journal_id]
        if journal.party_name or journal.party_account:
            found[p.id] = Counterparty(name=journal.party_name,
                                       account=mask_account(journal.party_account),
                                       bank=journal.party_bank)
        else:
            pending[p.journal_id] = p
    legs: dict[int, tuple[list, list]] = {}
    rows = (Posting.objects.filter(journal_id__in=pending).exclude(account_id=account_id)
            .order_by("journal_id", "id")
            .values_list("journal_id", "amount", "account__kind", "account__name",
                         "account__number"))
    for journal_id, amount, kind, name, number in rows:
        if (amount > 0) == (pending[journal_id].amount > 0):
            continue  # the same side as this line: a co-payer or co-payee, not the other side
        customers, books = legs.setdefault(journal_id, ([], []))
        group = customers if kind == AccountKind.CUSTOMER else books
        if (name, number) not in group:
            group.append((name, number))
    for journal_id, (customers, books) in legs.items():
        posting_id = pending[journal_id].id
        if customers:
            name, number = customers[0]
            if journals[journal_id].payee_masked and pending[journal_id].amount > 0:
                name = mask_name(name)  # the payer of a payment found by mobile number
            found[posting_id] = Counterparty(name=name, account=mask_account(number),
                                             more=len(customers) - 1)
        elif books:
            found[posting_id] = Counterparty(name=books[0][0])
    return found


def account_statement(
    *,
    account_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    min_amount: Money | None = None,
    max_amount: Money | None = None,
    direction: str | None = None,
    kind: str | None = None,
    counterparty: str = "",
    after: str | None = None,
    limit: int = 50,
) -> StatementPage:
    """Newest first, each line with its counterparty. Dates are a half-open range
    [since, until); amounts filter the size of the movement (either direction); ``direction``
    is money in or out for the holder; ``kind`` a ``StatementKind``; ``counterparty`` text
    matches the counterparty's name, the last four digits or the whole of its account
    number. Served by the (account, posted_at DESC, id DESC) index; ``after`` is the opaque
    cursor of the previous page under the same filters (keyset pagination: page N costs the
    same as page 1); a cursor that is not one raises ValueError."""
    limit = max(1, min(limit, 500))
    account = _account(account_id)
    qs = statement_queryset(account_id=account_id, since=since, until=until,
                            min_amount=min_amount, max_amount=max_amount, direction=direction,
                            kind=kind, counterparty=counterparty, after=after,
                            sign=account.sign)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    journals = Journal.objects.only("type", "memo", "party_name", "party_account", "payee_masked",
                                    "party_bank").in_bulk({p.journal_id for p in rows})
    counterparties = _counterparties(account_id, rows, journals)
    lines = [
        StatementLine(
            posting_id=p.id, journal_id=p.journal_id, posted_at=p.posted_at,
            amount=Money(account.sign * p.amount, account.currency),
            balance_after=Money(p.balance_after, account.currency),
            journal_type=journals[p.journal_id].type, memo=journals[p.journal_id].memo,
            counterparty=counterparties.get(p.id),
        )
        for p in rows
    ]
    filters = StatementFilters(since=since, until=until, min_amount=min_amount,
                               max_amount=max_amount, direction=direction, kind=kind,
                               counterparty=counterparty)
    cursor = (_encode_cursor(rows[-1].posted_at, rows[-1].id, filters.fingerprint(account_id))
              if more and rows else None)
    return StatementPage(lines=lines, next_cursor=cursor)


@dataclass(frozen=True)
class StatementSummary:
    opening: Money  # the balance before the period
    closing: Money  # the balance at its end
    money_in: Money  # totals of the movements that match the filters
    money_out: Money
    count: int


def statement_summary(*, account_id: int, filters: StatementFilters) -> StatementSummary:
    """Opening and closing balance of the period (whatever the other filters), and the
    totals and number of the movements that match all the filters. Three index range
    reads on the statement index."""
    account = _account(account_id)
    currency = account.currency

    def balance_before(moment: datetime | None) -> int:
        qs = Posting.objects.filter(account_id=account_id)
        if moment is not None:
            qs = qs.filter(posted_at__lt=moment)
        row = qs.order_by("-posted_at", "-id").values_list("balance_after", flat=True)[:1]
        return row[0] if row else 0

    opening = balance_before(filters.since) if filters.since is not None else 0
    closing = balance_before(filters.until)
    money_in = Q(amount__gt=0) if account.sign > 0 else Q(amount__lt=0)
    totals = _filtered(account_id=account_id, sign=account.sign, filters=filters).aggregate(
        money_in=Sum("amount", filter=money_in, default=0),
        money_out=Sum("amount", filter=~money_in, default=0), count=Count("id"))
    return StatementSummary(
        opening=Money(opening, currency), closing=Money(closing, currency),
        money_in=Money(abs(totals["money_in"]), currency),
        money_out=Money(abs(totals["money_out"]), currency), count=totals["count"])


@dataclass
class LedgerReport:
    accounts: int = 0
    journals: int = 0
    postings: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_CHECKS = {
    "trial balance": """
        SELECT j.currency, sum(p.amount) FROM ledger_posting p
        JOIN ledger_journal j ON j.id = p.journal_id
        GROUP BY j.currency HAVING sum(p.amount) <> 0""",
    "account balance": """
        SELECT a.number, a.balance,
               (CASE a.normal_side WHEN 'DEBIT' THEN 1 ELSE -1 END) * coalesce(sum(p.amount), 0)
        FROM ledger_account a LEFT JOIN ledger_posting p ON p.account_id = a.id
        GROUP BY a.id
        HAVING a.balance <> (CASE a.normal_side WHEN 'DEBIT' THEN 1 ELSE -1 END)
                             * coalesce(sum(p.amount), 0)""",
    "unbalanced journal": """
        SELECT j.id, count(p.id), coalesce(sum(p.amount), 0) FROM ledger_journal j
        LEFT JOIN ledger_posting p ON p.journal_id = j.id
        GROUP BY j.id HAVING count(p.id) < 2 OR coalesce(sum(p.amount), 0) <> 0""",
    "running balance": """
        SELECT number, id, balance_after, expected FROM (
            SELECT a.number, p.id, p.balance_after,
                   sum((CASE a.normal_side WHEN 'DEBIT' THEN 1 ELSE -1 END) * p.amount)
                       OVER (PARTITION BY p.account_id ORDER BY p.id) AS expected
            FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id) s
        WHERE balance_after <> expected""",
    "held amount": """
        SELECT a.number, a.held, coalesce(sum(h.amount) FILTER (WHERE h.status = 'PENDING'), 0)
        FROM ledger_account a LEFT JOIN ledger_hold h ON h.account_id = a.id
        GROUP BY a.id
        HAVING a.held <> coalesce(sum(h.amount) FILTER (WHERE h.status = 'PENDING'), 0)""",
}


def ledger_verify(*, max_problems_per_check: int = 50) -> LedgerReport:
    """The trial balance sums to zero, every balance equals its postings, every journal is
    balanced, every posting's balance_after is the running sum, holds match held amounts."""
    report = LedgerReport()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM ledger_account), (SELECT count(*) FROM ledger_journal),"
            " (SELECT count(*) FROM ledger_posting)"
        )
        report.accounts, report.journals, report.postings = cursor.fetchone()
        for name, sql in _CHECKS.items():
            cursor.execute(sql + f" LIMIT {int(max_problems_per_check) + 1}")
            for row in cursor.fetchall():
                report.problems.append(f"{name}: {_describe(name, row)}")
    return report


def _describe(check: str, row: tuple) -> str:
    if check == "trial balance":
        return f"postings in {row[0]} sum to {row[1]} fen, not 0"
    if check == "account balance":
        return f"account {row[0]} balance {row[1]} but its postings sum to {row[2]}"
    if check == "unbalanced journal":
        return f"journal {row[0]} has {row[1]} postings summing to {row[2]}"
    if check == "running balance":
        return f"account {row[0]} posting {row[1]} balance_after {row[2]}, expected {row[3]}"
    return f"account {row[0]} held {row[1]} but pending holds total {row[2]}"
