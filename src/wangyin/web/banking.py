"""Signed-in pages of the customer web bank."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.audit import services as audit
from wangyin.authn import cards, certificates, limits, passkeys, policy, tokens
from wangyin.authn import services as authn
from wangyin.authn.errors import EnrolmentFailed
from wangyin.authn.models import Factor, Medium
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import Money, format_money
from wangyin.customers import selectors as customer_selectors
from wangyin.customers.identifiers import clean_phone
from wangyin.identity import devices
from wangyin.identity import selectors as identity_selectors
from wangyin.identity import services as identity
from wangyin.identity.models import Edition
from wangyin.identity.transport import BadPayload, read_secrets
from wangyin.ledger import selectors as ledger_selectors
from wangyin.statements import documents as statements
from wangyin.web import stepup
from wangyin.web.customer import client_ip, customer_required
from wangyin.web.forms import (
    OwnLimitsForm,
    ReservedMessageForm,
    StatementFilterForm,
    form_errors_text,
)
from wangyin.web.login import pad_context, pad_for, take_pad

CHANGE_PAD = "password_pad"
CHANGE = "security_change"
CHANGE_NOTICE = "security_notice"
CHANGE_WINDOW = timedelta(minutes=5)
PASSKEY_NEW = "passkey_new"
SOFTCERT_NEW = "softcert_new"


@require_safe
@customer_required
def home(request):
    user = request.customer
    overview = identity_selectors.home_overview(user=user,
                                                session=request.customer_session)
    return render(request, "web/home.html", {"overview": overview})


def _own_account(request, account_id: int):
    account = customer_selectors.account_of_person(person_id=request.customer.person_id,
                                                   account_id=account_id)
    if account is None:
        raise Http404  # someone else's account looks like no account (SE-09)
    return account


def _statement_page(request, account, form, *, page=None, status=200):
    """The account page: its balance, the history's filters and one page of the history;
    with the form's errors and status 400 when the filters are not valid (CS-09)."""
    query = request.GET.copy()
    if page and page.next_cursor:
        query["after"] = page.next_cursor
    first = request.GET.copy()
    first.pop("after", None)
    return render(request, "web/account.html", {
        "account": account, "balance": account.ledger_account.balance_money,
        "available": account.ledger_account.available_money, "form": form, "page": page,
        "rows": statements.rows_of(page.lines) if page else [],
        "next_query": query.urlencode() if page and page.next_cursor else "",
        "first_query": first.urlencode() if page else "", "paged": "after" in request.GET,
        "filtered": page is not None and bool(statements.filters_text(form.filters()))},
        status=status)


@require_safe
@customer_required
def account_detail(request, account_id: int):
    """One account's history, newest first, with filters (period, amounts, in or out, type,
    counterparty) and keyset paging."""
    account = _own_account(request, account_id)
    form = StatementFilterForm(request.GET)
    if not form.is_valid():
        return _statement_page(request, account, form, status=400)
    filters = form.filters()
    try:
        page = ledger_selectors.account_statement(
            account_id=account.ledger_account_id, **filters.as_kwargs(),
            after=form.cleaned_data["after"] or None, limit=20)
    except ValueError:  # a tampered cursor, or one of other filters: start again
        page = ledger_selectors.account_statement(
            account_id=account.ledger_account_id, **filters.as_kwargs(), limit=20)
    return _statement_page(request, account, form, page=page)


