"""The business calendar: working days with China's public holidays and make-up working
days (调休), the per-process cache, the fallback for a year not loaded, and the loader."""

from datetime import date

import pytest
from click.testing import CliRunner

from wangyin.core import calendar
from wangyin.core.models import CalendarDay

pytestmark = pytest.mark.django_db
SHIPPED_DAYS = 39  # the 2026 notice: 32 holiday days (weekends included), 7 make-up days


@pytest.fixture(autouse=True)
def no_warning_given():
    """(tests/conftest.py empties the cache around every test.)"""
    calendar._warned.clear()
    yield
    calendar._warned.clear()


@pytest.fixture
def loaded():
    return calendar.calendar_load()


def _file(tmp_path, *lines, name="cal.csv"):
    path = tmp_path / name
    path.write_text("\n".join(["# a comment", "date,working,name", *lines]) + "\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 10, 1), False),  # 国庆节, a Thursday
    (date(2026, 10, 7), False),  # 国庆节, a Wednesday
    (date(2026, 10, 8), True),  # an ordinary Thursday
    (date(2026, 10, 10), True),  # 国庆节调休上班, a Saturday
    (date(2026, 9, 20), True),  # 国庆节调休上班, a Sunday
    (date(2026, 2, 14), True),  # 春节调休上班, a Saturday
    (date(2026, 2, 23), False),  # 春节, a Monday
    (date(2026, 1, 4), True),  # 元旦调休上班, a Sunday
    (date(2026, 11, 2), True),  # an ordinary Monday
    (date(2026, 11, 1), False),  # an ordinary Sunday
    (date(2026, 10, 17), False),  # an ordinary Saturday
])
def test_working_days_follow_the_2026_notice(loaded, day, working):
    assert calendar.is_working_day(day) is working


@pytest.mark.parametrize(("start", "n", "expected"), [
    (date(2026, 9, 30), 0, date(2026, 9, 30)),
    (date(2026, 9, 30), 1, date(2026, 10, 8)),  # across 国庆节 (Oct 1–7)
    (date(2026, 9, 30), 2, date(2026, 10, 9)),
    (date(2026, 9, 30), 3, date(2026, 10, 10)),  # the make-up Saturday counts
    (date(2026, 9, 30), 4, date(2026, 10, 12)),
    (date(2026, 9, 28), 5, date(2026, 10, 10)),  # "within 5 working days" of a Monday
    (date(2026, 9, 18), 1, date(2026, 9, 20)),  # Friday -> the make-up Sunday
    (date(2026, 2, 13), 1, date(2026, 2, 14)),  # Friday -> the make-up Saturday
    (date(2026, 2, 13), 2, date(2026, 2, 24)),  # then across 春节 (Feb 15–23)
    (date(2026, 12, 30), 1, date(2026, 12, 31)),
])
def test_add_working_days(loaded, start, n, expected):
    assert calendar.add_working_days(start, n) == expected


def test_next_working_day_is_strictly_after(loaded):
    assert calendar.next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)
    assert calendar.next_working_day(date(2026, 10, 9)) == date(2026, 10, 10)
    assert calendar.next_working_day(date(2026, 10, 10)) == date(2026, 10, 12)
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2026, 10, 1), -1)


def test_a_year_not_loaded_is_monday_to_friday_with_one_warning(loaded, caplog):
    assert calendar.year_loaded(2026) and not calendar.year_loaded(2031)
    with caplog.at_level("WARNING"):
        assert calendar.is_working_day(date(2031, 1, 1))  # a Wednesday: no holiday known
        assert not calendar.is_working_day(date(2031, 1, 4))  # a Saturday
        assert calendar.add_working_days(date(2031, 1, 3), 1) == date(2031, 1, 6)
    warnings = [r for r in caplog.records if r.name == "wangyin.core.calendar"]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert warnings[0].msg["event"] == "calendar.year_not_loaded"
    assert warnings[0].msg["year"] == 2031


def test_reads_are_cached_per_year(django_assert_num_queries, monkeypatch):
    with django_assert_num_queries(1):
        assert calendar.is_working_day(date(2026, 10, 1))  # nothing loaded yet: a Thursday
        assert calendar.is_working_day(date(2026, 10, 2))
        assert calendar.next_working_day(date(2026, 10, 2)) == date(2026, 10, 5)
    CalendarDay.objects.create(date=date(2026, 10, 1), working=False, name="国庆节")  # as
    assert calendar.is_working_day(date(2026, 10, 1))  # another process would: not seen yet
    monkeypatch.setattr(calendar, "CACHE_SECONDS", 0.0)  # ... until the cache expires
    assert not calendar.is_working_day(date(2026, 10, 1))


