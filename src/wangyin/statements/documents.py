"""An account's statement as files: the bounded list of lines, the CSV, the PDF and the Excel
workbook (对账单)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from wangyin.core.money import Money, format_money
from wangyin.ledger import selectors as ledger_selectors
from wangyin.ledger.selectors import (
    Counterparty,
    Direction,
    StatementFilters,
    StatementKind,
    StatementLine,
    StatementSummary,
)

STATEMENT_MAX_ROWS = 10_000  # per download, CSV and PDF alike
STATEMENT_DEFAULT_DAYS = 90
_PAGE = 500


def download_filters(filters: StatementFilters, *, now: datetime) -> StatementFilters:
    """A download without a start date covers the last 90 days."""
    if filters.since is not None:
        return filters
    return replace(filters, since=(filters.until or now) - timedelta(days=STATEMENT_DEFAULT_DAYS))


def download_lines(*, account_id: int, filters: StatementFilters
                   ) -> tuple[list[StatementLine], bool]:
    """The newest lines up to the cap, and whether older ones were left out."""
    lines: list[StatementLine] = []
    cursor = None
    while True:
        page = ledger_selectors.account_statement(
            account_id=account_id, **filters.as_kwargs(), after=cursor,
            limit=min(_PAGE, STATEMENT_MAX_ROWS - len(lines)))
        lines += page.lines
        cursor = page.next_cursor
        if cursor is None or len(lines) >= STATEMENT_MAX_ROWS:
            return lines, cursor is not None


@dataclass(frozen=True)
class Row:
    """A statement line as the page, the CSV and the PDF show it."""

    line: StatementLine
    who: str  # the counterparty's name
    who_detail: str  # its masked account number, its bank, further accounts

    @property
    def description(self) -> str:
        return self.line.memo or str(self.line.kind.label)

    @property
    def who_text(self) -> str:
        return " ".join(p for p in (self.who, self.who_detail) if p)


def rows_of(lines: list[StatementLine]) -> list[Row]:
    """Lines with their counterparty in words; another bank by the directory's name (one
    look-up per bank on these lines), or by its code when the directory does not know it."""
    from wangyin.payments import directory

    names: dict[str, str] = {}
    for code in {x.counterparty.bank for x in lines if x.counterparty and x.counterparty.bank}:
        bank = directory.bank_by_code(code)
        names[code] = bank.bank_name if bank else _("bank code %(code)s") % {"code": code}
    rows = []
    for line in lines:
        cp: Counterparty | None = line.counterparty
        if cp is None:
            rows.append(Row(line, "", ""))
            continue
        detail = [cp.account, names.get(cp.bank, "")]
        if cp.more:
            detail.append(ngettext("and %(count)s more account", "and %(count)s more accounts",
                                   cp.more) % {"count": cp.more})
        rows.append(Row(line, cp.name, " ".join(p for p in detail if p)))
    return rows


def filters_text(filters: StatementFilters) -> str:
    """The filters other than the period, in words (empty when there are none)."""
    parts = []
    if filters.direction:
        parts.append(str(Direction(filters.direction).label))
    if filters.kind:
        parts.append(str(StatementKind(filters.kind).label))
    low, high = filters.min_amount, filters.max_amount
    if low is not None or high is not None:
        parts.append(_("amount %(low)s – %(high)s") % {
            "low": _figures(low) if low is not None else "…",
            "high": _figures(high) if high is not None else "…"})
    if filters.counterparty:
        parts.append(_("counterparty “%(text)s”") % {"text": filters.counterparty})
    return "; ".join(parts)


def period_text(filters: StatementFilters, *, now: datetime) -> str:
    """The period as dates, both included."""
    since = timezone.localtime(filters.since) if filters.since else None
    until = timezone.localtime(filters.until) - timedelta(days=1) if filters.until else None
    return _("%(since)s to %(until)s") % {
        "since": f"{since:%Y-%m-%d}" if since else "…",
        "until": f"{until or timezone.localtime(now):%Y-%m-%d}"}


def truncated_text() -> str:
    return _("Only the newest %(count)s movements are included. Choose a shorter period "
             "for the rest.") % {"count": f"{STATEMENT_MAX_ROWS:,}"}


def _csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def statement_csv(lines: list[StatementLine], *, truncated: bool) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # so spreadsheet programs read UTF-8
    writer = csv.writer(out)
    writer.writerow([_("Time"), _("Description"), _("Counterparty"), _("Amount"),
                     _("Balance")])
    for row in rows_of(lines):
        line = row.line
        writer.writerow([timezone.localtime(line.posted_at).strftime("%Y-%m-%d %H:%M:%S"),
                         _csv_text(row.description), _csv_text(row.who_text),
                         line.amount.to_yuan_str(), line.balance_after.to_yuan_str()])
    if truncated:
        writer.writerow([_csv_text(truncated_text())])
    return out.getvalue()


@dataclass(frozen=True)
class StatementHeader:
    bank: str
    holder: str  # masked
    account: str  # masked
    product: str
    currency: str
    period: str
    filters: str
    generated_at: datetime


def _figures(money: Money, *, signed: bool = False) -> str:
    """An amount for the PDF's columns: the currency is in its header, and the CJK font's
    yuan sign is full-width (¥ 1.00), so the figures go without it."""
    figures = re.sub(r"^[^0-9]+", "", format_money(abs(money)))
    return ("-" if money.fen < 0 else "+" if signed and money.fen > 0 else "") + figures


def statement_pdf(header: StatementHeader, summary: StatementSummary,
                  lines: list[StatementLine], *, truncated: bool) -> bytes:
    """The statement (对账单) on A4: who and which period, opening and closing balance,
    totals in and out, then one row per movement, oldest first, with page numbers."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    width, height = A4
    left, right, bottom = 15 * mm, width - 15 * mm, 18 * mm
    size, line_h, pad = 8, 4.0 * mm, 2.0 * mm
    grey, red = colors.HexColor("#5f6368"), colors.HexColor("#a50e0e")

    def text_width(text: str, points: float = size) -> float:
        return pdfmetrics.stringWidth(text, font, points)

    def fit(text: str, room: float, points: float = size) -> str:
        if text_width(text, points) <= room:
            return text
        while text and text_width(text + "…", points) > room:
            text = text[:-1]
        return text + "…"

    def wrap(text: str, room: float) -> list[str]:
        """At most two lines, broken between characters (Chinese has no spaces)."""
        if text_width(text) <= room:
            return [text]
        cut = len(text)
        while cut > 1 and text_width(text[:cut]) > room:
            cut -= 1
        space = text.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space
        return [text[:cut].rstrip(), fit(text[cut:].lstrip(), room)]

    # (title, width, right-aligned); the widths fill the 180 mm between the margins.
    columns = [(_("Time"), 25 * mm, False), (_("Description"), 37 * mm, False),
               (_("Counterparty"), 68 * mm, False), (_("Amount"), 24 * mm, True),
               (_("Balance"), 26 * mm, True)]
    starts = [left + sum(c[1] for c in columns[:i]) for i in range(len(columns))]

    def cells(row: Row) -> list[list[str]]:
        room, line = columns[2][1] - 2 * mm, row.line
        if text_width(row.who_text) > room:  # the name on one line, account and bank below
            who_lines = [fit(row.who, room), fit(row.who_detail, room)]
        else:
            who_lines = [row.who_text]
        return [[f"{timezone.localtime(line.posted_at):%Y-%m-%d %H:%M}"],
                wrap(row.description, columns[1][1] - 2 * mm), who_lines,
                [_figures(line.amount, signed=True)], [_figures(line.balance_after)]]

    rows = [cells(row) for row in reversed(rows_of(lines))]  # oldest first

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(_("Account statement") + f" {header.account}")
    pdf.setAuthor(header.bank)

    def table_head(top: float) -> float:
        pdf.setFillColor(colors.HexColor("#f1f3f4"))
        pdf.rect(left, top - line_h - pad, right - left, line_h + pad, stroke=0, fill=1)
        pdf.setFillColor(colors.black)
        pdf.setFont(font, size)
        for (title, room, at_right), x in zip(columns, starts, strict=True):
            baseline = top - line_h + 0.4 * mm
            if at_right:
                pdf.drawRightString(x + room, baseline, title)
            else:
                pdf.drawString(x, baseline, title)
        return top - line_h - pad

    def row_height(row: list[list[str]]) -> float:
        return max(len(c) for c in row) * line_h + pad

    # Page 1: who, which period, the summary.
    y = height - 20 * mm
    pdf.setFillColor(colors.HexColor("#b3001b"))
    pdf.setFont(font, 16)
    pdf.drawString(left, y, header.bank)
    pdf.setFillColor(colors.black)
    pdf.setFont(font, 13)
    pdf.drawRightString(right, y, _("Account statement"))
    pdf.setStrokeColor(colors.HexColor("#b3001b"))
    pdf.setLineWidth(1)
    pdf.line(left, y - 4 * mm, right, y - 4 * mm)
    pdf.setFont(font, 9.5)
    facts = [(_("Account holder"), header.holder), (_("Account number"), header.account),
             (_("Account type"), header.product), (_("Currency"), header.currency),
             (_("Period"), header.period),
             (_("Printed at"), f"{timezone.localtime(header.generated_at):%Y-%m-%d %H:%M}")]
    y -= 11 * mm
    for i, (label, value) in enumerate(facts):
        x = left + (i % 2) * 92 * mm
        pdf.setFillColor(grey)
        pdf.drawString(x, y, label)
        pdf.setFillColor(colors.black)
        pdf.drawString(x + 24 * mm, y, fit(value, 66 * mm, 9.5))
        if i % 2:
            y -= 6 * mm
    if header.filters:
        pdf.setFillColor(grey)
        pdf.drawString(left, y, _("Filters"))
        pdf.setFillColor(colors.black)
        pdf.drawString(left + 24 * mm, y, fit(header.filters, right - left - 24 * mm, 9.5))
        y -= 6 * mm
    y -= 2 * mm
    boxes = [(_("Opening balance"), _figures(summary.opening)),
             (_("Total in"), _figures(summary.money_in)),
             (_("Total out"), _figures(summary.money_out)),
             (_("Closing balance"), _figures(summary.closing))]
    box_w = (right - left) / 4
    pdf.setStrokeColor(colors.HexColor("#dadce0"))
    pdf.setLineWidth(0.6)
    pdf.setFont(font, 8.5)
    pdf.setFillColor(grey)
    for i, (label, _value) in enumerate(boxes):  # labels, then values: text reads in rows
        x = left + i * box_w
        pdf.rect(x + 1 * mm, y - 14 * mm, box_w - 2 * mm, 15 * mm, stroke=1, fill=0)
        pdf.drawString(x + 3.5 * mm, y - 4 * mm, label)
    pdf.setFillColor(colors.black)
    pdf.setFont(font, 11.5)
    for i, (_label, value) in enumerate(boxes):
        pdf.drawString(left + i * box_w + 3.5 * mm, y - 10.5 * mm, value)
    y -= 19 * mm
    pdf.setFont(font, 8.5)
    pdf.drawString(left, y, ngettext("%(count)d movement matches", "%(count)d movements match",
                                     summary.count) % {"count": summary.count})
    y -= 5 * mm
    if truncated:
        pdf.setFillColor(red)
        pdf.drawString(left, y, fit(truncated_text(), right - left, 8.5))
        pdf.setFillColor(colors.black)
        y -= 5 * mm

    # Rows to pages, first: the footer says "page n of N".
    later_top = height - 20 * mm - line_h - pad
    pages: list[list[list[list[str]]]] = [[]]
    room = y - 2 * mm - line_h - pad - bottom
    for row in rows:
        if row_height(row) > room and pages[-1]:
            pages.append([])
            room = later_top - bottom
        pages[-1].append(row)
        room -= row_height(row)

    def footer(number: int) -> None:
        pdf.setFont(font, 7.5)
        pdf.setFillColor(grey)
        pdf.drawString(left, 10 * mm, f"{header.bank}  {header.account}")
        pdf.drawRightString(right, 10 * mm, _("Page %(page)d of %(pages)d") % {
            "page": number, "pages": len(pages)})
        pdf.setFillColor(colors.black)

    for number, page_rows in enumerate(pages, 1):
        if number > 1:
            pdf.setFont(font, 8.5)
            pdf.setFillColor(grey)
            pdf.drawString(left, height - 15 * mm, f"{header.bank}  {_('Account statement')}")
            pdf.drawRightString(right, height - 15 * mm, f"{header.account}  {header.period}")
            y = height - 20 * mm
        top = table_head(y - 2 * mm if number == 1 else y)
        if not rows:
            pdf.setFont(font, size)
            pdf.drawString(left, top - line_h + 0.4 * mm, _("No transactions in this period."))
        for row in page_rows:
            for (_title, room_x, at_right), x, texts in zip(columns, starts, row, strict=True):
                for k, text in enumerate(texts):
                    baseline = top - (k + 1) * line_h + 0.4 * mm
                    small = k > 0 and x == starts[2]  # the counterparty's account and bank
                    pdf.setFont(font, 7 if small else size)
                    pdf.setFillColor(grey if small else red if at_right and x == starts[3]
                                     and text.startswith("-") else colors.black)
                    if at_right:
                        pdf.drawRightString(x + room_x, baseline, text)
                    else:
                        pdf.drawString(x, baseline, text)
            top -= row_height(row)
            pdf.setStrokeColor(colors.HexColor("#e8eaed"))
            pdf.setLineWidth(0.4)
            pdf.line(left, top + 0.6 * mm, right, top + 0.6 * mm)
        footer(number)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _yuan(money: Money) -> Decimal:
    """An amount as a number a spreadsheet adds up (exact: fen / 100)."""
    return Decimal(money.fen).scaleb(-2)


