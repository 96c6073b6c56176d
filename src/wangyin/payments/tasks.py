"""Clearing jobs (procrastinate worker, same database as the outbox rows)."""

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.payments import orders, sandbox, settlement
from wangyin.payments.clearing import ClearingUnavailable


@app.task(queue="clearing", name="payments.send_message", pass_context=False,
          retry=RetryStrategy(max_attempts=8, exponential_wait=2,
                              retry_exceptions={ClearingUnavailable}))
def send_message(message_id: int) -> str:
    message = settlement.clearing_send(message_id=message_id, now=clock.now())
    return message.status if message else "gone"


@app.periodic(cron="* * * * *", periodic_id="payments-clearing-reconcile")
@app.task(queue="clearing", name="payments.clearing_reconcile", pass_context=False)
def clearing_reconcile(timestamp: int) -> dict:
    """Every minute: complete messages stuck between steps; check the suspense account."""
    report = settlement.clearing_reconcile(now=clock.now())
    return report.__dict__


@app.periodic(cron="* * * * *", periodic_id="payments-sandbox-clearing")
@app.task(queue="clearing", name="payments.sandbox_run", pass_context=False)
def sandbox_run(timestamp: int | None = None) -> int:
    """The sandbox clearing system's next steps (scheduled for each message when it is
    due; every minute as a safety net). Does nothing with another adapter."""
    from django.conf import settings

    if settings.CLEARING_ADAPTER != "sandbox":
        return 0
    return sandbox.run_due(now=clock.now())


@app.periodic(cron="*/10 * * * *", periodic_id="payments-standing-orders")
@app.task(queue="payments", name="payments.orders_run", pass_context=False)
def orders_run(timestamp: int) -> int:
    """Every ten minutes: the scheduled and recurring transfers that are due."""
    return orders.orders_run(now=clock.now())
