"""The corporate web channel's request plumbing: the operator's server-side session under
its own key in the browser's session (never the customer's ``sid``), ``request.operator``
on corporate pages only, no-store for them, and the ``operator_required`` guard."""

from __future__ import annotations

from functools import wraps

from django.http import Http404
from django.shortcuts import redirect

from wangyin.core import clock
from wangyin.corporate import signin
from wangyin.corporate.models import SigninFactor
from wangyin.web.customer import client_ip

PREFIX = "/corp/"
SID = "corp_sid"
ENDED = "corp_ended"
STATUS_PATH = PREFIX + "session/status/"


class OperatorMiddleware:
    """After ``web.customer.CustomerMiddleware`` (which identifies the device)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.operator = None
        request.operator_session = None
        sid = None
        if request.path_info.startswith(PREFIX):
            sid = request.session.get(SID)
            if sid:
                check = signin.session_check(sid=sid, ip=client_ip(request),
                                             device=request.device_id, at=clock.now(),
                                             touch=request.path_info != STATUS_PATH)
                if check.session is None:
                    request.session.pop(SID, None)
                    request.session[ENDED] = check.ended
                else:
                    request.operator = check.session.operator
                    request.operator_session = check.session
        response = self.get_response(request)
        if sid:
            response["Cache-Control"] = "no-store"
        return response


def operator_required(view=None, *, allow_stale_password: bool = False,
                      allow_without_key: bool = False, roles: tuple[str, ...] = (),
                      admin: bool = False):
    """Only for a signed-in operator. One whose password must change goes to that page
    first; a session opened with an SMS code (no USB-Key yet) reaches only the pages that
    allow it (the certificate download, SE-09); ``roles`` (any of them) or ``admin``
    restrict a page further, and a page the operator may not use looks missing (SE-08)."""

    def decorate(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            operator = request.operator
            if operator is None:
                return redirect("corpweb:login")
            if not allow_stale_password and signin.password_due(operator, at=clock.now()):
                return redirect("corpweb:password_change")
            if not allow_without_key and request.operator_session.factor != SigninFactor.USBKEY:
                return redirect("corpweb:certificate")
            if (admin and not operator.is_admin) or (roles and not set(roles) & set(
                    operator.roles)):
                raise Http404
            return func(request, *args, **kwargs)
        return wrapper

    return decorate(view) if view else decorate
