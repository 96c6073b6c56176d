"""Group accounts (FC-08) and linking an account online (ON-05) in the corporate web bank,
through the Django test client: the administrator sees the granted account of another
company with its balance and details, other operators only once the administrator allowed
them (signed), an ended grant is gone on the next request, the subsidiary's account is
never in the payment form; linking is asked for by the administrator and approved by an
authoriser, each signing with their software USB-Key over what the page shows, and the
contact's code typed on the page links it."""

import base64
import re

import pytest
from django.test import Client

from tests.conftest import _uscc
from wangyin.corporate import groups
from wangyin.corporate.models import ServiceAccount
from wangyin.corporate.models.groups import AccountLinkRequest, GroupViewer
from wangyin.customers import services as customers
from wangyin.notify.models import SmsMessage

from .conftest import PIN, payload_on, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def subsidiary(make_company, fund, now):
    sub = make_company(name="赣州示范子公司有限公司", uscc=_uscc("91360702MA35R8LX3"),
                       contact_phone="18907970123")
    sub.basic = customers.corporate_account_open(company_id=sub.pk, product="CORPORATE_BASIC",
                                                 actor="staff:1", opened_at=now)
    fund(sub.basic.ledger_account, "88000.00")
    return sub


@pytest.fixture
def grant(service, subsidiary, now):
    return groups.group_grant(service_id=service.pk, account_number=subsidiary.basic.number,
                              authorisation_ref="授权书第1号", staff="staff:teller1", at=now)


def _signed(client, operator, key_of):
    assert sign_in(client, operator, key_of(operator)).url == "/corp/home/"
    client.key = key_of(operator)
    return client


def _signature(key, page: str) -> str:
    return base64.b64encode(key.sign(payload_on(page), PIN)).decode()


@pytest.mark.req("FC-08")
def test_the_administrator_sees_the_group_account_and_its_details(client, admin, key_of,
                                                                  grant, subsidiary):
    _signed(client, admin, key_of)
    assert 'id="nav-group"' in client.get("/corp/home/").content.decode()
    page = client.get("/corp/group/").content.decode()
    assert subsidiary.name in page and subsidiary.basic.masked_number in page
    assert "88,000.00" in page
    detail = client.get(f"/corp/group/accounts/{subsidiary.basic.pk}/").content.decode()
    assert 'id="statement"' in detail and subsidiary.name in detail and "88,000.00" in detail
    # Read only: the account is nowhere the company's own.
    assert client.get(f"/corp/accounts/{subsidiary.basic.pk}/").status_code == 404
    assert subsidiary.basic.masked_number not in client.get("/corp/home/").content.decode()


@pytest.mark.req("FC-08", "SE-09")
def test_other_operators_see_it_only_when_the_administrator_allows(client, admin, enterer,
                                                                   authoriser, key_of, grant,
                                                                   subsidiary):
    other = _signed(Client(), enterer, key_of)
    assert other.get("/corp/group/").status_code == 404
    assert other.get(f"/corp/group/accounts/{subsidiary.basic.pk}/").status_code == 404
    assert 'id="nav-group"' not in other.get("/corp/home/").content.decode()
    assert other.get("/corp/group/viewers/").status_code == 404  # administrator only
    _signed(client, admin, key_of)
    response = client.post("/corp/group/viewers/", {"operator": enterer.pk, "action": "allow"})
    assert response.url == "/corp/group/confirm/"
    page = client.get("/corp/group/confirm/").content.decode()
    assert "enter01" in page and "集团账户" in page
    # A signature over something else changes nothing.
    refused = client.post("/corp/group/confirm/", {"usbkey_signature": base64.b64encode(
        client.key.sign('{"what": "something else"}', PIN)).decode()})
    assert refused.status_code == 400 and not GroupViewer.objects.exists()
    page = client.get("/corp/group/confirm/").content.decode()
    client.post("/corp/group/confirm/", {"usbkey_signature": _signature(client.key, page)})
    assert GroupViewer.objects.filter(operator=enterer, ended_at__isnull=True).exists()
    page = other.get("/corp/group/").content.decode()
    assert subsidiary.basic.masked_number in page
    assert 'id="nav-group"' in other.get("/corp/home/").content.decode()
    # Still never a payment from it: it is not among the accounts the form offers.
    form = other.get("/corp/payments/").content.decode()
    assert f'value="{subsidiary.basic.pk}"' not in form


