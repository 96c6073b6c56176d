"""The corporate home page's notice of balance statements awaiting the company's answer
(银企对账, FC-07): those of the accounts the signed-in operator sees."""

from django import template

from wangyin.core import clock
from wangyin.corporate import reconciliation as recon

register = template.Library()


@register.simple_tag(takes_context=True)
def statements_waiting(context) -> dict:
    """{"count", "overdue", "answer": whether this operator answers them} (count 0: say
    nothing)."""
    request = context.get("request")
    operator = getattr(request, "operator", None)
    if operator is None:
        return {"count": 0}
    waiting = recon.unanswered_for(operator)
    now = clock.now()
    return {
        "count": len(waiting),
        "overdue": sum(recon.is_overdue(s, now) for s in waiting),
        "answer": recon.may_answer(operator),
    }
