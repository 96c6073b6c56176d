from datetime import timedelta
from unittest import mock

import pytest

from tests.conftest import cny
from wangyin.ledger import services, tasks
from wangyin.ledger.models import Hold, HoldStatus

pytestmark = pytest.mark.django_db


def test_periodic_job_expires_due_holds(make_account, fund, at):
    a = make_account()
    fund(a, "10.00")
    hold = services.hold_place(account_id=a.pk, amount=cny("1.00"), idempotency_key="t",
                               reason="r", actor="system:test", placed_at=at,
                               expires_at=at + timedelta(seconds=30))
    with mock.patch("wangyin.core.clock.now", return_value=at + timedelta(minutes=1)):
        assert tasks.expire_holds(timestamp=0) == 1
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.EXPIRED


def test_job_is_registered_as_periodic():
    from procrastinate.contrib.django import app

    assert "ledger.expire_holds" in app.tasks
    assert any(p.periodic_id == "ledger-expire-holds"
               for p in app.periodic_registry.periodic_tasks.values())
