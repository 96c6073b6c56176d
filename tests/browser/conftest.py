"""Browser tests: the real site in the system Chromium, driven by Playwright.

They need ``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it)
or ``WANGYIN_CHROMIUM``; without one they are skipped with that reason.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("WANGYIN_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's async-safety check
    # would then refuse the ORM calls fixtures make.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.console_problems = []
    page.on("console", lambda m: m.type in ("error", "warning")
            and page.console_problems.append(m.text))
    page.on("pageerror", lambda e: page.console_problems.append(str(e)))
    yield page
    context.close()
