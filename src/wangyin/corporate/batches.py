"""Batch payments and payroll (FC-04): a CSV or Excel file of payments, checked row by row,
approved as one instruction and paid by the worker row by row, each row once.

**The file** (``parse``). CSV — UTF-8 with or without its byte-order mark, or GB18030 as
Excel saves "CSV" on a Chinese Windows; commas or tabs — or an Excel .xlsx workbook (its
first sheet, read with openpyxl in read-only mode); at most ``MAX_BYTES`` and
``MAX_ROWS`` data rows. The header row (the first non-empty row among the first ten)
names the columns in Chinese or English, in any order, with or without "(元)" or "*"
(``COLUMNS``): payee name, account and amount are required; the bank code (CNAPS 行号,
empty: this bank) and the purpose (用途, empty: the batch's purpose) may be left out.
Amounts are yuan with at most two decimals: "1234.5", "1,234.50", "¥1234.50" and
"1234.50元" are read as ¥1,234.50; a negative, zero, more decimals, a float that is not
exact in cents or anything else is the row's error. Excel number cells are read exactly
(an account number Excel turned into a 16-digit-or-longer number has lost digits: the
row's error says to format the column as text). Line numbers are the file's own (the
header is line 1 in a file that starts with it), so an error names the row the user sees.
What is wrong with the file itself — not CSV or .xlsx, too large, no rows, columns
missing, too many rows — refuses the upload with its own error.

**Upload** (``batch_upload``): the operator's role, scope and account are checked as for
one payment (``approvals.debit_check``), then each row as a payment would be — the same
functions (``approvals.amount_check``, ``purpose_clean``, ``payees.resolve`` for the
company, ``payee_check``: amount, purpose, payee account, name and bank, not the debit
account, the operator's own per-payment limit) with the payees' accounts and banks read
in two queries for the whole file, and a black-listed payee account refused as a payment
to it would be. Each row is stored (``BatchRow``) VALID or INVALID with the error in the
bank's language; the instruction is a DRAFT of kind BATCH whose amount is the total of
its valid rows. Nothing is paid from a file with errors: the enterer removes rows
(``rows_remove``, the invalid ones at once) or uploads a corrected file, then submits
(``batch_submit``: refused while a row is in error or none is left). Submitting checks
the rows again (an account closed since the upload makes its row INVALID and the submit
is refused) and enters the batch through ``approvals._submit`` as one payment of its
total: the operator's daily limit, the approval tier of the total, the canonical data and
digest, one risk decision, and — "reserve on entry" — one hold of the total plus the
rows' fees (by the schedule of the day of upload).

**What is signed** (TX-02, TX-06): the batch's canonical data (``approvals.
instruction_canonical``) adds to the instruction's the file's SHA-256, the number of rows
included and a SHA-256 over their canonical rows (line, account, name, bank code, amount
in fen, purpose; in line order); the total is its amount. Every approval signs its
digest; a row changed, added, removed or restored after signing changes the digest, and
the payment is refused.

**Execution** (``batch_execute``; the worker's job ``corporate.execute_batch``, started by
the last authorisation's ``corporate.execute_instruction`` and by the sweep): each run
first locks the instruction and verifies it (``approvals.verify_for_execution`` over the
rows as read — TX-06: refused, the instruction FAILS and nothing is paid); the first run
also asks risk control once for the batch (its total, as at entry; *review* holds it for
the risk desk as a single payment, ``corporate.holds``; *block* fails it) and fails rows
whose payee account is now black-listed. Then up to ``CHUNK`` rows, in line order, each in
a transaction of its own: the instruction row locked (runs at once take turns), the row
locked and still VALID, its data equal to what was verified, paid by
``payments.company_transfer_execute`` under the key ``corporate:<instruction>:<line>`` —
a row is never paid twice: its status and its transfer commit together, and the
company's transfers are unique per key. A refusal of the payment (the payee's account
closed, not enough money, …) FAILS that row only, with the reason. An unexpected error
(the database, a bug) leaves the row VALID with one more attempt and ends the run; the
next run tries again, and the ``MAX_ATTEMPTS``-th failure FAILS the row. With money
reserved on entry, each row is paid from the reservation (``hold_capture`` of its amount)
and the rest reserved again in the same transaction; a failed row's share stays reserved
until the batch ends. When no row is VALID the batch ends: EXECUTED when at least one
row was paid (some may have FAILED: the counts are kept on the ``Batch`` and in the
history), FAILED when none was; what is still reserved is released.

The payee of a same-bank row is told by SMS and notice as for any payment, and the
company's contact by SMS for each debit (TX-09). ``result_file`` gives every row with its
status, transfer and reason as CSV or .xlsx."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import PurePath

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from wangyin.core.errors import DomainError
from wangyin.core.money import Money, format_money
from wangyin.corporate import approvals, execution, holds
from wangyin.corporate.errors import (
    BatchAccountAsNumber,
    BatchAmountNotPositive,
    BatchAmountUnreadable,
    BatchColumnsMissing,
    BatchEmpty,
    BatchFileEmpty,
    BatchFileTooLarge,
    BatchFileUnreadable,
    BatchHasErrors,
    BatchNotFound,
    BatchNothingPaid,
    BatchRowNotFound,
    BatchRowNotPaid,
    BatchTooManyRows,
    InstructionAltered,
    InstructionKeyReused,
    InstructionNotAuthorised,
)
from wangyin.corporate.models import (
    Instruction,
    InstructionKind,
    InstructionStatus,
    Operator,
    OperatorScope,
)
from wangyin.corporate.models.batches import (
    INCLUDED,
    Batch,
    BatchFormat,
    BatchRow,
    RowStatus,
)
from wangyin.customers.models import CustomerAccount
from wangyin.customers.validation import normalise_identifier
from wangyin.ledger import services as ledger
from wangyin.ledger.models import Account, Hold
from wangyin.payments import directory, fees, payees
from wangyin.payments import services as payments
from wangyin.payments.errors import PaymentBlocked
from wangyin.payments.models import Bank, TransferKind
from wangyin.risk import services as risk
from wangyin.risk.lists import ListValueInvalid, normalised
from wangyin.risk.models import ListColour, ListEntry, ListSubject

log = structlog.get_logger(__name__)

MAX_ROWS = 20_000  # data rows in one file
MAX_BYTES = 10 * 1024 * 1024
CHUNK = 500  # rows one run of the worker pays before it hands over to the next
MAX_ATTEMPTS = 5  # unexpected errors on one row before it fails
SYSTEM = approvals.SYSTEM
HEADER_SEARCH = 10  # the header row is among the first rows that are not empty

# The columns, as a header may name them (compared without spaces, "*", "_", "-" and a
# part in brackets such as "(元)"; English in lower case).
COLUMNS = {
    "name": ("收款人户名", "收款人名称", "收款人姓名", "收款户名", "收款人", "户名", "姓名",
             "账户名称", "名称", "payeename", "payee", "name", "accountname"),
    "account": ("收款账号", "收款人账号", "收款账户", "收款卡号", "账号", "卡号", "银行账号",
                "account", "accountnumber", "accountno", "payeeaccount"),
    "bank_code": ("收款行行号", "开户行行号", "收款行联行号", "联行号", "行号", "银行行号",
                  "bankcode", "cnaps", "cnapscode", "payeebank"),
    "amount": ("金额", "付款金额", "实发金额", "实发工资", "转账金额", "amount", "amountyuan"),
    "purpose": ("用途", "附言", "摘要", "备注", "purpose", "memo", "remark", "remarks"),
}
REQUIRED = ("name", "account", "amount")
_ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}
TEMPLATE_HEADER = ["收款人户名", "收款账号", "收款行行号", "金额", "用途"]
TEMPLATE_ROWS = [["张三", "6217000012345678", "", "8500.00", "工资"],
                 ["李四", "6222020200112233445", "102428000013", "9200.50", "工资"]]
RESULT_HEADER = ["行号", "收款人户名", "收款账号", "收款行行号", "金额", "用途", "状态",
                 "交易编号", "原因"]
_YUAN = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,2})?$")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_BRACKETS = re.compile(r"[(（\[【].*?[)）\]】]")
_XLSX = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # the old binary .xls
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- the file -----------------------------------------------------------------------------


@dataclass
class ParsedRow:
    """A data row as read: the cells as text (the account without spaces), the amount in
    fen when it could be read, else the error that says why."""

    line: int
    name: str
    account: str
    bank_code: str
    amount_fen: int | None
    amount_text: str
    purpose: str
    error: DomainError | None = None


@dataclass
class ParsedFile:
    file_format: str
    rows: list[ParsedRow]


def _header_key(value) -> str:
    text = _BRACKETS.sub("", str(value or ""))
    return re.sub(r"[\s*_\-:：]+", "", text).lower()


def _columns(cells: list) -> dict[str, int] | None:
    """{column: index} of a header row, or None when it names fewer than two columns."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = _ALIASES.get(_header_key(cell))
        if column is not None and column not in found:
            found[column] = index
    return found if len(found) >= 2 else None


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]  # Excel's "Unicode text"
    else:
        encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise BatchFileUnreadable(extra={"why": "encoding"})


