"""Corporate internet banking at the back office's counter (ON-04, ON-05, ON-10, AD-02,
SE-09): tellers find a company by its credit code, open the service (the administrator's
initial password shown once, for the envelope), bind the administrator's USB-Key (the
reference code shown once), reset the administrator's password, link and unlink accounts
and cancel; no other role reaches any of it."""

import re

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client

from tests.backoffice.conftest import staff_signed_in
from tests.conftest import _check, _uscc
from tests.corporate.conftest import make_operator
from wangyin.audit.models import AuditEvent
from wangyin.authn.models import UsbKey
from wangyin.backoffice import staff
from wangyin.corporate import counter
from wangyin.corporate.models import CorporateService, Operator
from wangyin.customers import services as customers

pytestmark = pytest.mark.django_db


@pytest.fixture
def bo(db) -> Client:
    return staff_signed_in("teller01", staff.TELLER)


@pytest.fixture
def company(make_company, at):
    """The company with its basic and general accounts."""
    company = make_company()
    company.basic, company.general = (
        customers.corporate_account_open(company_id=company.pk, product=product,
                                         actor="staff:1", opened_at=at)
        for product in ("CORPORATE_BASIC", "CORPORATE_GENERAL"))
    return company


@pytest.fixture
def admin_person(make_person):
    return make_person()


def _open_form(company, person, **overrides):
    return {"edition": "STANDARD", "accounts": [company.basic.pk, company.general.pk],
            "admin_id_type": "RESIDENT_ID", "admin_id_number": person.id_number,
            "admin_code": "admin01", "documents_checked": "on",
            "reason": "application and licence checked", **overrides}


def _shown(response, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]+)<', response.content.decode()).group(1)


@pytest.mark.req("ON-04")
def test_a_teller_finds_a_company_by_its_credit_code(bo, company):
    assert bo.get("/bo/companies/").status_code == 200
    page = bo.post("/bo/companies/", {"uscc": company.uscc.lower()}).content.decode()
    assert f"/bo/companies/{company.pk}/" in page and company.name in page
    missing = bo.post("/bo/companies/", {"uscc": _uscc("91360702MA35R8LX9")})
    assert 'id="no-company"' in missing.content.decode()
    detail = bo.get(f"/bo/companies/{company.pk}/").content.decode()
    assert company.basic.masked_number in detail and company.basic.number not in detail
    assert company.contact_phone not in detail and company.legal_rep_id_number not in detail
    assert AuditEvent.objects.filter(action="backoffice.company.viewed",
                                     target=f"company:{company.pk}").exists()


@pytest.mark.req("ON-04", "AD-02")
def test_a_teller_opens_corporate_banking_and_prints_the_envelope(bo, company,
                                                                  admin_person, make_person):
    url = f"/bo/companies/{company.pk}/corporate/open/"
    refused = bo.post(url, {k: v for k, v in _open_form(company, admin_person).items()
                            if k != "documents_checked"})
    assert refused.status_code == 400  # the company's documents were not checked
    unknown = bo.post(url, _open_form(company, admin_person,
                                      admin_id_number=_check("36070219700101001")))
    assert unknown.status_code == 400 and 'id="open_admin_id_number"' in unknown.content.decode()
    assert not CorporateService.objects.exists()
    envelope = bo.post(url, _open_form(company, admin_person))
    assert envelope.status_code == 200 and envelope["Cache-Control"] == "no-store"
    service = CorporateService.objects.get(company=company)
    admin = Operator.objects.get(service=service)
    assert _shown(envelope, "service-number") == service.number
    assert _shown(envelope, "operator-code") == "admin01"
    password = _shown(envelope, "initial-password")
    assert check_password(password, admin.password) and admin.must_change_password
    assert admin.person == admin_person and admin.is_admin
    event = AuditEvent.objects.get(action="corporate.service.opened")
    assert event.actor == "staff:teller01" and event.details["reason"]
    again = bo.get(f"/bo/companies/{company.pk}/").content.decode()
    assert password not in again and service.number in again  # the password only once
    twice = bo.post(url, _open_form(company, admin_person, admin_code="admin02"))
    assert twice.status_code == 400 and CorporateService.objects.count() == 1


@pytest.mark.req("ON-05", "ON-10", "AD-02")
def test_counter_work_on_an_open_service(bo, company, admin_person, at):
    service, admin, first = counter.service_open(
        company_id=company.pk, edition="STANDARD", account_ids=[company.basic.pk],
        admin_person_id=admin_person.pk, admin_code="admin01", staff="staff:teller01", at=at)
    base = f"/bo/companies/{company.pk}/corporate"
    codes = bo.post(f"{base}/admin/usbkey/", {"serial": "UK50000001", "reason": "issued"})
    assert codes["Cache-Control"] == "no-store"
    assert re.fullmatch(r"\d{10}", _shown(codes, "reference-code"))
    key = UsbKey.objects.get(person=admin_person, company=company, status="ACTIVE")
    assert "UK50000001" in bo.get(f"/bo/companies/{company.pk}/").content.decode()
    renewed = bo.post(f"{base}/operators/{admin.pk}/usbkey/codes/", {"reason": "codes lost"})
    assert _shown(renewed, "reference-code") != _shown(codes, "reference-code")
    envelope = bo.post(f"{base}/admin/reset/", {"reason": "forgotten, ID checked"})
    second = _shown(envelope, "initial-password")
    admin.refresh_from_db()
    assert check_password(second, admin.password) and not check_password(first, admin.password)
    bo.post(f"{base}/accounts/link/", {"account": company.general.pk, "reason": "request"})
    assert set(counter.linked_accounts(service)) == {company.basic, company.general}
    bo.post(f"{base}/accounts/{company.basic.pk}/unlink/", {"reason": "request"})
    assert counter.linked_accounts(service) == [company.general]
    bo.post(f"{base}/operators/{admin.pk}/usbkey/end/", {"lost": "on", "reason": "lost"})
    assert UsbKey.objects.get(pk=key.pk).status == "LOST"
    kept = bo.post(f"{base}/cancel/", {"reason": "company request"})  # not confirmed
    assert kept.url == f"/bo/companies/{company.pk}/"
    assert CorporateService.objects.get(pk=service.pk).status == "ACTIVE"
    bo.post(f"{base}/cancel/", {"reason": "company request", "confirm": "on"})
    assert CorporateService.objects.get(pk=service.pk).status == "CANCELLED"
    assert set(AuditEvent.objects.filter(actor="staff:teller01", action__startswith="corporate.")
               .values_list("action", flat=True)) >= {
        "corporate.service.opened", "corporate.usb_key.bound", "corporate.usb_key.ended",
        "corporate.operator.password_reset", "corporate.account.linked",
        "corporate.account.unlinked", "corporate.service.cancelled"}
    page = bo.get(f"/bo/companies/{company.pk}/").content.decode()
    assert f'action="/bo/companies/{company.pk}/corporate/open/"' in page  # open again


