"""The risk desk's rule sets and lists (RK-04, RK-10, RK-15; maker–checker ORG-02): staff
draft a version, edit its rules (CEL, checked on save, with the feature reference at hand),
backtest it on recent decisions, submit it; a head-office risk manager who did not make it
approves or rejects it. The black and grey lists: entries shown masked, added and removed
with a reason, exported and imported as CSV. Only the risk roles reach any page."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.backoffice.risk import risk_staff
from wangyin.backoffice.views import _no_store
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import Money, format_money
from wangyin.risk import lists, rulesets
from wangyin.risk.expressions import FEATURES
from wangyin.risk.models import (
    Action,
    Family,
    ListColour,
    ListEntry,
    ListSubject,
    Rule,
    RuleSet,
    RuleSetStatus,
)
from wangyin.web.forms import form_errors_text

NOTICE = "bo_risk_notice"
IMPORT_MAX_BYTES = 2 * 1024 * 1024


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason (recorded in the audit trail)"), max_length=200)


class DraftForm(forms.Form):
    note = forms.CharField(label=_("What this version changes"), max_length=200,
                           required=False)


class RuleForm(forms.Form):
    code = forms.SlugField(label=_("Code (the reason decisions carry)"), max_length=40)
    description = forms.CharField(label=_("Description"), max_length=200)
    expression = forms.CharField(label=_("Condition (CEL)"), max_length=2000,
                                 widget=forms.Textarea(attrs={"rows": 3, "class": "mono",
                                                              "spellcheck": "false"}))
    action = forms.ChoiceField(label=_("Action when it fires"), choices=[
        (a, label) for a, label in Action.choices if a in rulesets.RULE_ACTIONS])
    score = forms.IntegerField(label=_("Score (0–100)"), min_value=0, max_value=100,
                               initial=50)
    priority = forms.IntegerField(label=_("Priority (lower first)"), min_value=0,
                                  max_value=32767, initial=100)
    family = forms.ChoiceField(label=_("Family"), choices=Family.choices)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)


class BacktestForm(forms.Form):
    since = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To (inclusive)"),
                            widget=forms.DateInput(attrs={"type": "date"}))


class ListFilterForm(forms.Form):
    colour = forms.ChoiceField(label=_("List"), required=False,
                               choices=[("", _("All")), *ListColour.choices])
    subject = forms.ChoiceField(label=_("Subject"), required=False,
                                choices=[("", _("All")), *ListSubject.choices])
    ended = forms.BooleanField(label=_("Show expired and removed entries"), required=False)


class ListAddForm(ReasonForm):
    colour = forms.ChoiceField(label=_("List"), choices=ListColour.choices)
    subject = forms.ChoiceField(label=_("Subject"), choices=ListSubject.choices)
    value = forms.CharField(label=_("Value"), max_length=64,
                            widget=forms.TextInput(attrs={"autocomplete": "off"}))
    expires = forms.DateField(label=_("Expires on (empty: until removed)"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))
    field_order = ["colour", "subject", "value", "reason", "expires"]


class ListImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file (colour,subject,value,reason,expires_at)"))


def _notice(request, text) -> None:
    request.session[NOTICE] = str(text)


def _error_text(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)


def _version(version: int) -> RuleSet:
    try:
        return rulesets.rule_set_get(version)
    except RuleSet.DoesNotExist:
        raise Http404 from None


def _rule_set_url(rule_set: RuleSet):
    return redirect("bo:risk_rule_set", version=rule_set.version)


def _features() -> list[tuple[str, str, str]]:
    return [(name, str(spec[0]).lower(), spec[1]) for name, spec in FEATURES.items()]


# --- rule sets ---------------------------------------------------------------------------------


@require_safe
@risk_staff
def rule_sets(request):
    return _no_store(render(request, "backoffice/risk/rule_sets.html", {
        "rule_sets": rulesets.rule_set_list(), "open": rulesets.open_version(),
        "form": DraftForm(), "notice": request.session.pop(NOTICE, "")}))


@require_POST
@risk_staff
def rule_set_new(request):
    form = DraftForm(request.POST)
    based_on = None
    if request.POST.get("based_on"):
        try:
            based_on = _version(int(request.POST["based_on"]))
        except ValueError:
            raise Http404 from None
    if not form.is_valid():
        _notice(request, form_errors_text(form))
        return redirect("bo:risk_rule_sets")
    try:
        draft = rulesets.draft_create(by=request.staff_actor, at=clock.now(), based_on=based_on,
                                      note=form.cleaned_data["note"])
    except DomainError as exc:
        _notice(request, exc.message)
        return redirect("bo:risk_rule_sets")
    _notice(request, _("Draft made: edit its rules, backtest it, then submit it."))
    return _rule_set_url(draft)


def _may(request, rule_set: RuleSet) -> dict:
    """Which buttons this staff member sees (the services check again)."""
    mine = rule_set.created_by == request.staff_actor
    draft = rule_set.status == RuleSetStatus.DRAFT
    pending = rule_set.status == RuleSetStatus.PENDING
    return {"edit": draft and mine,
            "decide": pending and not mine and request.staff_role == rulesets.APPROVER_ROLE,
            "waiting_for_other": pending and mine}


@require_safe
@risk_staff
def rule_set(request, version: int):
    rule_set = _version(version)
    may = _may(request, rule_set)
    return _no_store(render(request, "backoffice/risk/rule_set.html", {
        "rule_set": rule_set, "rules": rule_set.rules.order_by("priority", "code"),
        "may": may, "history": rulesets.history(rule_set),
        "approve_form": ReasonForm(auto_id="approve_%s"),
        "reject_form": ReasonForm(auto_id="reject_%s"),
        "features": _features() if may["edit"] else None,
        "open": rulesets.open_version(), "notice": request.session.pop(NOTICE, "")}))


@require_http_methods(["GET", "HEAD", "POST"])
@risk_staff
def rule_edit(request, version: int, code: str = ""):
    """Add a rule to the draft (no ``code``) or change one; the CEL error shown in place."""
    rule_set = _version(version)
    rule = None
    if code:
        rule = Rule.objects.filter(rule_set=rule_set, code=code).first()
        if rule is None:
            raise Http404
    if not _may(request, rule_set)["edit"]:
        raise Http404  # only the maker edits, only a draft
    initial = {f: getattr(rule, f) for f in RuleForm.base_fields} if rule else None
    form = RuleForm(request.POST if request.method == "POST" else None, initial=initial)
    if rule is not None:
        form.fields["code"].disabled = True  # the code names the rule: a new code, a new rule
    error, status = "", 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                rulesets.rule_save(draft=rule_set, by=request.staff_actor, at=clock.now(),
                                   **form.cleaned_data)
            except DomainError as exc:
                error = _error_text(exc)
            else:
                _notice(request, _("Rule %(code)s saved.") % {"code": form.cleaned_data["code"]})
                return _rule_set_url(rule_set)
    return _no_store(render(request, "backoffice/risk/rule_edit.html", {
        "rule_set": rule_set, "rule": rule, "form": form, "error": error,
        "features": _features()}, status=status))


def _rule_set_change(request, version: int, change, *, reason: bool = False):
    """Run one service on the version (with the reason when asked); its error as a notice."""
    rule_set = _version(version)
    kwargs = {}
    if reason:
        form = ReasonForm(request.POST)
        if not form.is_valid():
            _notice(request, form_errors_text(form))
            return _rule_set_url(rule_set)
        kwargs["reason"] = form.cleaned_data["reason"]
    try:
        notice = change(rule_set, by=request.staff_actor, at=clock.now(), **kwargs)
    except DomainError as exc:
        notice = exc.message
    _notice(request, notice)
    return _rule_set_url(rule_set)


@require_POST
@risk_staff
def rule_delete(request, version: int, code: str):
    def delete(rule_set, **who):
        rulesets.rule_delete(draft=rule_set, code=code, **who)
        return _("Rule %(code)s deleted from the draft.") % {"code": code}

    return _rule_set_change(request, version, delete)


@require_POST
@risk_staff
def rule_set_submit(request, version: int):
    def submit(rule_set, **who):
        rulesets.draft_submit(draft=rule_set, **who)
        return _("Submitted: another staff member (a head-office risk manager) approves it.")

    return _rule_set_change(request, version, submit)


@require_POST
@risk_staff
def rule_set_discard(request, version: int):
    def discard(rule_set, **who):
        rulesets.draft_discard(draft=rule_set, **who)
        return _("The draft was withdrawn.")

    return _rule_set_change(request, version, discard)


@require_POST
@risk_staff
def rule_set_approve(request, version: int):
    def approve(rule_set, **kwargs):
        rulesets.draft_approve(draft=rule_set, role=request.staff_role, **kwargs)
        return _("Approved: this version is live. Every server uses it within seconds.")

    return _rule_set_change(request, version, approve, reason=True)


@require_POST
@risk_staff
def rule_set_reject(request, version: int):
    def reject(rule_set, **kwargs):
        rulesets.draft_reject(draft=rule_set, role=request.staff_role, **kwargs)
        return _("Rejected: the version stays as a record and the live rules are unchanged.")

    return _rule_set_change(request, version, reject, reason=True)


@require_safe
@risk_staff
def rule_set_backtest(request, version: int):
    """Replay the decisions of a period through the version (a GET: nothing changes)."""
    rule_set = _version(version)
    today = timezone.localdate()
    form = BacktestForm(request.GET or None,
                        initial={"since": today - timedelta(days=7), "until": today})
    result, error, status = None, "", 200
    if request.GET:
        if form.is_valid():
            tz = timezone.get_current_timezone()
            since = datetime.combine(form.cleaned_data["since"], time.min, tz)
            until = datetime.combine(form.cleaned_data["until"] + timedelta(days=1),
                                     time.min, tz)
            try:
                result = rulesets.backtest(rule_set=rule_set, since=since, until=until,
                                           by=request.staff_actor, at=clock.now())
            except DomainError as exc:
                error, status = _error_text(exc), 400
        else:
            status = 400
    rows = []
    if result is not None:
        for action, label in Action.choices:
            before, after = result.live_actions[action], result.tested_actions[action]
            rows.append({"action": action, "label": label, "before": before, "after": after,
                         "delta": after - before})
    labels = dict(Action.choices)
    changes = [{"change": c, "amount": format_money(Money(c.amount_fen)),
                "before": labels.get(c.before, c.before), "after": labels.get(c.after, c.after)}
               for c in (result.changes if result else [])]
    return _no_store(render(request, "backoffice/risk/backtest.html", {
        "rule_set": rule_set, "form": form, "result": result, "rows": rows,
        "changes": changes, "error": error, "limit": rulesets.BACKTEST_LIMIT,
        "shown": rulesets.BACKTEST_SHOWN}, status=status))


# --- lists --------------------------------------------------------------------------------------


@require_safe
@risk_staff
def risk_lists(request):
    form = ListFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    limit = 500
    entries = lists.entries(at=clock.now(), colour=data.get("colour", ""),
                            subject=data.get("subject", ""), active=not data.get("ended"),
                            limit=limit)
    return _no_store(render(request, "backoffice/risk/lists.html", {
        "filter": form, "entries": entries, "ended": bool(data.get("ended")),
        "full": len(entries) == limit, "add_form": ListAddForm(auto_id="add_%s"),
        "import_form": ListImportForm(), "reason_form": ReasonForm(auto_id=False),
        "notice": request.session.pop(NOTICE, "")}))


@require_POST
@risk_staff
def list_add(request):
    form = ListAddForm(request.POST)
    if not form.is_valid():
        _notice(request, form_errors_text(form))
        return redirect("bo:risk_lists")
    data = form.cleaned_data
    expires = (datetime.combine(data["expires"], time.min, timezone.get_current_timezone())
               if data["expires"] else None)
    try:
        entry = lists.entry_add(colour=data["colour"], subject=data["subject"],
                                value=data["value"], reason=data["reason"],
                                staff=request.staff_actor, at=clock.now(), expires_at=expires)
    except lists.ListValueInvalid as exc:
        _notice(request, _("Not added: %(error)s") % {"error": exc})
    else:
        _notice(request, _("Listed: %(value)s") % {"value": entry.shown})
    return redirect("bo:risk_lists")


@require_POST
@risk_staff
def list_remove(request, entry_id: int):
    form = ReasonForm(request.POST)
    if not ListEntry.objects.filter(pk=entry_id).exists():
        raise Http404
    if not form.is_valid():
        _notice(request, form_errors_text(form))
        return redirect("bo:risk_lists")
    entry = lists.entry_remove(entry_id=entry_id, staff=request.staff_actor,
                               reason=form.cleaned_data["reason"], at=clock.now())
    _notice(request, _("Removed from the list: %(value)s") % {"value": entry.shown})
    return redirect("bo:risk_lists")


@require_POST
@risk_staff
def list_export(request):
    """The active entries with their values in the clear (to share with another bank):
    a POST with a reason, audited, never cached."""
    form = ReasonForm(request.POST)
    if not form.is_valid():
        _notice(request, form_errors_text(form))
        return redirect("bo:risk_lists")
    now = clock.now()
    text = lists.export_csv(now, staff=request.staff_actor, reason=form.cleaned_data["reason"])
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    name = f"risk-lists-{timezone.localtime(now):%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return _no_store(response)


@require_POST
@risk_staff
def list_import(request):
    """Add every line of a shared list, all or nothing; a bad line is named."""
    form = ListImportForm(request.POST, request.FILES)
    if not form.is_valid():
        _notice(request, form_errors_text(form))
        return redirect("bo:risk_lists")
    upload = form.cleaned_data["file"]
    if upload.size > IMPORT_MAX_BYTES:
        _notice(request, _("The file is too large (at most 2 MB)."))
        return redirect("bo:risk_lists")
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        _notice(request, _("The file is not UTF-8 text."))
        return redirect("bo:risk_lists")
    try:
        count = lists.import_csv(text, source=upload.name[:60], staff=request.staff_actor,
                                 at=clock.now())
    except lists.ListValueInvalid as exc:
        _notice(request, _("Nothing was imported — %(error)s") % {"error": exc})
    else:
        _notice(request, _("Imported %(count)s lines.") % {"count": count})
    return redirect("bo:risk_lists")

