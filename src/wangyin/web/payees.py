"""Payee book and mobile-number receiving pages. Adding a payee and registering a number
are confirmed with the step-up codes on a page of their own; the rules live in
``wangyin.payments.payees``."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from wangyin.authn import services as authn
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.masking import mask_account
from wangyin.customers import selectors as customer_selectors
from wangyin.ledger.models import AccountStatus
from wangyin.payments import directory, payees
from wangyin.payments.errors import MobileAccountUnusable
from wangyin.web import stepup
from wangyin.web.customer import client_ip, customer_required
from wangyin.web.forms import PayeeAliasForm, PayeeForm, form_errors_text

PENDING_PAYEE = "payee_pending"
PENDING_MOBILE = "mobile_pending"
NOTICE = "payee_notice"
WINDOW = timedelta(minutes=5)


def _fresh(request, name: str) -> dict | None:
    pending = request.session.get(name)
    if not pending or clock.now() - datetime.fromisoformat(pending["at"]) > WINDOW:
        request.session.pop(name, None)
        return None
    return pending


def _confirm_page(request, pending: dict, *, title, cancel: str, error: str):
    """The step-up page of a change: what it confirms (``pending["shown"]``) and the
    fields of its factors; 400 after a failed attempt."""
    return stepup.camera_if_asked(render(request, "web/stepup_confirm.html", {
        "title": title, "rows": pending["shown"], "error": error, "cancel": cancel,
        **stepup.factor_context(pending, request.customer.person.masked_phone)},
        status=400 if error else 200), pending)


@require_http_methods(["GET", "HEAD"])
@customer_required
def payee_list(request):
    search = request.GET.get("q", "")[:30]
    entries = payees.payees_of(request.customer, search=search)
    for entry in entries:
        entry.masked_account = mask_account(entry.account)
    return render(request, "web/payees.html", {
        "payees": entries, "search": search, "notice": request.session.pop(NOTICE, "")})


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def payee_new(request):
    user = request.customer
    form = PayeeForm(request.POST or None, banks=directory.banks_for_choice())
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        entry = {"account": "".join(data["payee_account"].split()),
                 "name": data["payee_name"].strip(), "bank_code": data["payee_bank"],
                 "alias": data["alias"].strip()}
        now = clock.now()
        try:
            quote = payees.payee_add_quote(user=user, account=entry["account"],
                                           name=entry["name"], bank_code=entry["bank_code"],
                                           device_id=request.device_id,
                                           ip=client_ip(request), at=now)
            challenge = authn.challenge_issue(person=user.person, purpose=payees.ADD,
                                              factors=quote.factors, key=quote.key, at=now,
                                              device_id=request.device_id)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session[PENDING_PAYEE] = {
                **stepup.pending_of(challenge), **entry, "nonce": quote.key.nonce,
                "digest": quote.key.digest(), "at": now.isoformat(),
                "shown": [(str(_("Payee name")), quote.payee.name),
                          (str(_("Payee account number")), quote.payee.account),
                          (str(_("Payee bank")), quote.payee.bank.name if quote.payee.bank
                           else str(_("This bank (Wangyin Bank)")))]}
            return redirect("payee_confirm")
    return render(request, "web/payee_new.html", {"form": form, "error": error},
                  status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def payee_confirm(request):
    pending = _fresh(request, PENDING_PAYEE)
    if pending is None:
        return redirect("payee_new")
    user = request.customer
    error = ""
    if request.method == "POST":
        now = clock.now()
        try:
            authn.challenge_verify(challenge_id=pending["challenge"], person=user.person,
                                   purpose=payees.ADD, digest=pending["digest"],
                                   codes=stepup.codes_from(request.POST), at=now)
            payees.payee_add(user=user, account=pending["account"], name=pending["name"],
                             bank_code=pending["bank_code"], alias=pending["alias"],
                             nonce=pending["nonce"], challenge_id=pending["challenge"],
                             device_id=request.device_id, ip=client_ip(request), at=now)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session.pop(PENDING_PAYEE, None)
            request.session[NOTICE] = str(_("The payee is in your payee book."))
            return redirect("payees")
    return _confirm_page(request, pending, title=_("Add a payee"), cancel="payees",
                         error=error)


def _entry_call(request, call, payee_id: int, **kwargs):
    try:
        return call(user=request.customer, payee_id=payee_id, ip=client_ip(request),
                    at=clock.now(), **kwargs)
    except DomainError as exc:
        if exc.http_status == 404:
            raise Http404 from exc  # another customer's entry looks like none
        raise


@require_POST
@customer_required
def payee_rename(request, payee_id: int):
    form = PayeeAliasForm(request.POST)
    if not form.is_valid():
        request.session[NOTICE] = form_errors_text(form)
        return redirect("payees")
    _entry_call(request, payees.payee_rename, payee_id, alias=form.cleaned_data["alias"])
    request.session[NOTICE] = str(_("Saved."))
    return redirect("payees")


@require_POST
@customer_required
def payee_delete(request, payee_id: int):
    _entry_call(request, payees.payee_delete, payee_id)
    request.session[NOTICE] = str(_("The payee is deleted from your payee book."))
    return redirect("payees")


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def mobile_receiving(request):
    """The customer's mobile-number receiving: which account, register or change it, stop."""
    user = request.customer
    accounts = [a for a in customer_selectors.accounts_of_person(person_id=user.person_id)
                if a.ledger_account.status == AccountStatus.ACTIVE]
    error = ""
    if request.method == "POST":
        now = clock.now()
        account_id = request.POST.get("account", "")
        try:
            if not account_id.isdigit():
                raise MobileAccountUnusable()
            challenge = payees.mobile_register_start(user=user, account_id=int(account_id),
                                                     device_id=request.device_id, at=now)
        except DomainError as exc:
            error = str(exc.message)
        else:
            account = next(a for a in accounts if a.pk == int(account_id))
            request.session[PENDING_MOBILE] = {
                **stepup.pending_of(challenge), "account": account.pk, "at": now.isoformat(),
                "shown": [(str(_("Mobile number")), user.person.masked_phone),
                          (str(_("Receive into")), f"{account.get_product_display()} "
                                                   f"{account.masked_number}")]}
            return redirect("mobile_receiving_confirm")
    return render(request, "web/mobile_receiving.html", {
        "registration": payees.mobile_registration_of(user), "accounts": accounts,
        "phone": user.person.masked_phone, "error": error,
        "notice": request.session.pop(NOTICE, "")}, status=400 if error else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def mobile_receiving_confirm(request):
    pending = _fresh(request, PENDING_MOBILE)
    if pending is None:
        return redirect("mobile_receiving")
    user = request.customer
    error = ""
    if request.method == "POST":
        now = clock.now()
        account = customer_selectors.account_of_person(person_id=user.person_id,
                                                       account_id=pending["account"])
        try:
            if account is None:
                raise MobileAccountUnusable()
            authn.challenge_verify(
                challenge_id=pending["challenge"], person=user.person, purpose=payees.REGISTER,
                digest=payees.mobile_register_digest(user, account, request.device_id),
                codes=stepup.codes_from(request.POST), at=now)
            payees.mobile_register(user=user, account_id=account.pk,
                                   challenge_id=pending["challenge"],
                                   device_id=request.device_id, ip=client_ip(request), at=now)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session.pop(PENDING_MOBILE, None)
            request.session[NOTICE] = str(_("Others can now pay you with your mobile number."))
            return redirect("mobile_receiving")
    return _confirm_page(request, pending, title=_("Receive transfers by mobile number"),
                         cancel="mobile_receiving", error=error)


@require_POST
@customer_required
def mobile_receiving_stop(request):
    payees.mobile_unregister(user=request.customer, ip=client_ip(request), at=clock.now())
    request.session[NOTICE] = str(_("Others can no longer pay you with your mobile number."))
    return redirect("mobile_receiving")
