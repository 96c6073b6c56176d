"""Self-service without signing in (FP-01): registration of the public edition (大众版) and
the forgotten password. Both start with captcha + account number + ID number (one vague
answer for any mismatch), then ask for codes (SMS to the reserved phone; for a reset also
the customer's security device, ON-08) and a new password on the soft keyboard."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from wangyin.authn import policy
from wangyin.authn import services as authn
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.customers.models import Person
from wangyin.identity import captcha as captchas
from wangyin.identity import devices
from wangyin.identity import services as identity
from wangyin.identity.models import ChannelUser
from wangyin.identity.transport import BadPayload, read_secrets
from wangyin.web import stepup
from wangyin.web.customer import client_ip
from wangyin.web.login import TOO_MANY, captcha_png, pad_context, pad_for, take_pad, too_many

WINDOW = timedelta(minutes=10)
MISMATCH = gettext_lazy("These details do not match our records, or internet banking is "
                        "already open for this customer. Please check them, or visit a "
                        "branch counter.")
RESET_MISMATCH = gettext_lazy("These details do not match a customer with internet banking. "
                              "Please check them, or visit a branch counter.")


class IdentityForm(forms.Form):
    account_number = forms.RegexField(label=gettext_lazy("Account number"),
                                      regex=r"^[0-9 ]{12,23}$", max_length=23)
    id_number = forms.CharField(label=gettext_lazy("Resident ID card number"), max_length=20)
    captcha = forms.CharField(label=gettext_lazy("Verification code"), max_length=8)

    def clean_account_number(self):
        return self.cleaned_data["account_number"].replace(" ", "")


class RegisterForm(IdentityForm):
    login_name = forms.CharField(label=gettext_lazy("Choose a login name"), max_length=30,
                                 help_text=gettext_lazy("6 to 30 letters, digits or "
                                                        "underscores, starting with a letter"))
    field_order = ["account_number", "id_number", "login_name", "captcha"]


FLOWS = {
    "register": {"form": RegisterForm, "start": "register",
                 "heading": gettext_lazy("Register internet banking (public edition)"),
                 "intro": gettext_lazy("The public edition shows your accounts and moves "
                                       "money between your own accounts. To pay other "
                                       "people, open the professional edition at a branch "
                                       "counter."),
                 "submit": gettext_lazy("Register")},
    "reset": {"form": IdentityForm, "start": "password_forgot",
              "heading": gettext_lazy("Forgotten login password"),
              "intro": gettext_lazy("Reset your login password with your account number, "
                                    "ID number, an SMS code to your reserved mobile number "
                                    "and your security device. Without a security device, "
                                    "please visit a branch counter with your ID."),
              "submit": gettext_lazy("Reset password")},
}


def _state_key(flow: str) -> str:
    return f"{flow}_state"


def _start_page(request, flow: str, form, *, error="", status=200):
    issued = captchas.captcha_issue(purpose=flow, at=clock.now())
    request.session[f"{flow}_captcha"] = issued.token
    return render(request, "web/selfservice_start.html", {
        **FLOWS[flow], "form": form, "error": error, "flow": flow,
        "captcha_url": reverse("selfservice_captcha", args=[flow, issued.token]),
        "start_url": reverse(FLOWS[flow]["start"])}, status=status)


def _checked_identity(request, flow: str):
    """Captcha first, then the form: (cleaned data, None) or (None, an error page)."""
    form = FLOWS[flow]["form"](request.POST)
    if too_many(request, "login"):
        return None, _start_page(request, flow, form.__class__(), error=str(TOO_MANY),
                                 status=429)
    if not captchas.captcha_verify(token=request.session.pop(f"{flow}_captcha", ""),
                                   answer=request.POST.get("captcha", ""), purpose=flow,
                                   at=clock.now()):
        return None, _start_page(request, flow, form.__class__(), status=400,
                                 error=_("The verification code is wrong or has expired."))
    if not form.is_valid():
        return None, _start_page(request, flow, form, status=400)
    return form.cleaned_data, None


def _pending(request, flow: str) -> dict | None:
    state = request.session.get(_state_key(flow))
    if not state or clock.now() - datetime.fromisoformat(state["at"]) > WINDOW:
        request.session.pop(_state_key(flow), None)
        return None
    return state


def _new_password(request, flow: str) -> str:
    entered = read_secrets(request.POST.get("payload", ""), take_pad(request, f"{flow}_pad"),
                           fields=("new", "confirm"))
    if entered["new"] != entered["confirm"]:
        raise ValueError(_("The two new passwords are not the same."))
    return entered["new"]


def _confirm_page(request, flow: str, state: dict, person, *, error=""):
    return stepup.camera_if_asked(render(request, "web/selfservice_confirm.html", {
        **FLOWS[flow], "login_name": state.get("login_name", ""), "error": error,
        **stepup.factor_context(state, person.masked_phone),
        **pad_context(pad_for(request, f"{flow}_pad"))}, status=400 if error else 200), state)


def _confirmed(request, flow: str, state: dict, person, *, login_name: str, purpose: str,
               digest: str, execute):
    """Check the new password, then the codes, then run ``execute(password, now)``. Returns
    (its result, None), or (None, the page again with the error)."""
    now = clock.now()
    try:
        password = _new_password(request, flow)
        # Check the password before the codes, so a weak one does not use them up.
        identity.new_password_check(person=person, login_name=login_name, password=password)
        authn.challenge_verify(challenge_id=state["challenge"], person=person, purpose=purpose,
                               at=now, codes=stepup.codes_from(request.POST), digest=digest)
        return execute(password, now), None
    except BadPayload:
        error = _("The form expired. Please enter the passwords again.")
    except ValueError as exc:
        error = str(exc)
    except DomainError as exc:
        error = str(exc.message)
    return None, _confirm_page(request, flow, state, person, error=error)


@require_safe
def selfservice_captcha(request, flow: str, token: str):
    if flow not in FLOWS:
        raise Http404
    return captcha_png(request, token, f"{flow}_captcha")


# --- registration of the public edition ----------------------------------------------------


def _register_digest(request, person_id: int, login_name: str) -> str:
    return authn.digest_of("register", str(person_id), login_name.lower(), request.device_id)


@require_http_methods(["GET", "HEAD", "POST"])
def register_start(request):
    if request.method != "POST":
        return _start_page(request, "register", RegisterForm())
    data, page = _checked_identity(request, "register")
    if page:
        return page
    person = identity.registration_person(account_number=data["account_number"],
                                          id_type="RESIDENT_ID", id_number=data["id_number"])
    if person is None:
        return _start_page(request, "register", RegisterForm(), error=str(MISMATCH),
                           status=400)
    login_name = data["login_name"].strip()
    try:
        challenge = authn.challenge_issue(
            person=person, purpose="register", at=clock.now(),
            factors=policy.required_factors(person=person, purpose="register"),
            digest=_register_digest(request, person.pk, login_name))
    except DomainError as exc:
        return _start_page(request, "register", RegisterForm(), error=str(exc.message),
                           status=exc.http_status)
    request.session[_state_key("register")] = {
        "person": person.pk, "login_name": login_name, **stepup.pending_of(challenge),
        "at": clock.now().isoformat()}
    return redirect("register_confirm")


@require_http_methods(["GET", "HEAD", "POST"])
def register_confirm(request):
    state = _pending(request, "register")
    if state is None:
        return redirect("register")
    person = Person.objects.get(pk=state["person"])
    if request.method != "POST":
        return _confirm_page(request, "register", state, person)
    user, page = _confirmed(
        request, "register", state, person, login_name=state["login_name"],
        purpose="register",
        digest=_register_digest(request, person.pk, state["login_name"]),
        execute=lambda password, now: identity.self_register(
            person_id=person.pk, login_name=state["login_name"], password=password,
            ip=client_ip(request), device=request.device_id, at=now))
    if page:
        return page
    # The SMS code to the reserved phone also proves this device.
    devices.device_bind(user=user, device_id=request.device_id, ip=client_ip(request),
                        label=devices.device_label(request.META.get("HTTP_USER_AGENT", "")),
                        at=clock.now())
    request.session.pop(_state_key("register"), None)
    request.session["login_notice"] = _("Registration complete. Please sign in.")
    return redirect("login")


# --- forgotten password --------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def password_forgot(request):
    if request.method != "POST":
        return _start_page(request, "reset", IdentityForm())
    data, page = _checked_identity(request, "reset")
    if page:
        return page
    user = identity.reset_login(account_number=data["account_number"],
                                id_type="RESIDENT_ID", id_number=data["id_number"])
    if user is None:
        return _start_page(request, "reset", IdentityForm(), error=str(RESET_MISMATCH),
                           status=400)
    try:
        challenge = authn.challenge_issue(
            person=user.person, purpose="password.reset", at=clock.now(),
            factors=policy.required_factors(person=user.person, purpose="password.reset"),
            digest=identity.password_reset_digest(user=user, device=request.device_id))
    except DomainError as exc:  # no security device: the counter; or too many codes
        return _start_page(request, "reset", IdentityForm(), error=str(exc.message),
                           status=exc.http_status)
    request.session[_state_key("reset")] = {"user": user.pk, **stepup.pending_of(challenge),
                                            "at": clock.now().isoformat()}
    return redirect("password_forgot_confirm")


@require_http_methods(["GET", "HEAD", "POST"])
def password_forgot_confirm(request):
    state = _pending(request, "reset")
    if state is None:
        return redirect("password_forgot")
    user = ChannelUser.objects.select_related("person").get(pk=state["user"])
    if request.method != "POST":
        return _confirm_page(request, "reset", state, user.person)
    user, page = _confirmed(
        request, "reset", state, user.person, login_name=user.login_name,
        purpose="password.reset",
        digest=identity.password_reset_digest(user=user, device=request.device_id),
        execute=lambda password, now: identity.password_reset_online(
            user_id=user.pk, new_password=password, authorisation=state["challenge"],
            device=request.device_id, ip=client_ip(request), at=now))
    if page:
        return page
    request.session.pop(_state_key("reset"), None)
    request.session["login_notice"] = _("Your login password was reset. Please sign in.")
    return redirect("login")
