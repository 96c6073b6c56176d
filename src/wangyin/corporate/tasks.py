"""Background jobs of corporate banking (procrastinate worker, same PostgreSQL database)."""

from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.corporate import approvals


@app.periodic(cron="*/10 * * * *", periodic_id="corporate-expire-instructions")
@app.task(queue="corporate", name="corporate.expire_instructions", pass_context=False)
def expire_instructions(timestamp: int) -> int:
    """Every ten minutes: payment instructions not approved in time expire (reserved money
    released)."""
    return approvals.expire_due(now=clock.now())
