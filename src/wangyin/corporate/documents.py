"""Statements and electronic receipts for a company's operators (FC-01, FC-05): only the
accounts the operator sees (``signin.operator_accounts``: the administrator all linked
accounts, the others those of their scope); the history of a period with its filters; the
statement as CSV, PDF or Excel under the company's name; the receipt of every movement
that has one (the company's payments, their fees and money returned, transfers credited to
the account here, credits from other banks) and of each of the company's transfers; the
receipts of a period as one zip. The statement and receipt files are
``wangyin.statements.documents`` and ``wangyin.payments.receipts``' — the personal
channel's. Every download is audited."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from django.utils import timezone
from django.utils.translation import gettext as _

from wangyin.audit import services as audit
from wangyin.corporate import signin
from wangyin.corporate.errors import AccountNotInScope
from wangyin.corporate.models import Operator
from wangyin.customers.models import CustomerAccount
from wangyin.ledger import selectors as ledger_selectors
from wangyin.ledger.selectors import StatementFilters, StatementLine
from wangyin.payments import receipts as payment_receipts
from wangyin.payments.receipts import ReceiptSource
from wangyin.receipts import services as receipts
from wangyin.receipts.errors import NoReceipts, TooManyReceipts
from wangyin.receipts.models import Receipt
from wangyin.statements import documents

HISTORY_PAGE = 20
# Receipts in one zip: each is signed and rendered on its first download (tens of ms), so
# a period with more is asked for in parts.
RECEIPTS_ZIP_MAX = 1_000
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Document:
    """A file to download: its content opened at the start, its name and type."""

    file: BinaryIO
    filename: str
    content_type: str


def account_in_scope(operator: Operator, account_id: int) -> CustomerAccount:
    """The account if the operator sees it; ``AccountNotInScope`` otherwise — for another
    company's account too, which the channel shows as missing (SE-09)."""
    account = signin.operator_account(operator, account_id)
    if account is None:
        raise AccountNotInScope(extra={"account": account_id})
    return account


@dataclass(frozen=True)
class AccountPage:
    account: CustomerAccount
    rows: list[documents.Row]
    next_cursor: str | None
    with_receipt: frozenset[int]  # the journal ids of the lines that have a receipt


def account_page(*, operator: Operator, account_id: int, filters: StatementFilters | None,
                 after: str | None = None, limit: int = HISTORY_PAGE) -> AccountPage:
    """One page of the account's history under ``filters``, newest first (keyset paging;
    a cursor that is not one of these filters starts again at the first page), each line
    marked when it has a receipt. No lines when ``filters`` is None (they were not valid)."""
    account = account_in_scope(operator, account_id)
    if filters is None:
        return AccountPage(account, [], None, frozenset())
    query = {"account_id": account.ledger_account_id, **filters.as_kwargs(), "limit": limit}
    try:
        page = ledger_selectors.account_statement(**query, after=after)
    except ValueError:
        page = ledger_selectors.account_statement(**query)
    sources = payment_receipts.receipt_sources(
        account_id=account.pk, journal_ids=[line.journal_id for line in page.lines])
    return AccountPage(account, documents.rows_of(page.lines), page.next_cursor,
                       frozenset(sources))


def _company_name(operator: Operator) -> str:
    return operator.service.company.name


def _period_name(filters: StatementFilters, at: datetime) -> str:
    """The period's first and last day for a file name (the dates are both included)."""
    since = timezone.localtime(filters.since)
    last = (timezone.localtime(filters.until) - timedelta(days=1) if filters.until
            else timezone.localtime(at))
    return f"{since:%Y%m%d}-{last:%Y%m%d}"


def statement_document(*, operator: Operator, account_id: int, filters: StatementFilters,
                       file_format: str, ip: str | None, at: datetime) -> Document:
    """The statement of an account the operator sees, as ``csv``, ``pdf`` or ``xlsx``: the
    lines of the period under the filters (the last 90 days without a start date; at most
    ``documents.STATEMENT_MAX_ROWS``, the newest, saying so), the PDF and the workbook
    headed by the company's name, the account, the period and its opening and closing
    balances. Audited."""
    if file_format not in FORMATS:
        raise ValueError(f"unknown statement format {file_format!r}")
    account = account_in_scope(operator, account_id)
    filters = documents.download_filters(filters, now=at)
    ledger_id = account.ledger_account_id
    lines, truncated = documents.download_lines(account_id=ledger_id, filters=filters)
    if file_format == "csv":
        content = documents.statement_csv(lines, truncated=truncated).encode()
    else:
        summary = ledger_selectors.statement_summary(account_id=ledger_id, filters=filters)
        header = documents.StatementHeader(
            bank=_("Wangyin Bank"), holder=_company_name(operator),
            account=account.masked_number, product=account.get_product_display(),
            currency=account.ledger_account.currency,
            period=documents.period_text(filters, now=at),
            filters=documents.filters_text(filters), generated_at=at)
        write = documents.statement_pdf if file_format == "pdf" else documents.statement_xlsx
        content = write(header, summary, lines, truncated=truncated)
    audit.record(actor=operator.actor, action="corporate.statement.downloaded", ip=ip,
                 target=f"account:{account.pk}", occurred_at=at,
                 details={"company": operator.service.company_id, "format": file_format,
                          "rows": len(lines), "since": filters.since.isoformat(),
                          "until": filters.until.isoformat() if filters.until else None,
                          "filtered": bool(documents.filters_text(filters)),
                          "truncated": truncated})
    return Document(io.BytesIO(content),
                    f"statement-{account.number[-4:]}-{_period_name(filters, at)}.{file_format}",
                    FORMATS[file_format])


