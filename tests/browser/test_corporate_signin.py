"""An operator signs in to corporate internet banking in Chromium (CH-02): the captcha, the
password on the shuffled soft keyboard, then the operator's USB-Key for the company signs
the sign-in on its own window through the U盾 agent; the home page shows the company, the
operator's roles and the accounts of their scope."""

import pytest

from tests.browser.corporate import key_agent, sign_in
from tests.browser.test_login import _shot
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    company,
    enterer,
    now,
    service,
)
from wangyin.authn.models import Signature
from wangyin.corporate.models import OperatorSession

pytestmark = pytest.mark.django_db(transaction=True)

SERIAL = "UK79000001"


@pytest.fixture
def operator_key(tmp_path, live_server, settings, enterer, now):  # noqa: F811
    """The enterer's USB-Key for the company and its agent."""
    with key_agent(enterer, serial=SERIAL, device=tmp_path / "usbkey.json",
                   origin=live_server.url, at=now) as url:
        settings.USBKEY_AGENT_URL = url
        yield


@pytest.mark.req("CH-02", "FA-05", "AU-04", "AU-05", "FC-01", "SE-04")
def test_an_operator_signs_in_with_the_usb_key_and_sees_the_company_home(
        page, live_server, company, enterer, operator_key):  # noqa: F811
    sign_in(page, live_server, enterer, shots="corp-login")

    assert page.inner_text("#company-name") == company.name
    assert "录入" in page.inner_text("#operator-roles")
    assert page.locator("#corp-accounts tbody tr").count() == 2
    assert page.locator("#nav-payments").is_visible()
    assert page.locator("#nav-operators").count() == 0
    assert page.get_by_text("这是您首次登录").is_visible()
    _shot(page, "corp-home")
    assert Signature.objects.get().person_id == enterer.person_id
    assert OperatorSession.objects.get(ended_at__isnull=True).operator_id == enterer.pk
    assert page.console_problems == []
    page.click("#corp-logout")
    page.wait_for_url("**/corp/signed-out/")
    assert page.get_by_text("请立即从电脑上拔出U盾").is_visible()
    assert OperatorSession.objects.get().end_reason == "LOGOUT"
