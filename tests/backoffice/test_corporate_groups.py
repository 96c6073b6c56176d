"""The group view at the back office's counter (FC-08): a teller grants a company's internet
banking an account of another company on its written authorisation (the reference kept,
the company's own account refused), both sides see it, either side ends it; only tellers
reach these pages."""

import pytest
from django.test import Client

from tests.backoffice.conftest import staff_signed_in
from tests.conftest import _uscc
from wangyin.audit.models import AuditEvent
from wangyin.backoffice import staff
from wangyin.corporate import counter
from wangyin.corporate.models.groups import GroupGrant
from wangyin.customers import services as customers

pytestmark = pytest.mark.django_db


@pytest.fixture
def bo(db) -> Client:
    return staff_signed_in("teller01", staff.TELLER)


@pytest.fixture
def parent(make_company, make_person, at):
    company = make_company()
    company.basic = customers.corporate_account_open(
        company_id=company.pk, product="CORPORATE_BASIC", actor="staff:1", opened_at=at)
    company.service, _admin, _password = counter.service_open(
        company_id=company.pk, edition="STANDARD", account_ids=[company.basic.pk],
        admin_person_id=make_person().pk, admin_code="admin01", staff="staff:teller01", at=at)
    return company


@pytest.fixture
def subsidiary(make_company, at):
    company = make_company(name="赣州示范子公司有限公司", uscc=_uscc("91360702MA35R8LX3"))
    company.basic = customers.corporate_account_open(
        company_id=company.pk, product="CORPORATE_BASIC", actor="staff:1", opened_at=at)
    return company


def _form(account, **overrides):
    return {"account_number": account.number, "authorisation_ref": "子公司授权书第7号",
            "authorisation_checked": "on", "reason": "集团资金查询", **overrides}


@pytest.mark.req("FC-08")
def test_a_teller_grants_and_ends_a_subsidiary_account(bo, parent, subsidiary):
    page = bo.get(f"/bo/companies/{parent.pk}/").content.decode()
    assert f"/bo/companies/{parent.pk}/group/" in page
    url = f"/bo/companies/{parent.pk}/group/grant/"
    # The authorisation must be checked, the account another company's.
    bo.post(url, _form(subsidiary.basic, authorisation_checked=""))
    bo.post(url, _form(parent.basic))
    own = bo.get(f"/bo/companies/{parent.pk}/group/").content.decode()
    assert 'id="notice"' in own and "这是本单位自己的账户" in own
    assert not GroupGrant.objects.exists()
    response = bo.post(url, _form(subsidiary.basic))
    assert response.url == f"/bo/companies/{parent.pk}/group/"
    grant = GroupGrant.objects.get()
    assert grant.account == subsidiary.basic and grant.authorisation_ref == "子公司授权书第7号"
    assert grant.granted_by == "staff:teller01"
    page = bo.get(f"/bo/companies/{parent.pk}/group/").content.decode()
    assert subsidiary.name in page and subsidiary.basic.masked_number in page
    assert subsidiary.basic.number not in page
    seen_from = bo.get(f"/bo/companies/{subsidiary.pk}/group/").content.decode()
    assert parent.name in seen_from and 'id="grants-given"' in seen_from
    # The subsidiary withdraws its authorisation at the counter.
    bo.post(f"/bo/companies/{subsidiary.pk}/group/{grant.pk}/end/", {"reason": "撤回授权"})
    grant.refresh_from_db()
    assert grant.ended_at is not None and grant.end_reason == "撤回授权"
    assert list(AuditEvent.objects.filter(action__startswith="corporate.group.")
                .order_by("pk").values_list("action", flat=True)) == [
        "corporate.group.granted", "corporate.group.ended"]


@pytest.mark.req("FC-08")
def test_a_company_not_concerned_cannot_end_a_grant(bo, parent, subsidiary, make_company,
                                                    at):
    grant = GroupGrant.objects.create(service=parent.service, account=subsidiary.basic,
                                      authorisation_ref="x", granted_at=at,
                                      granted_by="staff:teller01")
    third = make_company(name="第三家公司", uscc=_uscc("91360702MA35R8LX4"))
    bo.post(f"/bo/companies/{third.pk}/group/{grant.pk}/end/", {"reason": "r"})
    grant.refresh_from_db()
    assert grant.ended_at is None


@pytest.mark.req("FC-08", "SE-08")
@pytest.mark.parametrize("role", [staff.AUDITOR, staff.SECURITY_ADMIN, staff.RISK_OFFICER])
def test_only_tellers_reach_the_group_counter(role, parent, subsidiary):
    client = staff_signed_in("someone01", role)
    assert client.get(f"/bo/companies/{parent.pk}/group/").status_code == 404
    assert client.post(f"/bo/companies/{parent.pk}/group/grant/",
                       _form(subsidiary.basic)).status_code == 404
    assert not GroupGrant.objects.exists()
