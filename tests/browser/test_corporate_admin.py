"""The company administrator in Chromium (FC-02): signs in with the software USB-Key through
the U盾 agent, adds an operator with the entering role — the new operator and then the
role each shown in words and signed on the key's own window — and sees the initial
password once."""


import pytest
from django.contrib.auth.hashers import check_password

from tests.browser.corporate import key_agent, sign_in, sign_on_key
from tests.browser.test_login import _shot
from tests.conftest import _check
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    admin,
    company,
    now,
    service,
)
from wangyin.corporate.models import Operator

pytestmark = pytest.mark.django_db(transaction=True)

SERIAL = "UK79000101"


@pytest.fixture
def admin_key(tmp_path, live_server, settings, admin, now):  # noqa: F811
    """The administrator's USB-Key for the company and its agent."""
    with key_agent(admin, serial=SERIAL, device=tmp_path / "usbkey.json",
                   origin=live_server.url, at=now) as url:
        settings.USBKEY_AGENT_URL = url
        yield


@pytest.mark.req("FC-02", "TX-02", "SE-09")
def test_the_administrator_adds_an_operator_with_the_entering_role(
        page, live_server, company, admin, admin_key):  # noqa: F811
    sign_in(page, live_server, admin)

    page.click("#nav-operators")
    page.wait_for_url("**/corp/operators/")
    assert page.locator("#operator-admin").is_visible()
    _shot(page, "corp-admin-operators")
    page.click("#operator-new")
    page.wait_for_url("**/corp/operators/new/")
    page.locator("#id_name").fill("刘新员")
    page.locator("#id_id_type").select_option("RESIDENT_ID")
    page.locator("#id_id_number").fill(_check("36070219850505123"))
    page.locator("#id_mobile").fill("13907970999")
    page.locator("#id_code").fill("pay02")
    page.get_by_label("录入", exact=True).check()
    _shot(page, "corp-admin-new")
    page.click("#operator-review")
    page.wait_for_url("**/corp/admin/confirm/")
    assert "新增操作员pay02" in page.inner_text("#change-summary")
    sign_on_key(page, "corp-admin-key-window")
    _shot(page, "corp-admin-signed")
    page.click("#confirm-apply")

    password = page.inner_text("#initial-password")
    operator = Operator.objects.get(code="pay02")
    assert check_password(password, operator.password) and operator.roles == []
    _shot(page, "corp-admin-password")
    page.click("#next-step")
    page.wait_for_url("**/corp/admin/confirm/")
    assert "角色为录入" in page.inner_text("#change-summary")
    sign_on_key(page)
    page.click("#confirm-apply")
    page.wait_for_url(f"**/corp/operators/{operator.pk}/")
    assert "录入" in page.inner_text("#operator-roles")
    assert password not in page.content()
    operator.refresh_from_db()
    assert operator.roles == ["ENTER"]
    _shot(page, "corp-admin-operator")
    assert page.console_problems == []
