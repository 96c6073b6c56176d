"""Browser tests: the real site in the system Chromium, driven by Playwright.

They need ``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it)
or ``WANGYIN_CHROMIUM``; without one they are skipped with that reason.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("WANGYIN_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the session: its event loop runs in this thread, and the ORM
    calls of every test then share one database connection (a Playwright started per test
    would leave one connection behind each time)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's async-safety check
    # would then refuse the ORM calls fixtures make.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory):
    """What the camera of ``camera_browser`` shows: a test writes an MJPEG file here."""
    return tmp_path_factory.mktemp("camera") / "camera.mjpeg"


@pytest.fixture(scope="session")
def camera_browser(playwright, camera_file):
    """A Chromium whose camera plays ``camera_file`` and which grants the camera without
    asking, as a customer pressing "allow" would."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_file}"])
    yield browser
    browser.close()


def _page(browser, height=800):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": height})
    page = context.new_page()
    page.console_problems = []
    page.on("console", lambda m: m.type in ("error", "warning")
            and page.console_problems.append(m.text))
    page.on("pageerror", lambda e: page.console_problems.append(str(e)))
    return context, page


@pytest.fixture
def page(browser):
    context, page = _page(browser)
    yield page
    context.close()


@pytest.fixture
def camera_page(camera_browser, camera_file):
    """A page with a camera; ``page.camera`` is the file the camera plays."""
    context, page = _page(camera_browser, height=900)
    page.camera = camera_file
    yield page
    context.close()