def test_a_load_is_seen_at_once_in_its_own_process():
    assert calendar.is_working_day(date(2026, 10, 1)) and not calendar.year_loaded(2026)
    calendar.calendar_load()
    assert not calendar.is_working_day(date(2026, 10, 1)) and calendar.year_loaded(2026)


def test_the_loader_is_idempotent():
    assert calendar.calendar_load() == {"added": SHIPPED_DAYS, "updated": 0, "removed": 0}
    before = list(CalendarDay.objects.order_by("date").values_list("date", "working", "name"))
    assert calendar.calendar_load() == {"added": 0, "updated": 0, "removed": 0}
    after = list(CalendarDay.objects.order_by("date").values_list("date", "working", "name"))
    assert after == before and len(after) == SHIPPED_DAYS
    assert CalendarDay.objects.get(date=date(2026, 10, 10)).name == "国庆节调休上班"


def test_a_file_replaces_the_years_it_names_and_only_those(loaded, tmp_path):
    next_year = _file(tmp_path, "2027-01-01,0,元旦", name="2027.csv")
    assert calendar.calendar_load(next_year) == {"added": 1, "updated": 0, "removed": 0}
    assert CalendarDay.objects.count() == SHIPPED_DAYS + 1
    amended = _file(tmp_path, "2026-10-01,0,国庆节", "2026-10-10,0,改为休息",
                    name="amended.csv")
    assert calendar.calendar_load(amended) == {"added": 0, "updated": 1,
                                               "removed": SHIPPED_DAYS - 2}
    assert not calendar.is_working_day(date(2026, 10, 10))
    assert calendar.is_working_day(date(2026, 10, 2))  # no longer a holiday in the file
    assert calendar.year_loaded(2027)


@pytest.mark.parametrize(("bad", "message"), [
    ("2026-02-30,0,春节", "line 4: not a date"),
    ("2026/10/01,0,国庆节", "line 4: not a date"),
    ("20261001,0,国庆节", "line 4: not a date"),
    ("2026-10-02,2,国庆节", "line 4: working must be 0"),
    ("2026-10-02,yes,国庆节", "line 4: working must be 0"),
    ("2026-10-01,0,国庆节", "line 4: 2026-10-01 is already on line 3"),
    ("2026-10-02,0,", "line 4: a name"),
    ("2026-10-02,0", "line 4: expected 3 columns"),
])
def test_a_bad_line_is_named_and_nothing_is_stored(loaded, tmp_path, bad, message):
    before = list(CalendarDay.objects.order_by("date").values_list("date", "working", "name"))
    # line 3 would change a stored day, line 5 add one: neither may happen
    path = _file(tmp_path, "2026-10-01,0,国庆节假期", bad, "2027-01-01,0,元旦")
    with pytest.raises(calendar.CalendarError, match=message):
        calendar.calendar_load(path)
    after = list(CalendarDay.objects.order_by("date").values_list("date", "working", "name"))
    assert after == before


def test_a_file_without_the_header_or_days_is_refused(tmp_path):
    headless = tmp_path / "headless.csv"
    headless.write_text("2026-10-01,0,国庆节\n", encoding="utf-8")
    with pytest.raises(calendar.CalendarError, match="line 1: the header"):
        calendar.calendar_load(headless)
    with pytest.raises(calendar.CalendarError, match="no days"):
        calendar.calendar_load(_file(tmp_path))
    assert not CalendarDay.objects.exists()


def test_the_command_loads_and_shows(tmp_path):
    from wangyin.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["calendar", "load"])
    assert first.exit_code == 0 and first.output.strip() == (
        f"{SHIPPED_DAYS} added, 0 updated, 0 removed")
    assert runner.invoke(main, ["calendar", "load"]).output.strip() == (
        "0 added, 0 updated, 0 removed")
    shown = runner.invoke(main, ["calendar", "show", "2026"])
    assert shown.exit_code == 0
    assert "2026-10-10 Sat working 国庆节调休上班" in shown.output
    assert "2026-10-01 Thu holiday 国庆节" in shown.output
    assert runner.invoke(main, ["calendar", "show", "2031"]).exit_code == 1
    bad = runner.invoke(main, ["calendar", "load", str(_file(tmp_path, "2026-13-01,0,x"))])
    assert bad.exit_code == 2 and "line 3" in bad.output
