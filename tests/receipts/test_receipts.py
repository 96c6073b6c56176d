"""Electronic receipts of transfers: issued once, signed by the bank's document key, a PDF
in Chinese; checking a code or a file tells genuine from altered or unknown."""

import io

import pypdf
import pytest
from asn1crypto import pem as asn1_pem
from django.db import Error, transaction
from reportlab.pdfgen import canvas

from tests.payments.conftest import instruction, pay
from tests.race import race
from wangyin.audit.models import AuditEvent
from wangyin.authn import ca
from wangyin.core import clock
from wangyin.core.keys import MissingKey
from wangyin.payments import receipts as payment_receipts
from wangyin.receipts import codes, signing
from wangyin.receipts import services as receipts
from wangyin.receipts.errors import ReceiptNotAvailable
from wangyin.receipts.models import Receipt

pytestmark = pytest.mark.django_db


@pytest.fixture
def transfer(payer, payee, at):
    user, account = payer
    return pay(user, instruction(account, payee, memo="十一月房租"), at)


def _receipt(transfer, **overrides):
    args = {"person_id": transfer.person_id, "transfer_id": transfer.pk,
            "actor": f"customer:{transfer.person_id}", "ip": "203.0.113.9", "at": clock.now()}
    return payment_receipts.transfer_receipt(**{**args, **overrides})


@pytest.mark.req("FP-03")
def test_a_transfer_has_one_receipt_however_often_it_is_asked_for(transfer):
    first = _receipt(transfer)
    again = _receipt(transfer)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.pk == first.pk and Receipt.objects.count() == 1
    assert first.reference == f"transfer:{transfer.pk}"
    assert codes.normalise(first.code) == first.code and len(first.code) == 16
    assert bytes(again.pdf) == bytes(first.pdf)
    assert AuditEvent.objects.filter(action="receipts.issued").count() == 1
    downloads = AuditEvent.objects.filter(action="payments.receipt.downloaded")
    assert downloads.count() == 2 and downloads.first().ip == "203.0.113.9"


@pytest.mark.req("FP-03")
@pytest.mark.django_db(transaction=True)
def test_two_first_downloads_at_once_issue_one_receipt(transfer):
    results, errors = race(2, lambda i: _receipt(transfer).pk)
    assert not errors and results[0] == results[1]
    assert Receipt.objects.count() == 1


@pytest.mark.req("FP-03")
def test_the_signature_verifies_and_fails_when_anything_changed(transfer):
    receipt = Receipt.objects.select_related("signer").get(pk=_receipt(transfer).pk)
    assert receipts.receipt_intact(receipt)
    assert receipt.signer.suite == "sm2"
    certificate = bytes(receipt.signer.certificate)
    assert ca.chain_problem(certificate, receipt.issued_at) == ""  # the bank's CA issued it
    payload = receipts.canonical(receipt.data)
    assert signing.verify(suite="sm2", certificate=certificate,
                          signature=bytes(receipt.signature), data=payload,
                          signed_at=receipt.issued_at)

    amount = next(f for f in receipt.data["fields"] if f["key"] == "amount")
    amount["value"] = "¥9,234.56"
    assert not receipts.receipt_intact(receipt)
    assert not signing.verify(suite="sm2", certificate=certificate,
                              signature=bytes(receipt.signature),
                              data=receipts.canonical(receipt.data),
                              signed_at=receipt.issued_at)
    receipt.refresh_from_db()
    receipt.pdf = bytes(receipt.pdf).replace(b"%%EOF", b"%%EOF\n")
    assert not receipts.receipt_intact(receipt)
    receipt.refresh_from_db()
    receipt.code = codes.new_code()
    assert not receipts.receipt_intact(receipt)


@pytest.mark.req("FP-03")
def test_issued_receipts_cannot_be_changed_or_deleted(transfer):
    receipt = _receipt(transfer)
    for attempt in (lambda: Receipt.objects.filter(pk=receipt.pk).update(code="0" * 16),
                    lambda: Receipt.objects.filter(pk=receipt.pk).delete()):
        with pytest.raises(Error, match="append-only"), transaction.atomic():
            attempt()


