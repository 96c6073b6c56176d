"""The company administrator's pages in the corporate web bank (FC-02, SE-09): the
operators (create, disable, enable, remove, reset the password, roles, accounts and their
limits, bind a USB-Key) and the approval policy (the tiers in force, the versions, a new
version as a table of tiers). Every change is shown in words, signed with the
administrator's USB-Key through the U盾 agent (``static/web/usbkey.js``, as the sign-in)
and only then applied by ``corporate.operators`` / ``corporate.approvals``; a wrong or
missing signature changes nothing.

A change waiting for its signature is kept in the session (``PENDING``): its kind, the
operator, its values and the challenge. The confirmation page rebuilds the change from
them, so the signature is checked against exactly what was shown. A new initial password
or a key's reference code is shown once, on the page that answers the signed POST (never
in a URL, the session or a log)."""

from __future__ import annotations

import json
from datetime import date, datetime

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.authn.errors import ChallengeFailed
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import Money, format_money
from wangyin.corporate import approvals, counter, operators, security, selectors, signin
from wangyin.corporate.errors import (
    BirthDateRequired,
    InvalidOperatorCode,
    InvalidScope,
    OperatorCodeTaken,
    OperatorExists,
    OperatorMobileMismatch,
    OperatorNameMismatch,
)
from wangyin.corporate.models import OperatorStatus
from wangyin.corporate.operators import Change, Scope
from wangyin.corpweb.admin_forms import (
    OperatorCreateForm,
    RolesForm,
    ScopesForm,
    TierFormSet,
    UsbKeyForm,
)
from wangyin.corpweb.middleware import operator_required
from wangyin.customers.errors import InvalidIdNumber, InvalidName, InvalidPhone
from wangyin.web import stepup
from wangyin.web.customer import client_ip

PENDING = "corp_admin_change"
NOTICE = "corp_admin_notice"
POLICY = "policy"  # the pending kind of an approval policy change
FIELD_OF = {InvalidName: "name", OperatorNameMismatch: "name", InvalidIdNumber: "id_number",
            OperatorExists: "id_number", InvalidPhone: "mobile",
            OperatorMobileMismatch: "mobile", InvalidOperatorCode: "code",
            OperatorCodeTaken: "code", BirthDateRequired: "birth_date"}
STATUS_ACTIONS = {"disable": operators.DISABLE, "enable": operators.ENABLE,
                  "remove": operators.REMOVE, "password": operators.PASSWORD_RESET}
EXTRA_TIER_ROWS = 2

administrator = operator_required(admin=True)


def _error_on(form, exc: DomainError) -> None:
    """A refusal next to the field it is about, else above the form."""
    form.add_error(FIELD_OF.get(type(exc)), str(exc.message))


def _notice(request) -> str:
    return request.session.pop(NOTICE, "")


# --- the change waiting for its signature -------------------------------------------------


def _change_of(pending: dict) -> Change:
    """The change as it was asked for, from what the session kept."""
    kind, operator_id, values = pending["kind"], pending["operator"], pending["values"]
    if kind == operators.CREATE:
        birth = values["birth_date"]
        return Change.create(name=values["name"], id_type=values["id_type"],
                             id_number=values["id_number"], mobile=values["mobile"],
                             code=values["code"],
                             birth_date=date.fromisoformat(birth) if birth else None)
    if kind == operators.ROLES_SET:
        return Change.roles_set(operator_id=operator_id, roles=values["roles"])
    if kind == operators.SCOPE_SET:
        return Change.scope_set(operator_id=operator_id,
                                scopes=[Scope(*row) for row in values["scopes"]])
    if kind == operators.USB_KEY_BIND:
        return Change.usb_key_bind(operator_id=operator_id, serial=values["serial"])
    return {operators.DISABLE: Change.disable, operators.ENABLE: Change.enable,
            operators.REMOVE: Change.remove,
            operators.PASSWORD_RESET: Change.password_reset}[kind](operator_id=operator_id)


def _tiers_of(pending: dict) -> list[approvals.TierSpec]:
    return [approvals.TierSpec(*row) for row in pending["tiers"]]


def _pending_set(request, challenge, **data) -> None:
    request.session[PENDING] = {**data, **stepup.pending_of(challenge),
                                "summary": json.loads(challenge.sign_payload).get("detail", ""),
                                "at": clock.now().isoformat()}