def _csv_records(data: bytes) -> Iterator[tuple[int, list]]:
    text = _decode(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        start = 1
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise BatchFileUnreadable(extra={"why": str(exc)[:100]}) from exc


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise BatchFileUnreadable(extra={"why": type(exc).__name__}) from exc
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows():
            numbered = [c for c in row if getattr(c, "row", None)]
            if not numbered:
                continue  # an empty row: no cells to read
            yield numbered[0].row, [getattr(c, "value", None) for c in row]
    except BatchFileUnreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet
        raise BatchFileUnreadable(extra={"why": type(exc).__name__}) from exc
    finally:
        book.close()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _account(value) -> tuple[str, DomainError | None]:
    # Excel keeps 15 significant digits: a number cell of 16 or more has lost some.
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1e15:
        return _text(value), BatchAccountAsNumber()
    return normalise_identifier(_text(value)), None


def amount_of(value) -> int:
    """Fen from a cell: text in yuan (see the module) or an Excel number; raises
    ``BatchAmountUnreadable`` or ``BatchAmountNotPositive``."""
    if isinstance(value, bool) or value is None:
        raise BatchAmountUnreadable()
    if isinstance(value, int | float | Decimal):
        try:
            exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation as exc:
            raise BatchAmountUnreadable() from exc
        if not exact.is_finite():
            raise BatchAmountUnreadable()
        if exact <= 0:
            raise BatchAmountNotPositive()
        fen = exact * 100
        if fen != fen.to_integral_value() or fen > 10**17:
            raise BatchAmountUnreadable()
        return int(fen)
    text = "".join(str(value).split())
    text = text.lstrip("¥￥").removesuffix("元").removeprefix("RMB").removeprefix("CNY")
    if _GROUPED.match(text):
        text = text.replace(",", "")
    if text.startswith("-") and _YUAN.match(text[1:]):
        raise BatchAmountNotPositive()
    if not _YUAN.match(text):
        raise BatchAmountUnreadable()
    fen = Money.from_yuan(text).fen
    if fen == 0:
        raise BatchAmountNotPositive()
    return fen


def _format_of(filename: str, data: bytes) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if data.startswith(_XLSX):
        return BatchFormat.XLSX
    if data.startswith(_OLE) or suffix in (".xls", ".xlsx", ".xlsm", ".et", ".numbers"):
        raise BatchFileUnreadable(extra={"why": "format", "suffix": suffix[:10]})
    return BatchFormat.CSV


def parse(filename: str, data: bytes) -> ParsedFile:
    """Read a batch file (see the module): its data rows, each with its line number and
    what could be read, or the error of the file as a whole."""
    if len(data) > MAX_BYTES:
        raise BatchFileTooLarge(extra={"bytes": len(data)})
    if not data.strip():
        raise BatchFileEmpty()
    file_format = _format_of(filename, data)
    records = _xlsx_records(data) if file_format == BatchFormat.XLSX else _csv_records(data)
    columns, seen = None, 0
    for _line, cells in records:
        if not any(_text(c) for c in cells):
            continue
        columns = _columns(cells)
        seen += 1
        if columns is not None or seen >= HEADER_SEARCH:
            break
    if columns is None or any(c not in columns for c in REQUIRED):
        missing = [c for c in REQUIRED if c not in (columns or {})]
        raise BatchColumnsMissing(extra={"missing": missing})

    def cell(cells: list, column: str):
        index = columns.get(column)
        return cells[index] if index is not None and index < len(cells) else None

    rows: list[ParsedRow] = []
    for line, cells in records:
        if not any(_text(c) for c in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise BatchTooManyRows(extra={"max": MAX_ROWS})
        account, error = _account(cell(cells, "account"))
        raw = cell(cells, "amount")
        try:
            amount = amount_of(raw)
        except DomainError as exc:
            amount, error = None, error or exc
        rows.append(ParsedRow(
            line=line, name=_text(cell(cells, "name")), account=account,
            bank_code=_text(cell(cells, "bank_code")).replace(" ", ""), amount_fen=amount,
            amount_text="" if amount is not None else _text(raw)[:40],
            purpose=_text(cell(cells, "purpose")), error=error))
    if not rows:
        raise BatchFileEmpty()
    return ParsedFile(file_format=file_format, rows=rows)


def _xlsx_bytes(header: list[str], rows: Iterable[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv_bytes(header: list[str], rows: Iterable[list]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    # With its byte-order mark: Excel opens it as UTF-8, and this module reads it back.
    return codecs.BOM_UTF8 + out.getvalue().encode()


def _file(fmt: str, stem: str, header: list[str], rows: Iterable[list]) -> tuple[str, str,
                                                                                  bytes]:
    fmt = (fmt or "").lower()
    if fmt == "csv":
        return f"{stem}.csv", CSV_TYPE, _csv_bytes(header, rows)
    if fmt == "xlsx":
        return f"{stem}.xlsx", XLSX_TYPE, _xlsx_bytes(header, rows)
    raise ValueError("csv or xlsx")


def template_file(fmt: str) -> tuple[str, str, bytes]:
    """(file name, content type, content) of an empty batch file to fill in: the header
    row and two example rows (a payee at this bank, one at another bank)."""
    return _file(fmt, "batch-payment-template", TEMPLATE_HEADER, TEMPLATE_ROWS)


# --- checking the rows --------------------------------------------------------------------


def _bank_words(exc: DomainError) -> str:
    return str(exc.message)[:approvals.REASON_MAX]


def _black_listed(accounts: Iterable[str], at: datetime) -> set[str]:
    """The accounts among ``accounts`` on the black list now (one query)."""
    indexes: dict[str, str] = {}
    for account in set(accounts):
        try:
            indexes[normalised(ListSubject.ACCOUNT, account)[1]] = account
        except ListValueInvalid:
            continue
    if not indexes:
        return set()
    hits = (ListEntry.objects.filter(subject=ListSubject.ACCOUNT, colour=ListColour.BLACK,
                                     value_index__in=list(indexes), removed_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
            .values_list("value_index", flat=True))
    return {indexes[index] for index in hits}


@dataclass(frozen=True)
class _Typed:
    """What a row asks for, as ``payees.resolve`` takes it."""

    account: str
    name: str
    bank_code: str
    amount_fen: int | None
    purpose: str
    error: DomainError | None = None


def _lookups(rows: list[_Typed]) -> tuple[dict[str, CustomerAccount], dict[str, Bank]]:
    """The accounts at this bank and the directory's banks the rows name (two queries)."""
    numbers = {normalise_identifier(r.account) for r in rows
               if directory.is_this_bank(r.bank_code) and r.account}
    accounts = {a.number: a for a in CustomerAccount.objects.filter(number__in=numbers)
                .select_related("ledger_account", "person", "company")}
    codes = {r.bank_code for r in rows if not directory.is_this_bank(r.bank_code)}
    banks = {b.code: b for b in Bank.objects.filter(code__in=codes, active=True)}
    return accounts, banks


@dataclass
class _Checked:
    status: str
    payee: payees.Resolved | None = None
    purpose: str = ""
    fee_fen: int = 0
    error: DomainError | None = None


def _check_rows(operator: Operator, scope: OperatorScope, rows: list[_Typed],
                default_purpose: str, at: datetime) -> list[_Checked]:
    """Each row checked as one payment from the scope's account would be (see the
    module), with the accounts, banks and black list read once for all rows."""
    accounts, banks = _lookups(rows)
    company_id = operator.service.company_id
    checked: list[_Checked] = []
    resolved_accounts = []
    for row in rows:
        try:
            if row.error is not None:
                raise row.error
            approvals.amount_check(row.amount_fen)
            purpose = approvals.purpose_clean(row.purpose or default_purpose)
            payee = payees.resolve(company_id=company_id, account=row.account, name=row.name,
                                   bank_code=row.bank_code, accounts=accounts, banks=banks)
            approvals.payee_check(scope, payee, row.amount_fen)
        except DomainError as exc:
            checked.append(_Checked(RowStatus.INVALID, error=exc))
            continue
        fee = fees.fee_for(segment=approvals.SEGMENT, kind=payee.kind,
                           amount_fen=row.amount_fen)
        checked.append(_Checked(RowStatus.VALID, payee=payee, purpose=purpose, fee_fen=fee))
        resolved_accounts.append(payee.account)
    listed = _black_listed(resolved_accounts, at)
    if listed:
        for item in checked:
            if item.payee is not None and item.payee.account in listed:
                item.status, item.payee, item.error = RowStatus.INVALID, None, PaymentBlocked()
    return checked


def _apply(row: BatchRow, result: _Checked, typed: _Typed) -> None:
    """The check's outcome onto the row (not saved)."""
    if result.status == RowStatus.VALID:
        payee = result.payee
        row.status, row.error_code, row.error = RowStatus.VALID, "", ""
        row.payee_account, row.payee_name = payee.account, payee.name
        row.payee_bank, row.kind = payee.bank, payee.kind
        row.purpose, row.fee_fen = result.purpose, result.fee_fen
    else:
        row.status, row.error_code = RowStatus.INVALID, result.error.code
        row.error = _bank_words(result.error)
        row.payee_account, row.payee_name = typed.account[:64], typed.name[:100]
        row.purpose = typed.purpose[:100]


def _risk_kind(kinds: Iterable[str]) -> str:
    """The kind of payment risk control sees for a batch: interbank when any row is."""
    kinds = set(kinds)
    for kind in (TransferKind.INTERBANK, TransferKind.SAME_BANK):
        if kind in kinds:
            return kind
    return TransferKind.OWN


def _order(scope: OperatorScope, instruction: Instruction, *, total: int, kinds=(),
           fee_fen: int | None = None) -> approvals._Order:
    return approvals._Order(debit=scope.account, scope=scope, payee=None, amount_fen=total,
                            purpose=instruction.purpose, kind=_risk_kind(kinds),
                            fee_fen=fee_fen)


def _seal(instruction: Instruction, operator: Operator, scope: OperatorScope) -> None:
    """The draft's total, tier, canonical data and digest from its stored rows (saved)."""
    instruction.amount_fen = (BatchRow.objects.filter(batch__instruction=instruction,
                                                      status=RowStatus.VALID)
                              .aggregate(total=Sum("amount_fen"))["total"] or 0)
    approvals._seal(instruction, operator, _order(scope, instruction,
                                                   total=instruction.amount_fen))
    instruction.save(update_fields=approvals.SEALED)


# --- entering -----------------------------------------------------------------------------


def _replay(existing: Instruction, operator: Operator, debit_account_id: int,
            sha: str) -> Instruction:
    batch = Batch.objects.filter(instruction=existing).first()
    if not (batch is not None and existing.entered_by_id == operator.pk
            and existing.debit_account_id == debit_account_id and batch.file_sha256 == sha):
        raise InstructionKeyReused(extra={"instruction": existing.pk})
    existing.replayed = True
    return existing


def batch_upload(operator: Operator, *, debit_account_id: int, purpose: str, filename: str,
                 data: bytes, idempotency_key: str, at: datetime, device_id: str = "",
                 ip: str | None = None) -> Instruction:
    """Read and check a batch file (see the module) into a DRAFT instruction of kind BATCH,
    a row each, VALID or INVALID with its error; its amount the total of the valid rows.
    The same key again returns the same instruction (``replayed``); another file under it
    is refused. Raises the file's error, or the operator's (role, scope, purpose)."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise ValueError("an idempotency key of 1 to 64 characters")
    sha = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        operator = approvals.acting(operator, lock=True)
        existing = (Instruction.objects
                    .filter(service_id=operator.service_id, idempotency_key=idempotency_key)
                    .first())
        if existing is not None:
            return _replay(existing, operator, debit_account_id, sha)
        scope = approvals.debit_check(operator, debit_account_id)
        purpose = approvals.purpose_clean(purpose)
        parsed = parse(filename, data)
        typed = [_Typed(account=r.account, name=r.name, bank_code=r.bank_code,
                        amount_fen=r.amount_fen, purpose=r.purpose, error=r.error)
                 for r in parsed.rows]
        with translation.override(settings.LANGUAGE_CODE):
            checked = _check_rows(operator, scope, typed, purpose, at)
            rows = []
            for parsed_row, one, result in zip(parsed.rows, typed, checked, strict=True):
                row = BatchRow(line=parsed_row.line, bank_code=parsed_row.bank_code[:20],
                               amount_fen=parsed_row.amount_fen,
                               amount_text=parsed_row.amount_text)
                _apply(row, result, one)
                rows.append(row)
        try:
            with transaction.atomic():
                instruction = Instruction.objects.create(
                    service=operator.service, kind=InstructionKind.BATCH,
                    debit_account=scope.account, amount_fen=0, purpose=purpose,
                    status=InstructionStatus.DRAFT, entered_by=operator,
                    idempotency_key=idempotency_key, created_at=at,
                    expires_at=approvals.expiry_of(at))
        except IntegrityError as exc:  # another operator of the company used the same key
            raise InstructionKeyReused(extra={"idempotency_key": idempotency_key}) from exc
        batch = Batch.objects.create(
            instruction=instruction, file_name=PurePath(filename or "").name[:200] or "-",
            file_format=parsed.file_format, file_sha256=sha, uploaded_at=at,
            rows_count=len(rows))
        for row in rows:
            row.batch = batch
        BatchRow.objects.bulk_create(rows, batch_size=2000)
        _seal(instruction, operator, scope)
        invalid = sum(1 for r in rows if r.status == RowStatus.INVALID)
        approvals._event(instruction, actor=operator.actor, action="uploaded", at=at)
        approvals._audit(instruction, actor=operator.actor, action="uploaded", at=at, ip=ip,
                         device=device_id, file_name=batch.file_name, file_sha256=sha,
                         file_format=batch.file_format, rows=len(rows), invalid=invalid)
    instruction.replayed = False
    return instruction


def _own_batch(operator: Operator, instruction_id: int) -> tuple[Instruction, Batch]:
    """The operator's own DRAFT batch, locked."""
    instruction = approvals._own_draft(operator, instruction_id)
    batch = Batch.objects.filter(instruction=instruction).first()
    if instruction.kind != InstructionKind.BATCH or batch is None:
        raise BatchNotFound(extra={"instruction": instruction_id})
    return instruction, batch


def rows_remove(operator: Operator, instruction_id: int, *, lines: Iterable[int] | None = None,
                invalid: bool = False, at: datetime) -> Instruction:
    """The enterer takes rows out of their draft batch: ``lines`` (the file's line
    numbers) and, with ``invalid``, every row in error. Removed rows are kept (the file
    stays as uploaded) but count for nothing: not in the total, not signed, not paid."""
    wanted = {int(line) for line in (lines or ())}
    with transaction.atomic():
        operator = approvals.acting(operator, lock=True)
        instruction, batch = _own_batch(operator, instruction_id)
        scope = approvals.debit_check(operator, instruction.debit_account_id)
        if wanted:
            known = set(BatchRow.objects.filter(batch=batch, line__in=wanted)
                        .values_list("line", flat=True))
            if known != wanted:
                raise BatchRowNotFound(extra={"lines": sorted(wanted - known)[:20]})
        which = Q(line__in=wanted) if wanted else Q(pk__in=[])
        if invalid:
            which |= Q(status=RowStatus.INVALID)
        removed = (BatchRow.objects.filter(which, batch=batch,
                                           status__in=(RowStatus.VALID, RowStatus.INVALID))
                   .update(status=RowStatus.REMOVED))
        if removed:
            _seal(instruction, operator, scope)
            approvals._event(instruction, actor=operator.actor, action="rows_removed", at=at,
                             reason=str(removed))
            approvals._audit(instruction, actor=operator.actor, action="rows_removed", at=at,
                             lines=sorted(wanted)[:200], invalid=invalid, removed=removed)
    return instruction


def _recheck(operator: Operator, scope: OperatorScope, rows: list[BatchRow],
             at: datetime) -> int:
    """The valid rows checked again now (an account closed, a limit lowered, a payee
    listed since the upload); a row that fails becomes INVALID, a changed fee is updated.
    Returns how many became INVALID."""
    typed = [_Typed(account=r.payee_account, name=r.payee_name,
                    bank_code=r.payee_bank.code if r.payee_bank_id else "",
                    amount_fen=r.amount_fen, purpose=r.purpose) for r in rows]
    with translation.override(settings.LANGUAGE_CODE):
        checked = _check_rows(operator, scope, typed, "", at)
        changed, failed = [], 0
        for row, one, result in zip(rows, typed, checked, strict=True):
            if result.status != RowStatus.VALID:
                _apply(row, result, one)
                changed.append(row)
                failed += 1
            elif result.fee_fen != row.fee_fen:
                row.fee_fen = result.fee_fen
                changed.append(row)
    BatchRow.objects.bulk_update(changed, ["status", "error_code", "error", "fee_fen"],
                                 batch_size=2000)
    return failed


def batch_submit(operator: Operator, instruction_id: int, at: datetime, *,
                 device_id: str = "", ip: str | None = None) -> Instruction:
    """Enter the enterer's draft batch for approval (see the module): refused with
    ``BatchHasErrors`` while a row is in error — also one that fails the checks again now
    (it is marked, and stays so) — and with ``BatchEmpty`` when no row is left; then as
    one payment of its total through ``approvals._submit``. ``PaymentBlocked`` when risk
    control stops it (the rejected instruction is kept)."""
    refused = None
    with transaction.atomic():
        operator = approvals.acting(operator, lock=True)
        instruction, batch = _own_batch(operator, instruction_id)
        scope = approvals.debit_check(operator, instruction.debit_account_id)
        approvals.purpose_clean(instruction.purpose)
        invalid = BatchRow.objects.filter(batch=batch, status=RowStatus.INVALID).count()
        if invalid:
            raise BatchHasErrors(extra={"invalid": invalid})
        rows = list(BatchRow.objects.filter(batch=batch, status=RowStatus.VALID)
                    .select_related("payee_bank").order_by("line"))
        if not rows:
            raise BatchEmpty(extra={"instruction": instruction.pk})
        failed = _recheck(operator, scope, rows, at)
        if failed:  # the marks are kept: the enterer sees which rows and why
            _seal(instruction, operator, scope)
            refused = BatchHasErrors(extra={"invalid": failed, "since_upload": True})
        else:
            order = _order(scope, instruction, total=sum(r.amount_fen for r in rows),
                           kinds={r.kind for r in rows}, fee_fen=sum(r.fee_fen for r in rows))
            entered = approvals._submit(instruction, operator, order, at=at,
                                        device_id=device_id, ip=ip)
    if refused is not None:
        raise refused
    if not entered:
        raise PaymentBlocked(extra={"instruction": instruction.pk,
                                    "reasons": instruction.risk_reasons})
    return instruction


# --- paying -------------------------------------------------------------------------------


def row_key(instruction_id: int, line: int) -> str:
    """The idempotency key of a row's payment (unique per company, at most 64 chars)."""
    return f"corporate:{instruction_id}:{line}"


def _counts(batch: Batch) -> None:
    stats = {row["status"]: row for row in BatchRow.objects.filter(batch=batch)
             .values("status").annotate(n=Count("id"), fen=Sum("amount_fen"))}
    paid = stats.get(RowStatus.PAID, {})
    batch.paid_count, batch.paid_fen = paid.get("n", 0), paid.get("fen") or 0
    batch.failed_count = stats.get(RowStatus.FAILED, {}).get("n", 0)


def _fail(instruction: Instruction, exc: DomainError, *, at: datetime,
          action: str = "failed") -> Instruction:
    """End the batch unpaid from here on (instruction locked): its rows not yet paid fail
    with the same reason, reserved money released, history, audit."""
    execution._fail(instruction, exc, at=at, action=action)
    batch = instruction.batch
    BatchRow.objects.filter(batch=batch, status=RowStatus.VALID).update(
        status=RowStatus.FAILED, error_code=exc.code, error=instruction.end_reason,
        ended_at=at)
    _counts(batch)
    batch.started_at = batch.started_at or at
    batch.finished_at = at
    batch.save(update_fields=["started_at", "finished_at", "paid_count", "paid_fen",
                              "failed_count"])
    return instruction


@dataclass(frozen=True)
class _Run:
    """What one run pays by: the rows as verified, the risk decision and its event, and
    the instruction's fields a row's payment needs (verified with it)."""

    rows: dict[int, str]
    event: risk.Event
    decision: risk.Decision
    company_id: int
    debit_account_id: int
    ledger_account_id: int
    digest: str
    currency: str


def _start(instruction_id: int, now: datetime) -> tuple[Instruction | None, _Run | None]:
    """Lock and verify the instruction (TX-06) and, the first time, ask risk control and
    fail the rows whose payee is now black-listed. (instruction, None) when it is not to
    be paid (any more)."""
    with transaction.atomic():
        instruction = execution._locked(instruction_id)
        if instruction is None or instruction.status != InstructionStatus.AUTHORISED:
            return instruction, None
        rows = approvals.batch_rows_data(instruction)
        try:
            approvals.verify_for_execution(instruction, batch_rows=rows)
        except (InstructionAltered, InstructionNotAuthorised) as exc:
            log.error("corporate.batch_refused", instruction=instruction.pk, code=exc.code,
                      extra=exc.extra)
            return _fail(instruction, exc, at=now, action="refused"), None
        try:
            execution._usable(instruction)
        except DomainError as exc:
            return _fail(instruction, exc, at=now), None
        batch = instruction.batch
        kinds = set(BatchRow.objects.filter(batch=batch, status__in=INCLUDED)
                    .values_list("kind", flat=True).distinct())
        event = execution._risk_event(instruction, _risk_kind(kinds), now)
        if batch.started_at is None:
            decision = holds.risk_decision(instruction, event)  # or the risk desk's release
            if decision.action == risk.REVIEW:  # held for the risk desk (corporate.holds)
                return holds.hold(instruction, at=now), None
            if decision.action == risk.BLOCK:
                return _fail(instruction, PaymentBlocked(extra={
                    "reasons": list(decision.reasons), "action": decision.action}),
                    at=now, action="blocked"), None
            instruction.save(update_fields=["risk_action", "risk_reasons"])  # its one update
            _fail_listed(batch, now)
            batch.started_at = now
            batch.save(update_fields=["started_at"])
            approvals._event(instruction, actor=SYSTEM, action="paying", at=now)
        elif getattr(instruction, "review_released_at", None) is not None:
            decision = risk.Decision(risk.ALLOW, 0, (holds.RELEASED,
                                                     *instruction.risk_reasons))
        else:
            decision = risk.Decision(instruction.risk_action or risk.ALLOW, 0,
                                     tuple(instruction.risk_reasons))
    return instruction, _Run(rows=rows, event=event, decision=decision,
                             company_id=instruction.service.company_id,
                             debit_account_id=instruction.debit_account_id,
                             ledger_account_id=instruction.debit_account.ledger_account_id,
                             digest=instruction.digest, currency=instruction.currency)


def _fail_listed(batch: Batch, at: datetime) -> None:
    valid = dict(BatchRow.objects.filter(batch=batch, status=RowStatus.VALID)
                 .values_list("payee_account", "pk"))
    listed = _black_listed(valid, at)
    if listed:
        exc = PaymentBlocked()
        with translation.override(settings.LANGUAGE_CODE):
            reason = _bank_words(exc)
        BatchRow.objects.filter(batch=batch, status=RowStatus.VALID,
                                payee_account__in=listed).update(
            status=RowStatus.FAILED, error_code=exc.code, error=reason, ended_at=at)


def _reserve_rest(instruction_id: int, hold_id: int, row: BatchRow, run: _Run,
                  at: datetime) -> None:
    """After a row was paid from the reservation (captured: the hold is closed), reserve
    again what the rows not yet paid still need."""
    captured = Hold.objects.get(pk=hold_id)
    rest = captured.amount - row.amount_fen - row.fee_fen
    hold = None
    if rest > 0:
        hold = ledger.hold_place(
            account_id=run.ledger_account_id, amount=Money(rest, run.currency),
            idempotency_key=f"corporate:batch:{instruction_id}:{row.line}",
            reason="corporate reserve on entry", actor=SYSTEM, placed_at=at)
    Instruction.objects.filter(pk=instruction_id).update(hold=hold)


PAID, SKIPPED, STOPPED, RETRY = "paid", "skipped", "stopped", "retry"


def _pay_row(instruction_id: int, row_id: int, run: _Run, now: datetime) -> str:
    """One row in its own transaction (see the module): PAID with its transfer or FAILED
    with the reason, committed with the payment or its refusal."""
    with transaction.atomic():
        # The instruction's row lock (its state and reservation; the rest is the run's):
        # rows of one batch are paid one at a time, whoever runs them.
        locked = (Instruction.objects.select_for_update().filter(pk=instruction_id)
                  .values_list("status", "hold_id").first())
        if locked is None or locked[0] != InstructionStatus.AUTHORISED:
            return STOPPED
        hold_id = locked[1]
        row = (BatchRow.objects.select_for_update(of=("self",)).select_related("payee_bank")
               .filter(pk=row_id).first())
        if row is None or row.status != RowStatus.VALID:
            return SKIPPED
        bank = row.payee_bank.code if row.payee_bank_id else ""
        if approvals.batch_row_canonical(row.line, row.payee_account, row.payee_name, bank,
                                         row.amount_fen, row.purpose) != run.rows.get(row.line):
            exc = InstructionAltered(extra={"instruction": instruction_id, "why": "row",
                                            "line": row.line})
            log.error("corporate.batch_refused", instruction=instruction_id, code=exc.code,
                      extra=exc.extra)
            _fail(execution._locked(instruction_id), exc, at=now, action="refused")
            return STOPPED
        order = payments.CompanyOrder(
            company_id=run.company_id, debit_account_id=run.debit_account_id,
            payee_account=row.payee_account, payee_name=row.payee_name, payee_bank=bank,
            amount_fen=row.amount_fen, purpose=row.purpose,
            idempotency_key=row_key(instruction_id, row.line), digest=run.digest,
            risk_event=run.event, risk_decision=run.decision, reserved_hold_id=hold_id,
            actor=SYSTEM, tell_payer=False)  # one summary when the batch ends (_told)
        row.attempts += 1
        row.ended_at = now
        try:
            with transaction.atomic():  # a refusal posts nothing
                transfer = payments.company_transfer_execute(order=order, at=now)
                if hold_id is not None:
                    _reserve_rest(instruction_id, hold_id, row, run, now)
        except DomainError as exc:
            with translation.override(settings.LANGUAGE_CODE):
                row.status, row.error_code, row.error = (RowStatus.FAILED, exc.code,
                                                         _bank_words(exc))
        else:
            row.status, row.transfer = RowStatus.PAID, transfer
        row.save(update_fields=["status", "transfer", "error_code", "error", "attempts",
                                "ended_at"])
    return PAID


def _attempt_failed(row_id: int, now: datetime) -> bool:
    """An unexpected error paying the row: one more attempt counted, the last one fails
    it (nothing was paid: its transaction rolled back). True when it failed it."""
    with transaction.atomic():
        row = (BatchRow.objects.select_for_update().filter(pk=row_id, status=RowStatus.VALID)
               .first())
        if row is None:
            return False
        row.attempts += 1
        fields = ["attempts"]
        if row.attempts >= MAX_ATTEMPTS:
            exc = BatchRowNotPaid()
            with translation.override(settings.LANGUAGE_CODE):
                row.status, row.error_code, row.error = (RowStatus.FAILED, exc.code,
                                                         _bank_words(exc))
            row.ended_at = now
            fields += ["status", "error_code", "error", "ended_at"]
        row.save(update_fields=fields)
    return row.status == RowStatus.FAILED


def _told(instruction: Instruction, batch: Batch, now: datetime) -> None:
    """The company's contact and the entering operator hear once of the whole batch (its
    rows' debits tell nobody: a payroll is not ten thousand SMS); each payee here is told of
    their own credit as usual."""
    account = Account.objects.get(pk=instruction.debit_account.ledger_account_id)
    holds.tell(instruction,
               f"贵单位尾号{instruction.debit_account.number[-4:]}的账户批量付款"
               f"（指令号{instruction.pk}）已处理：成功{batch.paid_count}笔，共"
               f"{format_money(Money(batch.paid_fen, instruction.currency))}；未成功"
               f"{batch.failed_count}笔。可用余额"
               f"{format_money(Money(account.balance - account.held, instruction.currency))}"
               "，详情请登录企业网银查看。",
               purpose="payments.debit", actor=SYSTEM, at=now)


def _finish(instruction_id: int, now: datetime) -> Instruction | None:
    """Every included row final: EXECUTED (or FAILED when no row was paid), what is still
    reserved released, the counts kept."""
    with transaction.atomic():
        instruction = execution._locked(instruction_id)
        if instruction is None or instruction.status != InstructionStatus.AUTHORISED:
            return instruction
        batch = instruction.batch
        if BatchRow.objects.filter(batch=batch, status=RowStatus.VALID).exists():
            return instruction
        _counts(batch)
        _told(instruction, batch, now)
        if not batch.paid_count:
            return _fail(instruction, BatchNothingPaid(), at=now)
        if instruction.hold_id is not None:
            ledger.hold_release(hold_id=instruction.hold_id, actor=SYSTEM, released_at=now)
        batch.finished_at = now
        batch.save(update_fields=["finished_at", "paid_count", "paid_fen", "failed_count"])
        instruction.status = InstructionStatus.EXECUTED
        instruction.ended_at, instruction.ended_by = now, SYSTEM
        instruction.save(update_fields=["status", "ended_at", "ended_by"])
        with translation.override(settings.LANGUAGE_CODE):
            summary = (_("%(paid)d paid, %(failed)d not paid")
                       % {"paid": batch.paid_count, "failed": batch.failed_count})
        approvals._event(instruction, actor=SYSTEM, action="executed", at=now, reason=summary)
        approvals._audit(instruction, actor=SYSTEM, action="executed", at=now,
                         digest=instruction.digest, paid=batch.paid_count,
                         paid_fen=batch.paid_fen, failed=batch.failed_count,
                         hold_released=instruction.hold_id)
    return instruction


def batch_execute(instruction_id: int, now: datetime, *,
                  limit: int | None = CHUNK) -> Instruction | None:
    """One run of the worker over an authorised batch (see the module): verify, then pay
    up to ``limit`` rows (None: all), each once; end the batch when no row is left.
    Returns the instruction — still AUTHORISED when rows are left for another run
    (``unfinished``) — or None when there is none."""
    instruction, run = _start(instruction_id, now)
    if run is None:
        return instruction
    done = 0
    while limit is None or done < limit:
        ids = list(BatchRow.objects.filter(batch__instruction_id=instruction_id,
                                           status=RowStatus.VALID)
                   .order_by("line").values_list("pk", flat=True)[:200])
        if not ids:
            break
        for row_id in ids:
            if limit is not None and done >= limit:
                break
            try:
                outcome = _pay_row(instruction_id, row_id, run, now)
            except Exception:  # noqa: BLE001 - a database or program error: retried later
                log.exception("corporate.batch_row_failed", instruction=instruction_id,
                              row=row_id)
                if _attempt_failed(row_id, now):
                    continue  # its last attempt: the other rows go on
                return Instruction.objects.get(pk=instruction_id)  # the next run retries
            if outcome == STOPPED:
                return Instruction.objects.get(pk=instruction_id)
            done += outcome == PAID
    return _finish(instruction_id, now)


def unfinished(instruction: Instruction | None) -> bool:
    """An authorised batch with rows left to pay (another run is needed)."""
    return (instruction is not None and instruction.kind == InstructionKind.BATCH
            and instruction.status == InstructionStatus.AUTHORISED)


def defer_run(instruction_id: int, *, delay_s: int = 0) -> None:
    """Ask the worker for another run of the batch; one waiting job per batch is enough
    (a queueing lock), and runs of one batch do not overlap (a lock)."""
    from procrastinate.exceptions import AlreadyEnqueued

    from wangyin.corporate.tasks import execute_batch

    lock = f"corporate.batch:{instruction_id}"
    try:
        with transaction.atomic():
            execute_batch.configure(lock=lock, queueing_lock=lock,
                                    schedule_in={"seconds": delay_s} if delay_s else None,
                                    ).defer(instruction_id=instruction_id)
    except AlreadyEnqueued:
        pass


def batch_run(instruction_id: int, now: datetime) -> Instruction | None:
    """One run, and another asked for when rows are left (after a pause when this one
    stopped on an unexpected error)."""
    instruction = batch_execute(instruction_id, now, limit=CHUNK)
    if unfinished(instruction):
        stuck = BatchRow.objects.filter(batch__instruction_id=instruction_id,
                                        status=RowStatus.VALID, attempts__gt=0).exists()
        defer_run(instruction_id, delay_s=60 if stuck else 0)
    return instruction


# --- the result ---------------------------------------------------------------------------


def result_file(instruction: Instruction, fmt: str) -> tuple[str, str, bytes]:
    """(file name, content type, content) of the batch's outcome: every row of the file
    with its line, payee, account, bank code, amount, purpose, status, the transfer that
    paid it and the reason it was not paid (or is in error), as CSV or .xlsx."""
    rows = (BatchRow.objects.filter(batch__instruction=instruction)
            .select_related("payee_bank").order_by("line"))
    with translation.override(settings.LANGUAGE_CODE):
        labels = {value: str(label) for value, label in RowStatus.choices}

    def out(row: BatchRow) -> list:
        amount = (Money(row.amount_fen).to_yuan_str() if row.amount_fen is not None
                  else row.amount_text)
        bank = row.payee_bank.code if row.payee_bank_id else row.bank_code
        return [row.line, row.payee_name, row.payee_account, bank, amount, row.purpose,
                labels.get(row.status, row.status), row.transfer_id or "", row.error]

    day = timezone.localtime(instruction.created_at).strftime("%Y%m%d")
    return _file(fmt, f"batch-{instruction.pk}-result-{day}", RESULT_HEADER,
                 (out(row) for row in rows.iterator(chunk_size=2000)))
