"""The customer confirms a held transfer in internet banking (RK-12, TX-08): the page lists
what the bank asked about, "yes" and "no" are recorded on the case (no money moves), and
nobody else can answer for them."""

import pytest
from django.test import Client

from tests.payments.conftest import instruction, pay
from tests.risk.conftest import live_rules
from tests.web.conftest import PASSWORD, change_password, sign_in
from wangyin.identity import services as identity
from wangyin.payments.models import Transfer
from wangyin.risk.models import Case

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(ready_customer, accounts, at, django_capture_on_commit_callbacks):
    """The customer's ¥100.00 to 李四 held for review, and the case asking them about it."""
    mine, theirs = accounts
    live_rules(at, ("hold", "is_funds", "review"))
    with django_capture_on_commit_callbacks(execute=True):
        transfer = pay(ready_customer, instruction(mine, theirs, yuan="100.00"), at)
    case = Case.objects.get(person_id=ready_customer.person_id)
    assert transfer.status == "HELD" and case.confirmation == "asked"
    return transfer, case


@pytest.mark.req("RK-12", "TX-08")
def test_the_customer_confirms_it_was_them(client, asked, accounts):
    transfer, case = asked
    sign_in(client, "zhangwei_01", PASSWORD)
    assert 'href="/security/held/"' in client.get("/security/").content.decode()
    page = client.get("/security/held/").content.decode()
    assert "¥100.00" in page and "*四" in page and accounts[1].number not in page
    assert f'id="answer-yes-{case.pk}"' in page
    response = client.post(f"/security/held/{case.pk}/", {"answer": "yes"})
    assert response.status_code == 302 and response.url == "/security/held/"
    case.refresh_from_db()
    assert case.confirmation == "confirmed" and case.level == "BRANCH"
    assert Transfer.objects.get(pk=transfer.pk).status == "HELD"  # staff still decide
    page = client.get("/security/held/").content.decode()
    assert 'id="nothing-to-confirm"' in page and "本行将完成审核" in page
    client.post(f"/security/held/{case.pk}/", {"answer": "no"})  # answered already
    assert Case.objects.get(pk=case.pk).confirmation == "confirmed"


@pytest.mark.req("RK-12", "RK-14")
def test_not_me_raises_the_case_to_head_office(client, asked):
    _transfer, case = asked
    sign_in(client, "zhangwei_01", PASSWORD)
    assert client.get(f"/security/held/{case.pk}/").status_code == 405  # POST only
    client.post(f"/security/held/{case.pk}/", {"answer": "no"})
    case.refresh_from_db()
    assert (case.confirmation, case.severity, case.level) == ("denied", 4, "HEAD")
    assert "预留手机号" in client.get("/security/held/").content.decode()


@pytest.mark.req("RK-12")
def test_another_customer_cannot_see_or_answer(asked, accounts, at):
    _transfer, case = asked
    _user, initial = identity.internet_banking_open(
        person_id=accounts[1].person_id, login_name="lisi_0001", edition="PRO",
        risk_acknowledged=True, staff="staff:teller1", reason="counter", at=at)
    other = Client()
    sign_in(other, "lisi_0001", initial)
    change_password(other, initial, PASSWORD)
    page = other.get("/security/held/").content.decode()
    assert 'id="nothing-to-confirm"' in page and "¥100.00" not in page
    assert other.post(f"/security/held/{case.pk}/", {"answer": "no"}).status_code == 404
    assert Case.objects.get(pk=case.pk).confirmation == "asked"
    assert Client().post(f"/security/held/{case.pk}/", {"answer": "no"}).url == "/login/"
