"""Background jobs of risk control (procrastinate worker, same PostgreSQL database)."""

from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.risk import features


@app.periodic(cron="10 2 * * *", periodic_id="risk-peers")
@app.task(queue="risk", name="risk.peers_compute", pass_context=False)
def peers_compute(timestamp: int) -> int:
    """Nightly: each segment's peer baseline from the customers' profiles (RK-05)."""
    return features.peers_compute(now=clock.now())


@app.periodic(cron="*/15 * * * *", periodic_id="risk-counters-prune")
@app.task(queue="risk", name="risk.counters_prune", pass_context=False)
def counters_prune(timestamp: int) -> int:
    """Every quarter hour: forget counter buckets no window reads any more."""
    return features.counters_prune(now=clock.now())
