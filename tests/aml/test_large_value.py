"""Large-value transaction reports (PBOC rules) on hand-computed fixtures: thresholds just
below and exactly at, single and same-day cumulative, per direction, personal vs corporate,
cash and cross-border; Beijing calendar days; idempotent generation; due dates on the
business calendar; review and export once."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction

from wangyin.aml import files, selectors, services
from wangyin.aml.errors import (
    AlreadyReviewed,
    DayNotOver,
    NotExportedYet,
    NothingToExport,
    ReasonRequired,
)
from wangyin.aml.models import LargeValueItem, LargeValueReport
from wangyin.audit.models import AuditEvent
from wangyin.core import calendar
from wangyin.core.models import CalendarDay
from wangyin.ledger import services as ledger
from wangyin.ledger.models import JournalType

from ..conftest import cny
from .conftest import DAY, GENERATE_AT, on_day

pytestmark = [pytest.mark.django_db, pytest.mark.req("RK-09")]


def generate(day=DAY, at=GENERATE_AT):
    return services.large_value_generate(day=day, at=at)


def reported():
    """{(customer account number, direction, category): (total yuan, count)}."""
    found = {}
    for report in LargeValueReport.objects.all():
        numbers = {item.account.number for item in report.items.select_related("account")}
        assert len(numbers) == 1  # every fixture customer has one account
        found[(numbers.pop(), report.direction, report.category)] = (
            f"{report.total_fen / 100:.2f}", report.count)
    return found


@pytest.mark.parametrize(("amounts", "total"), [
    (["499999.99"], None),  # single, just below
    (["500000.00"], "500000.00"),  # single, exactly at
    (["300000.00", "199999.99"], None),  # cumulative, just below
    (["300000.00", "200000.00"], "500000.00"),  # cumulative, exactly at
])
def test_personal_domestic_transfers_single_or_cumulative_both_directions(bank, amounts, total):
    payer, payee = bank.person(), bank.person(name="李四")
    for n, yuan in enumerate(amounts):
        bank.pay(payer, payee, yuan, when=on_day(9 + n))
    generate()
    expected = {} if total is None else {
        (payer.number, "OUT", "PERSONAL_DOMESTIC"): (total, len(amounts)),
        (payee.number, "IN", "PERSONAL_DOMESTIC"): (total, len(amounts))}
    assert reported() == expected


def test_directions_are_not_added_together_or_netted(bank):
    middle, source, sink = bank.person(), bank.person(name="李四"), bank.person(name="王五")
    bank.pay(source, middle, "400000.00")
    bank.pay(middle, sink, "400000.00")  # 800,000 through the account, 400,000 each way
    generate()
    assert reported() == {}
    bank.pay(middle, sink, "100000.00", when=on_day(23, 59, 59))
    LargeValueReport.objects.all().delete()
    generate()
    assert reported() == {(middle.number, "OUT", "PERSONAL_DOMESTIC"): ("500000.00", 2),
                          (sink.number, "IN", "PERSONAL_DOMESTIC"): ("500000.00", 2)}


@pytest.mark.parametrize(("yuan", "company_reported"), [
    ("1999999.99", False), ("2000000.00", True)])
def test_corporate_transfers_have_their_own_threshold(bank, yuan, company_reported):
    company, person = bank.company(), bank.person(yuan="0")
    bank.pay(company, person, yuan)
    generate()
    expected = {(person.number, "IN", "PERSONAL_DOMESTIC"): (yuan, 1)}  # ≥ 500,000 personal
    if company_reported:
        expected[(company.number, "OUT", "CORPORATE")] = (yuan, 1)
    assert reported() == expected


def test_a_company_paying_the_personal_threshold_is_not_reported(bank):
    company, person = bank.company(), bank.person(yuan="0")
    bank.pay(company, person, "499999.99")
    bank.pay(company, bank.person(name="李四", yuan="0"), "600000.00")
    generate()
    assert (company.number, "OUT", "CORPORATE") not in reported()


@pytest.mark.parametrize(("deposits", "total"), [
    (["49999.99"], None), (["50000.00"], "50000.00"),
    (["30000.00", "19999.99"], None), (["30000.00", "20000.00"], "50000.00")])
def test_cash_deposits_single_or_cumulative(bank, deposits, total):
    account = bank.person()
    for n, yuan in enumerate(deposits):
        bank.deposit(account, yuan, when=on_day(9 + n))
    generate()
    assert reported() == ({} if total is None else
                          {(account.number, "IN", "CASH"): (total, len(deposits))})


def test_cash_withdrawals_are_reported_out_and_apart_from_transfers(bank):
    account, other = bank.person(), bank.person(name="李四")
    bank.withdraw(account, "49999.99")
    bank.pay(account, other, "10.00")  # a transfer does not count towards cash
    generate()
    assert reported() == {}
    bank.withdraw(account, "0.01", when=on_day(15))
    generate()
    assert reported() == {(account.number, "OUT", "CASH"): ("50000.00", 2)}


@pytest.mark.parametrize(("yuan", "is_reported"), [("199999.99", False), ("200000.00", True)])
def test_personal_cross_border_transfers(bank, yuan, is_reported):
    """A party bank named by a SWIFT BIC is abroad; it has its own, lower threshold."""
    account = bank.person()
    abroad = ledger.Party("JOHN SMITH", "GB29NWBK60161331926819", "NWBKGB2LXXX")
    bank.pay(account, None, yuan, party=abroad)
    bank.pay(account, None, "400000.00", when=on_day(11),
             party=ledger.Party("赵六", "6222020000000001234", "102428000013"))  # domestic
    generate()
    assert reported() == ({(account.number, "OUT", "PERSONAL_CROSS_BORDER"): (yuan, 1)}
                          if is_reported else {})
    if is_reported:
        item = LargeValueItem.objects.get()
        assert (item.counterparty_name, item.counterparty_bank) == ("JOHN SMITH", "NWBKGB2LXXX")


def test_the_day_is_the_calendar_day_in_beijing(bank):
    payer, payee = bank.person(), bank.person(name="李四")
    bank.pay(payer, payee, "250000.00", when=on_day(0, 0, 0))  # first second of the day
    bank.pay(payer, payee, "250000.00", when=on_day(23, 59, 59))  # last second
    bank.pay(payer, payee, "400000.00", when=on_day(0, 0, 0, day=DAY + timedelta(days=1)))
    bank.pay(payer, payee, "400000.00", when=on_day(23, 59, 59, day=DAY - timedelta(days=1)))
    generate()
    assert reported()[(payer.number, "OUT", "PERSONAL_DOMESTIC")] == ("500000.00", 2)


def test_own_accounts_fees_and_reversals_are_not_reported(bank):
    from wangyin.customers.services import corporate_account_open

    basic = bank.company()
    general = corporate_account_open(company_id=basic.company_id, product="CORPORATE_GENERAL",
                                     actor="staff:1", opened_at=bank.at)
    bank.pay(basic, general, "3000000.00")  # between the company's own accounts
    person = bank.person()
    bank.pay(None, person, "600000.00", type=JournalType.REVERSAL)  # money given back
    bank.pay(person, None, "600000.00", type=JournalType.FEE)
    generate()
    assert reported() == {}


def test_a_payment_released_after_review_counts(bank):
    payer, payee = bank.person(), bank.person(name="李四")
    hold = ledger.hold_place(account_id=payer.ledger_account_id, amount=cny("500000.00"),
                             idempotency_key="aml-hold", reason="risk review",
                             actor="staff:test", placed_at=on_day(9))
    ledger.hold_capture(hold_id=hold.pk, credit_account_id=payee.ledger_account_id,
                        idempotency_key="aml-capture", actor="staff:test",
                        captured_at=on_day(10))
    generate()
    assert reported()[(payer.number, "OUT", "PERSONAL_DOMESTIC")] == ("500000.00", 1)


def test_thresholds_are_settings(bank, settings):
    settings.AML_CASH_FEN = 1_000_000  # ¥10,000
    account = bank.person()
    bank.deposit(account, "10000.00")
    generate()
    report = LargeValueReport.objects.get()
    assert (report.category, report.total_fen, report.threshold_fen) == (
        "CASH", 1_000_000, 1_000_000)


def test_generation_is_idempotent(bank):
    payer, payee = bank.person(), bank.person(name="李四")
    bank.pay(payer, payee, "500000.00")
    bank.deposit(payer, "50000.00")
    first = generate()
    assert (first.created, first.existing) == (3, 0)
    again = generate(at=GENERATE_AT + timedelta(days=1))
    assert (again.created, again.existing) == (0, 3)
    assert LargeValueReport.objects.count() == 3 and LargeValueItem.objects.count() == 3
    report = LargeValueReport.objects.get(category="CASH")
    with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses too
        LargeValueReport.objects.create(
            day=DAY, direction="IN", category="CASH", person=report.person, total_fen=5_000_000,
            count=1, threshold_fen=5_000_000, due_date=report.due_date, generated_at=GENERATE_AT)


def test_a_day_is_reported_once_it_is_over(bank):
    with pytest.raises(DayNotOver):
        generate(at=on_day(23, 59))


def test_due_within_five_working_days_skipping_a_holiday(bank):
    payer, payee = bank.person(), bank.person(name="李四")
    bank.pay(payer, payee, "500000.00")
    generate()
    assert {r.due_date for r in LargeValueReport.objects.all()} == {date(2026, 11, 6)}
    LargeValueReport.objects.all().delete()
    CalendarDay.objects.create(date=date(2026, 11, 4), working=False, name="test holiday")
    calendar.cache_clear()  # as the loader does
    generate()  # Mon 2, Tue 3, (Wed 4 off), Thu 5, Fri 6, Mon 9
    assert {r.due_date for r in LargeValueReport.objects.all()} == {date(2026, 11, 9)}


def test_review_then_export_once_and_reexport_only_with_a_reason(bank):
    payer, payee = bank.person(name="张伟"), bank.person(name="李四")
    bank.pay(payer, payee, "500000.00")
    generate()
    out = LargeValueReport.objects.get(direction="OUT")
    with pytest.raises(NothingToExport):  # nothing reviewed yet
        services.large_value_export(actor="staff:risk01", at=GENERATE_AT)
    services.large_value_review(report_id=out.pk, actor="staff:risk01", note="proceeds of a "
                                "property sale, documents seen", at=GENERATE_AT)
    with pytest.raises(AlreadyReviewed):
        services.large_value_review(report_id=out.pk, actor="staff:risk02", note="",
                                    at=GENERATE_AT)
    batch = services.large_value_export(actor="staff:risk01", at=GENERATE_AT)
    out.refresh_from_db()
    assert out.status == "EXPORTED" and out.exported_at == GENERATE_AT
    assert LargeValueReport.objects.get(direction="IN").status == "NEW"  # not reviewed
    batch.refresh_from_db()  # as stored (encrypted) and read back
    assert batch.content.startswith("\ufeff")  # UTF-8 with a byte-order mark
    header, *rows = csv.reader(io.StringIO(batch.content.lstrip("\ufeff")))
    assert header == files.LARGE_VALUE_COLUMNS and len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["customer_name"], row["id_number"], row["day_total"], row["tx_amount"],
            row["direction"], row["trade_date"], row["due_date"], row["counterparty_account"],
            row["review_note"]) == (
        "张伟", payer.person.id_number, "500000.00", "500000.00", "OUT", "2026-10-30",
        "2026-11-06", payee.number, "proceeds of a property sale, documents seen")
    assert batch.file_name.startswith("LVTR-") and batch.lines == 1
    with pytest.raises(NothingToExport):  # never exported twice by accident
        services.large_value_export(actor="staff:risk01", at=GENERATE_AT)
    with pytest.raises(ReasonRequired):
        services.large_value_reexport(report_ids=[out.pk], actor="staff:risk01", reason=" ",
                                      at=GENERATE_AT)
    new = LargeValueReport.objects.get(direction="IN")
    with pytest.raises(NotExportedYet):
        services.large_value_reexport(report_ids=[new.pk], actor="staff:risk01",
                                      reason="resend", at=GENERATE_AT)
    again = services.large_value_reexport(report_ids=[out.pk], actor="staff:risk01",
                                          reason="the PBOC client refused the first file",
                                          at=GENERATE_AT + timedelta(hours=1))
    assert again.reexport and again.content == batch.content and again.pk != batch.pk
    assert set(out.batches.all()) == {batch, again}
    event = AuditEvent.objects.filter(action="aml.large_value.reexported").get()
    assert event.actor == "staff:risk01" and "refused" in str(event.details)


def test_overdue_lines_come_first_and_flagged(bank):
    payer, payee = bank.person(), bank.person(name="李四")
    bank.pay(payer, payee, "500000.00", when=on_day(10, day=date(2026, 10, 20)))
    bank.pay(payer, payee, "500000.00")
    generate(day=date(2026, 10, 20))
    generate()
    rows = selectors.large_value_reports(today=date(2026, 10, 28))
    assert [r.day for r in rows] == [date(2026, 10, 20)] * 2 + [DAY] * 2
    assert [r.overdue for r in rows] == [True, True, False, False]  # due 2026-10-27
    assert rows[0].customer.startswith("*")  # masked
    assert selectors.overdue_count(today=date(2026, 10, 28)) == 2
