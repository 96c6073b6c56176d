"""Corporate electronic receipts (FC-05): a receipt for every debit and credit of the
company's accounts that has one — its payments (from the statement line and from the
executed instruction), a transfer in from another account here (the payee's credit
receipt) and a credit from another bank —, each verifiable by its code and by its file as
personal receipts are; the period's receipts as one zip with readable names, bounded; only
for accounts and transfers the operator sees."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate are parameters

import io
import re
import zipfile

import pytest

from tests.corporate.approving import payee
from wangyin.audit.models import AuditEvent
from wangyin.core import clock
from wangyin.corporate import documents
from wangyin.corporate.models import OperatorScope
from wangyin.payments import receipts as payment_receipts
from wangyin.receipts import services as receipts
from wangyin.receipts.errors import ReceiptNotAvailable
from wangyin.receipts.models import Receipt

from .conftest import sign_in
from .movements import movements, other_company, pdf_text, receipt_links

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, authoriser, key_of, movements):
    sign_in(client, authoriser, key_of(authoriser))
    return client


def _receipt_of(client, url) -> tuple[Receipt, str]:
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    receipt = Receipt.objects.get(number=re.search(r'receipt-(\d+)\.pdf',
                                                   response["Content-Disposition"]).group(1))
    assert response.content == bytes(receipt.pdf) and receipts.receipt_intact(receipt)
    verdict = receipts.receipt_verify_code(code=receipt.code, ip=None, at=clock.now())
    assert verdict.genuine
    return receipt, pdf_text(response.content)


@pytest.mark.req("FC-05")
def test_a_receipt_for_each_debit_and_credit_of_the_statement(operator_client, company,
                                                              movements, authoriser):
    page = operator_client.get(f"/corp/accounts/{company.basic.pk}/").content.decode()
    links = receipt_links(page)  # newest first: the credit from ICBC, own transfer, payment
    assert len(links) == 3
    incoming, incoming_text = _receipt_of(operator_client, links[0])
    assert incoming.reference == f"incoming:{movements.incoming.pk}"
    assert "来账电子回单" in incoming_text and "钱七" in incoming_text
    assert "中国工商银行" in incoming_text and "捌佰捌拾捌元整" in incoming_text
    credit, credit_text = _receipt_of(operator_client, links[1])
    assert credit.reference == f"transfer:{movements.own.pk}:credit"
    assert "收款电子回单" in credit_text and company.general.number in credit_text
    assert "入账成功" in credit_text and "伍仟元整" in credit_text
    debit, debit_text = _receipt_of(operator_client, links[2])
    assert debit.reference == f"transfer:{movements.paid.pk}"
    assert "转账电子回单" in debit_text and company.name in debit_text
    assert "李四" in debit_text and "壹仟贰佰叁拾肆元伍角陆分" in debit_text
    # the general account's side of the own transfer: the company's payment receipt
    general = operator_client.get(f"/corp/accounts/{company.general.pk}/").content.decode()
    (own_link,) = receipt_links(general)
    own, _text = _receipt_of(operator_client, own_link)
    assert own.reference == f"transfer:{movements.own.pk}"
    downloads = AuditEvent.objects.filter(action="payments.receipt.downloaded")
    assert downloads.count() == 4 and {e.actor for e in downloads} == {authoriser.actor}


@pytest.mark.req("FC-05")
def test_the_executed_instruction_links_its_receipt(operator_client, movements):
    page = operator_client.get(f"/corp/instructions/{movements.instruction_id}/")
    href = f"/corp/receipts/transfers/{movements.paid.pk}.pdf"
    assert f'href="{href}"' in page.content.decode()
    receipt, text = _receipt_of(operator_client, href)
    assert receipt.reference == f"transfer:{movements.paid.pk}" and "交易成功" in text


@pytest.mark.req("FC-05", "SE-09")
def test_receipts_only_of_what_the_operator_sees(client, company, checker, key_of, movements,
                                                 other_company, payee):
    OperatorScope.objects.filter(operator=checker, account=company.basic).delete()
    sign_in(client, checker, key_of(checker))
    basic_line = movements.paid.journal_id
    assert client.get(f"/corp/accounts/{company.basic.pk}/receipts/{basic_line}.pdf"
                      ).status_code == 404
    # the payment from the basic account (out of scope), by its transfer
    assert client.get(f"/corp/receipts/transfers/{movements.paid.pk}.pdf").status_code == 404
    # a movement of another account passed off as one of an account in scope
    assert client.get(f"/corp/accounts/{company.general.pk}/receipts/{basic_line}.pdf"
                      ).status_code == 404
    assert client.get(f"/corp/accounts/{other_company.basic.pk}/receipts/{basic_line}.pdf"
                      ).status_code == 404
    assert not Receipt.objects.exists()
    own = client.get(f"/corp/receipts/transfers/{movements.own.pk}.pdf")  # general: in scope
    assert own.status_code == 200


@pytest.mark.req("FC-05")
def test_a_deposit_has_no_receipt_and_a_person_never_gets_the_companys(
        operator_client, company, movements, payee):
    from wangyin.ledger.models import Posting

    deposit = Posting.objects.filter(account=company.basic.ledger_account,
                                     journal__type="DEPOSIT").get().journal_id
    assert operator_client.get(f"/corp/accounts/{company.basic.pk}/receipts/{deposit}.pdf"
                               ).status_code == 404
    with pytest.raises(ReceiptNotAvailable):
        payment_receipts.account_receipt(person_id=payee.person_id,
                                         account_id=company.basic.pk,
                                         journal_id=movements.paid.journal_id,
                                         actor="customer:1", ip=None, at=clock.now())


@pytest.mark.req("FC-05", "FP-03")
def test_the_payee_here_gets_a_credit_receipt_too(movements, payee):
    """The personal channel's payee side: 李四's receipt of the company's payment."""
    receipt = payment_receipts.credit_receipt(person_id=payee.person_id,
                                              transfer_id=movements.paid.pk,
                                              actor="customer:9", ip=None, at=clock.now())
    fields = {f["key"]: f["value"] for f in receipt.data["fields"]}
    assert receipt.data["title"] == "收款电子回单" and fields["payee_name"] == "李四"
    assert fields["payer_name"] == movements.paid.debit_account.company.name
    assert "fee" not in fields
    with pytest.raises(ReceiptNotAvailable):  # the payer is not the payee
        payment_receipts.credit_receipt(company_id=movements.paid.company_id,
                                        transfer_id=movements.paid.pk, actor="operator:1",
                                        ip=None, at=clock.now())


