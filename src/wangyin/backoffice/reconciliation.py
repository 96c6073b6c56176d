"""Bank–enterprise reconciliation in the back office (银企对账, FC-07): tellers — the
counter staff who look after companies' accounts — see the statements companies disagreed
with and those left unanswered past their due day, open one with the company's signed
answer and differences, record follow-up notes (a call to the company, what was found) and
resolve a disagreement (the resolution is shown to the company, whose contact is told by
SMS). Other roles do not reach these pages. Thin views: ``corporate.reconciliation``
decides and audits."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from wangyin.audit import services as audit
from wangyin.backoffice import staff as staff_roles
from wangyin.backoffice.views import NOTICE, _no_store, staff_required
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import Money
from wangyin.corporate import reconciliation as recon
from wangyin.corporate.errors import StatementNotFound
from wangyin.corporate.models.reconciliation import StatementStatus
from wangyin.web.customer import client_ip
from wangyin.web.forms import form_errors_text


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Follow-up note (staff only)"),
        max_length=recon.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ResolveForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Resolution (the company sees it)"),
        max_length=recon.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _statement_or_403(statement_id: int):
    try:
        return recon.statement_for_staff(statement_id)
    except StatementNotFound as exc:
        raise PermissionDenied from exc


@require_safe
@staff_required(staff_roles.TELLER)
def statement_queue(request):
    """Disagreements (resolved ones too with ?all=1) and overdue statements."""
    now = clock.now()
    include_resolved = request.GET.get("all") == "1"
    rows = [
        {
            "statement": s,
            "closing": Money(s.closing_fen, s.currency),
            "company_balance": Money(s.company_balance_fen, s.currency)
            if s.company_balance_fen is not None
            else None,
            "overdue": recon.is_overdue(s, now),
        }
        for s in recon.staff_queue(now, include_resolved=include_resolved)[:200]
    ]
    return _no_store(
        render(
            request,
            "backoffice/reconciliation/queue.html",
            {"rows": rows, "include_resolved": include_resolved},
        )
    )


@require_safe
@staff_required(staff_roles.TELLER)
def statement_detail(request, statement_id: int):
    statement = _statement_or_403(statement_id)
    audit.record(
        actor=request.staff_actor,
        action="backoffice.statement.viewed",
        target=str(statement),
        ip=client_ip(request),
    )
    differences = list(statement.differences.all())
    answer = recon.Answer(
        agree=statement.status == StatementStatus.AGREED,
        company_balance_fen=statement.company_balance_fen,
        differences=tuple(
            recon.DifferenceSpec(d.kind, d.day, d.amount_fen, d.description) for d in differences
        ),
    )
    answered = statement.status != StatementStatus.ISSUED
    return _no_store(
        render(
            request,
            "backoffice/reconciliation/detail.html",
            {
                "statement": statement,
                "company": statement.service.company,
                "closing": Money(statement.closing_fen, statement.currency),
                "company_balance": Money(statement.company_balance_fen, statement.currency)
                if statement.company_balance_fen is not None
                else None,
                "unexplained": Money(recon.unexplained_fen(statement, answer))
                if answered
                else None,
                "signature_holds": recon.signed_answer_holds(statement) if answered else None,
                "differences": differences,
                "notes": list(statement.notes.all()),
                "overdue": recon.is_overdue(statement, clock.now()),
                "can_note": statement.status in (StatementStatus.ISSUED, StatementStatus.DISAGREED),
                "can_resolve": statement.status == StatementStatus.DISAGREED,
                "note_form": NoteForm(auto_id="note_%s"),
                "resolve_form": ResolveForm(auto_id="resolve_%s"),
                "notice": request.session.pop(NOTICE, ""),
            },
        )
    )


def _act(request, statement_id: int, form_class, action, done: str):
    statement = _statement_or_403(statement_id)
    form = form_class(request.POST)
    if not form.is_valid():
        request.session[NOTICE] = form_errors_text(form)
    else:
        try:
            action(
                statement_id=statement.pk,
                staff=request.staff_actor,
                text=form.cleaned_data["text"],
                at=clock.now(),
            )
        except DomainError as exc:
            request.session[NOTICE] = str(exc.message)
        else:
            request.session[NOTICE] = done
    return redirect("bo:reconciliation_statement", statement_id=statement.pk)


@require_POST
@staff_required(staff_roles.TELLER)
def statement_note(request, statement_id: int):
    return _act(request, statement_id, NoteForm, recon.note_add, _("The note is recorded."))


@require_POST
@staff_required(staff_roles.TELLER)
def statement_resolve(request, statement_id: int):
    return _act(
        request,
        statement_id,
        ResolveForm,
        recon.resolve,
        _("The disagreement is resolved; the company's contact is told by SMS."),
    )
