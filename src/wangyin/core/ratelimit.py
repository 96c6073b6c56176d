"""Rate limits that hold across processes and machines: one PostgreSQL upsert per hit.

``allow(key, limit=, per=, now=)`` counts a hit in a fixed window of ``per`` seconds and
answers whether it is within ``limit``. Keys name what is limited and by what, e.g.
``login:ip:203.0.113.5``; values that are personal data go in as blind-index digests.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from wangyin.core.models import RateCounter


def allow(key: str, *, limit: int, per: int, now: datetime) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_ratecounter AS c (key, window_start, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN c.window_start <= %s THEN 1 ELSE c.count + 1 END, "
            "window_start = CASE WHEN c.window_start <= %s THEN EXCLUDED.window_start "
            "ELSE c.window_start END "
            "RETURNING count",
            [key[:120], now, now - timedelta(seconds=per), now - timedelta(seconds=per)],
        )
        (count,) = cursor.fetchone()
    return count <= limit


def purge(*, now: datetime, older_than: timedelta = timedelta(days=1)) -> int:
    deleted, _ = RateCounter.objects.filter(window_start__lt=now - older_than).delete()
    return deleted
