"""Signed-in pages of the customer web bank."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.identity import selectors as identity_selectors
from wangyin.identity import services as identity
from wangyin.identity.transport import BadPayload, read_secrets
from wangyin.web.customer import client_ip, customer_required
from wangyin.web.login import pad_context, pad_for, take_pad

CHANGE_PAD = "password_pad"


@require_safe
@customer_required
def home(request):
    user = request.customer
    overview = identity_selectors.home_overview(user=user,
                                                session=request.customer_session)
    return render(request, "web/home.html", {"overview": overview})


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
