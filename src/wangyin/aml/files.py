"""The export files the bank's AML system (or the PBOC reporting client) loads. CSV, UTF-8
with a byte-order mark (so spreadsheet software reads the Chinese), comma-separated, CRLF
line ends, one header row; one row per transaction, the report's own fields repeated on
each of its rows. Amounts are yuan with two decimals; times are Beijing time, ISO 8601.
Full names and ID numbers are in the file (the regulator needs them): the file is kept
encrypted at rest and only the risk roles download it. docs/aml.md describes every column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from wangyin.core.money import Money
from wangyin.customers.models import Person

BEIJING = ZoneInfo("Asia/Shanghai")

LARGE_VALUE_COLUMNS = [
    "report_id", "trade_date", "due_date", "category", "direction", "customer_type",
    "customer_name", "id_type", "id_number", "day_total", "day_count", "threshold",
    "tx_time", "tx_journal", "tx_account", "tx_amount", "currency", "counterparty_name",
    "counterparty_account", "counterparty_bank", "reviewed_by", "reviewed_at", "review_note",
]

SUSPICIOUS_COLUMNS = [
    "alert_id", "source", "raised_at", "customer_type", "customer_name", "id_type",
    "id_number", "amount", "indicators", "summary", "analysed_by", "analysed_at",
    "reason", "tx_time", "tx_direction", "tx_reference", "tx_account", "tx_amount",
    "currency", "counterparty_name", "counterparty_account", "counterparty_bank", "tx_what",
]


def _text(value) -> str:
    """A text cell that a spreadsheet will not run as a formula."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _yuan(fen: int) -> str:
    return Money(fen).to_yuan_str()


def _when(moment: datetime | None) -> str:
    return moment.astimezone(BEIJING).isoformat(timespec="seconds") if moment else ""


def _write(columns: list[str], rows: Iterable[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)
    return "\ufeff" + out.getvalue()


def _person_fields(person: Person | None) -> list[str]:
    if person is None:
        return ["UNKNOWN", "", "", ""]
    return ["PERSON", _text(person.name), person.id_type, _text(person.id_number)]


def _customer_fields(report) -> list[str]:
    if report.person_id:
        return _person_fields(report.person)
    return ["COMPANY", _text(report.company.name), "USCC", _text(report.company.uscc)]


def large_value_csv(reports) -> str:
    def rows():
        for report in reports:
            head = [report.pk, report.day.isoformat(), report.due_date.isoformat(),
                    report.category, report.direction, *_customer_fields(report),
                    _yuan(report.total_fen), report.count, _yuan(report.threshold_fen)]
            tail = [_text(report.reviewed_by), _when(report.reviewed_at), _text(report.note)]
            for item in report.items.select_related("account").order_by("posted_at", "pk"):
                yield [*head, _when(item.posted_at), item.journal_id, item.account.number,
                       _yuan(item.amount_fen), "CNY", _text(item.counterparty_name),
                       _text(item.counterparty_account), _text(item.counterparty_bank), *tail]

    return _write(LARGE_VALUE_COLUMNS, rows())


def suspicious_csv(alerts) -> str:
    people = Person.objects.in_bulk([a.person_id for a in alerts if a.person_id])

    def rows():
        for alert in alerts:
            indicators = "; ".join(f"{i['code']}: {i['description']}" for i in alert.indicators)
            head = [alert.pk, alert.source, _when(alert.raised_at),
                    *_person_fields(people.get(alert.person_id)), _yuan(alert.amount_fen),
                    _text(indicators), _text(alert.summary), _text(alert.analysed_by),
                    _when(alert.analysed_at), _text(alert.reason)]
            transactions = list(alert.transactions.order_by("at", "pk"))
            if not transactions:
                yield [*head, *[""] * 10]
            for tx in transactions:
                reference = (f"transfer:{tx.transfer_id}" if tx.transfer_id
                             else f"journal:{tx.journal_id}")
                yield [*head, _when(tx.at), tx.direction, reference, tx.account,
                       _yuan(tx.amount_fen), "CNY", _text(tx.counterparty_name),
                       _text(tx.counterparty_account), _text(tx.counterparty_bank),
                       _text(tx.what)]

    return _write(SUSPICIOUS_COLUMNS, rows())
