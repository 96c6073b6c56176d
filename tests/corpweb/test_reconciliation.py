"""Balance reconciliation in the corporate web bank (FC-07): every operator who sees the
account reads its monthly statements and the home page says when some await an answer; an
authorising operator answers — the balances agree, or they do not, with the company's
balance and the differences — and their USB-Key signs the answer the page shows; others
cannot answer; another company's statement looks missing."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

import base64
from datetime import UTC, date, datetime

import pytest

from tests.conftest import _uscc
from tests.corporate.conftest import PIN, _person, make_operator
from wangyin.corporate import reconciliation as recon
from wangyin.corporate.models import CorporateService, ServiceAccount
from wangyin.corporate.models.reconciliation import BalanceStatement, StatementStatus
from wangyin.customers import services as customers
from wangyin.customers.models import CustomerAccount

from .conftest import payload_on, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement(service, company, now):
    """October's statements (the accounts linked long before); the basic account's."""
    CustomerAccount.objects.filter(company=company).update(
        opened_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    recon.statements_issue(date(2026, 10, 1), now)
    return BalanceStatement.objects.get(account=company.basic)


@pytest.fixture
def authorising(client, service, authoriser, key_of):
    sign_in(client, authoriser, key_of(authoriser))
    return client


def _signature(key, page: str) -> str:
    return base64.b64encode(key.sign(payload_on(page), PIN)).decode()


def _rows(*rows, extra=1):
    data = {"diff-TOTAL_FORMS": str(len(rows) + extra), "diff-INITIAL_FORMS": "0"}
    for i, (kind, day, amount, text) in enumerate(rows):
        data.update(
            {
                f"diff-{i}-kind": kind,
                f"diff-{i}-day": day,
                f"diff-{i}-amount": amount,
                f"diff-{i}-description": text,
            }
        )
    return data


@pytest.mark.req("FC-07", "TX-02", "FA-05")
def test_an_authoriser_confirms_the_balances_agree_with_the_usb_key(
    authorising, statement, authoriser, key_of
):
    home = authorising.get("/corp/home/").content.decode()
    assert 'id="statements-waiting"' in home and "/corp/reconciliation/" in home
    listed = authorising.get("/corp/reconciliation/").content.decode()
    assert f"/corp/reconciliation/{statement.pk}/" in listed and "2026-10" in listed

    url = f"/corp/reconciliation/{statement.pk}/"
    page = authorising.get(url).content.decode()
    assert 'id="answer-form"' in page and statement.account.number in page
    answered = authorising.post(url, {"action": "review", "answer": "AGREE", **_rows()})
    assert answered.status_code == 302 and answered.url == f"{url}sign/"
    sign_page = authorising.get(answered.url).content.decode()
    shown = payload_on(sign_page)
    assert "确认余额相符" in shown and statement.account.number in shown
    done = authorising.post(
        answered.url, {"usbkey_signature": _signature(key_of(authoriser), sign_page)}
    )
    assert done.status_code == 302 and done.url == url
    statement.refresh_from_db()
    assert statement.status == StatementStatus.AGREED and statement.answered_by == authoriser
    result = authorising.get(url).content.decode()
    assert 'id="statement-notice"' in result and "auth01" in result
    assert key_of(authoriser).serial in result and 'id="answer-form"' not in result
    again = authorising.post(url, {"action": "review", "answer": "AGREE", **_rows()})
    assert again.status_code == 400 and 'id="statement-error"' in again.content.decode()
    # The general account's statement still waits; once it is answered the notice goes.
    assert 'id="statements-waiting"' in authorising.get("/corp/home/").content.decode()
    BalanceStatement.objects.filter(status="ISSUED").delete()
    assert 'id="statements-waiting"' not in authorising.get("/corp/home/").content.decode()


@pytest.mark.req("FC-07")
def test_an_authoriser_reports_differences(authorising, statement, authoriser, key_of):
    url = f"/corp/reconciliation/{statement.pk}/"
    # Disagreeing needs the company's balance and at least one item.
    refused = authorising.post(url, {"action": "review", "answer": "DISAGREE", **_rows()})
    assert refused.status_code == 400 and 'id="company-balance-error"' in refused.content.decode()
    refused = authorising.post(
        url, {"action": "review", "answer": "DISAGREE", "company_balance": "-150.00", **_rows()}
    )
    assert refused.status_code == 400 and 'id="statement-error"' in refused.content.decode()
    half = authorising.post(
        url,
        {
            "action": "review",
            "answer": "DISAGREE",
            "company_balance": "-150.00",
            **_rows(("COMPANY_OUT", "", "200.00", "支票")),
        },
    )
    assert half.status_code == 400
    added = authorising.post(url, {"action": "add", **_rows(("BANK_IN", "", "", ""))})
    assert added.status_code == 200 and 'id="difference-2"' in added.content.decode()

    answered = authorising.post(
        url,
        {
            "action": "review",
            "answer": "DISAGREE",
            "company_balance": "-150.00",
            **_rows(
                ("COMPANY_OUT", "2026-10-31", "200.00", "支票1234未兑付"),
                ("BANK_IN", "2026-10-30", "50.00", "利息"),
            ),
        },
    )
    assert answered.status_code == 302
    sign_page = authorising.get(answered.url).content.decode()
    shown = payload_on(sign_page)
    assert "余额不符" in shown and "支票1234未兑付" in shown and "-¥150.00" in shown
    done = authorising.post(
        answered.url, {"usbkey_signature": _signature(key_of(authoriser), sign_page)}
    )
    assert done.status_code == 302
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DISAGREED
    assert statement.company_balance_fen == -150_00
    assert [d.amount_fen for d in statement.differences.all()] == [200_00, 50_00]
    page = authorising.get(url).content.decode()
    assert 'id="statement-differences"' in page and "支票1234未兑付" in page


@pytest.mark.req("FC-07", "TX-06")
def test_a_signature_over_another_answer_is_refused(authorising, statement, authoriser, key_of):
    url = f"/corp/reconciliation/{statement.pk}/"
    first = authorising.post(url, {"action": "review", "answer": "AGREE", **_rows()})
    agree_page = authorising.get(first.url).content.decode()
    authorising.post(
        url,
        {
            "action": "review",
            "answer": "DISAGREE",
            "company_balance": "1.00",
            **_rows(("OTHER", "2026-10-31", "1.00", "记账错误")),
        },
    )
    refused = authorising.post(
        first.url, {"usbkey_signature": _signature(key_of(authoriser), agree_page)}
    )
    assert refused.status_code == 400 and 'id="sign-error"' in refused.content.decode()
    empty = authorising.post(first.url, {"usbkey_signature": ""})
    assert empty.status_code == 400
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ISSUED and statement.signature is None
    cancelled = authorising.post(first.url, {"action": "cancel"})
    assert cancelled.status_code == 302 and cancelled.url == url
    assert authorising.get(first.url).status_code == 302  # nothing waits to be signed


@pytest.mark.req("FC-07", "SE-09")
@pytest.mark.parametrize("who", ["enterer", "checker", "admin"])
def test_other_operators_read_the_statement_but_cannot_answer(
    client, request, statement, key_of, who
):
    operator = request.getfixturevalue(who)
    sign_in(client, operator, key_of(operator))
    assert 'id="nav-reconciliation"' in client.get("/corp/home/").content.decode()
    url = f"/corp/reconciliation/{statement.pk}/"
    page = client.get(url)
    assert page.status_code == 200 and 'id="answer-form"' not in page.content.decode()
    assert client.post(url, {"action": "review", "answer": "AGREE", **_rows()}).status_code == 404
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ISSUED


@pytest.mark.req("FC-07", "SE-09")
def test_another_companys_statement_looks_missing(
    client, statement, make_company, make_person, key_of, now
):
    other = make_company(name="另一家公司", uscc=_uscc("91360702MA35R8LX2"))
    account = customers.corporate_account_open(
        company_id=other.pk, product="CORPORATE_BASIC", actor="staff:1", opened_at=now
    )
    service = CorporateService.objects.create(
        company=other,
        number="2000000002",
        edition="STANDARD",
        opened_at=now,
        opened_by="staff:teller1",
    )
    ServiceAccount.objects.create(
        service=service, account=account, linked_at=now, linked_by="staff:teller1"
    )
    stranger = make_operator(
        service, _person(make_person, 9), code="auth09", roles=["AUTHORISE"], at=now
    )
    sign_in(client, stranger, key_of(stranger))
    url = f"/corp/reconciliation/{statement.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "review", "answer": "AGREE", **_rows()}).status_code == 404
    assert client.get(f"{url}sign/").status_code == 404
    assert url not in client.get("/corp/reconciliation/").content.decode()


@pytest.mark.req("FC-07", "SE-09")
def test_a_statement_outside_the_operators_scope_looks_missing(
    client, service, company, statement, authoriser, key_of, now
):
    general = BalanceStatement.objects.get(account=company.general)
    authoriser.scopes.filter(account=company.general).delete()
    sign_in(client, authoriser, key_of(authoriser))
    assert client.get(f"/corp/reconciliation/{general.pk}/").status_code == 404
    assert client.get(f"/corp/reconciliation/{statement.pk}/").status_code == 200
    listed = client.get("/corp/reconciliation/").content.decode()
    assert f"/corp/reconciliation/{general.pk}/" not in listed
