"""The bank's business calendar: which days are working days (China: Monday to Friday,
except public holidays, plus the make-up working days of 调休).

Only the exceptions are stored (``core.CalendarDay``), loaded from the State Council's
yearly notice with ``wangyin calendar load FILE``; the shipped file is
``core/data/calendar-cn.csv``. Reads are on the payment path (clearing routing), so each
process keeps a year's exceptions for ``CACHE_SECONDS``: one small query per year and
process at most that often, and a load in another process is seen within that time. A
year with no days loaded is treated as plain Monday–Friday, and a warning is logged once
per process and year: operations must load each year's notice when it is published.
"""

from __future__ import annotations

import csv
import re
import time
from datetime import date, timedelta
from pathlib import Path

import structlog
from django.db import transaction

from wangyin.core.models import CalendarDay

SHIPPED_CALENDAR = Path(__file__).with_name("data") / "calendar-cn.csv"
CACHE_SECONDS = 60.0
COLUMNS = ["date", "working", "name"]
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
NAME_MAX = CalendarDay._meta.get_field("name").max_length

log = structlog.get_logger(__name__)

# year -> (monotonic time read, {date: working}); an empty dict: nothing loaded for the year
_cache: dict[int, tuple[float, dict[date, bool]]] = {}
_warned: set[int] = set()


def cache_clear() -> None:
    """Forget the cached exceptions (the loader calls this; other processes see a load
    when their cache expires)."""
    _cache.clear()


def _of_year(year: int):
    return CalendarDay.objects.filter(date__gte=date(year, 1, 1), date__lte=date(year, 12, 31))


def _exceptions(year: int) -> dict[date, bool]:
    now = time.monotonic()
    cached = _cache.get(year)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    days = dict(_of_year(year).values_list("date", "working"))
    _cache[year] = (now, days)
    return days


def year_loaded(year: int) -> bool:
    """Whether any day of YEAR is loaded (every year has at least New Year's Day)."""
    return bool(_exceptions(year))


def is_working_day(d: date) -> bool:
    days = _exceptions(d.year)
    if not days:
        if d.year not in _warned:
            _warned.add(d.year)
            log.warning("calendar.year_not_loaded", year=d.year, assumed="monday-friday")
        return d.isoweekday() <= 5
    return days.get(d, d.isoweekday() <= 5)


def add_working_days(d: date, n: int) -> date:
    """The Nth working day after D (D itself when N is 0, working day or not)."""
    if n < 0:
        raise ValueError("add_working_days counts forward only (n >= 0)")
    while n:
        d += timedelta(days=1)
        if is_working_day(d):
            n -= 1
    return d


def next_working_day(d: date) -> date:
    """The first working day strictly after D."""
    return add_working_days(d, 1)


# --- loading ------------------------------------------------------------------------------


class CalendarError(ValueError):
    """A line of the calendar file that cannot be loaded (the whole load is refused)."""


def _parse(text: str) -> dict[date, tuple[bool, str]]:
    """Every day of the file, checked line by line; line numbers are the file's own."""
    days: dict[date, tuple[bool, str]] = {}
    first_line: dict[date, int] = {}
    header_seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([line]))]
        if not header_seen:
            if fields != COLUMNS:
                raise CalendarError(f"line {number}: the header must be date,working,name")
            header_seen = True
            continue
        if len(fields) != 3:
            raise CalendarError(f"line {number}: expected 3 columns (date,working,name), "
                                f"found {len(fields)}")
        text_date, working, name = fields
        try:
            if not ISO_DATE.match(text_date):
                raise ValueError
            day = date.fromisoformat(text_date)
        except ValueError:
            raise CalendarError(f"line {number}: not a date YYYY-MM-DD ({text_date!r})") from None
        if working not in ("0", "1"):
            raise CalendarError(f"line {number}: working must be 0 (holiday) or 1 (working "
                                f"day), not {working!r}")
        if not name or len(name) > NAME_MAX:
            raise CalendarError(f"line {number}: a name of 1 to {NAME_MAX} characters is "
                                f"required")
        if day in days:
            raise CalendarError(f"line {number}: {day.isoformat()} is already on line "
                                f"{first_line[day]}")
        days[day], first_line[day] = (working == "1", name), number
    if not header_seen or not days:
        raise CalendarError("the file has no days (header date,working,name, then one line "
                            "per day)")
    return days


@transaction.atomic
def _store(days: dict[date, tuple[bool, str]]) -> dict[str, int]:
    counts = {"added": 0, "updated": 0, "removed": 0}
    years = sorted({d.year for d in days})
    in_years = CalendarDay.objects.none()
    for year in years:
        in_years |= _of_year(year)
    existing = {row.date: row for row in in_years.select_for_update()}
    for day, (working, name) in sorted(days.items()):
        row = existing.get(day)
        if row is None:
            CalendarDay.objects.create(date=day, working=working, name=name)
            counts["added"] += 1
        elif (row.working, row.name) != (working, name):
            row.working, row.name = working, name
            row.save(update_fields=["working", "name"])
            counts["updated"] += 1
    gone = [d for d in existing if d not in days]
    if gone:
        counts["removed"] = CalendarDay.objects.filter(date__in=gone).delete()[0]
    transaction.on_commit(cache_clear)
    return counts


def calendar_load(path: Path | str = SHIPPED_CALENDAR) -> dict[str, int]:
    """Load a calendar file; all or nothing. The file replaces every year it names (days
    of those years missing from it are removed); other years are left alone. Running it
    twice changes nothing. Returns counts of added, updated and removed days."""
    counts = _store(_parse(Path(path).read_text(encoding="utf-8-sig")))
    cache_clear()  # this process at once (also when the caller's transaction is still open)
    return counts


def calendar_year(year: int) -> list[CalendarDay]:
    """The loaded exceptions of YEAR, in date order (for ``wangyin calendar show``)."""
    return list(_of_year(year).order_by("date"))
