"""Scheduled and recurring transfers: confirmed once with the schedule in the digest, run
by the job on their dates (the test drives the clock), cancellable, a failed run told to
the customer, a repeated run never pays twice."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.payments.conftest import confirm, instruction
from wangyin.authn.errors import DigestMismatch
from wangyin.ledger.models import Account
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import SmsMessage
from wangyin.payments import orders
from wangyin.payments import services as payments
from wangyin.payments.errors import OrderNotFound, ScheduleInvalid
from wangyin.payments.models import StandingOrder, Transfer

pytestmark = pytest.mark.django_db
BEIJING = ZoneInfo("Asia/Shanghai")


def _when(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=BEIJING)


def _balance(account):
    return Account.objects.get(pk=account.ledger_account_id).balance


def _order(user, order, schedule, at, *, key="order-1"):
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at, schedule=schedule.text())
    challenge = confirm(user, quote, at) if quote.factors else None
    return orders.order_create(user=user, instruction=order, schedule=schedule,
                               nonce=quote.key.nonce,
                               challenge_id=challenge.pk if challenge else None,
                               idempotency_key=key, device_id="dev-1", ip=None, at=at)


@pytest.mark.req("FP-03", "TX-01")
def test_a_scheduled_transfer_runs_once_on_its_date(payer, payee, at):
    user, account = payer
    schedule = orders.Schedule("ONCE", date(2026, 11, 5))
    order = _order(user, instruction(account, payee, "500.00"), schedule, at)
    assert _order(user, instruction(account, payee, "500.00"), schedule, at).pk == order.pk
    assert orders.orders_run(now=_when(date(2026, 11, 4))) == 0
    assert orders.orders_run(now=_when(date(2026, 11, 5), hour=7)) == 0  # before 08:00
    assert orders.orders_run(now=_when(date(2026, 11, 5))) == 1
    order.refresh_from_db()
    transfer = Transfer.objects.get(standing_order=order)
    assert (transfer.status, transfer.challenge, order.status, order.runs) == (
        "DONE", None, "FINISHED", 1)
    assert _balance(payee) == 50_000
    assert orders.orders_run(now=_when(date(2026, 11, 6))) == 0
    assert ledger_verify().ok


@pytest.mark.req("FP-03")
def test_a_monthly_transfer_keeps_its_day_and_ends(payer, payee, at):
    user, account = payer
    schedule = orders.Schedule("MONTHLY", date(2026, 11, 30), date(2027, 2, 28))
    order = _order(user, instruction(account, payee, "100.00"), schedule, at)
    ran = []
    for day in (date(2026, 11, 30), date(2026, 12, 30), date(2027, 1, 30), date(2027, 2, 28)):
        orders.orders_run(now=_when(day))
        order.refresh_from_db()
        ran.append(order.next_date)
    assert ran == [date(2026, 12, 30), date(2027, 1, 30), date(2027, 2, 28), None]
    assert order.status == "FINISHED" and Transfer.objects.count() == 4
    assert _balance(payee) == 40_000


@pytest.mark.req("FP-03")
def test_an_order_can_be_cancelled_before_it_runs_by_its_owner_only(payer, payee, at,
                                                                     make_person):
    user, account = payer
    schedule = orders.Schedule("WEEKLY", date(2026, 11, 3), date(2026, 12, 31))
    order = _order(user, instruction(account, payee, "100.00"), schedule, at)
    from wangyin.identity.models import ChannelUser
    stranger = ChannelUser(pk=10**6, person_id=payee.person_id)
    with pytest.raises(OrderNotFound):
        orders.order_cancel(user=stranger, order_id=order.pk, ip=None, at=at)
    orders.order_cancel(user=user, order_id=order.pk, ip=None, at=at)
    assert orders.orders_run(now=_when(date(2026, 11, 3))) == 0
    order.refresh_from_db()
    assert (order.status, order.next_date) == ("CANCELLED", None)
    assert not Transfer.objects.exists()


@pytest.mark.req("FP-03", "TX-09", "DT-05")
def test_a_run_that_cannot_pay_is_told_and_the_next_date_still_comes(payer, payee, at):
    user, account = payer
    schedule = orders.Schedule("WEEKLY", date(2026, 11, 3), date(2026, 11, 17))
    order = _order(user, instruction(account, payee, "40000.00"), schedule, at)
    orders.orders_run(now=_when(date(2026, 11, 3)))
    orders.orders_run(now=_when(date(2026, 11, 10)))
    orders.orders_run(now=_when(date(2026, 11, 17)))  # ¥100,000 covers two runs only
    order.refresh_from_db()
    assert (order.runs, order.failures, order.status) == (2, 1, "FINISHED")
    told = SmsMessage.objects.get(purpose="payments.order_failed").body
    assert "11月17日" in told and "未能执行" in told
    assert _balance(account) == 10_000_000 - 8_000_000


@pytest.mark.req("DT-05")
def test_a_run_repeated_after_a_crash_pays_once(payer, payee, at):
    user, account = payer
    order = _order(user, instruction(account, payee, "100.00"),
                   orders.Schedule("ONCE", date(2026, 11, 5)), at)
    orders.orders_run(now=_when(date(2026, 11, 5)))
    # The worker died after paying, before the order moved on (as if its update was lost).
    StandingOrder.objects.filter(pk=order.pk).update(status="ACTIVE",
                                                     next_date=date(2026, 11, 5))
    orders.orders_run(now=_when(date(2026, 11, 5), hour=10))
    assert Transfer.objects.count() == 1 and _balance(payee) == 10_000
    order.refresh_from_db()
    assert order.status == "FINISHED"


@pytest.mark.req("CS-09")
@pytest.mark.parametrize("schedule", [
    orders.Schedule("ONCE", date(2026, 11, 1)),  # today: make an ordinary transfer
    orders.Schedule("ONCE", date(2027, 12, 1)),  # more than a year ahead
    orders.Schedule("MONTHLY", date(2026, 11, 5)),  # no end date
    orders.Schedule("WEEKLY", date(2026, 11, 5), date(2026, 11, 4)),
    orders.Schedule("DAILY", date(2026, 11, 5), date(2026, 12, 4)),
])
def test_bad_schedules_are_refused(payer, payee, at, schedule):
    user, account = payer
    with pytest.raises(ScheduleInvalid):
        orders.order_create(user=user, instruction=instruction(account, payee),
                            schedule=schedule, nonce="n" * 24, challenge_id=None,
                            idempotency_key="k", device_id="dev-1", ip=None, at=at)
    assert not StandingOrder.objects.exists()


@pytest.mark.req("TX-06")
def test_the_confirmed_schedule_is_the_one_recorded(payer, payee, at):
    user, account = payer
    order = instruction(account, payee, "100.00")
    shown = orders.Schedule("ONCE", date(2026, 11, 5))
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at, schedule=shown.text())
    challenge = confirm(user, quote, at)
    with pytest.raises(DigestMismatch):
        orders.order_create(user=user, instruction=order,
                            schedule=orders.Schedule("ONCE", date(2026, 11, 6)),
                            nonce=quote.key.nonce, challenge_id=challenge.pk,
                            idempotency_key="k", device_id="dev-1", ip=None, at=at)
    assert not StandingOrder.objects.exists()
