"""The company administrator's pages through the Django test client: only the administrator
reaches them; an operator is created, given roles and accounts with limits, each change
signed with the administrator's software USB-Key over what the page shows; a signature
for another change, or none, changes nothing; a reset password is shown once; the
approval policy is changed as a table of tiers and applies at its boundaries; bad input
says what is wrong and changes nothing."""

import base64

import pytest
from django.contrib.auth.hashers import check_password

from tests.conftest import _check
from wangyin.audit.models import AuditEvent
from wangyin.corporate import approvals
from wangyin.corporate.models import ApprovalPolicy, Operator, OperatorScope
from wangyin.notify.models import SmsMessage

from .conftest import PIN, payload_on, sign_in

pytestmark = pytest.mark.django_db

PAGES = ["/corp/operators/", "/corp/operators/new/", "/corp/policy/", "/corp/policy/edit/",
         "/corp/admin/confirm/"]


def _signature(key, page: str) -> str:
    return base64.b64encode(key.sign(payload_on(page), PIN)).decode()


def _sign(client, key):
    """Sign what the confirmation page shows and post it."""
    page = client.get("/corp/admin/confirm/").content.decode()
    return client.post("/corp/admin/confirm/", {"usbkey_signature": _signature(key, page)})


@pytest.fixture
def signed_admin(client, admin, key_of):
    key = key_of(admin)
    assert sign_in(client, admin, key).url == "/corp/home/"
    client.key = key
    return admin


def _state():
    return (list(Operator.objects.order_by("pk").values_list("code", "status", "roles")),
            list(OperatorScope.objects.order_by("pk").values_list(
                "operator_id", "account_id", "per_payment_fen", "per_day_fen")),
            list(ApprovalPolicy.objects.order_by("pk").values_list("version", "status")))


@pytest.mark.req("FC-02", "SE-09")
@pytest.mark.parametrize("who", ["enterer", "checker", "authoriser"])
def test_only_the_administrator_reaches_the_administration_pages(client, request, key_of,
                                                                 admin, who):
    operator = request.getfixturevalue(who)
    sign_in(client, operator, key_of(operator))
    before = _state()
    for url in [*PAGES, f"/corp/operators/{operator.pk}/"]:
        assert client.get(url).status_code == 404, url
    for action in ("disable", "password", "remove"):
        url = f"/corp/operators/{admin.pk}/{action}/"
        assert client.post(url).status_code == 404
    assert client.post("/corp/policy/edit/", {"form-TOTAL_FORMS": "0"}).status_code == 404
    home = client.get("/corp/home/").content.decode()
    assert 'id="nav-operators"' not in home and 'id="nav-admin_policy"' not in home
    assert _state() == before


@pytest.mark.req("FC-02", "SE-09")
def test_the_administrator_sees_the_operators_masked(client, signed_admin, enterer, company,
                                                     key_of):
    key_of(enterer)
    home = client.get("/corp/home/").content.decode()
    assert 'id="nav-operators"' in home and 'id="nav-admin_policy"' in home
    page = client.get("/corp/operators/").content.decode()
    assert "enter01" in page and enterer.person.masked_name in page
    assert enterer.person.name not in page  # names masked
    assert "录入" in page and "已绑定" in page and company.basic.masked_number in page
    assert client.get("/corp/operators/999999/").status_code == 404