def _ask(request, change: Change, then: list | None = None):
    """Check the change and open the challenge the administrator's key signs; then the
    confirmation page. Raises the change's refusal."""
    challenge = operators.change_challenge(admin=request.operator, change=change,
                                           at=clock.now())
    _pending_set(request, challenge, kind=change.kind, operator=change.operator_id,
                 values=dict(change.values), then=then or [])
    return redirect("corpweb:admin_confirm")


def _ask_next(request, operator_id: int, then: list) -> str:
    """After a new operator is created: the next change of the form (roles, accounts)
    waits for its own signature. Returns an error to show, if it cannot be asked for."""
    request.session.pop(PENDING, None)
    if not then:
        return ""
    step, rest = then[0], then[1:]
    change = _change_of({"kind": step["kind"], "operator": operator_id,
                         "values": step["values"]})
    try:
        _ask(request, change, rest)
    except DomainError as exc:
        return str(exc.message)
    return ""


def _apply(request, pending: dict, authorisation: int, at: datetime):
    """The signed change, applied by its service; the page that says what was done."""
    admin, kind, target = request.operator, pending["kind"], pending["operator"]
    values = pending["values"]
    common = {"admin": admin, "authorisation": authorisation, "at": at}
    if kind == operators.CREATE:
        birth = values["birth_date"]
        operator, password = operators.operator_create(
            name=values["name"], id_type=values["id_type"], id_number=values["id_number"],
            mobile=values["mobile"], code=values["code"],
            birth_date=date.fromisoformat(birth) if birth else None, **common)
        error = _ask_next(request, operator.pk, pending.get("then", []))
        return render(request, "corpweb/admin/shown_once.html", {
            "operator": operator, "password": password, "created": True,
            "next": request.session.get(PENDING), "error": error})
    if kind == operators.PASSWORD_RESET:
        operator, password = operators.operator_password_reset(operator_id=target, **common)
        request.session.pop(PENDING, None)
        return render(request, "corpweb/admin/shown_once.html", {
            "operator": operator, "password": password})
    if kind == operators.USB_KEY_BIND:
        key, reference = operators.operator_usb_key_bind(operator_id=target,
                                                         serial=values["serial"], **common)
        request.session.pop(PENDING, None)
        return render(request, "corpweb/admin/shown_once.html", {
            "operator": _operator(request, target), "key": key,
            "reference": reference})
    if kind == operators.ROLES_SET:
        operators.operator_roles_set(operator_id=target, roles=values["roles"], **common)
    elif kind == operators.SCOPE_SET:
        operators.operator_scope_set(operator_id=target,
                                     scopes=[Scope(*row) for row in values["scopes"]],
                                     **common)
    else:
        {operators.DISABLE: operators.operator_disable,
         operators.ENABLE: operators.operator_enable,
         operators.REMOVE: operators.operator_remove}[kind](operator_id=target, **common)
    then = pending.get("then", [])
    error = _ask_next(request, target, then)
    request.session[NOTICE] = error or _("Done: %(what)s.") % {"what": pending["summary"]}
    if request.session.get(PENDING):
        return redirect("corpweb:admin_confirm")
    return redirect("corpweb:admin_operator", operator_id=target)


@require_http_methods(["GET", "HEAD", "POST"])
@administrator
def confirm(request):
    """The change in words and the USB-Key's signature over it; then it applies."""
    pending = request.session.get(PENDING)
    if not pending:
        return redirect("corpweb:operators")
    policy = pending["kind"] == POLICY
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            request.session.pop(PENDING, None)
            request.session[NOTICE] = _("Nothing was changed.")
            return redirect("corpweb:admin_policy" if policy else "corpweb:operators")
        signature = stepup.codes_from(request.POST)["USBKEY"]
        at = clock.now()
        try:
            if not signature:
                raise ChallengeFailed()
            if policy:
                tiers = _tiers_of(pending)
                approvals.policy_change_verify(request.operator, tiers, pending["challenge"],
                                               signature, at)
                new = approvals.policy_change(request.operator, tiers, pending["challenge"],
                                              at, ip=client_ip(request),
                                              device_id=request.device_id)
                request.session.pop(PENDING, None)
                request.session[NOTICE] = _("Version %(version)d of the approval policy is "
                                            "in force.") % {"version": new.version}
                return redirect("corpweb:admin_policy")
            operators.change_verify(admin=request.operator, change=_change_of(pending),
                                    challenge_id=pending["challenge"], signature=signature,
                                    at=at)
            return _apply(request, pending, pending["challenge"], at)
        except ChallengeFailed:
            error = (_("Sign with your USB-Key first. Nothing was changed.") if not signature
                     else _("The USB-Key signature was not accepted for this change. "
                            "Nothing was changed. Sign again, or start again."))
        except DomainError as exc:
            error = _("%(why)s Nothing was changed.") % {"why": exc.message}
    return render(request, "corpweb/admin/confirm.html", {
        "summary": pending["summary"], "warnings": pending.get("warnings", []),
        "policy": policy, "error": error, **stepup.factor_context(pending, "")},
        status=400 if error else 200)


