"""The nightly AML job and ``wangyin aml run --day``: both generate a finished day once."""

from datetime import timedelta
from unittest import mock

import pytest
from click.testing import CliRunner

from wangyin.aml import tasks
from wangyin.aml.models import LargeValueReport
from wangyin.cli import main

from .conftest import DAY, GENERATE_AT

pytestmark = pytest.mark.django_db


@pytest.mark.req("RK-09")
def test_the_nightly_job_reports_yesterday_and_catches_up(bank):
    payer, payee = bank.person(), bank.person(name="李四")
    bank.pay(payer, payee, "500000.00")  # on DAY, a Friday: the job runs at 01:30 Saturday
    with mock.patch("wangyin.core.clock.now", return_value=GENERATE_AT - timedelta(days=2)):
        runs = tasks.daily(timestamp=0)
    assert runs[-1] == {"day": "2026-10-30", "large_value_created": 2, "alerts_created": 0}
    assert len(runs) == 7  # yesterday and the six days before it, oldest first
    with mock.patch("wangyin.core.clock.now", return_value=GENERATE_AT):
        assert {r["day"]: r["large_value_created"] for r in tasks.daily(timestamp=0)}[
            "2026-10-30"] == 0  # caught up again: nothing new
    assert LargeValueReport.objects.count() == 2


def test_the_job_is_registered_as_periodic():
    from procrastinate.contrib.django import app

    assert "aml.daily" in app.tasks
    assert any(p.periodic_id == "aml-daily"
               for p in app.periodic_registry.periodic_tasks.values())


def test_the_command_runs_one_day(bank):
    payer = bank.person()
    bank.deposit(payer, "50000.00")
    with mock.patch("wangyin.core.clock.now", return_value=GENERATE_AT):
        first = CliRunner().invoke(main, ["aml", "run", "--day", DAY.isoformat()])
        again = CliRunner().invoke(main, ["aml", "run", "--day", DAY.isoformat()])
        early = CliRunner().invoke(main, ["aml", "run", "--day", "2026-11-02"])
    assert first.exit_code == 0 and "large-value report lines 1 new" in first.output
    assert "1 already there" in again.output
    assert early.exit_code == 2 and "not over" in early.output
