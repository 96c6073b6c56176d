"""Corporate internet banking at the counter in Chromium: a teller finds the company by its
credit code, opens the standard edition with both accounts and the administrator, prints
the envelope, then binds the administrator's USB-Key (screenshots bo-company-open.png,
bo-corporate-envelope.png, bo-company.png, bo-corporate-usbkey.png)."""

import re

import pytest

from tests.browser.test_backoffice import _staff_sign_in
from tests.browser.test_login import _shot
from wangyin.backoffice import staff
from wangyin.corporate.models import CorporateService, Operator
from wangyin.customers import services as customers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.req("ON-04", "ON-10")
def test_teller_opens_corporate_banking(page, live_server, make_company, make_person, at):
    company = make_company()
    accounts = [customers.corporate_account_open(company_id=company.pk, product=product,
                                                 actor="staff:1", opened_at=at)
                for product in ("CORPORATE_BASIC", "CORPORATE_GENERAL")]
    person = make_person()
    _staff_sign_in(page, live_server.url, "teller01", staff.TELLER)
    page.click("a[href='/bo/companies/']")
    page.fill("#id_uscc", company.uscc)
    page.click("button.primary")
    page.click(f"a[href='/bo/companies/{company.pk}/']")
    page.wait_for_url(f"**/bo/companies/{company.pk}/")
    page.select_option("#open_edition", "STANDARD")
    for n in range(len(accounts)):
        page.check(f"#open_accounts_{n}")
    page.fill("#open_admin_id_number", person.id_number)
    page.fill("#open_admin_code", "admin01")
    page.check("#open_documents_checked")
    page.fill("#open_reason", "企业申请，资料已审核")
    _shot(page, "bo-company-open")
    page.click("form[action$='/corporate/open/'] button.primary")
    page.wait_for_selector("#initial-password")
    _shot(page, "bo-corporate-envelope")
    service = CorporateService.objects.get(company=company)
    assert service.edition == "STANDARD" and service.accounts.count() == 2
    assert page.inner_text("#service-number") == service.number
    assert Operator.objects.get(service=service).person == person
    page.click(f"a[href='/bo/companies/{company.pk}/']")
    page.fill("#usbkey_serial", "UK60000001")
    page.fill("#usbkey_reason", "管理员领取USB-Key")
    _shot(page, "bo-company")
    page.click("form[action$='/corporate/admin/usbkey/'] button.primary")
    page.wait_for_selector("#reference-code")
    assert re.fullmatch(r"\d{10}", page.inner_text("#reference-code"))
    _shot(page, "bo-corporate-usbkey")
    assert page.console_problems == []
