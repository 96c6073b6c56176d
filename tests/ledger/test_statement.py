"""Statements: filters, keyset pagination, and an index-backed plan at scale."""

from datetime import timedelta

import pytest
from django.db import connection

from tests.conftest import cny
from wangyin.ledger import selectors, services

pytestmark = [pytest.mark.django_db, pytest.mark.req("AD-05")]


@pytest.fixture
def history(make_account, fund, at):
    """Account a: one deposit then 25 transfers of 1..25 yuan, one per hour."""
    a, b = make_account(), make_account()
    fund(a, "1000.00")
    for i in range(1, 26):
        services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny(str(i)),
                          idempotency_key=f"h{i}", actor="customer:1",
                          posted_at=at + timedelta(hours=i), memo=f"payment {i}")
    return a, b


def test_pages_cover_everything_once_newest_first(history):
    a, _ = history
    seen, cursor = [], None
    while True:
        page = selectors.account_statement(account_id=a.pk, after=cursor, limit=7)
        seen.extend(page.lines)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 26 and len({x.posting_id for x in seen}) == 26
    assert [x.posted_at for x in seen] == sorted((x.posted_at for x in seen), reverse=True)
    assert seen[0].amount == cny("-25") and seen[0].memo == "payment 25"
    assert seen[-1].amount == cny("1000")  # the deposit, as money in
    assert seen[0].balance_after == cny("675")  # 1000 - (1+..+25)


def test_date_range_is_half_open(history, at):
    a, _ = history
    page = selectors.account_statement(account_id=a.pk, since=at + timedelta(hours=3),
                                       until=at + timedelta(hours=6))
    assert [x.memo for x in page.lines] == ["payment 5", "payment 4", "payment 3"]


def test_amount_filter_uses_the_size_of_the_movement(history):
    a, b = history
    page = selectors.account_statement(account_id=a.pk, min_amount=cny("10"),
                                       max_amount=cny("12"))
    assert [x.amount for x in page.lines] == [cny("-12"), cny("-11"), cny("-10")]
    page_b = selectors.account_statement(account_id=b.pk, min_amount=cny("24"))
    assert [x.amount for x in page_b.lines] == [cny("25"), cny("24")]


def test_bad_cursor_is_rejected(history):
    a, _ = history
    with pytest.raises(ValueError):
        selectors.account_statement(account_id=a.pk, after="not-a-cursor")


@pytest.mark.slow
def test_statement_plan_uses_the_index_with_many_postings(make_account, at):
    """100 000 postings over 20 accounts: the statement is an index scan, never a seq scan."""
    accounts = [make_account() for _ in range(20)]
    ids = [x.pk for x in accounts]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH j AS (
                INSERT INTO ledger_journal (idempotency_key, request_hash, type, memo,
                                            currency, posted_at)
                SELECT 'bulk-' || g, 'x', 'ADJUSTMENT', '', 'CNY',
                       %s::timestamptz + g * interval '1 minute'
                FROM generate_series(1, 50000) g
                RETURNING id, posted_at)
            INSERT INTO ledger_posting (journal_id, account_id, amount, balance_after, posted_at)
            SELECT j.id, (%s::bigint[])[1 + (j.id %% 20)], s.amount, 0, j.posted_at
            FROM j CROSS JOIN (VALUES (100), (-100)) s(amount)
            """,
            [at, ids],
        )
        cursor.execute("ANALYZE ledger_posting")
    qs = selectors.statement_queryset(account_id=ids[3], since=at,
                                      until=at + timedelta(days=30), min_amount=cny("0.5"))
    plan = qs[:51].explain()
    assert "ledger_posting_statement" in plan, plan
    assert "Seq Scan on ledger_posting" not in plan, plan
