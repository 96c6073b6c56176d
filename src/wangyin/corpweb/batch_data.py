"""What the corporate pages show about a batch payment (FC-04): the file, the rows counted
and summed by status, one page of the rows, and whether the result file is ready. Used by
the batch pages and by the instruction and approval pages for a BATCH instruction."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.utils.translation import ngettext

from wangyin.core.money import Money
from wangyin.corporate import selectors
from wangyin.corporate.models import InstructionKind, InstructionStatus
from wangyin.corporate.models.batches import INCLUDED
from wangyin.corporate.models.batches import RowStatus as BatchRowStatus

PAGE_SIZE = 50
INVALID_SHOWN = 200  # the invalid rows listed first on the preview
RESULT_FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Counts:
    """The batch's rows by status (count and amount)."""

    rows: dict[str, int]
    fen: dict[str, int]

    def of(self, status: str) -> int:
        return self.rows.get(status, 0)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def included(self) -> int:
        """Rows the batch pays (or paid, or tried to)."""
        return sum(self.of(s) for s in INCLUDED)

    @property
    def invalid(self) -> int:
        return self.of(BatchRowStatus.INVALID)

    @property
    def removed(self) -> int:
        return self.of(BatchRowStatus.REMOVED)

    @property
    def paid(self) -> int:
        return self.of(BatchRowStatus.PAID)

    @property
    def failed(self) -> int:
        return self.of(BatchRowStatus.FAILED)

    @property
    def paid_money(self) -> Money:
        return Money(self.fen.get(BatchRowStatus.PAID, 0))

    @property
    def failed_money(self) -> Money:
        return Money(self.fen.get(BatchRowStatus.FAILED, 0))

    @property
    def executed(self) -> bool:
        """Some row has its outcome: the result file says which."""
        return bool(self.paid or self.failed)


def counts_of(instruction) -> Counts:
    rows: dict[str, int] = {}
    fen: dict[str, int] = {}
    for line in (
        selectors.batch_rows(instruction)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"), fen=Sum("amount_fen"))
    ):
        rows[line["status"]] = line["n"]
        fen[line["status"]] = line["fen"] or 0
    return Counts(rows=rows, fen=fen)


def event_reason(action: str, reason: str) -> str:
    """An instruction event's reason in words: the rows a removal took out are stored as
    their number."""
    if action == "rows_removed" and reason.isdigit():
        n = int(reason)
        return ngettext("%(n)s row", "%(n)s rows", n) % {"n": n}
    return reason


def result_ready(instruction, counts: Counts | None = None) -> bool:
    """The batch has been executed: its result file says which rows were paid."""
    if instruction.status not in (InstructionStatus.EXECUTED, InstructionStatus.FAILED):
        return False
    return (counts or counts_of(instruction)).executed


def _status_filter(request) -> str | None:
    wanted = request.GET.get("rows", "")
    return wanted if wanted in BatchRowStatus.values else None


def batch_context(request, instruction) -> dict:
    """The template context of a BATCH instruction's page (empty for a single payment):
    ``batch``, ``batch_counts``, ``row_page`` (the ``page`` and ``rows`` query
    parameters: the page number and a status), ``row_filters`` and ``result_ready``."""
    if instruction.kind != InstructionKind.BATCH:
        return {}
    status = _status_filter(request)
    counts = counts_of(instruction)
    paginator = Paginator(selectors.batch_rows(instruction, status=status), PAGE_SIZE)
    shown = [
        BatchRowStatus.VALID,
        BatchRowStatus.INVALID,
        BatchRowStatus.REMOVED,
        BatchRowStatus.PAID,
        BatchRowStatus.FAILED,
    ]
    return {
        "batch": instruction.batch,
        "batch_counts": counts,
        "row_page": paginator.get_page(request.GET.get("page")),
        "row_status": status or "",
        "row_filters": [(s.value, s.label, counts.of(s)) for s in shown if counts.of(s)],
        "result_ready": result_ready(instruction, counts),
        "result_formats": RESULT_FORMATS,
    }