@pytest.mark.req("FC-02", "TX-02", "SE-09")
def test_an_operator_is_created_with_roles_and_accounts_each_signed(client, signed_admin,
                                                                    company):
    page = client.get("/corp/operators/new/").content.decode()
    assert 'for="id_name"' in page and f'name="use_{company.basic.pk}"' in page
    id_number = _check("36070219850505123")
    asked = client.post("/corp/operators/new/", {
        "name": "刘新员", "id_type": "RESIDENT_ID", "id_number": id_number,
        "mobile": "13907970999", "code": "pay02", "roles": ["ENTER"],
        f"use_{company.basic.pk}": "on", f"per_payment_{company.basic.pk}": "50000.01",
        f"per_day_{company.basic.pk}": "100000"})
    assert asked.url == "/corp/admin/confirm/"
    assert not Operator.objects.filter(code="pay02").exists()
    confirm = client.get("/corp/admin/confirm/").content.decode()
    assert "新增操作员pay02" in confirm and "刘新员" in confirm and id_number not in confirm

    done = _sign(client, client.key)
    text = done.content.decode()
    operator = Operator.objects.get(code="pay02")
    password = text.split('id="initial-password">')[1].split("<")[0]
    assert done.status_code == 200 and check_password(password, operator.password)
    assert operator.roles == [] and 'id="next-step"' in text

    roles = client.get("/corp/admin/confirm/").content.decode()
    assert "设置操作员pay02（刘新员）的角色为录入" in roles and password not in roles
    assert _sign(client, client.key).url == "/corp/admin/confirm/"  # then the accounts
    operator.refresh_from_db()
    assert operator.roles == ["ENTER"]
    scopes = client.get("/corp/admin/confirm/").content.decode()
    assert "单笔¥50,000.01" in scopes and "日累计¥100,000.00" in scopes
    assert _sign(client, client.key).url == f"/corp/operators/{operator.pk}/"
    scope = OperatorScope.objects.get(operator=operator)
    assert (scope.account_id, scope.per_payment_fen, scope.per_day_fen) == (
        company.basic.pk, 5000001, 10000000)
    detail = client.get(f"/corp/operators/{operator.pk}/").content.decode()
    assert "录入" in detail and password not in detail
    assert client.get("/corp/admin/confirm/").url == "/corp/operators/"
    assert AuditEvent.objects.filter(action__startswith="corporate.operator.").count() == 3


@pytest.mark.req("FC-02", "TX-02", "TX-06")
def test_a_signature_for_another_change_or_none_changes_nothing(client, signed_admin,
                                                                enterer, checker):
    client.post(f"/corp/operators/{enterer.pk}/disable/")
    first = client.get("/corp/admin/confirm/").content.decode()
    assert "停用操作员enter01" in first
    client.post(f"/corp/operators/{checker.pk}/disable/")  # now the checker's waits
    before = _state()

    wrong = client.post("/corp/admin/confirm/",
                        {"usbkey_signature": _signature(client.key, first)})
    assert wrong.status_code == 400 and "没有改变任何内容" in wrong.content.decode()
    missing = client.post("/corp/admin/confirm/", {"usbkey_signature": ""})
    assert missing.status_code == 400 and "请先用U盾签名" in missing.content.decode()
    assert _state() == before

    assert _sign(client, client.key).url == f"/corp/operators/{checker.pk}/"
    checker.refresh_from_db()
    enterer.refresh_from_db()
    assert (checker.status, enterer.status) == ("DISABLED", "ACTIVE")


@pytest.mark.req("FC-02", "SE-09")
def test_a_reset_password_is_shown_once(client, signed_admin, enterer):
    asked = client.post(f"/corp/operators/{enterer.pk}/password/")
    assert asked.url == "/corp/admin/confirm/"
    assert "重置登录密码：操作员enter01" in client.get("/corp/admin/confirm/").content.decode()
    done = _sign(client, client.key)
    text = done.content.decode()
    password = text.split('id="initial-password">')[1].split("<")[0]
    enterer.refresh_from_db()
    assert check_password(password, enterer.password) and enterer.must_change_password
    assert password not in str(dict(client.session))
    assert client.get("/corp/admin/confirm/").url == "/corp/operators/"
    for url in ("/corp/operators/", f"/corp/operators/{enterer.pk}/"):
        assert password not in client.get(url).content.decode()
    assert not SmsMessage.objects.filter(body__contains=password).exists()


def _tiers(*rows, extra=()):
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": "0",
            "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "20", "action": "review"}
    for i, (account, up_to, checkers, authorisers) in enumerate(rows):
        data.update({f"form-{i}-account": account, f"form-{i}-up_to": up_to,
                     f"form-{i}-checkers": checkers, f"form-{i}-authorisers": authorisers})
    data.update(dict(extra))
    return data


