"""The AML job (procrastinate worker): each night, the large-value report lines and the
suspicious-transaction alerts of the day that just ended."""

from procrastinate.contrib.django import app

from wangyin.aml import services
from wangyin.core import clock


# Cron times are UTC: 17:30 UTC is 01:30 in Beijing, when yesterday is over.
@app.periodic(cron="30 17 * * *", periodic_id="aml-daily")
@app.task(queue="aml", name="aml.daily", pass_context=False)
def daily(timestamp: int) -> list[dict]:
    """Generate yesterday's reports and alerts (and catch up on the days before it)."""
    return [{"day": run.day.isoformat(), "large_value_created": run.large_value.created,
             "alerts_created": run.alerts.created}
            for run in services.daily_run(at=clock.now())]
