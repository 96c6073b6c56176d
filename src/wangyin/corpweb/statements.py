"""The corporate account page (FC-01, FC-05): the history of an account the operator sees
with the personal statement's filters, each movement's electronic receipt, the statement
as CSV, PDF or Excel, the receipts of the period as one zip, and the receipt of one of the
company's transfers. The rules and the files are ``wangyin.corporate.documents``'."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from wangyin.core import clock
from wangyin.corporate import documents
from wangyin.corporate.errors import AccountNotInScope
from wangyin.corpweb.middleware import operator_required
from wangyin.receipts.errors import NoReceipts, ReceiptNotAvailable, TooManyReceipts
from wangyin.statements.documents import filters_text
from wangyin.web.customer import client_ip
from wangyin.web.forms import StatementFilterForm


def _page(request, account_id: int, form, *, error: str = "", status: int = 200):
    """The account page: balance, filters, one page of the history with its receipts; the
    form's errors (no list) and status 400 when the filters are not valid."""
    valid = form.is_valid()
    try:
        page = documents.account_page(
            operator=request.operator, account_id=account_id,
            filters=form.filters() if valid else None,
            after=(form.cleaned_data.get("after") or None) if valid else None)
    except AccountNotInScope:
        raise Http404 from None  # another company's account, or one out of scope (SE-09)
    query = request.GET.copy()
    if page.next_cursor:
        query["after"] = page.next_cursor
    first = request.GET.copy()
    first.pop("after", None)
    account = page.account
    return render(request, "corpweb/account.html", {
        "account": account, "balance": account.ledger_account.balance_money,
        "available": account.ledger_account.available_money, "form": form, "listed": valid,
        "rows": page.rows, "with_receipt": page.with_receipt, "download_error": error,
        "receipts_max": f"{documents.RECEIPTS_ZIP_MAX:,}",
        "next_query": query.urlencode() if page.next_cursor else "",
        "first_query": first.urlencode(), "paged": "after" in request.GET,
        "filtered": valid and bool(filters_text(form.filters()))},
        status=400 if not valid else status)


def _file(document: documents.Document) -> FileResponse:
    response = FileResponse(document.file, as_attachment=True, filename=document.filename,
                            content_type=document.content_type)
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@operator_required
def account_detail(request, account_id: int):
    """One account's details, newest first, filtered and keyset-paged (FC-01); only an
    account the operator sees (SE-09: another looks missing)."""
    return _page(request, account_id, StatementFilterForm(request.GET))


@require_safe
@operator_required
def statement_download(request, account_id: int, file_format: str):
    """The statement as a file (FC-01): valid filters (a period of at most a year, the
    last 90 days by default), not cached, audited; bad filters show the page, status 400."""
    if file_format not in documents.FORMATS:
        raise Http404
    form = StatementFilterForm(request.GET)
    if not form.is_valid():
        return _page(request, account_id, form)
    try:
        document = documents.statement_document(
            operator=request.operator, account_id=account_id, filters=form.filters(),
            file_format=file_format, ip=client_ip(request), at=clock.now())
    except AccountNotInScope:
        raise Http404 from None
    return _file(document)


@require_safe
@operator_required
def receipts_zip(request, account_id: int):
    """The receipts of the period's movements as one zip (FC-05); too many or none: the
    page says so."""
    form = StatementFilterForm(request.GET)
    if not form.is_valid():
        return _page(request, account_id, form)
    try:
        document = documents.receipts_zip(operator=request.operator, account_id=account_id,
                                          filters=form.filters(), ip=client_ip(request),
                                          at=clock.now())
    except AccountNotInScope:
        raise Http404 from None
    except (TooManyReceipts, NoReceipts) as exc:
        return _page(request, account_id, form, error=str(exc.message),
                     status=exc.http_status)
    return _file(document)


def _pdf(receipt) -> HttpResponse:
    response = HttpResponse(bytes(receipt.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{receipt.number}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@operator_required
def line_receipt(request, account_id: int, journal_id: int):
    """The electronic receipt of one movement of the account (FC-05)."""
    try:
        receipt = documents.line_receipt(operator=request.operator, account_id=account_id,
                                         journal_id=journal_id, ip=client_ip(request),
                                         at=clock.now())
    except (AccountNotInScope, ReceiptNotAvailable):
        raise Http404 from None
    return _pdf(receipt)


@require_safe
@operator_required
def transfer_receipt(request, transfer_id: int):
    """The electronic receipt of one of the company's transfers — an executed instruction,
    a row of a batch — paid from an account the operator sees (FC-05)."""
    try:
        receipt = documents.transfer_receipt(operator=request.operator,
                                             transfer_id=transfer_id, ip=client_ip(request),
                                             at=clock.now())
    except ReceiptNotAvailable:
        raise Http404 from None
    return _pdf(receipt)
