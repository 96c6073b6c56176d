"""Signed-in pages: account statement (own accounts only) and the security centre."""

import pytest

from wangyin.customers.services import personal_account_open
from wangyin.identity.models import ChannelUser
from wangyin.ledger import services as ledger
from wangyin.ledger.models import AccountKind, NormalSide

from .conftest import PASSWORD, pass_captcha, sign_in, sms_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded_account(ready_customer, at):
    account = personal_account_open(person_id=ready_customer.person_id, product="PERSONAL_I",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    cash = ledger.account_open(number="GLCASH", name="cash", kind=AccountKind.GL,
                               normal_side=NormalSide.DEBIT, overdraft_limit=None,
                               actor="staff:1", opened_at=at)
    for n in range(25):
        ledger.transfer(debit_account_id=cash.pk, credit_account_id=account.ledger_account_id,
                        amount=ledger.Money(100 + n), idempotency_key=f"dep-{n}",
                        actor="staff:1", posted_at=at, memo=f"存入 {n}")
    return account


@pytest.mark.req("FP-02", "AD-05", "PI-03")
def test_statement_of_an_own_account_with_paging(client, funded_account):
    sign_in(client, "zhangwei_01", PASSWORD)
    home = client.get("/home/").content.decode()
    assert f"/accounts/{funded_account.pk}/" in home
    page = client.get(f"/accounts/{funded_account.pk}/").content.decode()
    assert funded_account.masked_number in page and funded_account.number not in page
    assert page.count("存入 ") == 20 and "存入 24" in page and 'rel="next"' in page
    import html
    import re

    href = html.unescape(re.search(r'href="(\?[^"]+)" rel="next"', page).group(1))
    older = client.get(f"/accounts/{funded_account.pk}/{href}").content.decode()
    assert older.count("存入 ") == 5 and "存入 0" in older


@pytest.mark.req("SE-09")
def test_another_customers_account_looks_missing(client, funded_account, make_person, at):
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    foreign = personal_account_open(person_id=other.pk, product="PERSONAL_I",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    sign_in(client, "zhangwei_01", PASSWORD)
    response = client.get(f"/accounts/{foreign.pk}/")
    assert response.status_code == 404
    assert client.get("/accounts/999999/").status_code == 404


@pytest.mark.req("SE-07")
def test_statement_filters_are_validated(client, funded_account):
    sign_in(client, "zhangwei_01", PASSWORD)
    url = f"/accounts/{funded_account.pk}/"
    assert "截止日期在开始日期之前" in client.get(url, {"since": "2026-05-01",
                                         "until": "2026-04-01"}).content.decode()
    assert "存入 24" in client.get(url, {"after": "not-a-cursor"}).content.decode()
    assert "存入" not in client.get(url, {"since": "2020-01-01",
                                        "until": "2020-02-01"}).content.decode()


@pytest.mark.req("AU-13", "AU-15", "FP-11", "AU-11")
def test_security_centre_changes_the_reserved_message_and_lists_sign_ins(client,
                                                                         ready_customer):
    pass_captcha(client, "zhangwei_01")
    client.get("/login/password/")
    client.post("/login/password/", {"payload": "garbage"})
    sign_in(client, "zhangwei_01", PASSWORD)
    page = client.get("/security/").content.decode()
    assert "登录成功" in page and "127.0.0.1" in page
    too_long = client.post("/security/", {"reserved_message": "长" * 21})
    assert too_long.status_code == 400
    assert client.post("/security/", {"reserved_message": "我的小狗叫旺财"}
                       ).url == "/security/confirm/"
    assert ChannelUser.objects.get().reserved_message != "我的小狗叫旺财"  # not yet
    assert "我的小狗叫旺财" in client.get("/security/confirm/").content.decode()
    done = client.post("/security/confirm/", {"code": sms_code("authn.security.change")})
    assert done.url == "/security/"
    assert ChannelUser.objects.get().reserved_message == "我的小狗叫旺财"
    client.post("/logout/")
    pass_captcha(client, "zhangwei_01")
    assert "我的小狗叫旺财" in client.get("/login/password/").content.decode()


@pytest.mark.req("SE-10", "FP-02")
def test_statement_download_is_the_owners_only_validated_and_safe(client, funded_account,
                                                                   make_person, at):
    import csv
    import io

    from wangyin.audit.models import AuditEvent

    cash = funded_account.ledger_account.__class__.objects.get(number="GLCASH")
    ledger.transfer(debit_account_id=cash.pk, credit_account_id=funded_account.ledger_account_id,
                    amount=ledger.Money(1), idempotency_key="dep-formula", actor="staff:1",
                    posted_at=at, memo='=HYPERLINK("http://evil.example")')
    sign_in(client, "zhangwei_01", PASSWORD)
    url = f"/accounts/{funded_account.pk}/statement.csv"
    response = client.get(url, {"since": "2026-10-01", "until": "2026-11-30"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 1 + 26 and rows[0][3] == "金额"
    assert rows[2][1:4] == ["存入 24", "cash", "1.24"]  # newest first, amounts in yuan
    assert "'=HYPERLINK" in text and ',=HYPERLINK' not in text
    assert AuditEvent.objects.filter(action="web.statement.downloaded").exists()
    downloads = AuditEvent.objects.filter(action="web.statement.downloaded").count()
    bad = client.get(url, {"since": "2026-11-30", "until": "2026-10-01"})
    assert bad.status_code == 400 and bad["Content-Type"].startswith("text/html")
    assert "截止日期在开始日期之前" in bad.content.decode()
    assert AuditEvent.objects.filter(action="web.statement.downloaded").count() == downloads
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    foreign = personal_account_open(person_id=other.pk, product="PERSONAL_I",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    assert client.get(f"/accounts/{foreign.pk}/statement.csv").status_code == 404
    client.post("/logout/")
    assert client.get(url).status_code in (302, 404)  # signed out: nothing downloads