@pytest.mark.req("FC-05")
def test_the_periods_receipts_as_one_zip(operator_client, company, movements):
    response = operator_client.get(f"/corp/accounts/{company.basic.pk}/receipts.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    assert f"receipts-{company.basic.number[-4:]}-" in response["Content-Disposition"]
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = bundle.namelist()
    assert len(names) == 3
    assert all(re.fullmatch(r"\d{8}_-?\d+\.\d{2}_\d{18}\.pdf", name) for name in names)
    assert [name.split("_")[1] for name in names] == ["-1234.56", "5000.00", "888.00"]
    for name in names:
        receipt = Receipt.objects.get(number=name.split("_")[2][:-4])
        assert bundle.read(name) == bytes(receipt.pdf)  # byte for byte: it verifies
        verdict = receipts.receipt_verify_pdf(document=bundle.read(name), ip=None,
                                              at=clock.now())
        assert verdict.genuine
    event = AuditEvent.objects.filter(action="corporate.receipts.downloaded").get()
    assert event.details["receipts"] == 3
    assert not AuditEvent.objects.filter(action="payments.receipt.downloaded").exists()
    again = operator_client.get(f"/corp/accounts/{company.basic.pk}/receipts.zip",
                                {"direction": "IN"})
    assert len(zipfile.ZipFile(io.BytesIO(b"".join(again.streaming_content))).namelist()) == 2
    assert Receipt.objects.count() == 3  # issued once each


@pytest.mark.req("FC-05")
def test_the_zip_is_bounded_and_says_so(operator_client, company, movements, monkeypatch):
    monkeypatch.setattr(documents, "RECEIPTS_ZIP_MAX", 2)
    url = f"/corp/accounts/{company.basic.pk}/receipts.zip"
    response = operator_client.get(url)
    text = response.content.decode()
    assert response.status_code == 400 and 'id="download-error"' in text
    assert "最多 2 笔" in text and not Receipt.objects.exists()
    assert operator_client.get(url, {"direction": "OUT"}).status_code == 200
    none = operator_client.get(url, {"since": "2020-01-01", "until": "2020-01-31"})
    assert none.status_code == 404 and "没有电子回单" in none.content.decode()
    assert AuditEvent.objects.filter(action="corporate.receipts.downloaded").count() == 1
