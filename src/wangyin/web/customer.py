"""The customer web channel's request plumbing: device cookie, server-side session check,
``request.customer``, no-store for signed-in pages, and the ``customer_required`` guard."""

from __future__ import annotations

import hashlib
import secrets
from functools import wraps

from django.shortcuts import redirect
from django.urls import reverse

from wangyin.core import clock
from wangyin.identity import services as identity
from wangyin.identity import sessions

DEVICE_COOKIE = "wy_dev"
_DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _device_id(cookie: str, user_agent: str) -> str:
    """The device as the bank knows it: its cookie bound to the browser's identity string."""
    return hashlib.sha256(f"{cookie}\x00{user_agent}".encode()).hexdigest()[:32]


class CustomerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cookie = request.COOKIES.get(DEVICE_COOKIE, "")
        fresh_cookie = None
        if len(cookie) != 43:
            cookie = fresh_cookie = secrets.token_urlsafe(32)
        request.device_id = _device_id(cookie, request.META.get("HTTP_USER_AGENT", "")[:200])
        request.customer = None
        request.customer_session = None
        sid = request.session.get("sid")
        if sid:
            check = sessions.session_check(sid=sid, ip=client_ip(request),
                                           device=request.device_id, at=clock.now(),
                                           touch=request.path != reverse("session_status"))
            if check.session is None:
                request.session.flush()
                request.session["ended"] = check.ended
            else:
                request.customer = check.session.user
                request.customer_session = check.session
        response = self.get_response(request)
        if fresh_cookie:
            response.set_cookie(DEVICE_COOKIE, fresh_cookie, max_age=_DEVICE_COOKIE_AGE,
                                httponly=True, samesite="Strict", secure=request.is_secure())
        if request.customer is not None or sid:
            response["Cache-Control"] = "no-store"
        return response


def customer_required(view=None, *, allow_stale_password: bool = False):
    """Only for a signed-in customer; one whose password must change goes to that page."""

    def decorate(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            user = request.customer
            if user is None:
                return redirect("login")
            if not allow_stale_password and (
                    user.must_change_password or identity.password_expired(user, at=clock.now())):
                return redirect("password_change")
            return func(request, *args, **kwargs)
        return wrapper

    return decorate(view) if view else decorate
