"""The back office (柜面/内部管理): staff sign in with a password and a TOTP code, then
tellers look up customers and manage their internet banking. Thin views: forms validate,
``identity``/``customers`` services decide, everything is audited with the staff member,
the customer and the reason."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from wangyin.audit import services as audit
from wangyin.backoffice import staff as staff_roles
from wangyin.backoffice.forms import (
    CustomerSearchForm,
    OpenBankingForm,
    OtpForm,
    ReasonForm,
    StaffLoginForm,
)
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.customers import selectors as customers
from wangyin.customers.models import Person
from wangyin.identity import services as identity
from wangyin.identity.models import ChannelUser, UserStatus
from wangyin.notify.selectors import sms_inbox
from wangyin.web.customer import client_ip
from wangyin.web.login import TOO_MANY, too_many


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
            request.staff_actor = staff_roles.actor(user)
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
        "person": person, "banking": banking,
        "accounts": customers.accounts_of_person(person_id=person.pk),
        "open_form": OpenBankingForm(), **_reason_forms(),
        "locked": bool(banking and banking.locked_until and banking.locked_until > clock.now()),
    }))


def _reason_forms() -> dict:
    """One reason field per action form, each with its own element ids."""
    return {f"{name}_form": ReasonForm(auto_id=f"{name}_%s")
            for name in ("unlock", "reset", "close")}


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
        "person": person, "banking": banking, "open_form": form, **_reason_forms(),
        "accounts": customers.accounts_of_person(person_id=person.pk)}, status=400))


def _teller_action(request, person_id: int, action):
    person = _person_or_404(person_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return redirect("bo:customer", person_id=person.pk)
    try:
        result = action(person_id=person.pk, reason=form.cleaned_data["reason"])
    except DomainError:
        return redirect("bo:customer", person_id=person.pk)
    return result or redirect("bo:customer", person_id=person.pk)


@require_POST
@staff_required(staff_roles.TELLER)
def login_unlock(request, person_id: int):
    def unlock(*, person_id, reason):
        identity.login_unlock(person_id=person_id, staff=request.staff_actor, reason=reason,
                              at=clock.now())
    return _teller_action(request, person_id, unlock)


@require_POST
@staff_required(staff_roles.TELLER)
def password_reset(request, person_id: int):
    def reset(*, person_id, reason):
        user, password = identity.password_reset_at_counter(
            person_id=person_id, staff=request.staff_actor, reason=reason, at=clock.now())
        return _envelope(request, user.person, user, password, _("Login password reset"))
    return _teller_action(request, person_id, reset)


@require_POST
@staff_required(staff_roles.TELLER)
def banking_close(request, person_id: int):
    def close(*, person_id, reason):
        identity.internet_banking_close(person_id=person_id, actor=request.staff_actor,
                                        reason=reason, at=clock.now())
    return _teller_action(request, person_id, close)


@require_safe
@staff_required(staff_roles.TELLER, staff_roles.SECURITY_ADMIN)
def sms_sandbox(request):
    return _no_store(render(request, "backoffice/sms.html", {"messages": sms_inbox(limit=100)}))