def line_receipt(*, operator: Operator, account_id: int, journal_id: int, ip: str | None,
                 at: datetime) -> Receipt:
    """The receipt of one movement of an account the operator sees — the company's
    payment (or its fee, or money returned to it) or a credit to the account.
    ``ReceiptNotAvailable`` for a movement without one."""
    account = account_in_scope(operator, account_id)
    return payment_receipts.account_receipt(
        company_id=operator.service.company_id, account_id=account.pk, journal_id=journal_id,
        actor=operator.actor, ip=ip, at=at)


def transfer_receipt(*, operator: Operator, transfer_id: int, ip: str | None,
                     at: datetime) -> Receipt:
    """The receipt of one of the company's transfers (an executed instruction, a row of a
    batch) paid from an account the operator sees; ``ReceiptNotAvailable`` otherwise."""
    return payment_receipts.transfer_receipt(
        company_id=operator.service.company_id, transfer_id=transfer_id,
        debit_account_ids=[a.pk for a in signin.operator_accounts(operator)],
        actor=operator.actor, ip=ip, at=at)


def _receipt_lines(lines: list[StatementLine], sources: dict[int, ReceiptSource]
                   ) -> list[tuple[StatementLine, ReceiptSource]]:
    """One line per receipt, oldest first: a payment's own line rather than its fee's."""
    chosen: dict[str, tuple[StatementLine, ReceiptSource]] = {}
    for line in reversed(lines):
        source = sources.get(line.journal_id)
        if source is None:
            continue
        if source.key not in chosen or (source.main and not chosen[source.key][1].main):
            chosen[source.key] = (line, source)
    return sorted(chosen.values(), key=lambda pair: (pair[0].posted_at, pair[0].posting_id))


def receipts_zip(*, operator: Operator, account_id: int, filters: StatementFilters,
                 ip: str | None, at: datetime) -> Document:
    """The receipts of the movements of a period (the statement's filters; the last 90
    days without a start date) of an account the operator sees, as one zip of PDFs named
    ``<date>_<amount>_<receipt number>.pdf``, each issued now if it had not been.
    ``TooManyReceipts`` beyond ``RECEIPTS_ZIP_MAX``, ``NoReceipts`` when there are none;
    audited once for the zip."""
    account = account_in_scope(operator, account_id)
    filters = documents.download_filters(filters, now=at)
    lines, truncated = documents.download_lines(account_id=account.ledger_account_id,
                                                filters=filters)
    sources = payment_receipts.receipt_sources(
        account_id=account.pk, journal_ids=[line.journal_id for line in lines])
    chosen = _receipt_lines(lines, sources)
    if truncated or len(chosen) > RECEIPTS_ZIP_MAX:
        raise TooManyReceipts(limit=RECEIPTS_ZIP_MAX,
                              extra={"account": account.pk, "receipts": len(chosen),
                                     "lines_truncated": truncated})
    if not chosen:
        raise NoReceipts(extra={"account": account.pk})
    entries = []
    for line, source in chosen:
        receipt = payment_receipts.source_receipt(source, actor=operator.actor, at=at)
        day = timezone.localtime(line.posted_at)
        entries.append((f"{day:%Y%m%d}_{line.amount.to_yuan_str()}_{receipt.number}.pdf",
                        receipt))
    archive = receipts.receipts_archive(entries)
    audit.record(actor=operator.actor, action="corporate.receipts.downloaded", ip=ip,
                 target=f"account:{account.pk}", occurred_at=at,
                 details={"company": operator.service.company_id, "receipts": len(entries),
                          "since": filters.since.isoformat(),
                          "until": filters.until.isoformat() if filters.until else None,
                          "filtered": bool(documents.filters_text(filters))})
    return Document(archive,
                    f"receipts-{account.number[-4:]}-{_period_name(filters, at)}.zip",
                    "application/zip")
