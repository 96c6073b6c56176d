"""The back office (柜面/内部管理): staff sign in with a password and a TOTP code, then
tellers look up customers and manage their internet banking. Thin views: forms validate,
``identity``/``customers`` services decide, everything is audited with the staff member,
the customer and the reason."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import wraps

from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from wangyin.audit import selectors as audit_selectors
from wangyin.audit import services as audit
from wangyin.authn import cards, certificates, limits, tokens
from wangyin.authn.models import Medium
from wangyin.backoffice import staff as staff_roles
from wangyin.backoffice.forms import (
    AuditFilterForm,
    CustomerSearchForm,
    EditionForm,
    MediumLimitForm,
    OpenBankingForm,
    OtpForm,
    PhoneChangeForm,
    ReasonForm,
    StaffEnrolForm,
    StaffLoginForm,
    StaffRoleForm,
    TokenForm,
    TokenKindForm,
    UsbKeyEndForm,
    UsbKeyForm,
)
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import Money
from wangyin.customers import selectors as customers
from wangyin.customers import services as customer_services
from wangyin.customers.models import Person
from wangyin.identity import services as identity
from wangyin.identity.models import ChannelUser, UserStatus
from wangyin.notify.selectors import sms_inbox
from wangyin.web.customer import client_ip
from wangyin.web.forms import form_errors_text
from wangyin.web.login import TOO_MANY, too_many

NOTICE = "bo_notice"


def staff_required(*roles: str):
    """Signed in, second factor verified, and holding one of ``roles`` (any role if none).
    Anything else looks like a missing page (SE-08)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect("bo:login")
            if not user.is_verified():
                return redirect("bo:otp")
            role = staff_roles.role_of(user)
            if role is None or (roles and role not in roles):
                raise PermissionDenied
            request.staff_actor, request.staff_role = staff_roles.actor(user), role
            return view(request, *args, **kwargs)
        return wrapper

    return decorate


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def staff_login(request):
    form = StaffLoginForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if too_many(request, "staff_login", name=form.cleaned_data["username"]):
            return _no_store(render(request, "backoffice/login.html",
                                    {"form": StaffLoginForm(), "error": str(TOO_MANY)},
                                    status=429))
        user = authenticate(request, username=form.cleaned_data["username"],
                            password=form.cleaned_data["password"])
        if user is not None and staff_roles.role_of(user):
            login(request, user)
            return redirect("bo:otp")
        audit.record(actor=f"staff:{form.cleaned_data['username'][:60]}",
                     action="backoffice.login.failed", result="FAILURE",
                     ip=client_ip(request))
        error = _("The staff ID or password is incorrect.")
    return _no_store(render(request, "backoffice/login.html", {"form": form, "error": error},
                            status=400 if error else 200))


@require_http_methods(["GET", "HEAD", "POST"])
def staff_otp(request):
    if not request.user.is_authenticated:
        return redirect("bo:login")
    form = OtpForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if too_many(request, "staff_otp", name=request.user.get_username()):
            return _no_store(render(request, "backoffice/otp.html",
                                    {"form": OtpForm(), "error": str(TOO_MANY)}, status=429))
        device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
        if device is not None and device.verify_token(form.cleaned_data["token"]):
            otp_login(request, device)
            audit.record(actor=staff_roles.actor(request.user), action="backoffice.login",
                         ip=client_ip(request))
            return redirect("bo:dashboard")
        error = _("The code is wrong or was already used. Wait for the next one.")
    return _no_store(render(request, "backoffice/otp.html", {"form": form, "error": error},
                            status=400 if error else 200))


@require_POST
def staff_logout(request):
    logout(request)
    return redirect("bo:login")


@require_safe
@staff_required()
def dashboard(request):
    return _no_store(render(request, "backoffice/dashboard.html",
                            {"role": staff_roles.role_of(request.user),
                             "search": CustomerSearchForm()}))


def _find(query: str) -> list[Person]:
    query = query.strip()
    found = customers.person_by_id_number(id_type="RESIDENT_ID", id_number=query)
    if found:
        return [found]
    people = customers.persons_by_phone(phone=query)
    if people:
        return people
    user = ChannelUser.objects.filter(login_name__iexact=query).select_related("person").first()
    return [user.person] if user else []


@require_http_methods(["POST"])  # identifiers never travel in a URL (SE-06)
@staff_required(staff_roles.TELLER)
def customer_search(request):
    form = CustomerSearchForm(request.POST)
    people = _find(form.cleaned_data["q"]) if form.is_valid() else []
    if form.is_valid():
        audit.record(actor=request.staff_actor, action="backoffice.customer.searched",
                     ip=client_ip(request), details={"results": len(people)})
    return _no_store(render(request, "backoffice/search.html",
                            {"search": CustomerSearchForm(), "people": people,
                             "searched": form.is_valid()}))


