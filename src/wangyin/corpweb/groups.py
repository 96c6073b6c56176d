"""Group accounts (FC-08) and linking an account online with dual approval (ON-05) in the
corporate web bank. Thin: the rules are ``wangyin.corporate.groups``'.

- **Group** (``/corp/group/``): the accounts of other companies granted to the company at
  the counter — company, account, balance, available — and each one's details, read only;
  for the administrator and the operators the administrator allows (``/corp/group/
  viewers/``, each change signed with the administrator's USB-Key). Every request checks
  the live grant: an ended one is gone at once (404).
- **Linking** (``/corp/links/``): the administrator asks to link one of the company's own
  accounts by its number (signed); an authorising operator approves it on the request's
  page (signed) or rejects it; the bank texts the company's contact a code, which the
  administrator or the approver types on that page.

A signature the page waits for is kept in the session with its challenge; the change is
rebuilt from it, so the key signs exactly what was shown."""

from __future__ import annotations

import json

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from wangyin.authn.errors import ChallengeFailed
from wangyin.authn.models import Factor
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.corporate import groups
from wangyin.corporate.errors import (
    GroupViewRefused,
    LinkAuthoriserOnly,
    LinkCodeWrong,
    LinkRequestNotFound,
)
from wangyin.corporate.models.groups import LinkRequestStatus
from wangyin.corpweb.forms import ReasonForm
from wangyin.corpweb.middleware import operator_required
from wangyin.ledger import selectors as ledger_selectors
from wangyin.statements.documents import rows_of
from wangyin.web import stepup

PENDING = "corp_group_pending"  # the administrator's change waiting for its signature
APPROVING = "corp_link_approving"  # per request: the approval challenge shown
NOTICE = "corp_group_notice"
HISTORY_PAGE = 20
VIEWER, LINK = "viewer", "link"

administrator = operator_required(admin=True)