def _download(request, account_id: int, file_format: str):
    """The statement of one of the customer's own accounts as a file (SE-10): the owner only,
    validated filters (a period of at most a year; the last 90 days by default), a bounded
    number of rows, not cached, audited. Bad filters show the account page with the
    message and status 400, and nothing is downloaded or recorded."""
    account = _own_account(request, account_id)
    form = StatementFilterForm(request.GET)
    if not form.is_valid():
        return _statement_page(request, account, form, status=400)
    now = clock.now()
    filters = statements.download_filters(form.filters(), now=now)
    lines, truncated = statements.download_lines(account_id=account.ledger_account_id,
                                                 filters=filters)
    if file_format == "pdf":
        summary = ledger_selectors.statement_summary(account_id=account.ledger_account_id,
                                                     filters=filters)
        header = statements.StatementHeader(
            bank=_("Wangyin Bank"), holder=request.customer.person.masked_name,
            account=account.masked_number, product=account.get_product_display(),
            currency=account.ledger_account.currency,
            period=statements.period_text(filters, now=now),
            filters=statements.filters_text(filters), generated_at=now)
        response = HttpResponse(statements.statement_pdf(header, summary, lines,
                                                         truncated=truncated),
                                content_type="application/pdf")
    else:
        response = HttpResponse(statements.statement_csv(lines, truncated=truncated),
                                content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{account.number[-4:]}-'
        f'{timezone.localtime(filters.since):%Y%m%d}.{file_format}"')
    response["Cache-Control"] = "no-store"
    audit.record(actor=request.customer.actor, action="web.statement.downloaded",
                 ip=client_ip(request), device=request.device_id,
                 target=f"account:{account.pk}",
                 details={"format": file_format, "rows": len(lines),
                          "since": filters.since.isoformat(),
                          "until": filters.until.isoformat() if filters.until else None,
                          "filtered": bool(statements.filters_text(filters)),
                          "truncated": truncated})
    return response


@require_safe
@customer_required
def account_statement_csv(request, account_id: int):
    return _download(request, account_id, "csv")


@require_safe
@customer_required
def account_statement_pdf(request, account_id: int):
    return _download(request, account_id, "pdf")


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def security_centre(request):
    user = request.customer
    form = ReservedMessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = identity.reserved_message_clean(form.cleaned_data["reserved_message"])
            return _change_start(request, "reserved_message", message)
        except DomainError as exc:
            form.add_error("reserved_message", str(exc.message))
    return render(request, "web/security.html", {
        "form": form, "notice": request.session.pop(CHANGE_NOTICE, ""),
        "reserved_message": user.reserved_message, "edition": user.get_edition_display(),
        "can_pay_others": user.edition == Edition.PRO, "tokens": tokens.tokens_of(user.person),
        "card": cards.card_of(user.person), "passkeys": passkeys.passkeys_of(user.person),
        "certificates": certificates.certificates_of(user.person),
        "usb_key_waiting": _usb_key_waiting(user.person),
        "held_factors": [(f, Factor(f).label) for f in policy.held_factors(
            user.person, request.device_id)],
        "preferred_factor": policy.second_factor_of(user.person, request.device_id),
        "bank_limits": [(Medium(m).label, limits.caps_of(m)) for m in Medium.values],
        "own_limits": limits.own_limits_of(user.person), "limits_form": OwnLimitsForm(),
        "phone": user.person.masked_phone, "online_phone_change": settings.ONLINE_PHONE_CHANGE,
        "history": identity_selectors.login_history(user=user, limit=20),
        "devices": devices.devices_of(user=user), "this_device": request.device_id},
        status=400 if form.errors else 200)


def _usb_key_waiting(person):
    """The USB-Key bound at the counter whose certificate is still to be downloaded."""
    usb_key = certificates.usb_key_of(person)
    if usb_key is None or certificates.certificate_for(person, Factor.USBKEY):
        return None
    return usb_key


@require_POST
@customer_required
def factor_prefer(request):
    """Which held device confirms operations; see ``policy.preferred_factor_set``."""
    user = request.customer
    factor = request.POST.get("factor", "")[:8]
    try:
        policy.preferred_factor_set(person=user.person, factor=factor, actor=user.actor,
                                    device_id=request.device_id, at=clock.now())
    except DomainError as exc:
        request.session[CHANGE_NOTICE] = str(exc.message)
    else:
        request.session[CHANGE_NOTICE] = _("Operations will be confirmed with: %(factor)s.") \
            % {"factor": Factor(factor).label}
    return redirect("security")


@require_POST
@customer_required
def device_remove(request, device_pk: int):
    if devices.device_of(user=request.customer, device_pk=device_pk) is None:
        raise Http404
    return _change_start(request, "device.remove", str(device_pk))


