"""Reading what the bank has sent: the sandbox SMS inbox and a customer's in-app
notices, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from wangyin.notify.models import Notice, SmsMessage
from wangyin.notify.services import phone_index


def sms_inbox(*, phone: str | None = None, limit: int = 50) -> list[SmsMessage]:
    messages = SmsMessage.objects.order_by("-created_at", "-id")
    if phone:
        messages = messages.filter(phone_index=phone_index(phone))
    return list(messages[:limit])


@dataclass(frozen=True)
class NoticePage:
    notices: list[Notice]
    next_cursor: str  # empty on the last page


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _cursor(notice: Notice) -> str:
    return f"{(notice.created_at - _EPOCH) // _MICRO}.{notice.pk}"


def _after(cursor: str) -> Q | None:
    """Keyset position from a cursor; a malformed one starts from the top."""
    micros, _sep, pk = cursor.partition(".")
    if not (micros.isdigit() and pk.isdigit() and len(micros) <= 17 and len(pk) <= 18):
        return None
    at = _EPOCH + int(micros) * _MICRO
    return Q(created_at__lt=at) | Q(created_at=at, pk__lt=int(pk))


def notice_page(*, person_id: int, category: str = "", cursor: str = "",
                limit: int = 20) -> NoticePage:
    """The person's notices, newest first, one page at a time (keyset: no OFFSET, so
    page 50 costs what page 1 does). Uses notify_notice_recent / notify_notice_category."""
    notices = Notice.objects.filter(person_id=person_id)
    if category:
        notices = notices.filter(category=category)
    after = _after(cursor) if cursor else None
    if after is not None:
        notices = notices.filter(after)
    rows = list(notices.order_by("-created_at", "-id")[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return NoticePage(notices=rows, next_cursor=_cursor(rows[-1]) if more else "")


UNREAD_SHOWN = 99


def unread_count(*, person_id: int) -> int:
    """Unread notices, counted up to UNREAD_SHOWN + 1 ("99+") on the partial index
    notify_notice_unread, so a badge on every page stays one cheap query."""
    return Notice.objects.filter(person_id=person_id, read_at__isnull=True)[
        :UNREAD_SHOWN + 1].count()
