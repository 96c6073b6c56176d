"""Template context every customer page gets."""

from django.conf import settings
from django.utils.functional import cached_property

from wangyin.notify import selectors as notices


def bank(request):
    return {"bank_hotline": settings.BANK_HOTLINE}


class _Inbox:
    """The unread badge, counted only if a page shows it (one query on a partial index)."""

    def __init__(self, person_id: int) -> None:
        self.person_id = person_id

    @cached_property
    def unread(self) -> int:
        return notices.unread_count(person_id=self.person_id)

    @property
    def badge(self) -> str:
        return f"{notices.UNREAD_SHOWN}+" if self.unread > notices.UNREAD_SHOWN else str(
            self.unread)


def inbox(request):
    customer = getattr(request, "customer", None)
    return {"inbox": _Inbox(customer.person_id)} if customer is not None else {}
