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
    """200 000 postings: 100 000 journals between 20 customer accounts and the cash desk, one
    account with 1 % of them (a bank has far more journals than one account has lines).
    With every filter the account's lines are read through the statement index, never by
    scanning the postings or the journals; type and counterparty are checked on each
    candidate line's own journal and legs, not by collecting every posting of the cash desk
    or every journal of a type."""
    accounts = [make_account() for _ in range(20)]
    cash = make_account(kind="GL", name="库存现金 cash desk")
    ids, target = [x.pk for x in accounts], accounts[3].pk
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH j AS (
                INSERT INTO ledger_journal (idempotency_key, request_hash, type, memo,
                                            currency, posted_at)
                SELECT 'bulk-' || g, 'x', (ARRAY['TRANSFER', 'FEE', 'DEPOSIT'])[1 + g %% 3], '',
                       'CNY', %s::timestamptz + g * interval '30 seconds'
                FROM generate_series(1, 100000) g
                RETURNING id, posted_at)
            INSERT INTO ledger_posting (journal_id, account_id, amount, balance_after, posted_at)
            SELECT j.id, CASE WHEN s.leg = 2 THEN %s
                              WHEN j.id %% 100 = 0 THEN %s
                              ELSE (%s::bigint[])[1 + (j.id %% 19)] END,
                   s.amount, 0, j.posted_at
            FROM j CROSS JOIN (VALUES (1, 100), (2, -100)) s(leg, amount)
            """,
            [at, cash.pk, target, [i for i in ids if i != target]],
        )
        cursor.execute("ANALYZE ledger_posting")
        cursor.execute("ANALYZE ledger_journal")
        cursor.execute("ANALYZE ledger_account")
    for filters in ({"min_amount": cny("0.5")},
                    {"direction": "OUT", "kind": "TRANSFER", "max_amount": cny("2")},
                    {"kind": "FEE", "counterparty": "现金"},
                    {"counterparty": accounts[5].number, "direction": "IN"},
                    {"counterparty": "1234", "min_amount": cny("1")},
                    {"kind": "REVERSAL"}):
        qs = selectors.statement_queryset(account_id=target, since=at,
                                          until=at + timedelta(days=30), **filters)
        plan = qs[:51].explain()
        assert "Index Scan on ledger_posting_statement" in plan or (
            "Index Scan using ledger_posting_statement" in plan), (filters, plan)
        assert "Seq Scan on ledger_posting" not in plan, (filters, plan)
        assert "Seq Scan on ledger_journal" not in plan, (filters, plan)
        assert "hashed SubPlan" not in plan and "Hash Join" not in plan.split("SubPlan")[0], (
            filters, plan)


@pytest.fixture
def parties(make_account, cash, fund, at):
    """张三's account with a same-bank transfer to 李四, one from 李四, an interbank payment
    (through the clearing account, naming the party), a deposit and a batch that pays 李四
    and 王五 in one journal."""
    from wangyin.ledger.models import AccountKind, NormalSide

    mine = make_account(name="张三", number="6236000000000000011")
    li = make_account(name="李四", number="6236000000000000029")
    wang = make_account(name="王五", number="6236000000000000037")
    clearing = make_account(kind=AccountKind.GL, normal_side=NormalSide.DEBIT,
                            name="清算往来", overdraft_limit=None)
    fund(mine, "1000.00")
    fund(li, "100.00")

    def post(key, lines, minutes, memo="", party=None, type="TRANSFER"):
        services.journal_post(idempotency_key=key, type=type, lines=lines, actor="staff:1",
                              posted_at=at + timedelta(minutes=minutes), memo=memo,
                              party=party)

    post("to-li", [services.debit(mine.pk, cny("10")), services.credit(li.pk, cny("10"))], 1)
    post("from-li", [services.debit(li.pk, cny("5")), services.credit(mine.pk, cny("5"))], 2)
    post("interbank", [services.debit(mine.pk, cny("300")),
                       services.credit(clearing.pk, cny("300"))], 3,
         party=services.Party("赵六", "6217000011112222", "102100099996"))
    post("batch", [services.debit(mine.pk, cny("30")), services.credit(li.pk, cny("20")),
                   services.credit(wang.pk, cny("10"))], 4, memo="batch")
    return mine, li, wang


@pytest.mark.req("FP-02")
def test_each_line_has_its_counterparty(parties, django_assert_num_queries):
    mine, li, _wang = parties
    # The account, the page's postings, their journals, the other legs of those journals.
    with django_assert_num_queries(4):
        page = selectors.account_statement(account_id=mine.pk)
    by_key = {line.amount: line.counterparty for line in page.lines}
    assert by_key[cny("-10")] == selectors.Counterparty(name="李四",
                                                       account="6236***********0029")
    assert by_key[cny("5")] == by_key[cny("-10")]
    assert by_key[cny("-300")] == selectors.Counterparty(name="赵六", account="6217********2222",
                                                        bank="102100099996")
    assert by_key[cny("1000")] == selectors.Counterparty(name="cash")  # the cash desk
    assert by_key[cny("-30")] == selectors.Counterparty(name="李四",
                                                       account="6236***********0029", more=1)
    li_page = selectors.account_statement(account_id=li.pk)
    assert li_page.lines[0].counterparty == selectors.Counterparty(
        name="张三", account="6236***********0011")  # the payer, not the other payee


@pytest.mark.req("FP-02")
def test_lines_of_many_journals_cost_no_more_queries(make_account, cash, fund, at,
                                                     django_assert_num_queries):
    a = make_account()
    for _ in range(60):
        fund(a, "1.00")
    with django_assert_num_queries(4):
        page = selectors.account_statement(account_id=a.pk, limit=50)
    assert len(page.lines) == 50 and {x.counterparty.name for x in page.lines} == {"cash"}


def test_direction_follows_the_accounts_side(parties, cash):
    mine, *_ = parties
    money_in = selectors.account_statement(account_id=mine.pk, direction="IN")
    assert [x.amount for x in money_in.lines] == [cny("5"), cny("1000")]
    money_out = selectors.account_statement(account_id=mine.pk, direction="OUT")
    assert [x.amount for x in money_out.lines] == [cny("-30"), cny("-300"), cny("-10")]
    # The cash desk is debit-normal: the cash customers deposit is money into it.
    vault = selectors.account_statement(account_id=cash.pk, direction="IN")
    assert [x.amount for x in vault.lines] == [cny("100"), cny("1000")]
    assert selectors.account_statement(account_id=cash.pk, direction="OUT").lines == []


def test_kind_and_counterparty_filters(parties):
    mine, li, _wang = parties

    def amounts(**filters):
        page = selectors.account_statement(account_id=mine.pk, **filters)
        return [x.amount.fen // 100 for x in page.lines]

    assert amounts(kind="DEPOSIT") == [1000]
    assert amounts(kind="TRANSFER") == [-30, -300, 5, -10]
    assert amounts(counterparty="李四") == [-30, 5, -10]
    assert amounts(counterparty="王五") == [-30]  # one of the batch's payees
    assert amounts(counterparty="赵六") == [-300]
    assert amounts(counterparty="清算") == []  # a party journal names its party, not the GL
    assert amounts(counterparty="0029") == [-30, 5, -10]
    assert amounts(counterparty="6217000011112222") == [-300]
    assert amounts(counterparty="62170000") == []
    assert amounts(counterparty="CASH") == [1000]


def test_a_cursor_only_works_with_its_own_filters(history):
    a, _ = history
    page = selectors.account_statement(account_id=a.pk, min_amount=cny("2"), limit=5)
    more = selectors.account_statement(account_id=a.pk, min_amount=cny("2"), limit=5,
                                       after=page.next_cursor)
    assert [x.memo for x in more.lines] == [f"payment {i}" for i in range(20, 15, -1)]
    with pytest.raises(ValueError):
        selectors.account_statement(account_id=a.pk, min_amount=cny("3"),
                                    after=page.next_cursor)
    with pytest.raises(ValueError):
        selectors.account_statement(account_id=a.pk + 1, min_amount=cny("2"),
                                    after=page.next_cursor)


def test_summary_of_a_period(history, at):
    a, _ = history
    filters = selectors.StatementFilters(since=at + timedelta(hours=3),
                                         until=at + timedelta(hours=6))
    summary = selectors.statement_summary(account_id=a.pk, filters=filters)
    assert summary.opening == cny("997")  # 1000 - 1 - 2
    assert summary.closing == cny("985")  # - 3 - 4 - 5
    assert (summary.money_in, summary.money_out, summary.count) == (cny("0"), cny("12"), 3)
    narrowed = selectors.statement_summary(account_id=a.pk, filters=selectors.StatementFilters(
        since=filters.since, until=filters.until, min_amount=cny("4")))
    assert (narrowed.opening, narrowed.closing) == (summary.opening, summary.closing)
    assert (narrowed.money_out, narrowed.count) == (cny("9"), 2)
    everything = selectors.statement_summary(account_id=a.pk,
                                             filters=selectors.StatementFilters())
    assert (everything.opening, everything.closing) == (cny("0"), cny("675"))
    assert (everything.money_in, everything.money_out) == (cny("1000"), cny("325"))
