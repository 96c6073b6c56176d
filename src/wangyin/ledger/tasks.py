"""Background jobs of the ledger (procrastinate worker, same PostgreSQL database)."""

from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.ledger import services


@app.periodic(cron="* * * * *", periodic_id="ledger-expire-holds")
@app.task(queue="ledger", name="ledger.expire_holds", pass_context=False)
def expire_holds(timestamp: int) -> int:
    """Every minute: release holds whose expiry time has passed."""
    return services.holds_expire(now=clock.now())
