"""Delivery jobs (procrastinate worker, same database as the outbox rows)."""

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.notify import services
from wangyin.notify.gateways import SmsDeliveryError
from wangyin.notify.models import SmsStatus


@app.task(queue="notify", name="notify.deliver_sms", pass_context=False,
          retry=RetryStrategy(max_attempts=5, exponential_wait=2,
                              retry_exceptions={SmsDeliveryError}))
def deliver_sms(message_id: int) -> str:
    message = services.sms_deliver(message_id=message_id, now=clock.now())
    if message.status == SmsStatus.QUEUED:  # refused this time: let procrastinate retry
        raise SmsDeliveryError(message.error)
    return message.status
