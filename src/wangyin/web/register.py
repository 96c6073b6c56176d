"""Self-registration of the public edition (大众版): account number + ID number + captcha,
then an SMS code to the reserved phone and a new password on the soft keyboard."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from wangyin.authn import services as authn
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.customers.models import Person
from wangyin.identity import captcha as captchas
from wangyin.identity import devices
from wangyin.identity import services as identity
from wangyin.identity.transport import BadPayload, read_secrets
from wangyin.web.customer import client_ip
from wangyin.web.login import TOO_MANY, pad_context, pad_for, take_pad, too_many

STATE = "register"
CAPTCHA = "register_captcha"
PAD = "register_pad"
WINDOW = timedelta(minutes=10)
MISMATCH = gettext_lazy("These details do not match our records, or internet banking is "
                        "already open for this customer. Please check them, or visit a "
                        "branch counter.")


class RegisterForm(forms.Form):
    account_number = forms.RegexField(label=gettext_lazy("Account number"),
                                      regex=r"^[0-9 ]{12,23}$", max_length=23)
    id_number = forms.CharField(label=gettext_lazy("Resident ID card number"), max_length=20)
    login_name = forms.CharField(label=gettext_lazy("Choose a login name"), max_length=30,
                                 help_text=gettext_lazy("6 to 30 letters, digits or "
                                                        "underscores, starting with a letter"))
    captcha = forms.CharField(label=gettext_lazy("Verification code"), max_length=8)


def _page(request, form, *, error="", status=200):
    issued = captchas.captcha_issue(purpose="register", at=clock.now())
    request.session[CAPTCHA] = issued.token
    return render(request, "web/register.html", {"form": form, "error": error,
                                                 "captcha_token": issued.token}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def register_start(request):
    if request.method != "POST":
        return _page(request, RegisterForm())
    form = RegisterForm(request.POST)
    if too_many(request, "login"):
        return _page(request, RegisterForm(), error=str(TOO_MANY), status=429)
    token = request.session.pop(CAPTCHA, "")
    if not captchas.captcha_verify(token=token, answer=request.POST.get("captcha", ""),
                                   purpose="register", at=clock.now()):
        return _page(request, RegisterForm(), status=400,
                     error=_("The verification code is wrong or has expired."))
    if not form.is_valid():
        return _page(request, form, status=400)
    person = identity.registration_person(
        account_number=form.cleaned_data["account_number"].replace(" ", ""),
        id_type="RESIDENT_ID", id_number=form.cleaned_data["id_number"])
    if person is None:
        return _page(request, RegisterForm(), error=str(MISMATCH), status=400)
    login_name = form.cleaned_data["login_name"].strip()
    try:
        challenge = authn.sms_challenge_issue(
            person=person, purpose="register", at=clock.now(),
            digest=authn.digest_of("register", str(person.pk), login_name.lower(),
                                   request.device_id))
    except DomainError as exc:
        return _page(request, RegisterForm(), error=str(exc.message), status=429)
    request.session[STATE] = {"person": person.pk, "login_name": login_name,
                              "challenge": challenge.pk, "at": clock.now().isoformat()}
    return redirect("register_confirm")


@require_http_methods(["GET", "HEAD", "POST"])
def register_confirm(request):
    state = request.session.get(STATE)
    now = clock.now()
    if not state or now - datetime.fromisoformat(state["at"]) > WINDOW:
        request.session.pop(STATE, None)
        return redirect("register")
    person = Person.objects.get(pk=state["person"])
    error = ""
    if request.method == "POST":
        pad = take_pad(request, PAD)
        try:
            entered = read_secrets(request.POST.get("payload", ""), pad, fields=("new", "confirm"))
            if entered["new"] != entered["confirm"]:
                raise ValueError(_("The two new passwords are not the same."))
            # Check the password before the code, so a weak one does not use up the code.
            identity.new_password_check(person=person, login_name=state["login_name"],
                                        password=entered["new"])
            authn.challenge_verify(
                challenge_id=state["challenge"], person=person, purpose="register", at=now,
                code=request.POST.get("code", "")[:12],
                digest=authn.digest_of("register", str(person.pk),
                                       state["login_name"].lower(), request.device_id))
            user = identity.self_register(person_id=person.pk, login_name=state["login_name"],
                                          password=entered["new"], ip=client_ip(request),
                                          at=now)
        except BadPayload:
            error = _("The form expired. Please enter the passwords again.")
        except ValueError as exc:
            error = str(exc)
        except DomainError as exc:
            error = str(exc.message)
        else:
            # The SMS code to the reserved phone also proves this device.
            devices.device_bind(user=user, device_id=request.device_id, ip=client_ip(request),
                                label=devices.device_label(
                                    request.META.get("HTTP_USER_AGENT", "")), at=now)
            request.session.pop(STATE, None)
            request.session["login_notice"] = _("Registration complete. Please sign in.")
            return redirect("login")
    return render(request, "web/register_confirm.html", {
        "phone": person.masked_phone, "login_name": state["login_name"], "error": error,
        **pad_context(pad_for(request, PAD))}, status=400 if error else 200)
