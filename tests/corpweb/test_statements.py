"""Corporate statements (FC-01): an operator's account page with the personal statement's
filters, and the statement of an account they see as CSV, Excel and PDF under the company's
name with the period's opening and closing balances — never of an account outside their
scope or of another company (404, nothing recorded)."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate are parameters

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.corporate.approving import payee
from wangyin.audit.models import AuditEvent
from wangyin.corporate.models import OperatorScope

from .conftest import sign_in
from .movements import movements, other_company, pdf_text, receipt_links

pytestmark = pytest.mark.django_db


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def operator_client(client, authoriser, key_of, movements):
    sign_in(client, authoriser, key_of(authoriser))
    return client


@pytest.mark.req("FC-01")
def test_the_account_page_filters_the_history_and_links_the_receipts(operator_client,
                                                                     company, movements):
    url = f"/corp/accounts/{company.basic.pk}/"
    page = operator_client.get(url).content.decode()
    assert 'id="history-filters"' in page and 'id="download-xlsx"' in page
    assert "李四" in page and "钱七" in page and "-¥1,234.56" in page
    # the payment, the transfer in from the general account and the credit from another
    # bank have receipts; the cash deposit has none
    assert len(receipt_links(page)) == 3 and page.count("<tr>") == 4 + 1
    out = operator_client.get(url, {"direction": "OUT"}).content.decode()
    assert "李四" in out and "钱七" not in out and len(receipt_links(out)) == 1
    bad = operator_client.get(url, {"since": "2026-10-02", "until": "2026-10-01"})
    assert bad.status_code == 400 and 'id="statement"' not in bad.content.decode()


@pytest.mark.req("FC-01")
def test_the_csv_statement_follows_the_filters(operator_client, company, movements):
    response = operator_client.get(f"/corp/accounts/{company.basic.pk}/statement.csv",
                                   {"direction": "IN"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"statement-{company.basic.number[-4:]}-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(_content(response).decode("utf-8-sig"))))
    assert rows[0] == ["时间", "摘要", "对方", "金额", "余额"]
    amounts = sorted(row[3] for row in rows[1:])
    assert amounts == ["1000000.00", "5000.00", "888.00"]  # deposit, own transfer, credit
    assert not any("李四" in cell for row in rows for cell in row)
    event = AuditEvent.objects.filter(action="corporate.statement.downloaded").get()
    assert event.actor.startswith("operator:") and event.details["format"] == "csv"
    assert event.details["rows"] == 3 and event.details["filtered"] is True


@pytest.mark.req("FC-01")
def test_the_excel_statement_reads_back_with_the_company_and_the_balances(operator_client,
                                                                          company, movements):
    response = operator_client.get(f"/corp/accounts/{company.basic.pk}/statement.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(_content(response))).active
    rows = [row for row in sheet.iter_rows(values_only=True) if any(row)]
    facts = {row[0]: row[1] for row in rows if row[1] and not row[2]}
    assert facts["户名"] == company.name and facts["账号"] == company.basic.masked_number
    totals = rows[[r[0] for r in rows].index("期初余额") + 1]
    # opening 0 (the deposit is in the period), in, out, closing
    assert [float(x) for x in totals[:4]] == [0.0, 1_005_888.0, 1234.56, 1_004_653.44]
    table = rows[[r[0] for r in rows].index("时间") + 1:]
    assert [float(r[3]) for r in table] == [1_000_000.0, -1234.56, 5000.0, 888.0]  # oldest 1st
    assert [float(r[4]) for r in table][-1] == 1_004_653.44
    assert "李四" in table[1][2] and "钱七" in table[3][2]
    assert table[1][0].year >= 2026  # a date, not text


@pytest.mark.req("FC-01")
def test_the_pdf_statement_is_headed_by_the_company(operator_client, company, movements):
    response = operator_client.get(f"/corp/accounts/{company.general.pk}/statement.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(_content(response))
    assert company.name in text and company.general.masked_number in text
    assert "对账单" in text and "期初余额" in text and "期末余额" in text
    assert "195,000.00" in text and "-5,000.00" in text


@pytest.mark.req("FC-01", "SE-09")
def test_statements_only_of_accounts_in_the_operators_scope(client, company, checker, key_of,
                                                            movements, other_company):
    OperatorScope.objects.filter(operator=checker, account=company.general).delete()
    sign_in(client, checker, key_of(checker))
    assert client.get(f"/corp/accounts/{company.basic.pk}/statement.csv").status_code == 200
    for account in (company.general, other_company.basic):
        for path in ("", "statement.csv", "statement.pdf", "statement.xlsx", "receipts.zip"):
            assert client.get(f"/corp/accounts/{account.pk}/{path}").status_code == 404
    assert client.get(f"/corp/accounts/{company.basic.pk}/statement.doc").status_code == 404
    audited = AuditEvent.objects.filter(action__startswith="corporate.statement")
    assert audited.count() == 1 and audited.get().target == f"account:{company.basic.pk}"
    assert not AuditEvent.objects.filter(action="corporate.receipts.downloaded").exists()


@pytest.mark.req("FC-01")
def test_bad_filters_download_nothing(operator_client, company, movements):
    for path in ("statement.csv", "statement.xlsx", "receipts.zip"):
        response = operator_client.get(f"/corp/accounts/{company.basic.pk}/{path}",
                                       {"since": "2025-01-01", "until": "2026-06-01"})
        assert response.status_code == 400
        assert "查询期间最长一年" in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="corporate.statement").exists()
