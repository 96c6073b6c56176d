"""Platform housekeeping jobs."""

from procrastinate.contrib.django import app

from wangyin.core import clock, ratelimit


@app.periodic(cron="41 * * * *", periodic_id="core-purge-rate-counters")
@app.task(queue="core", name="core.purge_rate_counters", pass_context=False)
def purge_rate_counters(timestamp: int) -> int:
    return ratelimit.purge(now=clock.now())