@pytest.mark.req("FP-03")
def test_the_pdf_says_it_in_chinese(transfer, payer, payee):
    receipt = _receipt(transfer)
    document = pypdf.PdfReader(io.BytesIO(bytes(receipt.pdf)))
    text = document.pages[0].extract_text()
    _user, account = payer
    for expected in ("网银银行 转账电子回单", "付款人户名", "张伟", "付款账号", account.number,
                     "收款人户名", "李四", "收款账号", payee.number, "收款银行", "网银银行",
                     "金额（小写）", "¥1,234.56", "金额（大写）", "人民币壹仟贰佰叁拾肆元伍角陆分",
                     "附言", "十一月房租", "交易流水号", str(transfer.pk), "交易时间",
                     "2026-11-01 17:30:00", "交易渠道", "网上银行", "交易状态", "交易成功",
                     receipt.number, codes.grouped(receipt.code), "电子签章"):
        assert expected in text, expected
    assert len(document.pages) == 1
    keywords = document.metadata["/Keywords"]
    assert f"number={receipt.number} code={receipt.code} digest={receipt.digest}" in keywords


def test_the_pdf_is_rendered_deterministically(transfer):
    from wangyin.receipts import pdf

    receipt = _receipt(transfer)
    keywords = pypdf.PdfReader(io.BytesIO(bytes(receipt.pdf))).metadata["/Keywords"]
    again = pdf.render(receipt.data, issuer=receipts.ISSUER, keywords=keywords)
    assert again == bytes(receipt.pdf)


@pytest.mark.req("FP-03", "PI-03")
def test_the_original_file_is_genuine_and_shows_masked_details(transfer, payer, payee):
    receipt = _receipt(transfer)
    verdict = receipts.receipt_verify_pdf(document=bytes(receipt.pdf), ip="198.51.100.7",
                                          at=clock.now())
    assert verdict.genuine and verdict.receipt.pk == receipt.pk
    shown = dict(verdict.shown_fields())
    _user, account = payer
    assert shown["付款人户名"] == "*伟" and shown["收款人户名"] == "*四"
    assert shown["付款账号"] == account.number[:4] + "*" * 11 + account.number[-4:]
    assert shown["收款账号"] == payee.number[:4] + "*" * 11 + payee.number[-4:]
    assert shown["金额（小写）"] == "¥1,234.56" and "附言" not in shown
    english = dict(verdict.shown_fields(english=True))
    assert english["Status"] == "Successful" and english["Payer name"] == "*伟"
    event = AuditEvent.objects.get(action="receipts.verified")
    assert (event.result, event.details["outcome"], event.ip) == (
        "SUCCESS", "GENUINE", "198.51.100.7")


@pytest.mark.req("FP-03")
def test_one_changed_byte_makes_the_file_not_genuine(transfer):
    receipt = _receipt(transfer)
    original = bytes(receipt.pdf)
    assert receipts.receipt_verify_pdf(document=original, ip=None, at=clock.now()).genuine
    # The amount in the page's text, or just any byte: the file is no longer the one issued.
    for position in (original.index(b"stream") + 20, len(original) // 2, len(original) - 10):
        altered = bytearray(original)
        altered[position] ^= 0x01
        verdict = receipts.receipt_verify_pdf(document=bytes(altered), ip=None,
                                              at=clock.now())
        assert not verdict.genuine
        # Its metadata still names the receipt: the page can say what it claims to be.
        assert verdict.outcome == receipts.Outcome.ALTERED
        assert verdict.receipt.pk == receipt.pk and verdict.shown_fields() == []


@pytest.mark.req("FP-03")
def test_a_re_saved_or_other_pdf_is_not_genuine(transfer):
    receipt = _receipt(transfer)
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(bytes(receipt.pdf)))
    resaved = io.BytesIO()
    writer.write(resaved)
    assert resaved.getvalue() != bytes(receipt.pdf)
    verdict = receipts.receipt_verify_pdf(document=resaved.getvalue(), ip=None, at=clock.now())
    assert not verdict.genuine and verdict.outcome == receipts.Outcome.ALTERED

    other = io.BytesIO()
    page = canvas.Canvas(other)
    page.drawString(100, 700, "Receipt 1234.56")
    page.save()
    verdict = receipts.receipt_verify_pdf(document=other.getvalue(), ip=None, at=clock.now())
    assert verdict.outcome == receipts.Outcome.UNKNOWN and verdict.receipt is None