@pytest.mark.req("FC-02", "TX-02")
def test_the_policy_is_changed_as_a_table_and_applies_at_its_boundaries(
        client, signed_admin, service, company, enterer, checker, authoriser):
    page = client.get("/corp/policy/").content.decode()
    assert "现行：第 1 版" in page and 'id="nav-admin_policy"' in page
    edit = client.get("/corp/policy/edit/").content.decode()
    assert 'name="form-0-authorisers"' in edit and 'name="form-2-account"' in edit
    added = client.post("/corp/policy/edit/", {**_tiers(("", "", "0", "1")), "action": "add"})
    assert 'name="form-1-account"' in added.content.decode()

    asked = client.post("/corp/policy/edit/", _tiers(
        ("", "100000.00", "0", "1"), ("", "", "1", "2"),
        (str(company.basic.pk), "5000", "0", "1"), ("", "", "", "")))
    assert asked.url == "/corp/admin/confirm/"
    confirm = client.get("/corp/admin/confirm/").content.decode()
    assert "所有账户¥100,000.00及以下：复核0人、授权1人" in confirm
    assert 'id="policy-warnings"' in confirm  # one authoriser cannot give two
    assert _sign(client, client.key).url == "/corp/policy/"

    assert "现行：第 2 版" in client.get("/corp/policy/").content.decode()
    assert list(ApprovalPolicy.objects.order_by("version").values_list(
        "version", "status")) == [(1, "RETIRED"), (2, "LIVE")]
    assert ApprovalPolicy.objects.get(version=2).signature is not None
    tier = approvals.policy_tier
    assert (tier(service, None, 10_000_000).authorisers,
            tier(service, None, 10_000_001).authorisers) == (1, 2)
    general = company.general.pk
    assert tier(service, general, 10_000_000).up_to_fen == 10_000_000
    assert tier(service, company.basic.pk, 500_000).up_to_fen == 500_000
    assert tier(service, company.basic.pk, 500_001).up_to_fen == 10_000_000
    shown = client.get("/corp/policy/").content.decode()
    assert "¥100,000.00" in shown and company.basic.masked_number in shown


@pytest.mark.req("FC-02")
@pytest.mark.parametrize(("rows", "message"), [
    ((("", "-5", "0", "1"), ("", "", "0", "1")), "请输入正数金额"),
    ((("", "1000", "0", "1"), ("", "1000", "0", "2"), ("", "", "0", "2")), "账户和金额上限相同"),
    ((("", "1000", "0", "1"),), "所有账户、任意金额"),
    ((("", "1000", "0", "2"), ("", "", "0", "1")), "金额较大的一档"),
])
def test_a_bad_policy_says_why_and_changes_nothing(client, signed_admin, rows, message):
    before = _state()
    refused = client.post("/corp/policy/edit/", _tiers(*rows))
    assert refused.status_code == 400 and message in refused.content.decode()
    assert 'role="alert"' in refused.content.decode()
    assert client.get("/corp/admin/confirm/").url == "/corp/operators/"  # nothing to sign
    assert _state() == before


@pytest.mark.req("FC-02")
def test_bad_operator_input_is_shown_next_to_the_field(client, signed_admin, company,
                                                       enterer):
    before = _state()
    negative = client.post(f"/corp/operators/{enterer.pk}/accounts/", {
        f"use_{company.basic.pk}": "on", f"per_payment_{company.basic.pk}": "-1"})
    text = negative.content.decode()
    assert negative.status_code == 400
    assert f'id="id_per_payment_{company.basic.pk}-error"' in text and "请输入正数金额" in text
    below = client.post(f"/corp/operators/{enterer.pk}/accounts/", {
        f"use_{company.basic.pk}": "on", f"per_payment_{company.basic.pk}": "100",
        f"per_day_{company.basic.pk}": "99.99"})
    assert below.status_code == 400 and 'id="scopes-error"' in below.content.decode()
    taken = client.post("/corp/operators/new/", {
        "name": "刘新员", "id_type": "RESIDENT_ID", "id_number": _check("36070219850505123"),
        "mobile": "13907970999", "code": "enter01"})
    assert taken.status_code == 400 and 'id="id_code-error"' in taken.content.decode()
    bad_id = client.post("/corp/operators/new/", {
        "name": "刘新员", "id_type": "RESIDENT_ID", "id_number": "360702198505051230",
        "mobile": "13907970999", "code": "pay03"})
    assert bad_id.status_code == 400 and 'id="id_id_number-error"' in bad_id.content.decode()
    assert client.get("/corp/admin/confirm/").url == "/corp/operators/"
    assert _state() == before
