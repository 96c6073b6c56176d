"""The corporate web bank (CH-02): the operator's sign-in — captcha, then the password on
the shuffled soft keyboard, then the USB-Key's signature (or an SMS code for an operator
whose key has no certificate yet) —, the forced password change, the USB-Key certificate
download, the home page with the accounts of the operator's scope and their recent
details (FC-01), sign-out. The rules are ``wangyin.corporate.signin``'s; the soft
keyboard, captcha and step-up fields are the personal site's."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.authn.errors import EnrolmentFailed
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.corporate import signin
from wangyin.corporate.errors import SigninFactorFailed, SigninFailed
from wangyin.corporate.models import SigninFactor
from wangyin.corpweb.middleware import ENDED, SID, operator_required
from wangyin.identity import captcha as captchas
from wangyin.identity.models import SessionEnd
from wangyin.identity.transport import BadPayload, read_secrets
from wangyin.ledger import selectors as ledger_selectors
from wangyin.statements.documents import rows_of
from wangyin.web import stepup
from wangyin.web.customer import client_ip
from wangyin.web.login import TOO_MANY, captcha_png, pad_context, pad_for, take_pad, too_many

CAPTCHA = "corp_captcha"
CAPTCHA_PURPOSE = "corp.login"
PENDING = "corp_pending"  # the service number and operator code of step 1
PAD = "corp_pad"
TICKET = "corp_ticket"  # step 2: the ticket and its challenge
ERROR = "corp_login_error"
CHANGE_PAD = "corp_password_pad"
RECENT_LINES = 5


def _user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")


def _clear_signin(request) -> None:
    for key in (PENDING, PAD, TICKET):
        request.session.pop(key, None)


def _back_to_login(request, error: str):
    """Any failure starts again from the captcha."""
    _clear_signin(request)
    request.session[ERROR] = error
    return redirect("corpweb:login")


def _login_page(request, *, error: str = "", number: str = "", code: str = "",
                status: int = 200):
    issued = captchas.captcha_issue(purpose=CAPTCHA_PURPOSE, at=clock.now())
    request.session[CAPTCHA] = issued.token
    error = error or request.session.pop(ERROR, "")
    ended = request.session.pop(ENDED, "")
    notice = SessionEnd(ended).label if ended in SessionEnd.values else ""
    return render(request, "corpweb/login.html", {
        "captcha_token": issued.token, "error": error, "notice": notice,
        "service_number": number, "operator_code": code}, status=status)


@require_safe
def entry(request):
    return redirect("corpweb:home" if request.operator else "corpweb:login")


@require_http_methods(["GET", "HEAD", "POST"])
def login_start(request):
    """Step 1: service number, operator code and the captcha (AU-04: checked before the
    password is even asked for)."""
    if request.operator is not None:
        return redirect("corpweb:home")
    if request.method != "POST":
        return _login_page(request)
    number = request.POST.get("service_number", "").strip()[:10]
    code = request.POST.get("operator_code", "").strip()[:20]
    if too_many(request, "login", name=f"corp:{number}:{code}"):
        return _login_page(request, number=number, code=code, status=429, error=str(TOO_MANY))
    token = request.session.pop(CAPTCHA, "")
    if not captchas.captcha_verify(token=token, answer=request.POST.get("captcha", ""),
                                   purpose=CAPTCHA_PURPOSE, at=clock.now()):
        return _login_page(request, number=number, code=code, status=400,
                           error=_("The verification code is wrong or has expired."))
    if not number or not code:
        return _login_page(request, number=number, code=code, status=400,
                           error=_("Please enter the service number and your operator code."))
    _clear_signin(request)
    request.session[PENDING] = {"number": number, "code": code}
    return redirect("corpweb:login_password")


@require_http_methods(["GET", "HEAD", "POST"])
def login_password(request):
    """Step 2: the password on the shuffled soft keyboard, encrypted in the browser."""
    pending = request.session.get(PENDING)
    if not pending:
        return redirect("corpweb:login")
    if request.method == "POST":
        pad = take_pad(request, PAD)
        if too_many(request, "password", name=f"corp:{pending['number']}:{pending['code']}"):
            return _back_to_login(request, str(TOO_MANY))
        try:
            password = read_secrets(request.POST.get("payload", ""), pad,
                                    fields=("password",))["password"]
            ticket = signin.password_check(
                service_number=pending["number"], operator_code=pending["code"],
                password=password, ip=client_ip(request), device=request.device_id,
                user_agent=_user_agent(request), at=clock.now())
        except BadPayload:
            return _back_to_login(request, str(SigninFailed.message))
        except DomainError as exc:
            return _back_to_login(request, str(exc.message))
        request.session.pop(PENDING, None)
        request.session[TICKET] = {"login": ticket.pk, "factor": ticket.factor}
        return redirect("corpweb:login_verify")
    return render(request, "corpweb/login_password.html", {
        "service_number": pending["number"], "operator_code": pending["code"],
        **pad_context(pad_for(request, PAD))})


def _issue(request, ticket: dict) -> dict:
    challenge = signin.signin_challenge(login_id=ticket["login"], ip=client_ip(request),
                                        device=request.device_id, at=clock.now())
    ticket = {"login": ticket["login"], "factor": ticket["factor"],
              "phone": challenge.person.masked_phone, **stepup.pending_of(challenge)}
    request.session[TICKET] = ticket
    return ticket


@require_http_methods(["GET", "HEAD", "POST"])
def login_verify(request):
    """Step 3: the operator's USB-Key signs the sign-in challenge through the U盾 agent
    (``static/web/usbkey.js``), or the SMS code for an operator without a key yet."""
    ticket = request.session.get(TICKET)
    if not ticket:
        return redirect("corpweb:login")
    error = ""
    try:
        if request.method == "POST" and request.POST.get("action") != "renew":
            if "challenge" not in ticket:
                raise SigninFactorFailed()
            session = signin.signin_complete(
                login_id=ticket["login"], codes=stepup.codes_from(request.POST),
                ip=client_ip(request), device=request.device_id,
                user_agent=_user_agent(request), at=clock.now())
            _clear_signin(request)
            request.session.cycle_key()  # a new session key at sign-in (no fixation)
            request.session[SID] = session.sid
            return redirect("corpweb:home")
        if request.method == "POST" or "challenge" not in ticket:
            ticket = _issue(request, ticket)
    except SigninFactorFailed as exc:
        error = str(exc.message)
    except DomainError as exc:
        return _back_to_login(request, str(exc.message))
    return render(request, "corpweb/login_verify.html", {
        "error": error, "with_key": ticket["factor"] == SigninFactor.USBKEY,
        **stepup.factor_context(ticket, ticket.get("phone", ""))},
        status=400 if error else 200)


@require_safe
def captcha_image(request, token: str):
    return captcha_png(request, token, CAPTCHA)


@require_POST
def logout(request):
    sid = request.session.pop(SID, None)
    if sid:
        signin.session_end(sid=sid, reason=SessionEnd.LOGOUT, at=clock.now())
    _clear_signin(request)
    request.session.cycle_key()
    return redirect("corpweb:signed_out")


@require_safe
def signed_out(request):
    return render(request, "corpweb/signed_out.html")


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required(allow_stale_password=True, allow_without_key=True)
def password_change(request):
    """The initial password is changed at the first sign-in (ON-07), and one older than
    the periodic limit (AU-12); the personal site's rules and soft keyboard."""
    operator = request.operator
    error = ""
    if request.method == "POST":
        pad = take_pad(request, CHANGE_PAD)
        try:
            entered = read_secrets(request.POST.get("payload", ""), pad,
                                   fields=("current", "new", "confirm"))
            if entered["new"] != entered["confirm"]:
                error = _("The two new passwords are not the same.")
            else:
                signin.password_change(operator_id=operator.pk,
                                       current_password=entered["current"],
                                       new_password=entered["new"], ip=client_ip(request),
                                       at=clock.now())
                return redirect("corpweb:home")
        except BadPayload:
            error = _("The form expired. Please enter the passwords again.")
        except SigninFailed:
            error = _("The current password is not right.")
        except DomainError as exc:
            error = str(exc.message)
    return render(request, "corpweb/password_change.html", {
        "error": error, "forced": signin.password_due(operator, at=clock.now()),
        **pad_context(pad_for(request, CHANGE_PAD))}, status=400 if error else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required(allow_without_key=True)
def certificate(request):
    """The certificate of the USB-Key bound to the operator for this company (ON-09): the
    reference code handed over with the key, the authorisation code sent by SMS and the
    signing request the key makes itself through the U盾 agent. An operator signed in
    with an SMS code then signs in again with the key."""
    operator = request.operator
    usb_key = signin.waiting_usb_key(operator)
    error, issued = "", None
    if request.method == "POST" and usb_key is not None:
        try:
            request_der = base64.b64decode(request.POST.get("request", "")[:4000],
                                           validate=True)
            issued = signin.certificate_download(
                operator_id=operator.pk,
                reference_code=request.POST.get("reference_code", "")[:20],
                authorisation_code=request.POST.get("authorisation_code", "")[:20],
                request_der=request_der, ip=client_ip(request), at=clock.now())
        except (binascii.Error, ValueError):
            error = str(EnrolmentFailed.message)
        except DomainError as exc:
            error = str(exc.message)
    return render(request, "corpweb/certificate.html", {
        "error": error, "usb_key": usb_key, "agent": settings.USBKEY_AGENT_URL,
        "installed": usb_key is None and signin.key_certificate(operator) is not None,
        "with_key": request.operator_session.factor == SigninFactor.USBKEY,
        "issued": base64.b64encode(bytes(issued.der)).decode() if issued else ""},
        status=400 if error else 200)


@require_safe
@operator_required
def home(request):
    """The company, the operator's roles, the previous sign-in (AU-14), and the accounts
    of the operator's scope with balance, available balance and their newest details."""
    operator = request.operator
    accounts = []
    for account in signin.operator_accounts(operator):
        page = ledger_selectors.account_statement(account_id=account.ledger_account_id,
                                                  limit=RECENT_LINES)
        accounts.append({"account": account, "balance": account.ledger_account.balance_money,
                         "available": account.ledger_account.available_money,
                         "rows": rows_of(page.lines)})
    return render(request, "corpweb/home.html", {
        "operator": operator, "company": operator.service.company,
        "roles": signin.role_labels(operator), "accounts": accounts,
        "previous": signin.previous_signin(session=request.operator_session)})


@require_safe
def session_status(request):
    """Seconds left before the idle timeout (read without counting as activity)."""
    session = request.operator_session
    if session is None:
        return JsonResponse({"signed_in": False})
    left = settings.CUSTOMER_IDLE_TIMEOUT_SECONDS - (clock.now() - session.last_seen_at
                                                     ).total_seconds()
    return JsonResponse({"signed_in": True, "seconds_left": max(0, int(left))})


@require_POST
@operator_required(allow_stale_password=True, allow_without_key=True)
def session_keepalive(request):
    """"Stay signed in": any authenticated request already counts as activity."""
    return JsonResponse({"signed_in": True,
                         "seconds_left": settings.CUSTOMER_IDLE_TIMEOUT_SECONDS})
