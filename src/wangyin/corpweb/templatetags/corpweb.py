"""The corporate navigation for the signed-in operator (``corpweb.menu``)."""

from django import template

from wangyin.corpweb.menu import menu_of

register = template.Library()


@register.simple_tag(takes_context=True)
def corp_menu(context) -> list:
    request = context.get("request")
    if request is None:
        return []
    return menu_of(getattr(request, "operator", None),
                   getattr(request, "operator_session", None))