def statement_xlsx(header: StatementHeader, summary: StatementSummary,
                   lines: list[StatementLine], *, truncated: bool) -> bytes:
    """The statement as an Excel workbook (.xlsx): who and which period, opening and closing
    balance, totals, then one row per movement, oldest first, amounts and balances as
    numbers and times as dates a spreadsheet can sort and sum. Every text is a text cell,
    never a formula (no formula injection from a memo or a counterparty's name)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    money_format, time_format = "#,##0.00", "yyyy-mm-dd hh:mm:ss"
    bold, grey = Font(bold=True), Font(color="5F6368")
    book = Workbook()
    sheet = book.active
    sheet.title = str(_("Account statement"))[:31]
    row = 1

    def put(column: int, value, *, font=None, number_format: str = ""):
        cell = sheet.cell(row=row, column=column, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text starting with "=" stays text
        if font is not None:
            cell.font = font
        if number_format:
            cell.number_format = number_format
        return cell

    put(1, header.bank, font=Font(bold=True, size=14, color="B3001B"))
    put(3, str(_("Account statement")), font=Font(bold=True, size=13))
    row += 2
    facts = [(_("Account holder"), header.holder), (_("Account number"), header.account),
             (_("Account type"), header.product), (_("Currency"), header.currency),
             (_("Period"), header.period),
             (_("Printed at"), f"{timezone.localtime(header.generated_at):%Y-%m-%d %H:%M}")]
    if header.filters:
        facts.append((_("Filters"), header.filters))
    for label, value in facts:
        put(1, str(label), font=grey)
        put(2, value)
        row += 1
    row += 1
    totals = [(_("Opening balance"), summary.opening), (_("Total in"), summary.money_in),
              (_("Total out"), summary.money_out), (_("Closing balance"), summary.closing)]
    for column, (label, _money) in enumerate(totals, 1):
        put(column, str(label), font=grey)
    row += 1
    for column, (_label, money) in enumerate(totals, 1):
        put(column, _yuan(money), font=bold, number_format=money_format)
    row += 1
    put(1, ngettext("%(count)d movement matches", "%(count)d movements match",
                    summary.count) % {"count": summary.count})
    row += 1
    if truncated:
        put(1, truncated_text(), font=Font(color="A50E0E"))
        row += 1
    row += 1
    titles = [_("Time"), _("Description"), _("Counterparty"), _("Amount"), _("Balance")]
    fill = PatternFill("solid", fgColor="F1F3F4")
    for column, title in enumerate(titles, 1):
        cell = put(column, str(title), font=bold)
        cell.fill = fill
        if column > 3:
            cell.alignment = Alignment(horizontal="right")
    sheet.freeze_panes = sheet.cell(row=row + 1, column=1)
    table_top = row
    for statement_row in reversed(rows_of(lines)):  # oldest first, as the PDF
        line = statement_row.line
        row += 1
        put(1, timezone.localtime(line.posted_at).replace(tzinfo=None, microsecond=0),
            number_format=time_format)
        put(2, statement_row.description)
        put(3, statement_row.who_text)
        put(4, _yuan(line.amount), number_format=money_format)
        put(5, _yuan(line.balance_after), number_format=money_format)
    if row == table_top:
        row += 1
        put(1, str(_("No transactions in this period.")))
    for column, width in enumerate((20, 28, 48, 16, 18), 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    book.properties.creator = header.bank
    book.properties.title = f"{_('Account statement')} {header.account}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