@pytest.mark.req("ON-10", "AD-02")
def test_an_operator_gets_a_usb_key_for_the_company_at_the_counter(bo, company,
                                                                   admin_person, make_person,
                                                                   at):
    service, _admin, _password = counter.service_open(
        company_id=company.pk, edition="STANDARD", account_ids=[company.basic.pk],
        admin_person_id=admin_person.pk, admin_code="admin01", staff="staff:1", at=at)
    person = make_person(name="钱七", id_number=_check("36070219800101501"),
                         phone="13707970555", birth_date=admin_person.birth_date.replace(
                             year=1980, month=1, day=1))
    operator = make_operator(service, person, code="enter01", roles=["ENTER"], at=at)
    page = bo.get(f"/bo/companies/{company.pk}/").content.decode()
    bind = f"/bo/companies/{company.pk}/corporate/operators/{operator.pk}/usbkey/bind/"
    assert f'action="{bind}"' in page
    codes = bo.post(bind, {"serial": "UK50000003", "reason": "operator at the counter"})
    assert re.fullmatch(r"\d{10}", _shown(codes, "reference-code"))
    key = UsbKey.objects.get(serial="UK50000003")
    assert (key.person, key.company, key.status) == (person, company, "ACTIVE")
    assert AuditEvent.objects.get(action="corporate.usb_key.bound").target == \
        f"operator:{operator.pk}"


@pytest.mark.req("SE-09")
def test_another_companys_operators_are_not_reached_through_the_url(bo, company,
                                                                    admin_person,
                                                                    make_company,
                                                                    make_person, at):
    service, admin, _password = counter.service_open(
        company_id=company.pk, edition="QUERY", account_ids=[company.basic.pk],
        admin_person_id=admin_person.pk, admin_code="admin01", staff="staff:1", at=at)
    other = make_company(name="另一家公司", uscc=_uscc("91360702MA35R8LX2"))
    account = customers.corporate_account_open(company_id=other.pk, product="CORPORATE_BASIC",
                                               actor="staff:1", opened_at=at)
    person = make_person(name="钱七", id_number=_check("36070219800101501"),
                         phone="13707970555", birth_date=admin_person.birth_date.replace(
                             year=1980, month=1, day=1))
    _theirs, their_admin, _password = counter.service_open(
        company_id=other.pk, edition="QUERY", account_ids=[account.pk],
        admin_person_id=person.pk, admin_code="admin01", staff="staff:1", at=at)
    counter.admin_usb_key_bind(service_id=_theirs.pk, serial="UK50000002", staff="staff:1",
                               at=at)
    response = bo.post(f"/bo/companies/{company.pk}/corporate/operators/{their_admin.pk}"
                       "/usbkey/end/", {"reason": "wrong company"})
    assert response.url == f"/bo/companies/{company.pk}/"
    assert UsbKey.objects.get(serial="UK50000002").status == "ACTIVE"
    bo.post(f"/bo/companies/{company.pk}/corporate/accounts/link/",
            {"account": account.pk, "reason": "not theirs"})
    assert counter.linked_accounts(service) == [company.basic]


@pytest.mark.req("ORG-01", "SE-08", "SE-09")
@pytest.mark.parametrize("role", [staff.AUDITOR, staff.SECURITY_ADMIN, staff.RISK_OFFICER,
                                  staff.RISK_MANAGER])
def test_only_tellers_reach_the_corporate_counter(role, company, admin_person):
    client = staff_signed_in("someone01", role)
    base = f"/bo/companies/{company.pk}"
    for url in ("/bo/companies/", f"{base}/"):
        response = client.get(url)
        assert response.status_code == 404 and "页面不存在" in response.content.decode()
    for url, data in ((f"{base}/corporate/open/", _open_form(company, admin_person)),
                      (f"{base}/corporate/cancel/", {"reason": "r", "confirm": "on"}),
                      (f"{base}/corporate/admin/reset/", {"reason": "r"})):
        assert client.post(url, data).status_code == 404
    assert not CorporateService.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="corporate.").exists()
    anonymous = Client().post(f"{base}/corporate/open/", _open_form(company, admin_person))
    assert anonymous.url == "/bo/login/" and not CorporateService.objects.exists()