# --- operators ----------------------------------------------------------------------------


def _limits(scope) -> str:
    def one(fen):
        return format_money(Money(fen)) if fen is not None else _("no limit")

    return _("%(per_payment)s per payment, %(per_day)s per day") % {
        "per_payment": one(scope.per_payment_fen), "per_day": one(scope.per_day_fen)}


def _row(operator, numbers: dict) -> dict:
    return {"operator": operator, "roles": signin.role_labels(operator),
            "key": counter.active_key_of(operator),
            "scopes": [{"number": numbers.get(s.account_id, ""), "limits": _limits(s)}
                       for s in sorted(operator.scopes.all(), key=lambda s: s.account_id)]}


def _numbers(operator) -> dict[int, str]:
    return {a.pk: a.masked_number for a in counter.linked_accounts(operator.service)}


def _operator(request, operator_id: int):
    """One operator of the administrator's company (another's looks missing)."""
    found = next((o for o in operators.operators_of(admin=request.operator)
                  if o.pk == operator_id), None)
    if found is None:
        raise Http404
    return found


@require_safe
@administrator
def operator_list(request):
    numbers = _numbers(request.operator)
    return render(request, "corpweb/admin/operators.html", {
        "rows": [_row(o, numbers) for o in operators.operators_of(admin=request.operator)],
        "notice": _notice(request)})


