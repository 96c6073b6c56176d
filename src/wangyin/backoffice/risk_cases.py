"""The risk desk's cases (RK-06, RK-13, RK-14, RK-17; RK-15: only the risk roles reach any
page): the queue by desk, strongest grade first; a case page with the customer (masked),
the money it holds, every decision with its rule codes and the feature values behind them,
its history and the forms that work it. A branch officer works branch cases only — a
head-office case looks like no case — and the head-office manager works all of them. The
rules live in ``wangyin.risk.cases``; changes are POSTed, each with its reason, and come
back to the case page with the outcome or the refusal in plain words."""

from __future__ import annotations

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from wangyin.backoffice import staff as staff_roles
from wangyin.backoffice.risk import risk_staff
from wangyin.backoffice.views import _no_store
from wangyin.core import clock
from wangyin.core.money import Money
from wangyin.risk import cases
from wangyin.risk.errors import CaseError, CaseNotFound
from wangyin.risk.models import CaseLevel, CaseOutcome, Compensation
from wangyin.web.forms import form_errors_text

NOTICE = "bo_case_notice"
EVENTS = {
    "opened": _("Opened by a decision"), "decision": _("Decision filed"),
    "asked": _("Customer asked to confirm"), "confirmed": _("Customer: it was me"),
    "denied": _("Customer: it was not me"), "assigned": _("Assigned"), "note": _("Note"),
    "callback": _("Call-back"), "escalated": _("Escalated to head office"),
    "closed": _("Closed"), "loss": _("Fraud loss recorded"),
    "compensation": _("Compensation decided"),
}


class QueueFilterForm(forms.Form):
    level = forms.ChoiceField(label=_("Level"), required=False,
                              choices=[("", _("All levels")), *CaseLevel.choices])
    mine = forms.BooleanField(label=_("Only cases assigned to me"), required=False)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=1000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class CallbackForm(forms.Form):
    reached = forms.BooleanField(
        label=_("Reached the customer on their reserved mobile number"), required=False)
    text = forms.CharField(label=_("What the customer said"), max_length=1000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class EscalateForm(forms.Form):
    reason = forms.CharField(label=_("Why head office should take it"), max_length=1000)


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CaseOutcome.choices)
    reason = forms.CharField(label=_("Reason (recorded in the audit trail)"), max_length=500)


class LossForm(forms.Form):
    loss = forms.DecimalField(label=_("Fraud loss suffered by the customer (yuan)"),
                              min_value=0.01, max_digits=14, decimal_places=2)


COMPENSATION_DECISIONS = [(c, label) for c, label in Compensation.choices
                          if c in cases.DECIDED]


class CompensationForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=COMPENSATION_DECISIONS)
    amount = forms.DecimalField(label=_("Amount (yuan; 0 when refused)"), min_value=0,
                                max_digits=14, decimal_places=2, initial=0)
    reason = forms.CharField(label=_("Reason (recorded in the audit trail)"), max_length=500)


def _desk(request) -> str:
    """Where the staff member works: the head-office risk manager, or a branch officer."""
    return (CaseLevel.HEAD_OFFICE if request.staff_role == staff_roles.RISK_MANAGER
            else CaseLevel.BRANCH)


@require_safe
@risk_staff
def case_queue(request):
    form = QueueFilterForm(request.GET or None)
    level, mine = "", False
    if form.is_valid():
        level, mine = form.cleaned_data["level"], form.cleaned_data["mine"]
    desk = _desk(request)
    return _no_store(render(request, "backoffice/risk/cases.html", {
        "cases": cases.queue(desk=desk, level=level,
                             assigned_to=request.staff_actor if mine else ""),
        "form": form if form.is_bound else QueueFilterForm(),
        "head_office": desk == CaseLevel.HEAD_OFFICE, "now": clock.now()}))


def _file(request, case_id: int):
    try:
        return cases.case_file(case_id=case_id, desk=_desk(request))
    except CaseNotFound:
        raise Http404 from None


@require_safe
@risk_staff
def case_detail(request, case_id: int):
    file = _file(request, case_id)
    for event in file.events:
        event.label = EVENTS.get(event.kind, event.kind)
    return _no_store(render(request, "backoffice/risk/case.html", {
        "file": file, "case": file.case, "me": request.staff_actor,
        "head_office": _desk(request) == CaseLevel.HEAD_OFFICE,
        "notice": request.session.pop(NOTICE, ""),
        "note_form": NoteForm(auto_id="note_%s"),
        "callback_form": CallbackForm(auto_id="callback_%s"),
        "escalate_form": EscalateForm(auto_id="escalate_%s"),
        "close_form": CloseForm(auto_id="close_%s"),
        "loss_form": LossForm(auto_id="loss_%s"),
        "compensation_form": CompensationForm(auto_id="compensation_%s")}))


def _change(request, case_id: int, form_class, change, done):
    """Validate the form, call ``change(**fields, case_id, by, desk, at)``, and go back to
    the case page saying what happened or why not."""
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        request.session[NOTICE] = form_errors_text(form)
        return redirect("bo:risk_case", case_id=case_id)
    try:
        change(case_id=case_id, by=request.staff_actor, desk=_desk(request), at=clock.now(),
               **(form.cleaned_data if form else {}))
    except CaseNotFound:
        raise Http404 from None
    except CaseError as exc:
        request.session[NOTICE] = str(exc.message)
    else:
        request.session[NOTICE] = str(done)
    return redirect("bo:risk_case", case_id=case_id)


@require_POST
@risk_staff
def case_assign(request, case_id: int):
    return _change(request, case_id, None,
                   lambda **kw: cases.case_assign(to=request.staff_actor, **kw),
                   _("The case is assigned to you."))


@require_POST
@risk_staff
def case_note(request, case_id: int):
    return _change(request, case_id, NoteForm, cases.case_note, _("Note added."))


@require_POST
@risk_staff
def case_callback(request, case_id: int):
    return _change(request, case_id, CallbackForm, cases.case_callback,
                   _("Call-back recorded."))


@require_POST
@risk_staff
def case_escalate(request, case_id: int):
    return _change(request, case_id, EscalateForm, cases.case_escalate,
                   _("Escalated to head office."))


@require_POST
@risk_staff
def case_close(request, case_id: int):
    return _change(request, case_id, CloseForm, cases.case_close, _("The case is closed."))


@require_POST
@risk_staff
def case_loss(request, case_id: int):
    def record(*, loss, **kw):
        return cases.case_loss_record(loss_fen=Money.from_yuan(loss).fen, **kw)
    return _change(request, case_id, LossForm, record,
                   _("Loss recorded: another risk staff member decides the compensation."))


@require_POST
@risk_staff
def case_compensation(request, case_id: int):
    def decide(*, amount, **kw):
        return cases.case_compensation_decide(amount_fen=Money.from_yuan(amount).fen, **kw)
    return _change(request, case_id, CompensationForm, decide,
                   _("Compensation decision recorded."))