@pytest.mark.req("FC-08")
def test_an_ended_grant_is_gone_on_the_next_request(client, admin, key_of, grant, subsidiary,
                                                    now):
    _signed(client, admin, key_of)
    url = f"/corp/group/accounts/{subsidiary.basic.pk}/"
    assert client.get(url).status_code == 200
    groups.group_grant_end(grant_id=grant.pk, staff="staff:teller1", reason="撤回", at=now)
    assert client.get(url).status_code == 404
    page = client.get("/corp/group/").content.decode()
    assert subsidiary.basic.masked_number not in page and 'id="group-empty"' in page


@pytest.fixture
def third_account(company, now):
    return customers.corporate_account_open(company_id=company.pk, product="CORPORATE_GENERAL",
                                            actor="staff:1", opened_at=now)


@pytest.mark.req("ON-05")
def test_linking_an_account_online_through_the_pages(client, admin, enterer, authoriser,
                                                     key_of, company, third_account):
    _signed(client, admin, key_of)
    assert 'id="nav-links"' in client.get("/corp/home/").content.decode()
    # Not the company's account: refused next to the field.
    refused = client.post("/corp/links/", {"account_number": "6" * 19})
    assert refused.status_code == 400 and 'id="link-error"' in refused.content.decode()
    response = client.post("/corp/links/", {"account_number": third_account.number})
    assert response.url == "/corp/group/confirm/"
    page = client.get("/corp/group/confirm/").content.decode()
    assert third_account.number in page
    response = client.post("/corp/group/confirm/",
                           {"usbkey_signature": _signature(client.key, page)})
    link = AccountLinkRequest.objects.get()
    assert response.url == f"/corp/links/{link.pk}/" and link.status == "REQUESTED"
    # The administrator cannot approve their own request; the enterer cannot see it at all.
    page = client.get(f"/corp/links/{link.pk}/").content.decode()
    assert 'id="link-approve"' not in page and 'id="link-cancel"' in page
    entering = _signed(Client(), enterer, key_of)
    assert entering.get(f"/corp/links/{link.pk}/").status_code == 404
    assert entering.get("/corp/links/").status_code == 404
    # The authoriser signs what the page shows.
    approving = _signed(Client(), authoriser, key_of)
    page = approving.get(f"/corp/links/{link.pk}/").content.decode()
    assert 'id="link-approve"' in page and third_account.number in payload_on(page)
    approving.post(f"/corp/links/{link.pk}/", {"action": "approve",
                                               "usbkey_signature": _signature(
                                                   approving.key, page)})
    link.refresh_from_db()
    assert link.status == "APPROVED" and link.approved_by == authoriser
    body = SmsMessage.objects.filter(purpose="corporate.link_code").latest("pk").body
    code = re.search(r"确认码(\d{6})", body).group(1)
    # A wrong code says how many tries are left and links nothing.
    wrong = client.post(f"/corp/links/{link.pk}/", {
        "action": "confirm", "code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and 'id="link-error"' in wrong.content.decode()
    assert not ServiceAccount.objects.filter(account=third_account).exists()
    client.post(f"/corp/links/{link.pk}/", {"action": "confirm", "code": code})
    link.refresh_from_db()
    assert link.status == "LINKED"
    assert ServiceAccount.objects.filter(account=third_account, unlinked_at__isnull=True).exists()
    assert third_account.masked_number in client.get("/corp/home/").content.decode()


@pytest.mark.req("ON-05")
def test_an_authoriser_rejects_a_request(client, admin, authoriser, key_of, third_account,
                                         sign, now):
    from tests.corporate.conftest import signed_challenge

    digest = groups.link_digest(admin.service, third_account)
    challenge = signed_challenge(admin, purpose=groups.REQUEST, digest=digest, summary="x",
                                 at=now, sign=sign)
    link = groups.link_request(admin=admin, account_number=third_account.number,
                               authorisation=challenge.pk, at=now)
    approving = _signed(client, authoriser, key_of)
    empty = approving.post(f"/corp/links/{link.pk}/", {"action": "reject", "reason": ""})
    assert empty.status_code == 400
    approving.post(f"/corp/links/{link.pk}/", {"action": "reject", "reason": "不认识此账户"})
    link.refresh_from_db()
    assert link.status == "REJECTED" and link.end_reason == "不认识此账户"