def _person_or_404(person_id: int) -> Person:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise PermissionDenied
    return person


@require_safe
@staff_required(staff_roles.TELLER)
def customer_detail(request, person_id: int):
    person = _person_or_404(person_id)
    banking = ChannelUser.objects.filter(person=person, status=UserStatus.ACTIVE).first()
    audit.record(actor=request.staff_actor, action="backoffice.customer.viewed",
                 target=f"person:{person.pk}", ip=client_ip(request))
    return _no_store(render(request, "backoffice/customer.html", {
        "person": person, "banking": banking, "open_form": OpenBankingForm(),
        "notice": request.session.pop(NOTICE, ""), **_customer_context(person),
        "locked": bool(banking and banking.locked_until and banking.locked_until > clock.now()),
    }))


def _customer_context(person) -> dict:
    """Accounts, the token and the action forms, each with its own element ids."""
    return {"accounts": customers.accounts_of_person(person_id=person.pk),
            "tokens": [(t, TokenKindForm(initial={"kind": t.kind}, auto_id=f"{t.kind}_%s"))
                       for t in tokens.tokens_of(person)],
            "edition_form": EditionForm(auto_id="edition_%s"),
            "token_form": TokenForm(auto_id="token_%s"),
            "card": cards.card_of(person),
            "usb_key": certificates.usb_key_of(person),
            "certificates": certificates.certificates_of(person),
            "usb_key_form": UsbKeyForm(auto_id="usbkey_%s"),
            "usb_key_end_form": UsbKeyEndForm(auto_id="usbkey_end_%s"),
            "phone_form": PhoneChangeForm(auto_id="phone_%s"),
            **{f"{name}_form": ReasonForm(auto_id=f"{name}_%s")
               for name in ("unlock", "reset", "close", "card_issue", "card_revoke",
                            "usb_key_codes")}}


def _envelope(request, person, user, password, title):
    """The one time the initial password is shown: for the printed envelope."""
    return _no_store(render(request, "backoffice/envelope.html", {
        "person": person, "banking": user, "password": password, "title": title}))


@require_POST
@staff_required(staff_roles.TELLER)
def banking_open(request, person_id: int):
    person = _person_or_404(person_id)
    form = OpenBankingForm(request.POST)
    if form.is_valid():
        try:
            user, password = identity.internet_banking_open(
                person_id=person.pk, login_name=form.cleaned_data["login_name"],
                edition=form.cleaned_data["edition"],
                risk_acknowledged=form.cleaned_data["risk_acknowledged"],
                staff=request.staff_actor, reason=form.cleaned_data["reason"], at=clock.now())
        except DomainError as exc:
            form.add_error(None, str(exc.message))
        else:
            return _envelope(request, person, user, password, _("Internet banking opened"))
    banking = ChannelUser.objects.filter(person=person, status=UserStatus.ACTIVE).first()
    return _no_store(render(request, "backoffice/customer.html", {
        "person": person, "banking": banking, "open_form": form,
        **_customer_context(person)}, status=400))


def _teller_action(request, person_id: int, action, form_class=ReasonForm):
    """Run a counter action — a service called with the customer, the form's fields, the
    staff member and the time — and show the outcome once on the customer page. An action
    may return a response of its own (the envelope, a card's PDF)."""
    person = _person_or_404(person_id)
    form = form_class(request.POST)
    if not form.is_valid():
        request.session[NOTICE] = form_errors_text(form)
        return redirect("bo:customer", person_id=person.pk)
    try:
        result = action(person_id=person.pk, staff=request.staff_actor, at=clock.now(),
                        **form.cleaned_data)
    except DomainError as exc:
        request.session[NOTICE] = str(exc.message)
        return redirect("bo:customer", person_id=person.pk)
    request.session[NOTICE] = _("Done.")
    return result if isinstance(result, HttpResponse) else redirect("bo:customer",
                                                                     person_id=person.pk)


@require_POST
@staff_required(staff_roles.TELLER)
def login_unlock(request, person_id: int):
    return _teller_action(request, person_id, identity.login_unlock)


@require_POST
@staff_required(staff_roles.TELLER)
def password_reset(request, person_id: int):
    def reset(**counter):
        user, password = identity.password_reset_at_counter(**counter)
        return _envelope(request, user.person, user, password, _("Login password reset"))
    return _teller_action(request, person_id, reset)