@require_POST
@customer_required
def own_limits(request):
    form = OwnLimitsForm(request.POST)
    if not form.is_valid():
        request.session[CHANGE_NOTICE] = form_errors_text(form)
        return redirect("security")
    try:
        per_tx, per_day = limits.own_limits_clean(
            per_transaction_fen=Money.from_yuan(form.cleaned_data["per_transaction"]).fen,
            per_day_fen=Money.from_yuan(form.cleaned_data["per_day"]).fen)
    except DomainError as exc:
        request.session[CHANGE_NOTICE] = str(exc.message)
        return redirect("security")
    return _change_start(request, "limits", f"{per_tx}:{per_day}")


@require_POST
@customer_required
def passkey_add(request):
    return _change_start(request, "passkey.add", "new", purpose="passkey.add")


@require_POST
@customer_required
def passkey_remove(request, passkey_pk: int):
    if not any(p.pk == passkey_pk for p in passkeys.passkeys_of(request.customer.person)):
        raise Http404
    return _change_start(request, "passkey.remove", str(passkey_pk))


@require_POST
@customer_required
def softcert_add(request):
    return _change_start(request, "softcert.add", "new", purpose="softcert.add")


@require_POST
@customer_required
def certificate_withdraw(request, serial: str):
    """The customer removes a soft certificate or reports the USB-Key lost: it only takes
    a way to sign away, so it needs no step-up, and it works at once."""
    try:
        identity.certificate_withdraw(user_id=request.customer.pk, serial=serial[:40],
                                      device=request.device_id, at=clock.now())
    except DomainError as exc:
        request.session[CHANGE_NOTICE] = str(exc.message)
    else:
        request.session[CHANGE_NOTICE] = _("The certificate no longer works. A new one can "
                                           "be installed in the security centre (soft "
                                           "certificate) or at a branch counter (USB-Key).")
    return redirect("security")


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def usbkey_enrol(request):
    """The certificate for the USB-Key bound at the counter (ON-09): the reference code
    from the counter's envelope, the authorisation code sent by SMS, and the signing
    request the key itself made (through the U盾 agent, ``static/web/usbkey.js``). The
    issued certificate goes back to the key from the result page."""
    person = request.customer.person
    usb_key = certificates.usb_key_of(person)
    if usb_key is None:
        return redirect("security")
    error, issued = "", None
    if request.method == "POST":
        try:
            request_der = base64.b64decode(request.POST.get("request", "")[:4000],
                                           validate=True)
            issued = certificates.usb_key_enrol(
                person=person, reference_code=request.POST.get("reference_code", "")[:20],
                authorisation_code=request.POST.get("authorisation_code", "")[:20],
                request_der=request_der, at=clock.now())
        except (binascii.Error, ValueError):
            error = str(EnrolmentFailed.message)
        except DomainError as exc:
            error = str(exc.message)
    return render(request, "web/usbkey_enrol.html", {
        "error": error, "serial": usb_key.serial, "agent": settings.USBKEY_AGENT_URL,
        "issued": base64.b64encode(bytes(issued.der)).decode() if issued else ""},
        status=400 if error else 200)


