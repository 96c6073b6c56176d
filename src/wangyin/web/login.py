"""Customer login: captcha first, then the reserved message, then the password on the
server-shuffled soft keyboard, encrypted in the browser (see ``identity.transport``) — or a
passkey instead of all three (AU-18). Either way the device check and the session start
are the same."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.authn import passkeys, policy
from wangyin.authn import services as authn
from wangyin.core import clock, ratelimit
from wangyin.core.crypto import blind_index
from wangyin.core.errors import DomainError
from wangyin.identity import captcha as captchas
from wangyin.identity import devices, sessions
from wangyin.identity import services as identity
from wangyin.identity.errors import LoginFailed
from wangyin.identity.models import ChannelUser, SessionEnd, UserStatus
from wangyin.identity.transport import BadPayload, PasswordPad, public_key_spki, read_secrets
from wangyin.web import stepup
from wangyin.web.customer import client_ip

PAD = "login_pad"
BIND = "login_bind"
BIND_WINDOW = timedelta(minutes=5)
PENDING = "login_name"
CAPTCHA = "login_captcha"
PASSKEY = "login_passkey"


def pad_for(request, key: str) -> PasswordPad:
    """A fresh layout and nonce for this page load, remembered in the server session."""
    pad = PasswordPad.new()
    request.session[key] = pad.as_session()
    return pad


def take_pad(request, key: str) -> PasswordPad | None:
    """The pad of the page being submitted; it can be used once."""
    return PasswordPad.from_session(request.session.pop(key, None))


def pad_context(pad: PasswordPad) -> dict:
    return {"layout": list(enumerate(pad.layout)), "nonce": pad.nonce,
            "public_key": public_key_spki()}


def too_many(request, scope: str, *, name: str = "") -> bool:
    """SE-11: per-IP and per-login-name budgets for ``scope`` (settings.RATE_LIMITS)."""
    now = clock.now()
    limits = settings.RATE_LIMITS
    ip_limit, ip_per = limits[f"{scope}_per_ip"]
    if not ratelimit.allow(f"{scope}:ip:{client_ip(request)}", limit=ip_limit, per=ip_per,
                           now=now):
        return True
    if name:
        name_limit, name_per = limits[f"{scope}_per_name"]
        digest = blind_index(name.strip().lower(), purpose="ratelimit.login_name")
        return not ratelimit.allow(f"{scope}:name:{digest[:32]}", limit=name_limit,
                                   per=name_per, now=now)
    return False


TOO_MANY = gettext_lazy("Too many attempts. Please wait a few minutes and try again.")


def _login_page(request, *, error: str = "", name: str = "", status: int = 200):
    issued = captchas.captcha_issue(purpose="login", at=clock.now())
    request.session[CAPTCHA] = issued.token
    error = error or request.session.pop("login_error", "")
    ended = request.session.pop("ended", "")
    notice = request.session.pop("login_notice", "") or (
        SessionEnd(ended).label if ended in SessionEnd.values else "")
    return render(request, "web/login.html", {"captcha_token": issued.token, "error": error,
                                              "login_name": name, "notice": notice},
                  status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def login_start(request):
    if request.customer is not None:
        return redirect("home")
    if request.method != "POST":
        return _login_page(request)
    name = request.POST.get("login_name", "").strip()[:30]
    if too_many(request, "login", name=name):
        return _login_page(request, name=name, status=429, error=str(TOO_MANY))
    token = request.session.pop(CAPTCHA, "")
    if not captchas.captcha_verify(token=token, answer=request.POST.get("captcha", ""),
                                   purpose="login", at=clock.now()):
        return _login_page(request, name=name, status=400,
                           error=_("The verification code is wrong or has expired."))
    if not name:
        return _login_page(request, status=400, error=_("Please enter your login name."))
    request.session[PENDING] = name
    return redirect("login_password")


@require_http_methods(["GET", "HEAD", "POST"])
def login_password(request):
    name = request.session.get(PENDING)
    if not name:
        return redirect("login")
    if request.method == "POST":
        pad = take_pad(request, PAD)
        if too_many(request, "password", name=name):
            request.session.pop(PENDING, None)
            return _login_page(request, status=429, error=str(TOO_MANY))
        try:
            password = read_secrets(request.POST.get("payload", ""), pad,
                                    fields=("password",))["password"]
            user = identity.password_login(
                login_name=name, password=password, ip=client_ip(request),
                device=request.device_id, user_agent=request.META.get("HTTP_USER_AGENT", ""),
                at=clock.now())
        except BadPayload:
            error = str(LoginFailed.message)
        except DomainError as exc:
            error = str(exc.message)
        else:
            return _signed_in(request, user)
        # Any failure returns to the start: a new captcha for every password attempt.
        request.session.pop(PENDING, None)
        request.session["login_error"] = error
        return redirect("login")
    pad = pad_for(request, PAD)
    return render(request, "web/login_password.html", {
        "login_name": name, "reserved_message": identity.reserved_message(name),
        **pad_context(pad)})


@require_POST
def login_passkey_options(request):
    """The WebAuthn options for signing in with a passkey; the challenge stays in the
    server session, for one use within ``passkeys.LOGIN_CHALLENGE_TTL``."""
    if too_many(request, "login"):
        return JsonResponse({"error": str(TOO_MANY)}, status=429)
    challenge = passkeys.new_challenge()
    request.session[PASSKEY] = {"challenge": challenge, "at": clock.now().isoformat()}
    response = HttpResponse(passkeys.login_options(challenge=challenge),
                            content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def login_passkey(request):
    pending = request.session.pop(PASSKEY, None) or {}
    try:
        issued_at = datetime.fromisoformat(pending["at"]) if "at" in pending else None
        user = identity.passkey_login(
            assertion=request.POST.get("assertion", "")[:8000],
            challenge=pending.get("challenge", ""), challenge_issued_at=issued_at,
            ip=client_ip(request), device=request.device_id,
            user_agent=request.META.get("HTTP_USER_AGENT", ""), at=clock.now())
    except DomainError as exc:
        request.session["login_error"] = str(exc.message)
        return redirect("login")
    return _signed_in(request, user)


def _signed_in(request, user):
    """After the right password or passkey: a new session key, then a device that is not
    bound yet is bound with an SMS code (AU-16) before the session starts — and so is a
    bound one when risk control asks for a stronger factor (RK-11)."""
    request.session.pop(PENDING, None)
    request.session.cycle_key()
    if (getattr(user, "risk_step_up", False)
            or not devices.device_is_bound(user=user, device_id=request.device_id)):
        try:
            devices.device_bind_check(user=user, device_id=request.device_id,
                                      ip=client_ip(request), at=clock.now())
        except DomainError as exc:
            request.session["login_error"] = str(exc.message)
            return redirect("login")
        request.session[BIND] = {"user": user.pk, "at": clock.now().isoformat()}
        return redirect("login_device")
    return _start_session(request, user)


def _start_session(request, user):
    session = sessions.session_start(
        user=user, ip=client_ip(request), device=request.device_id, at=clock.now(),
        device_label=devices.device_label(request.META.get("HTTP_USER_AGENT", "")))
    request.session["sid"] = session.sid
    return redirect("home")


@require_http_methods(["GET", "HEAD", "POST"])
def login_device(request):
    """A new device (AU-16): the password was right; an SMS code to the reserved phone
    binds this device before the session starts."""
    pending = request.session.get(BIND)
    now = clock.now()
    if not pending or now - datetime.fromisoformat(pending["at"]) > BIND_WINDOW:
        request.session.pop(BIND, None)
        return redirect("login")
    user = ChannelUser.objects.select_related("person").filter(
        pk=pending["user"], status=UserStatus.ACTIVE).first()
    if user is None:
        request.session.pop(BIND, None)
        return redirect("login")
    digest = authn.digest_of(devices.BIND_PURPOSE, request.device_id)
    error = ""
    if request.method == "POST" and request.POST.get("action") != "resend":
        try:
            authn.challenge_verify(challenge_id=pending.get("challenge", 0), person=user.person,
                                   purpose=devices.BIND_PURPOSE, digest=digest,
                                   codes=stepup.codes_from(request.POST), at=now)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session.pop(BIND, None)
            devices.device_bind(user=user, device_id=request.device_id,
                                label=devices.device_label(request.META.get("HTTP_USER_AGENT",
                                                                            "")),
                                ip=client_ip(request), at=now)
            return _start_session(request, user)
    elif request.method == "POST" or "challenge" not in pending:
        try:
            challenge = authn.challenge_issue(
                person=user.person, purpose=devices.BIND_PURPOSE, digest=digest, at=now,
                factors=policy.required_factors(person=user.person,
                                                purpose=devices.BIND_PURPOSE))
        except DomainError as exc:
            error = str(exc.message)
        else:
            pending = {**pending, **stepup.pending_of(challenge)}
            request.session[BIND] = pending
    return stepup.camera_if_asked(render(request, "web/login_device.html", {
        "error": error, **stepup.factor_context(pending, user.person.masked_phone)},
        status=400 if error else 200), pending)


@require_safe
def captcha_image(request, token: str):
    return captcha_png(request, token, CAPTCHA)


def captcha_png(request, token: str, session_key: str):
    if token != request.session.get(session_key) or too_many(request, "captcha"):
        raise Http404
    png = captchas.captcha_image(token=token, at=clock.now())
    if png is None:
        raise Http404
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def logout(request):
    sid = request.session.get("sid")
    if sid:
        sessions.session_end(sid=sid, reason=SessionEnd.LOGOUT, at=clock.now())
    request.session.flush()
    return redirect("signed_out")


@require_safe
def signed_out(request):
    return render(request, "web/signed_out.html")