@pytest.mark.req("FP-03")
def test_a_code_is_genuine_and_a_wrong_one_unknown(transfer):
    receipt = _receipt(transfer)
    typed = codes.grouped(receipt.code).lower().replace("0", "o").replace("1", "l")
    verdict = receipts.receipt_verify_code(code=typed, ip=None, at=clock.now())
    assert verdict.genuine and verdict.receipt.pk == receipt.pk
    wrong = receipt.code[:-1] + ("A" if receipt.code[-1] != "A" else "B")
    for code in (wrong, "", "not a code", "U" * 16, receipt.code + "0"):
        verdict = receipts.receipt_verify_code(code=code, ip=None, at=clock.now())
        assert verdict.outcome == receipts.Outcome.UNKNOWN and verdict.receipt is None
    failures = AuditEvent.objects.filter(action="receipts.verified", result="FAILURE")
    assert failures.count() == 5
    assert all(receipt.code not in str(event.details) for event in failures)


@pytest.mark.req("FP-03", "SE-09")
def test_only_the_payer_gets_a_receipt_and_only_once_the_money_moved(transfer, payer,
                                                                    payee, settings, at):
    with pytest.raises(ReceiptNotAvailable):
        _receipt(transfer, person_id=payee.person_id)
    settings.RISK_REVIEW_FEN = 100_000  # from ¥1,000 payments wait for a review
    user, account = payer
    held = pay(user, instruction(account, payee), at, key="idem-held")
    assert held.status == "HELD" and not payment_receipts.receipt_available(held)
    with pytest.raises(ReceiptNotAvailable):
        _receipt(held)
    assert Receipt.objects.count() == 0


def _split(pem: str) -> tuple[str, str]:
    at = pem.index("-----BEGIN CERTIFICATE")
    return pem[:at], pem[at:]


@pytest.mark.req("OP-04")
def test_the_signing_key_comes_from_the_environment(monkeypatch):
    key, certificate = _split(signing._create())
    _other_key, other_certificate = _split(signing._create())
    monkeypatch.setenv(signing.ENV, key + certificate)
    signing.signer.cache_clear()
    try:
        current = signing.signer_at(clock.now())
        assert current.certificate == asn1_pem.unarmor(certificate.encode())[2]
        assert ca.chain_problem(current.certificate, clock.now()) == ""
        for wrong in (key + other_certificate, key, certificate):
            monkeypatch.setenv(signing.ENV, wrong)
            signing.signer.cache_clear()
            with pytest.raises(MissingKey):
                signing.signer()
    finally:
        signing.signer.cache_clear()


def test_the_claim_is_read_however_the_metadata_was_written_again():
    claim = "wangyin-receipt/1 number=202611230000000001 code=7K3M9QXD2F8HWN4P"
    expected = ("202611230000000001", "7K3M9QXD2F8HWN4P")
    escaped = "".join(f"\\{ord(c):03o}" if c in "-/=" else c for c in claim)
    utf16 = ("\ufeff" + claim).encode("utf-16-be").hex().upper()
    for written in (f"/Keywords ({claim})", f"/Keywords ({escaped})", f"/Keywords <{utf16}>",
                    f"/Keywords <{claim.encode().hex()}>"):
        assert receipts.claimed(b"%PDF-1.7\n1 0 obj << " + written.encode() + b" >>") == expected
    assert receipts.claimed(b"%PDF-1.4 /Keywords (invoice 2026)") is None
