"""The operator's security page in the corporate web bank: their reserved message (AU-13),
changed with their USB-Key's signature over exactly the new phrase, and their own sign-in
history (AU-15). The rules are ``wangyin.corporate.security``'s."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from wangyin.authn.errors import ChallengeFailed
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.corporate import security
from wangyin.corpweb.middleware import operator_required
from wangyin.web import stepup
from wangyin.web.customer import client_ip

PENDING = "corp_reserved_message"  # the new phrase and its challenge, until signed
NOTICE = "corp_security_notice"


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
def security_page(request):
    operator = request.operator
    pending = request.session.get(PENDING)
    error, status = "", 200
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action == "cancel":
        request.session.pop(PENDING, None)
        pending = None
    elif action == "ask":
        message = request.POST.get("reserved_message", "")[:100]
        try:
            challenge = security.reserved_message_challenge(operator, message, at=clock.now())
        except DomainError as exc:
            error, status = str(exc.message), 400
        else:
            pending = {"message": " ".join(message.split()), **stepup.pending_of(challenge)}
            request.session[PENDING] = pending
    elif action == "sign" and pending:
        signature = stepup.codes_from(request.POST)["USBKEY"]
        try:
            if not signature:
                raise ChallengeFailed()
            security.reserved_message_set(
                operator,
                pending["message"],
                challenge_id=pending["challenge"],
                signature=signature,
                at=clock.now(),
                ip=client_ip(request),
                device=request.device_id,
            )
        except ChallengeFailed:
            error, status = _("The USB-Key signature was not accepted. Nothing was changed."), 400
        except DomainError as exc:
            error, status = str(exc.message), 400
        else:
            request.session.pop(PENDING, None)
            request.session[NOTICE] = _("Your reserved message is changed.")
            return redirect("corpweb:security")
    operator.refresh_from_db(fields=["reserved_message"])
    shown, chosen = security.reserved_message_shown(operator)
    return render(
        request,
        "corpweb/security.html",
        {
            "notice": request.session.pop(NOTICE, ""),
            "error": error,
            "reserved_message": shown,
            "chosen": chosen,
            "pending": pending,
            "history": security.signin_history(operator),
            **(stepup.factor_context(pending, "") if pending else {}),
        },
        status=status,
    )