class LinkRequestForm(forms.Form):
    account_number = forms.CharField(
        label=gettext_lazy("Number of the company's account to link"), max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Confirmation code sent to the company's contact"), max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


def _notice(request) -> str:
    return request.session.pop(NOTICE, "")


# --- group accounts -----------------------------------------------------------------------


@require_safe
@operator_required
def group_home(request):
    """The granted accounts with their company, balance and available balance."""
    try:
        rows = groups.group_accounts(request.operator)
    except GroupViewRefused:
        raise Http404 from None
    return render(request, "corpweb/group.html", {
        "rows": [{"account": g.account, "company": g.account.company,
                  "balance": g.account.ledger_account.balance_money,
                  "available": g.account.ledger_account.available_money} for g in rows],
        "is_admin": request.operator.is_admin, "notice": _notice(request)})


@require_safe
@operator_required
def group_account(request, account_id: int):
    """One granted account's details, newest first, keyset paging; read only."""
    granted = groups.group_account(request.operator, account_id)
    if granted is None:
        raise Http404
    account = granted.account
    after = request.GET.get("after", "")[:200] or None
    try:
        page = ledger_selectors.account_statement(account_id=account.ledger_account_id,
                                                  after=after, limit=HISTORY_PAGE)
    except ValueError:  # a tampered cursor: the first page
        page = ledger_selectors.account_statement(account_id=account.ledger_account_id,
                                                  limit=HISTORY_PAGE)
    return render(request, "corpweb/group_account.html", {
        "account": account, "company": account.company,
        "balance": account.ledger_account.balance_money,
        "available": account.ledger_account.available_money, "rows": rows_of(page.lines),
        "next_cursor": page.next_cursor or "", "paged": after is not None})


@require_http_methods(["GET", "HEAD", "POST"])
@administrator
def group_viewers(request):
    """Which operators see the group's accounts; allowing or stopping one is signed."""
    error = ""
    if request.method == "POST":
        allowed = request.POST.get("action") == "allow"
        try:
            operator_id = int(request.POST.get("operator", ""))
            challenge = groups.viewer_challenge(admin=request.operator, operator_id=operator_id,
                                                allowed=allowed, at=clock.now())
        except ValueError:
            raise Http404 from None
        except DomainError as exc:
            error = str(exc.message)
        else:
            _pending_set(request, challenge, kind=VIEWER, operator=operator_id,
                         allowed=allowed)
            return redirect("corpweb:group_confirm")
    return render(request, "corpweb/group_viewers.html", {
        "rows": groups.viewers_of(admin=request.operator), "error": error,
        "notice": _notice(request)}, status=400 if error else 200)


def _pending_set(request, challenge, **data) -> None:
    request.session[PENDING] = {**data, **stepup.pending_of(challenge),
                                "summary": json.loads(challenge.sign_payload).get("detail", "")}


@require_http_methods(["GET", "HEAD", "POST"])
@administrator
def group_confirm(request):
    """The administrator's change in words and the USB-Key's signature over it (allowing an
    operator to see the group's accounts, or asking to link an account); then it applies."""
    pending = request.session.get(PENDING)
    if not pending:
        return redirect("corpweb:links")
    back = "corpweb:group_viewers" if pending["kind"] == VIEWER else "corpweb:links"
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            request.session.pop(PENDING, None)
            request.session[NOTICE] = _("Nothing was changed.")
            return redirect(back)
        signature = stepup.codes_from(request.POST)[Factor.USBKEY]
        at, admin = clock.now(), request.operator
        try:
            if not signature:
                raise ChallengeFailed()
            if pending["kind"] == VIEWER:
                common = {"admin": admin, "operator_id": pending["operator"],
                          "allowed": pending["allowed"]}
                groups.viewer_verify(**common, challenge_id=pending["challenge"],
                                     signature=signature, at=at)
                groups.viewer_set(**common, authorisation=pending["challenge"], at=at)
                request.session[NOTICE] = _("Done: %(what)s.") % {"what": pending["summary"]}
            else:
                number = pending["account_number"]
                groups.link_request_verify(admin=admin, account_number=number,
                                           challenge_id=pending["challenge"],
                                           signature=signature, at=at)
                link = groups.link_request(admin=admin, account_number=number,
                                           authorisation=pending["challenge"], at=at)
                request.session.pop(PENDING, None)
                request.session[NOTICE] = _("Your request is signed. An operator with the "
                                            "authorising role approves it next.")
                return redirect("corpweb:link", request_id=link.pk)
            request.session.pop(PENDING, None)
            return redirect(back)
        except ChallengeFailed:
            error = (_("Sign with your USB-Key first. Nothing was changed.") if not signature
                     else _("The USB-Key signature was not accepted for this change. "
                            "Nothing was changed. Sign again, or start again."))
        except DomainError as exc:
            error = _("%(why)s Nothing was changed.") % {"why": exc.message}
    return render(request, "corpweb/admin/confirm.html", {
        "summary": pending["summary"], "warnings": [], "policy": False, "error": error,
        **stepup.factor_context(pending, "")}, status=400 if error else 200)


# --- linking an account online ------------------------------------------------------------


def _may_link(request) -> None:
    if not groups.may_link(request.operator):
        raise Http404


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
def links(request):
    """The requests to link an account; the administrator asks for a new one here."""
    _may_link(request)
    operator = request.operator
    form = LinkRequestForm(request.POST or None) if operator.is_admin else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            number = form.cleaned_data["account_number"]
            try:
                challenge = groups.link_request_challenge(admin=operator, account_number=number,
                                                          at=clock.now())
            except DomainError as exc:
                form.add_error("account_number", str(exc.message))
            else:
                _pending_set(request, challenge, kind=LINK, account_number=number)
                return redirect("corpweb:group_confirm")
    try:
        rows = groups.link_requests(operator, clock.now())
    except LinkAuthoriserOnly:
        raise Http404 from None
    return render(request, "corpweb/links.html", {
        "form": form, "rows": rows, "notice": _notice(request),
        "minutes": int(groups.CODE_LIFETIME.total_seconds() // 60),
        "hours": int(groups.REQUEST_LIFETIME.total_seconds() // 3600)},
        status=400 if form is not None and form.errors else 200)


def _approving(request, request_id: int, pending: dict | None = None, *,
               clear: bool = False) -> dict | None:
    waiting = dict(request.session.get(APPROVING, {}))
    if clear:
        waiting.pop(str(request_id), None)
    elif pending is not None:
        waiting[str(request_id)] = pending
    else:
        return waiting.get(str(request_id))
    request.session[APPROVING] = dict(list(waiting.items())[-5:])
    return pending


def _act(request, link, action: str, at) -> str:
    """One action of the request's page; returns the notice. Raises the refusal."""
    operator, post = request.operator, request.POST
    if action == "approve":
        pending = _approving(request, link.pk)
        if pending is None:
            raise ChallengeFailed()
        signature = stepup.codes_from(post)[Factor.USBKEY]
        if not signature:
            raise ChallengeFailed()
        groups.link_approve_verify(operator=operator, request_id=link.pk,
                                   challenge_id=pending["challenge"], signature=signature,
                                   at=at)
        groups.link_approve(operator=operator, request_id=link.pk,
                            authorisation=pending["challenge"], at=at)
        _approving(request, link.pk, clear=True)
        return _("Your signature is recorded. The bank has sent the confirmation code to the "
                 "company's contact.")
    if action in ("reject", "cancel"):
        form = ReasonForm(post)
        if not form.is_valid():
            raise DomainError(form.errors["reason"][0])
        reason = form.cleaned_data["reason"]
        if action == "reject":
            groups.link_reject(operator=operator, request_id=link.pk, reason=reason, at=at)
            return _("The request is rejected. Nothing was linked.")
        groups.link_cancel(admin=operator, request_id=link.pk, reason=reason, at=at)
        return _("The request is cancelled. Nothing was linked.")
    if action == "confirm":
        form = CodeForm(post)
        code = form.cleaned_data["code"] if form.is_valid() else ""
        groups.link_confirm(operator=operator, request_id=link.pk, code=code, at=at)
        return _("The account is linked to the company's internet banking. Give it to the "
                 "operators who should use it on the Operators page.")
    raise Http404


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
def link(request, request_id: int):
    """One request: who asked and approved, its state; approve (the key signs) or reject
    it, cancel it, or type the contact's code — as the operator's part allows."""
    _may_link(request)
    operator = request.operator
    try:
        link = groups.link_request_of(operator, request_id)
    except LinkRequestNotFound:
        raise Http404 from None
    error, action = "", request.POST.get("action", "") if request.method == "POST" else ""
    now = clock.now()
    if action:
        try:
            request.session[NOTICE] = _act(request, link, action, now)
            return redirect("corpweb:link", request_id=link.pk)
        except ChallengeFailed:
            error = _("The USB-Key signature was not accepted. Nothing was changed. Sign "
                      "again.")
        except LinkCodeWrong as exc:
            error = _("%(why)s Tries left: %(left)d.") % {"why": exc.message,
                                                          "left": exc.extra.get("left", 0)}
        except DomainError as exc:
            error = str(exc.message)
            if action == "approve":
                _approving(request, link.pk, clear=True)
        link = groups.link_request_of(operator, request_id)
    pending, refusal = None, ""
    can_approve = (link.status == LinkRequestStatus.REQUESTED and not operator.is_admin
                   and operator.pk != link.requested_by_id)
    if can_approve:
        pending = None if action == "renew" else _approving(request, link.pk)
        if pending is None:
            try:
                pending = _approving(request, link.pk, stepup.pending_of(
                    groups.link_approve_challenge(operator=operator, request_id=link.pk,
                                                  at=now)))
            except DomainError as exc:
                refusal, can_approve = str(exc.message), False
    signer = operator.pk in (link.requested_by_id, link.approved_by_id)
    return render(request, "corpweb/link.html", {
        "link": link, "error": error, "refusal": refusal, "notice": _notice(request),
        "can_approve": can_approve and pending is not None,
        "can_cancel": operator.is_admin and link.status in (LinkRequestStatus.REQUESTED,
                                                            LinkRequestStatus.APPROVED),
        "can_confirm": signer and link.status == LinkRequestStatus.APPROVED,
        "reject_form": ReasonForm(auto_id="reject_%s"), "cancel_form": ReasonForm(
            auto_id="cancel_%s"), "code_form": CodeForm(),
        "minutes": int(groups.CODE_LIFETIME.total_seconds() // 60),
        "tries": groups.CODE_TRIES,
        **(stepup.factor_context(pending, "") if pending else {})},
        status=400 if error else 200)