@require_http_methods(["GET", "HEAD", "POST"])
@administrator
def operator_new(request):
    """A new operator with roles and accounts: three changes, each signed in turn (the
    operator, then their roles, then their accounts and limits)."""
    accounts = counter.linked_accounts(request.operator.service)
    form = OperatorCreateForm(request.POST or None, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            change = Change.create(name=data["name"], id_type=data["id_type"],
                                   id_number=data["id_number"], mobile=data["mobile"],
                                   code=data["code"], birth_date=data.get("birth_date"))
            then = []
            if data["roles"]:
                then.append({"kind": operators.ROLES_SET, "values": {"roles": data["roles"]}})
            scopes = form.scopes()
            if scopes:
                then.append({"kind": operators.SCOPE_SET, "values": dict(Change.scope_set(
                    operator_id=0, scopes=scopes).values)})
            return _ask(request, change, then)
        except InvalidScope as exc:
            form.add_error(None, str(exc.message))
        except DomainError as exc:
            _error_on(form, exc)
    return render(request, "corpweb/admin/operator_new.html", {"form": form},
                  status=400 if form.errors else 200)


def _detail(request, operator, *, roles_form=None, scopes_form=None, key_form=None,
            error: str = "", status: int = 200):
    numbers = _numbers(request.operator)
    accounts = counter.linked_accounts(request.operator.service)
    current = {s.account_id: s for s in operator.scopes.all()}
    return render(request, "corpweb/admin/operator.html", {
        **_row(operator, numbers), "notice": _notice(request), "error": error,
        "is_self": operator.pk == request.operator.pk,
        "active": operator.status == OperatorStatus.ACTIVE,
        "disabled": operator.status == OperatorStatus.DISABLED,
        "roles_form": roles_form or RolesForm(initial={"roles": operator.roles}),
        "scopes_form": scopes_form or ScopesForm(accounts=accounts, scopes=current),
        "key_form": key_form or UsbKeyForm(),
        "history": security.signin_history(operator)}, status=status)


@require_safe
@administrator
def operator_detail(request, operator_id: int):
    return _detail(request, _operator(request, operator_id))


@require_POST
@administrator
def operator_roles(request, operator_id: int):
    operator = _operator(request, operator_id)
    form = RolesForm(request.POST)
    if form.is_valid():
        try:
            return _ask(request, Change.roles_set(operator_id=operator.pk,
                                                  roles=form.cleaned_data["roles"]))
        except DomainError as exc:
            form.add_error("roles", str(exc.message))
    return _detail(request, operator, roles_form=form, status=400)


@require_POST
@administrator
def operator_scopes(request, operator_id: int):
    operator = _operator(request, operator_id)
    form = ScopesForm(request.POST, accounts=counter.linked_accounts(request.operator.service))
    if form.is_valid():
        try:
            return _ask(request, Change.scope_set(operator_id=operator.pk,
                                                  scopes=form.scopes()))
        except DomainError as exc:
            form.add_error(None, str(exc.message))
    return _detail(request, operator, scopes_form=form, status=400)


@require_POST
@administrator
def operator_key(request, operator_id: int):
    operator = _operator(request, operator_id)
    form = UsbKeyForm(request.POST)
    if form.is_valid():
        try:
            return _ask(request, Change.usb_key_bind(operator_id=operator.pk,
                                                     serial=form.cleaned_data["serial"]))
        except DomainError as exc:
            form.add_error("serial", str(exc.message))
    return _detail(request, operator, key_form=form, status=400)


@require_POST
@administrator
def operator_status(request, operator_id: int, action: str):
    """Disable, enable, remove, or reset the password: the change in words to sign."""
    operator = _operator(request, operator_id)
    kind = STATUS_ACTIONS.get(action)
    if kind is None:
        raise Http404
    try:
        return _ask(request, _change_of({"kind": kind, "operator": operator.pk, "values": {}}))
    except DomainError as exc:
        return _detail(request, operator, error=str(exc.message), status=400)


# --- the approval policy ------------------------------------------------------------------


def _tier_rows(tiers, numbers: dict) -> list[dict]:
    return [{"account": numbers.get(t.account_id, "") if t.account_id else "",
             "up_to": Money(t.up_to_fen) if t.up_to_fen is not None else None,
             "checkers": t.checkers, "authorisers": t.authorisers}
            for t in sorted(tiers, key=approvals._order)]


@require_safe
@administrator
def policy(request):
    """The tiers in force and every version, newest first, with who signed it."""
    service = request.operator.service
    numbers = _numbers(request.operator)
    live = selectors.policy_in_force(service)
    versions = [{"policy": p, "tiers": _tier_rows(p.tiers.all(), numbers)}
                for p in selectors.policies(service)]
    return render(request, "corpweb/admin/policy.html", {
        "live": live, "tiers": _tier_rows(live.tiers.all(), numbers) if live else [],
        "versions": versions, "notice": _notice(request)})


def _initial_rows(service) -> list[dict]:
    live = selectors.policy_in_force(service)
    tiers = sorted(live.tiers.all(), key=approvals._order) if live else []
    return [{"account": str(t.account_id or ""),
             "up_to": Money(t.up_to_fen).to_yuan_str() if t.up_to_fen is not None else None,
             "checkers": t.checkers, "authorisers": t.authorisers} for t in tiers]


TIER_FIELDS = ("account", "up_to", "checkers", "authorisers", "remove")


def _total(post) -> int:
    try:
        return max(0, min(int(post.get("form-TOTAL_FORMS", "0")), 19))
    except ValueError:
        return 0


@require_http_methods(["GET", "HEAD", "POST"])
@administrator
def policy_edit(request):
    """The new tiers as a table (a row per tier; empty rows are ignored, "Add a row"
    gives another); then the warnings and the change in words to sign."""
    admin = request.operator
    accounts = counter.linked_accounts(admin.service)
    error = ""
    if request.method != "POST":
        rows = _initial_rows(admin.service)
        formset = TierFormSet(initial=rows + [{}] * EXTRA_TIER_ROWS, accounts=accounts)
    else:
        formset = TierFormSet(request.POST, accounts=accounts)
        if request.POST.get("action") == "add":  # the rows as typed, and one more
            rows = [{name: request.POST.get(f"form-{i}-{name}", "") for name in TIER_FIELDS}
                    for i in range(_total(request.POST))]
            formset = TierFormSet(initial=[r for r in rows if r["remove"] != "on"] + [{}],
                                  accounts=accounts)
            return render(request, "corpweb/admin/policy_edit.html", {"formset": formset})
        if formset.is_valid():
            tiers = formset.tiers()
            try:
                challenge = approvals.policy_change_challenge(admin, tiers, clock.now())
            except DomainError as exc:
                error = str(exc.message)
            else:
                cleaned = approvals.tiers_clean(admin.service, tiers)
                _pending_set(request, challenge, kind=POLICY, operator=None, values={},
                             tiers=[[t.account_id, t.up_to_fen, t.checkers, t.authorisers]
                                    for t in cleaned],
                             warnings=[str(w) for w in approvals.policy_warnings(
                                 admin.service, cleaned)])
                return redirect("corpweb:admin_confirm")
    invalid = formset.is_bound and not formset.is_valid()
    return render(request, "corpweb/admin/policy_edit.html", {
        "formset": formset, "error": error}, status=400 if error or invalid else 200)