def _addition_pending(request, key: str) -> dict | None:
    """What a confirmed addition (passkey, soft certificate) kept for its own page."""
    pending = request.session.get(key)
    if not pending or clock.now() - datetime.fromisoformat(pending["at"]) > CHANGE_WINDOW:
        request.session.pop(key, None)
        return None
    return pending


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def softcert_new(request):
    """After the step-up: the browser makes a non-extractable key and its signing request;
    the bank's CA issues the certificate bound to this device (FA-06)."""
    pending = _addition_pending(request, SOFTCERT_NEW)
    if pending is None:
        return redirect("security")
    error = ""
    if request.method == "POST":
        try:
            request_der = base64.b64decode(request.POST.get("request", "")[:4000],
                                           validate=True)
            identity.soft_certificate_add(user_id=request.customer.pk, request_der=request_der,
                                          authorisation=pending["authorisation"],
                                          device=request.device_id, at=clock.now())
        except (binascii.Error, ValueError):
            error = str(EnrolmentFailed.message)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session[CHANGE_NOTICE] = _("The soft certificate is installed on this "
                                               "device.")
        request.session.pop(SOFTCERT_NEW, None)
        if not error:
            return redirect("security")
    return render(request, "web/softcert_new.html", {"error": error},
                  status=400 if error else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def passkey_new(request):
    """After the step-up: the browser creates the passkey (user verification required) and
    the server checks and keeps its public key."""
    user = request.customer
    pending = _addition_pending(request, PASSKEY_NEW)
    now = clock.now()
    if pending is None:
        return redirect("security")
    error = ""
    if request.method == "POST":
        try:
            identity.passkey_add(
                user_id=user.pk, credential=request.POST.get("credential", "")[:8000],
                challenge=pending["challenge"], authorisation=pending["authorisation"],
                label=devices.device_label(request.META.get("HTTP_USER_AGENT", "")),
                device=request.device_id, at=now)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session[CHANGE_NOTICE] = _("Passkey added.")
        request.session.pop(PASSKEY_NEW, None)
        if not error:
            return redirect("security")
    return render(request, "web/passkey_new.html", {
        "error": error, "options": passkeys.registration_options(
            person=user.person, login_name=user.login_name, challenge=pending["challenge"])},
        status=400 if error else 200)


@require_POST
@customer_required
def phone_change(request):
    """Online change of the reserved number (ON-11): only where the bank enabled it; the SMS
    code goes to the old number and a security device is required."""
    if not settings.ONLINE_PHONE_CHANGE:
        raise Http404
    try:
        phone = clean_phone(request.POST.get("phone", "")[:20])
    except DomainError as exc:
        request.session[CHANGE_NOTICE] = str(exc.message)
        return redirect("security")
    return _change_start(request, "phone", phone, purpose="phone.change")


@require_POST
@customer_required
def funds_close(request):
    if request.customer.edition != Edition.PRO:
        return redirect("security")
    return _change_start(request, "funds.close", Edition.PUBLIC)


def _change_start(request, change: str, value: str, purpose: str = "security.change"):
    """Changes of security settings are confirmed with the step-up codes first (AU-11)."""
    user = request.customer
    try:
        challenge = authn.challenge_issue(
            person=user.person, purpose=purpose, at=clock.now(), device_id=request.device_id,
            summary=_describe_change(user, change, value) or "",
            factors=policy.required_factors(person=user.person, purpose=purpose,
                                            device_id=request.device_id),
            digest=identity.change_digest(user=user, change=change, value=value,
                                          device=request.device_id))
    except DomainError as exc:
        request.session[CHANGE_NOTICE] = str(exc.message)
        return redirect("security")
    request.session[CHANGE] = {"change": change, "value": value, "purpose": purpose,
                               **stepup.pending_of(challenge), "at": clock.now().isoformat()}
    return redirect("security_confirm")


def _describe_change(user, change: str, value: str) -> str | None:
    if change == "device.remove":
        device = devices.device_of(user=user, device_pk=int(value))
        return None if device is None else (_("Remove the device “%(label)s”")
                                            % {"label": device.label})
    if change == "funds.close":
        return _("Close payments to other people (reopening needs a branch counter)")
    if change == "passkey.add":
        return _("Add a passkey on this device")
    if change == "softcert.add":
        return _("Install a soft certificate on this device")
    if change == "passkey.remove":
        passkey = next((p for p in passkeys.passkeys_of(user.person) if str(p.pk) == value),
                       None)
        return None if passkey is None else (_("Remove the passkey “%(label)s”")
                                             % {"label": passkey.label})
    if change == "phone":
        return _("Change your reserved mobile number to %(phone)s") % {"phone": value}
    if change == "limits":
        per_tx, per_day = (Money(int(v)) for v in value.split(":"))
        return _("Set your own limits: %(tx)s per payment, %(day)s per day") % {
            "tx": format_money(per_tx), "day": format_money(per_day)}
    return _("Change the reserved message to “%(message)s”") % {"message": value}


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def security_confirm(request):
    user = request.customer
    pending = request.session.get(CHANGE)
    now = clock.now()
    if not pending or now - datetime.fromisoformat(pending["at"]) > CHANGE_WINDOW:
        request.session.pop(CHANGE, None)
        return redirect("security")
    change, value = pending["change"], pending["value"]
    description = _describe_change(user, change, value)
    if description is None:  # the device went away meanwhile
        request.session.pop(CHANGE, None)
        return redirect("security")
    error = ""
    if request.method == "POST":
        try:
            authn.challenge_verify(challenge_id=pending["challenge"], person=user.person,
                                   purpose=pending.get("purpose", "security.change"), at=now,
                                   codes=stepup.codes_from(request.POST),
                                   digest=identity.change_digest(user=user, change=change,
                                                                 value=value,
                                                                 device=request.device_id))
            authorised = {"authorisation": pending["challenge"], "device": request.device_id,
                          "at": now}
            if change == "passkey.add":  # the browser ceremony comes next, on its own page
                request.session.pop(CHANGE, None)
                request.session[PASSKEY_NEW] = {"authorisation": pending["challenge"],
                                                "challenge": passkeys.new_challenge(),
                                                "at": now.isoformat()}
                return redirect("passkey_new")
            if change == "softcert.add":  # the browser makes its key on the next page
                request.session.pop(CHANGE, None)
                request.session[SOFTCERT_NEW] = {"authorisation": pending["challenge"],
                                                 "at": now.isoformat()}
                return redirect("softcert_new")
            if change == "passkey.remove":
                identity.passkey_remove(user_id=user.pk, passkey_pk=int(value), **authorised)
            elif change == "device.remove":
                devices.device_remove(user=user, device_pk=int(value), **authorised)
            elif change == "funds.close":
                identity.funds_capability_close(user_id=user.pk, **authorised)
            elif change == "phone":
                identity.phone_change_online(user_id=user.pk, phone=value, **authorised)
            elif change == "limits":
                per_tx, per_day = (int(v) for v in value.split(":"))
                identity.own_limits_set(user_id=user.pk, per_transaction_fen=per_tx,
                                        per_day_fen=per_day, **authorised)
            else:
                identity.reserved_message_set(user_id=user.pk, message=value, **authorised)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session.pop(CHANGE, None)
            request.session[CHANGE_NOTICE] = _("Done: %(what)s.") % {"what": description}
            return redirect("security")
    return stepup.camera_if_asked(render(request, "web/security_confirm.html", {
        "description": description, "error": error,
        **stepup.factor_context(pending, user.person.masked_phone)},
        status=400 if error else 200), pending)


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required(allow_stale_password=True)
def password_change(request):
    user = request.customer
    error = ""
    if request.method == "POST":
        pad = take_pad(request, CHANGE_PAD)
        try:
            entered = read_secrets(request.POST.get("payload", ""), pad,
                                   fields=("current", "new", "confirm"))
            if entered["new"] != entered["confirm"]:
                error = _("The two new passwords are not the same.")
            else:
                identity.password_change(user_id=user.pk, current_password=entered["current"],
                                         new_password=entered["new"], ip=client_ip(request),
                                         at=clock.now())
                return redirect("home")
        except BadPayload:
            error = _("The form expired. Please enter the passwords again.")
        except DomainError as exc:
            error = str(exc.message)
    forced = user.must_change_password or identity.password_expired(user, at=clock.now())
    return render(request, "web/password_change.html",
                  {"error": error, "forced": forced, **pad_context(pad_for(request, CHANGE_PAD))},
                  status=400 if error else 200)


@require_safe
def session_status(request):
    """Seconds left before the idle timeout (read without counting as activity)."""
    session = request.customer_session
    if session is None:
        return JsonResponse({"signed_in": False})
    left = settings.CUSTOMER_IDLE_TIMEOUT_SECONDS - (clock.now() - session.last_seen_at
                                                     ).total_seconds()
    return JsonResponse({"signed_in": True, "seconds_left": max(0, int(left))})


@require_POST
@customer_required(allow_stale_password=True)
def session_keepalive(request):
    """"Stay signed in": any authenticated request already counts as activity."""
    return JsonResponse({"signed_in": True,
                         "seconds_left": settings.CUSTOMER_IDLE_TIMEOUT_SECONDS})
