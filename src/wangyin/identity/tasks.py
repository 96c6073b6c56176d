"""Identity housekeeping jobs."""

from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.identity import captcha


@app.periodic(cron="17 * * * *", periodic_id="identity-purge-captchas")
@app.task(queue="identity", name="identity.purge_captchas", pass_context=False)
def purge_captchas(timestamp: int) -> int:
    return captcha.captcha_purge(now=clock.now())
