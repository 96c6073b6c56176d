"""Batch payments and payroll in the corporate web bank (FC-04): the entering operator
uploads a CSV or Excel file (the templates to fill are here too), sees the draft's preview
— the rows the file gave, the invalid ones first with what is wrong, the total in figures
and in capitals —, removes rows, and submits the batch or cancels it; approvers then check
and authorise it on the instruction's approval page like a single payment, and after
execution anyone who sees the account downloads the result file. The rules are
``wangyin.corporate.batches``'."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.audit import services as audit
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import Money, format_money
from wangyin.core.money_words import amount_in_words
from wangyin.corporate import batches, selectors
from wangyin.corporate.models import Instruction, InstructionKind, InstructionStatus
from wangyin.corpweb import batch_data
from wangyin.corpweb.forms import BatchUploadForm, ReasonForm, file_too_large, new_key
from wangyin.corpweb.instructions import LIST_LIMIT, NOTICE, _ip, _scope_accounts, _visible
from wangyin.corpweb.menu import PAYMENT_ROLES
from wangyin.corpweb.middleware import operator_required

MAX_FILE_BYTES = batches.MAX_BYTES
MAX_REQUEST = MAX_FILE_BYTES + 64 * 1024  # the file and the form around it
MAX_LINES = 1000  # rows one "remove the chosen rows" may name (a page shows 50)


def _upload_form(request, *, data=None, files=None) -> BatchUploadForm:
    return BatchUploadForm(
        data,
        files,
        initial=None if data is not None else {"idempotency_key": new_key()},
        accounts=_scope_accounts(request.operator),
        max_bytes=MAX_FILE_BYTES,
    )


def _mine(operator) -> list[Instruction]:
    rows = selectors.instructions(
        operator.service, selectors.InstructionFilters(entered_by_id=operator.pk)
    )
    return list(rows.filter(kind=InstructionKind.BATCH).select_related("batch")[:LIST_LIMIT])


def _list_page(request, form: BatchUploadForm, *, status: int = 200, error: str = ""):
    return render(
        request,
        "corpweb/batches.html",
        {
            "form": form,
            "rows": _mine(request.operator),
            "error": error,
            "notice": request.session.pop(NOTICE, ""),
            "formats": batch_data.RESULT_FORMATS,
        },
        status=status,
    )


@csrf_exempt  # checked by ``_batch_list`` once the request is known to be small
@require_http_methods(["GET", "HEAD", "POST"])
def batch_list(request):
    """The operator's batches and the upload form. A body over the limit is refused
    before anything reads it (the CSRF check would otherwise parse, and spool, the whole
    upload first)."""
    if request.method == "POST":
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = MAX_REQUEST + 1
        if length > MAX_REQUEST:
            return _too_large(request)
    return _batch_list(request)


@operator_required(roles=PAYMENT_ROLES)
def _too_large(request):
    return _list_page(
        request, _upload_form(request), status=413, error=file_too_large(MAX_FILE_BYTES)
    )


@csrf_protect
@operator_required(roles=PAYMENT_ROLES)
def _batch_list(request):
    if request.method != "POST":
        return _list_page(request, _upload_form(request))
    form = _upload_form(request, data=request.POST, files=request.FILES)
    if form.is_valid():
        name, data = form.cleaned_data["file"]
        try:
            instruction = batches.batch_upload(
                request.operator,
                debit_account_id=form.cleaned_data["debit_account"],
                purpose=form.cleaned_data["purpose"].strip(),
                filename=name,
                data=data,
                idempotency_key=form.cleaned_data["idempotency_key"],
                at=clock.now(),
                device_id=request.device_id,
                ip=_ip(request),
            )
        except DomainError as exc:
            form.add_error("file", str(exc.message))
        else:
            return redirect("corpweb:batch", instruction_id=instruction.pk)
    # What the operator sends next is a new upload (a refused one made nothing).
    form.data = form.data.copy()
    form.data["idempotency_key"] = new_key()
    return _list_page(request, form, status=400)


@require_safe
@operator_required(roles=PAYMENT_ROLES)
def batch_template(request, fmt: str):
    """The file to fill in: CSV or Excel, with the columns and an example row."""
    if fmt not in batch_data.RESULT_FORMATS:
        raise Http404
    name, content_type, content = batches.template_file(fmt)
    return _download(name, content_type, content)


def _download(name: str, content_type: str, content: bytes) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _own_batch(operator, instruction_id: int) -> Instruction:
    """A batch this operator uploaded; any other instruction looks missing."""
    instruction = _visible(operator, instruction_id)
    if instruction.kind != InstructionKind.BATCH or instruction.entered_by_id != operator.pk:
        raise Http404
    return instruction


@require_safe
@operator_required(roles=PAYMENT_ROLES)
def batch_preview(request, instruction_id: int):
    """The draft batch before it is submitted: what the file gave, the invalid rows first."""
    instruction = _own_batch(request.operator, instruction_id)
    if instruction.status != InstructionStatus.DRAFT:
        return redirect("corpweb:instruction", instruction_id=instruction.pk)
    return _preview_page(request, instruction)


def _preview_page(request, instruction: Instruction, *, cancel_form=None, status: int = 200):
    amount = Money(instruction.amount_fen, instruction.currency)
    invalid = selectors.batch_rows(instruction, status=batch_data.BatchRowStatus.INVALID)
    return render(
        request,
        "corpweb/batch_preview.html",
        {
            **batch_data.batch_context(request, instruction),
            "instruction": instruction,
            "amount": amount,
            "amount_words": amount_in_words(amount),
            "invalid_rows": invalid[: batch_data.INVALID_SHOWN],
            "notice": request.session.pop(NOTICE, ""),
            "cancel_form": cancel_form or ReasonForm(),
            "removable": (batch_data.BatchRowStatus.VALID, batch_data.BatchRowStatus.INVALID),
        },
        status=status,
    )


def _back(request, instruction_id: int, notice: str, *, to: str = "corpweb:batch"):
    request.session[NOTICE] = notice
    return redirect(to, instruction_id=instruction_id)


def _lines(request) -> list[int]:
    lines = []
    for value in request.POST.getlist("line")[:MAX_LINES]:
        if value.isdigit():
            lines.append(int(value))
    return lines


@require_POST
@operator_required(roles=PAYMENT_ROLES)
def batch_remove(request, instruction_id: int):
    """Take rows out of the draft: every invalid row, or the rows ticked."""
    instruction = _own_batch(request.operator, instruction_id)
    invalid = request.POST.get("action") == "invalid"
    lines = [] if invalid else _lines(request)
    if not invalid and not lines:
        return _back(request, instruction.pk, _("Tick the rows to remove first."))
    try:
        instruction = batches.rows_remove(
            request.operator,
            instruction.pk,
            lines=lines or None,
            invalid=invalid,
            at=clock.now(),
        )
    except DomainError as exc:
        return _back(request, instruction.pk, str(exc.message))
    counts = batch_data.counts_of(instruction)
    return _back(
        request,
        instruction.pk,
        _("Removed. The batch now pays %(rows)s rows, %(total)s in all.")
        % {"rows": counts.included, "total": format_money(Money(instruction.amount_fen))},
    )


@require_POST
@operator_required(roles=PAYMENT_ROLES)
def batch_submit(request, instruction_id: int):
    """Enter the batch for its approvals (refused while it has invalid rows)."""
    instruction = _own_batch(request.operator, instruction_id)
    try:
        batches.batch_submit(
            request.operator,
            instruction.pk,
            clock.now(),
            device_id=request.device_id,
            ip=_ip(request),
        )
    except DomainError as exc:
        return _back(request, instruction.pk, str(exc.message))
    return _back(
        request,
        instruction.pk,
        _("The batch is entered and waits for its approvals."),
        to="corpweb:instruction",
    )


@require_safe
@operator_required
def batch_result(request, instruction_id: int, fmt: str):
    """The executed batch's rows with their outcome, for every operator who sees the
    account; audited (it names the payees)."""
    instruction = _visible(request.operator, instruction_id)
    if instruction.kind != InstructionKind.BATCH or fmt not in batch_data.RESULT_FORMATS:
        raise Http404
    if not batch_data.result_ready(instruction):
        raise Http404
    name, content_type, content = batches.result_file(instruction, fmt)
    audit.record(
        actor=request.operator.actor,
        action="corpweb.batch.result_downloaded",
        target=f"instruction:{instruction.pk}",
        occurred_at=clock.now(),
        ip=_ip(request),
        device=request.device_id,
        details={"format": fmt},
    )
    return _download(name, content_type, content)
