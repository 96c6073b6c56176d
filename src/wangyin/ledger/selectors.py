"""Ledger reads: balances, statements (keyset-paginated) and the integrity check."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Q

from wangyin.core.money import Money
from wangyin.ledger.errors import AccountNotFound
from wangyin.ledger.models import Account, Posting


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


@dataclass(frozen=True)
class StatementLine:
    posting_id: int
    journal_id: int
    posted_at: datetime
    amount: Money  # from the account holder's point of view: + money in, - money out
    balance_after: Money
    journal_type: str
    memo: str


@dataclass
class StatementPage:
    lines: list[StatementLine]
    next_cursor: str | None


def _encode_cursor(posted_at: datetime, posting_id: int) -> str:
    return base64.urlsafe_b64encode(f"{posted_at.isoformat()}|{posting_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        when, pk = text.rsplit("|", 1)
        return datetime.fromisoformat(when), int(pk)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid statement cursor") from exc


def statement_queryset(
    *,
    account_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    min_amount: Money | None = None,
    max_amount: Money | None = None,
    after: str | None = None,
):
    """The statement query (newest first), kept next to its index; exposed for EXPLAIN."""
    qs = Posting.objects.filter(account_id=account_id)
    if since is not None:
        qs = qs.filter(posted_at__gte=since)
    if until is not None:
        qs = qs.filter(posted_at__lt=until)
    if min_amount is not None:
        qs = qs.filter(Q(amount__gte=min_amount.fen) | Q(amount__lte=-min_amount.fen))
    if max_amount is not None:
        qs = qs.filter(amount__gte=-max_amount.fen, amount__lte=max_amount.fen)
    if after:
        at, pk = _decode_cursor(after)
        qs = qs.filter(Q(posted_at__lt=at) | Q(posted_at=at, id__lt=pk))
    return (
        qs.order_by("-posted_at", "-id")
        .select_related("journal")
        .only("id", "journal_id", "posted_at", "amount", "balance_after",
              "journal__type", "journal__memo")
    )


def account_statement(
    *,
    account_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    min_amount: Money | None = None,
    max_amount: Money | None = None,
    after: str | None = None,
    limit: int = 50,
) -> StatementPage:
    """Newest first. Dates are a half-open range [since, until); amounts filter the size of
    the movement (either direction). Served by the (account, posted_at DESC, id DESC) index;
    ``after`` is the opaque cursor of the previous page (keyset pagination: page N costs the
    same as page 1)."""
    limit = max(1, min(limit, 500))
    try:
        account = Account.objects.only("normal_side", "currency").get(pk=account_id)
    except Account.DoesNotExist as exc:
        raise AccountNotFound(extra={"account_id": account_id}) from exc
    qs = statement_queryset(account_id=account_id, since=since, until=until,
                            min_amount=min_amount, max_amount=max_amount, after=after)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    lines = [
        StatementLine(
            posting_id=p.id, journal_id=p.journal_id, posted_at=p.posted_at,
            amount=Money(account.sign * p.amount, account.currency),
            balance_after=Money(p.balance_after, account.currency),
            journal_type=p.journal.type, memo=p.journal.memo,
        )
        for p in rows
    ]
    cursor = _encode_cursor(rows[-1].posted_at, rows[-1].id) if more and rows else None
    return StatementPage(lines=lines, next_cursor=cursor)


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