@require_POST
@staff_required(staff_roles.TELLER)
def banking_close(request, person_id: int):
    def close(*, staff, **counter):
        identity.internet_banking_close(actor=staff, **counter)
    return _teller_action(request, person_id, close)


@require_POST
@staff_required(staff_roles.TELLER)
def edition_change(request, person_id: int):
    return _teller_action(request, person_id, identity.edition_change, EditionForm)


@require_POST
@staff_required(staff_roles.TELLER)
def token_issue(request, person_id: int):
    return _teller_action(request, person_id, tokens.token_issue, TokenForm)


@require_POST
@staff_required(staff_roles.TELLER)
def token_unlock(request, person_id: int):
    return _teller_action(request, person_id, tokens.token_unlock, TokenKindForm)


@require_POST
@staff_required(staff_roles.TELLER)
def token_revoke(request, person_id: int):
    return _teller_action(request, person_id, tokens.token_revoke, TokenKindForm)


@require_POST
@staff_required(staff_roles.TELLER)
def phone_change(request, person_id: int):
    """The reserved mobile number is changed at the counter (ON-11); both numbers are told."""
    def change(*, staff, **counter):
        customer_services.person_phone_change(actor=staff, **counter)
    return _teller_action(request, person_id, change, PhoneChangeForm)


@require_POST
@staff_required(staff_roles.TELLER)
def card_issue(request, person_id: int):
    """Issue a password card: the response is its PDF, printed now — it is never shown
    again (SE-10: a teller-only POST, not cached)."""
    def issue(**counter):
        card, pdf = cards.card_issue(**counter)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="card-{card.serial}.pdf"'
        return _no_store(response)
    return _teller_action(request, person_id, issue)


