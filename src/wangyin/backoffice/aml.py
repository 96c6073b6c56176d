"""The AML desk of the back office (RK-09; RK-15: risk roles only, everyone else sees a
missing page): large-value report lines (overdue first) to review and export, suspicious-
transaction alerts to confirm or dismiss with a reason, and the export files. Screens show
masked names and accounts; the files carry what the regulator needs."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.aml import selectors, services
from wangyin.aml.models import AlertStatus, ExportKind, ReportStatus
from wangyin.backoffice.risk import risk_staff
from wangyin.backoffice.views import _no_store
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.web.forms import form_errors_text

NOTICE = "bo_aml_notice"


class ReviewForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Review note (what you checked)"), max_length=500,
                           required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason (recorded with your name)"),
                             max_length=200)


class AnalyseForm(forms.Form):
    verdict = forms.ChoiceField(label=gettext_lazy("Conclusion"), widget=forms.RadioSelect,
                                choices=[("confirm", gettext_lazy("Confirm: report it")),
                                         ("dismiss", gettext_lazy("Dismiss: not suspicious"))])
    reason = forms.CharField(label=gettext_lazy("Reason (recorded with your name)"),
                             max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


def _notice(request, text) -> None:
    request.session[NOTICE] = str(text)


def _run(request, call) -> object | None:
    """Call a service; a business refusal becomes the page's notice."""
    try:
        return call()
    except DomainError as exc:
        _notice(request, exc.message)
        return None


def _page(request, template: str, context: dict, status: int = 200):
    context["notice"] = request.session.pop(NOTICE, "")
    return _no_store(render(request, template, context, status=status))


# --- large-value reports --------------------------------------------------------------------


@require_safe
@risk_staff
def large_reports(request):
    status = request.GET.get("status", "")
    status = status if status in ReportStatus.values else ""
    today = services.day_of(clock.now())
    return _page(request, "backoffice/aml/large_list.html", {
        "reports": selectors.large_value_reports(today=today, status=status),
        "status": status, "statuses": ReportStatus.choices,
        "overdue": selectors.overdue_count(today=today),
        "to_export": selectors.reviewed_to_export(),
        "exports": selectors.recent_exports(kind=ExportKind.LARGE_VALUE)})


@require_http_methods(["GET", "HEAD", "POST"])
@risk_staff
def large_report(request, report_id: int):
    if request.method == "POST":
        form = ReviewForm(request.POST)
        if not form.is_valid():
            _notice(request, form_errors_text(form))
        elif _run(request, lambda: services.large_value_review(
                report_id=report_id, actor=request.staff_actor,
                note=form.cleaned_data["note"], at=clock.now())):
            _notice(request, _("Reviewed: the line will go into the next export."))
        return redirect("bo:aml_large_report", report_id=report_id)
    report = selectors.large_value_report(report_id=report_id,
                                          today=services.day_of(clock.now()))
    if report is None:
        raise Http404
    return _page(request, "backoffice/aml/large_report.html", {
        "report": report, "form": ReviewForm(), "reexport": ReasonForm()})


@require_POST
@risk_staff
def large_export(request):
    batch = _run(request, lambda: services.large_value_export(actor=request.staff_actor,
                                                              at=clock.now()))
    if batch:
        _notice(request, _("Exported %(lines)s line(s) to %(file)s.")
                % {"lines": batch.lines, "file": batch.file_name})
    return redirect("bo:aml_large")


@require_POST
@risk_staff
def large_reexport(request, report_id: int):
    form = ReasonForm(request.POST)
    batch = _run(request, lambda: services.large_value_reexport(
        report_ids=[report_id], actor=request.staff_actor,
        reason=form.data.get("reason", ""), at=clock.now()))
    if batch:
        _notice(request, _("Exported again to %(file)s.") % {"file": batch.file_name})
    return redirect("bo:aml_large_report", report_id=report_id)


@require_safe
@risk_staff
def export_file(request, batch_id: int):
    batch = _run(request, lambda: services.export_download(
        batch_id=batch_id, actor=request.staff_actor, at=clock.now()))
    if batch is None:
        raise Http404
    response = HttpResponse(batch.content.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{batch.file_name}"'
    return _no_store(response)


# --- suspicious-transaction alerts ----------------------------------------------------------


@require_safe
@risk_staff
def alerts(request):
    status = request.GET.get("status", AlertStatus.OPEN)
    status = status if status in AlertStatus.values or status == "" else AlertStatus.OPEN
    return _page(request, "backoffice/aml/alerts.html", {
        "alerts": selectors.alert_queue(status=status), "status": status,
        "statuses": AlertStatus.choices, "to_export": selectors.confirmed_to_export(),
        "exports": selectors.recent_exports(kind=ExportKind.SUSPICIOUS)})


@require_http_methods(["GET", "HEAD", "POST"])
@risk_staff
def alert(request, alert_id: int):
    form = AnalyseForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            _notice(request, form_errors_text(form))
        elif _run(request, lambda: services.alert_analyse(
                alert_id=alert_id, confirm=form.cleaned_data["verdict"] == "confirm",
                reason=form.cleaned_data["reason"], actor=request.staff_actor,
                at=clock.now())):
            _notice(request, _("Recorded."))
        return redirect("bo:aml_alert", alert_id=alert_id)
    found = selectors.alert(alert_id=alert_id)
    if found is None:
        raise Http404
    return _page(request, "backoffice/aml/alert.html", {
        "alert": found, "form": form, "reexport": ReasonForm()})


@require_POST
@risk_staff
def alerts_export(request):
    batch = _run(request, lambda: services.suspicious_export(actor=request.staff_actor,
                                                             at=clock.now()))
    if batch:
        _notice(request, _("Exported %(lines)s line(s) to %(file)s.")
                % {"lines": batch.lines, "file": batch.file_name})
    return redirect("bo:aml_alerts")


@require_POST
@risk_staff
def alert_reexport(request, alert_id: int):
    form = ReasonForm(request.POST)
    batch = _run(request, lambda: services.suspicious_reexport(
        alert_ids=[alert_id], actor=request.staff_actor, reason=form.data.get("reason", ""),
        at=clock.now()))
    if batch:
        _notice(request, _("Exported again to %(file)s.") % {"file": batch.file_name})
    return redirect("bo:aml_alert", alert_id=alert_id)
