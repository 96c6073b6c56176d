"""Template tags of the operator's security settings (``corporate.security``): the reserved
message on the sign-in page, and the serial of the operator's USB-Key for the pages that
call the U盾 agent (so the agent signs with that key without asking which)."""

from django import template

from wangyin.corporate import security
from wangyin.corpweb.views import TICKET  # the sign-in's second step, in the session

register = template.Library()


@register.simple_tag
def corp_reserved_message(service_number: str, operator_code: str) -> str:
    """The phrase shown once the service number and code are known (AU-13)."""
    return security.reserved_message_for(service_number, operator_code)


@register.simple_tag(takes_context=True)
def corp_usbkey_serial(context) -> str:
    """The serial of the USB-Key bound to the operator for their company: the signed-in
    operator's, or during sign-in the one whose password was just right; "" if none."""
    request = context.get("request")
    if request is None:
        return ""
    session = getattr(request, "session", None)
    ticket = (session.get(TICKET) if session is not None else None) or {}
    login_id = ticket.get("login") if isinstance(ticket, dict) else None
    return security.usbkey_serial(
        operator=getattr(request, "operator", None),
        login_id=login_id if isinstance(login_id, int) else None,
    )