def _usb_key_codes_page(request, person_id: int, reference: str):
    """The one time the reference code is shown: printed for the customer, who gets the
    authorisation code by SMS (ON-09)."""
    person = _person_or_404(person_id)
    return _no_store(render(request, "backoffice/usbkey_codes.html", {
        "person": person, "reference": reference, "key": certificates.usb_key_of(person),
        "hours": int(certificates.CODE_LIFETIME.total_seconds() // 3600)}))


@require_POST
@staff_required(staff_roles.TELLER)
def usb_key_bind(request, person_id: int):
    def bind(**counter):
        _key, reference = certificates.usb_key_bind(**counter)
        return _usb_key_codes_page(request, person_id, reference)
    return _teller_action(request, person_id, bind, UsbKeyForm)


@require_POST
@staff_required(staff_roles.TELLER)
def usb_key_codes(request, person_id: int):
    def renew(**counter):
        return _usb_key_codes_page(request, person_id,
                                   certificates.usb_key_codes_renew(**counter))
    return _teller_action(request, person_id, renew)


@require_POST
@staff_required(staff_roles.TELLER)
def usb_key_end(request, person_id: int):
    def end(*, staff, **counter):
        return certificates.usb_key_end(actor=staff, **counter)
    return _teller_action(request, person_id, end, UsbKeyEndForm)


@require_POST
@staff_required(staff_roles.TELLER)
def card_revoke(request, person_id: int):
    return _teller_action(request, person_id, cards.card_revoke)


@require_safe
@staff_required(staff_roles.TELLER, staff_roles.SECURITY_ADMIN)
def sms_sandbox(request):
    return _no_store(render(request, "backoffice/sms.html", {"messages": sms_inbox(limit=100)}))


# --- security administration: staff accounts -----------------------------------------------


def _staff_page(request, *, enrol_form=None, notice="", handover=None, status=200):
    return _no_store(render(request, "backoffice/staff.html", {
        "staff": staff_roles.staff_list(), "me": request.user.username,
        "enrol_form": enrol_form or StaffEnrolForm(auto_id="enrol_%s"),
        "role_form": StaffRoleForm(auto_id=False), "reason_form": ReasonForm(auto_id=False),
        "notice": notice or request.session.pop(NOTICE, ""), "handover": handover},
        status=status))


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required(staff_roles.SECURITY_ADMIN)
def staff_admin(request):
    """Security administrators add staff (password and TOTP key shown once) and change
    roles or disable logins; every change is audited (AD-02)."""
    if request.method != "POST":
        return _staff_page(request)
    form = StaffEnrolForm(request.POST, auto_id="enrol_%s")
    if not form.is_valid():
        return _staff_page(request, enrol_form=form, status=400)
    try:
        password, totp = staff_roles.staff_enrol(
            username=form.cleaned_data["username"], role=form.cleaned_data["role"],
            by=request.staff_actor, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        form.add_error("username", str(exc.message))
        return _staff_page(request, enrol_form=form, status=400)
    return _staff_page(request, handover={"username": form.cleaned_data["username"],
                                          "password": password, "totp": totp})


def _staff_change(request, username: str, change, form_class=ReasonForm):
    form = form_class(request.POST)
    if form.is_valid():
        try:
            change(username=username, by=request.staff_actor, **form.cleaned_data)
            request.session[NOTICE] = _("Done.")
        except DomainError as exc:
            request.session[NOTICE] = str(exc.message)
    else:
        request.session[NOTICE] = _("Give a reason.")
    return redirect("bo:staff")


@require_POST
@staff_required(staff_roles.SECURITY_ADMIN)
def staff_disable(request, username: str):
    return _staff_change(request, username, lambda **kw: staff_roles.staff_set_active(
        active=False, **kw))


@require_POST
@staff_required(staff_roles.SECURITY_ADMIN)
def staff_enable(request, username: str):
    return _staff_change(request, username, lambda **kw: staff_roles.staff_set_active(
        active=True, **kw))


@require_POST
@staff_required(staff_roles.SECURITY_ADMIN)
def staff_role(request, username: str):
    return _staff_change(request, username, staff_roles.staff_role_change, StaffRoleForm)


# --- bank parameters: payment limits per medium (TX-11) --------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required(staff_roles.SECURITY_ADMIN)
def bank_limits(request):
    if request.method == "POST":
        form = MediumLimitForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                limits.medium_limit_set(
                    medium=data["medium"], staff=request.staff_actor, reason=data["reason"],
                    per_transaction_fen=Money.from_yuan(data["per_transaction"]).fen,
                    per_day_fen=Money.from_yuan(data["per_day"]).fen,
                    per_day_count=data["per_day_count"], at=clock.now())
                request.session[NOTICE] = _("Done.")
            except (DomainError, ValueError) as exc:
                request.session[NOTICE] = str(getattr(exc, "message", _("Not valid.")))
        else:
            request.session[NOTICE] = form_errors_text(form)
        return redirect("bo:limits")
    rows = []
    for medium, label in Medium.choices:
        caps = limits.caps_of(medium)
        rows.append((label, MediumLimitForm(auto_id=f"{medium}_%s", initial={
            "medium": medium, "per_transaction": Money(caps.per_transaction_fen).to_yuan_str(),
            "per_day": Money(caps.per_day_fen).to_yuan_str(),
            "per_day_count": caps.per_day_count})))
    return _no_store(render(request, "backoffice/limits.html", {
        "rows": rows, "notice": request.session.pop(NOTICE, "")}))


# --- audit: read only, for auditors ----------------------------------------------------------


@require_safe
@staff_required(staff_roles.AUDITOR)
def audit_log(request):
    """The audit trail, newest first, filtered; only auditors read it (AD-04), and reading it
    is itself audited."""
    form = AuditFilterForm(request.GET or None)
    events, next_before = [], None
    if form.is_valid() or not request.GET:
        data = form.cleaned_data if request.GET else {}
        tz = timezone.get_current_timezone()
        events, next_before = audit_selectors.audit_events(
            actor=data.get("actor", ""), action=data.get("action", ""),
            target=data.get("target", ""), before_id=data.get("before"),
            since=datetime.combine(data["since"], time.min, tz) if data.get("since") else None,
            until=datetime.combine(data["until"] + timedelta(days=1), time.min, tz)
            if data.get("until") else None)
        audit.record(actor=request.staff_actor, action="backoffice.audit.viewed",
                     ip=client_ip(request), details={k: str(v) for k, v in data.items() if v})
    query = request.GET.copy()
    if next_before:
        query["before"] = next_before
    return _no_store(render(request, "backoffice/audit.html", {
        "form": form, "events": events, "verify": request.session.pop("bo_verify", None),
        "next_query": query.urlencode() if next_before else ""},
        status=200 if form.is_valid() or not request.GET else 400))


@require_POST
@staff_required(staff_roles.AUDITOR)
def audit_check(request):
    report = audit_selectors.audit_verify()
    audit.record(actor=request.staff_actor, action="backoffice.audit.verified",
                 ip=client_ip(request), result="SUCCESS" if report.ok else "FAILURE",
                 details={"events": report.events, "problems": len(report.problems)})
    request.session["bo_verify"] = {"ok": report.ok, "chains": report.chains,
                                    "events": report.events,
                                    "problems": report.problems[:50]}
    return redirect("bo:audit")
