"""The group view in Chromium (FC-08): a subsidiary's account granted at the counter is
shown to the parent's administrator — company, balance — with its details, read only;
the administrator allows an operator to see it too, signing on the key's own window."""

import pytest

from tests.browser.corporate import key_agent, sign_in, sign_on_key
from tests.browser.test_login import _shot
from tests.conftest import _uscc
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    admin,
    company,
    enterer,
    now,
    service,
)
from wangyin.corporate import groups
from wangyin.corporate.models.groups import GroupViewer
from wangyin.customers import services as customers

pytestmark = pytest.mark.django_db(transaction=True)

SERIAL = "UK79000201"


@pytest.fixture
def admin_key(tmp_path, live_server, settings, admin, now):  # noqa: F811
    with key_agent(admin, serial=SERIAL, device=tmp_path / "usbkey.json",
                   origin=live_server.url, at=now) as url:
        settings.USBKEY_AGENT_URL = url
        yield


@pytest.fixture
def subsidiary_account(make_company, fund, service, now):  # noqa: F811
    sub = make_company(name="赣州示范子公司有限公司", uscc=_uscc("91360702MA35R8LX3"),
                       contact_phone="18907970123")
    account = customers.corporate_account_open(company_id=sub.pk, product="CORPORATE_BASIC",
                                               actor="staff:1", opened_at=now)
    fund(account.ledger_account, "80000.00")
    fund(account.ledger_account, "8000.00")
    groups.group_grant(service_id=service.pk, account_number=account.number,
                       authorisation_ref="授权书第1号", staff="staff:teller1", at=now)
    return account


@pytest.mark.req("FC-08", "SE-09")
def test_the_administrator_sees_a_subsidiary_account_and_allows_an_operator(
        page, live_server, admin, enterer, admin_key, subsidiary_account):  # noqa: F811
    sign_in(page, live_server, admin)
    page.click("#nav-group")
    page.wait_for_url("**/corp/group/")
    table = page.inner_text("#group-accounts")
    assert "赣州示范子公司有限公司" in table and "88,000.00" in table
    assert subsidiary_account.masked_number in table
    _shot(page, "corp-group")
    page.click(f"text={subsidiary_account.masked_number}")
    page.wait_for_url(f"**/corp/group/accounts/{subsidiary_account.pk}/")
    assert page.locator("#statement tbody tr").count() == 2
    assert "88,000.00" in page.inner_text("#group-balance")
    assert page.locator("main form").count() == 0  # read only: nothing to submit here
    _shot(page, "corp-group-account")

    page.goto(live_server.url + "/corp/group/viewers/")
    page.click(f"#viewer-{enterer.code} button[value=allow]")
    page.wait_for_url("**/corp/group/confirm/")
    assert enterer.code in page.inner_text("#change-summary")
    sign_on_key(page, "corp-group-key-window")
    page.click("#confirm-apply")
    page.wait_for_url("**/corp/group/viewers/")
    assert "是" in page.inner_text(f"#viewer-{enterer.code}")
    _shot(page, "corp-group-viewers")
    assert GroupViewer.objects.filter(operator=enterer, ended_at__isnull=True).exists()
    assert page.console_problems == []
