"""Receipts on the web: the payer downloads a transfer's receipt (nobody else can); the
public verify page checks a code or an uploaded PDF, with CSRF and a per-IP limit."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.payments.conftest import instruction, pay
from tests.web.conftest import PASSWORD, sign_in
from wangyin.audit.models import AuditEvent
from wangyin.customers.services import personal_account_open
from wangyin.receipts import codes
from wangyin.receipts.models import Receipt

pytestmark = pytest.mark.django_db


@pytest.fixture
def transfer(ready_customer, payee, fund, at):
    mine = personal_account_open(person_id=ready_customer.person_id, product="PERSONAL_I",
                                 face_to_face=True, actor="staff:1", opened_at=at)
    fund(mine.ledger_account, "5000.00")
    return pay(ready_customer, instruction(mine, payee), at)


@pytest.fixture
def signed_in(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    return client


def _download(client, transfer):
    return client.get(f"/transfers/{transfer.pk}/receipt.pdf")


@pytest.mark.req("FP-03", "SE-03", "AD-01")
def test_the_payer_downloads_the_receipt_from_the_result_page(signed_in, transfer):
    page = signed_in.get(f"/transfers/{transfer.pk}/").content.decode()
    assert f'href="/transfers/{transfer.pk}/receipt.pdf"' in page
    response = _download(signed_in, transfer)
    receipt = Receipt.objects.get()
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and response.content == bytes(receipt.pdf)
    assert response["Content-Disposition"] == (
        f'attachment; filename="receipt-{receipt.number}.pdf"')
    assert response["Cache-Control"] == "no-store"
    assert _download(signed_in, transfer).content == response.content
    assert Receipt.objects.count() == 1
    downloads = AuditEvent.objects.filter(action="payments.receipt.downloaded",
                                          target=f"transfer:{transfer.pk}")
    assert downloads.count() == 2
    assert downloads.first().actor == f"customer:{transfer.person_id}"


@pytest.mark.req("SE-01", "SE-08", "SE-09", "SE-10")
def test_nobody_else_gets_the_receipt(client, transfer, payee, make_person, at):
    assert _download(client, transfer).url == "/login/"  # not signed in
    from wangyin.identity import services as identity

    other, initial = identity.internet_banking_open(
        person_id=payee.person_id, login_name="lisi_01", edition="PRO",
        risk_acknowledged=True, staff="staff:teller1", reason="counter", at=at)
    identity.password_change(user_id=other.pk, current_password=initial,
                             new_password=PASSWORD, ip=None, at=at)
    sign_in(client, "lisi_01", PASSWORD)
    assert client.get("/home/").status_code == 200  # signed in as the payee
    for path in (f"/transfers/{transfer.pk}/receipt.pdf", "/transfers/999999/receipt.pdf"):
        response = client.get(path)
        assert response.status_code == 404 and b"%PDF" not in response.content
    assert not Receipt.objects.exists()


@pytest.mark.req("FP-03", "SE-09")
def test_a_transfer_held_for_review_has_no_receipt_yet(signed_in, ready_customer, payee,
                                                      fund, at, settings):
    settings.RISK_REVIEW_FEN = 100_000
    mine = personal_account_open(person_id=ready_customer.person_id, product="PERSONAL_I",
                                 face_to_face=True, actor="staff:1", opened_at=at)
    fund(mine.ledger_account, "5000.00")
    held = pay(ready_customer, instruction(mine, payee), at)
    assert held.status == "HELD"
    assert "receipt.pdf" not in signed_in.get(f"/transfers/{held.pk}/").content.decode()
    assert _download(signed_in, held).status_code == 404


def _issue(signed_in, transfer) -> Receipt:
    _download(signed_in, transfer)
    return Receipt.objects.get()


@pytest.mark.req("FP-03", "PI-03")
def test_the_verify_page_checks_a_code_and_masks_the_details(signed_in, transfer, payee):
    receipt = _issue(signed_in, transfer)
    public = Client()
    page = public.get("/receipts/verify/")
    assert page.status_code == 200 and "csrfmiddlewaretoken" in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    response = public.post("/receipts/verify/", {"code": codes.grouped(receipt.code).lower()})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="verdict-title">真实有效<' in html
    assert receipt.number in html and "¥1,234.56" in html and "*伟" in html and "*四" in html
    assert payee.number not in html and "张伟" not in html and "李四" not in html
    assert payee.number[:4] + "*" * 11 + payee.number[-4:] in html
    assert "房租" not in html  # the memo is the customers' business

    public.post("/i18n/language/", {"language": "en", "next": "/"})
    english = public.post("/receipts/verify/", {"code": receipt.code}).content.decode()
    assert 'id="verdict-title">Genuine<' in english and "Payee account" in english


@pytest.mark.req("FP-03")
def test_a_wrong_code_is_not_genuine(client):
    response = client.post("/receipts/verify/", {"code": "7K3M-9QXD-2F8H-WN4P"})
    html = response.content.decode()
    assert 'id="verdict-title">不是真实回单<' in html and "没有" in html
    empty = client.post("/receipts/verify/", {"code": ""})
    assert empty.status_code == 400 and "verdict" not in empty.content.decode()


@pytest.mark.req("FP-03", "SE-10")
def test_an_uploaded_receipt_is_genuine_only_unaltered(signed_in, transfer):
    receipt = _issue(signed_in, transfer)
    public = Client()

    def upload(content, name="receipt.pdf"):
        return public.post("/receipts/verify/", {
            "document": SimpleUploadedFile(name, content, content_type="application/pdf")})

    assert 'id="verdict-title">真实有效<' in upload(bytes(receipt.pdf)).content.decode()
    altered = bytes(receipt.pdf).replace(b"%%EOF", b"%%EOF ")
    html = upload(altered).content.decode()
    assert 'id="verdict-title">不是真实回单<' in html and receipt.number in html
    assert codes.grouped(receipt.code) not in html  # an altered file shows no details
    not_pdf = upload(b"GIF89a...", name="receipt.pdf")
    assert not_pdf.status_code == 400 and "不是 PDF" in not_pdf.content.decode()
    too_big = upload(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024))
    assert too_big.status_code in (400, 413) and "2 MB" in too_big.content.decode()
    huge = upload(b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024))
    assert huge.status_code == 413 and "2 MB" in huge.content.decode()
    verified = AuditEvent.objects.filter(action="receipts.verified")
    assert list(verified.values_list("details__outcome", flat=True).order_by("id")) == [
        "GENUINE", "ALTERED"]


@pytest.mark.req("SE-07")
def test_the_verify_form_needs_its_csrf_token():
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/receipts/verify/", {"code": "7K3M9QXD2F8HWN4P"}).status_code == 403
    assert not AuditEvent.objects.filter(action="receipts.verified").exists()


@pytest.mark.req("SE-11")
def test_codes_cannot_be_guessed_quickly(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "receipt_verify_per_ip": (3, 600)}
    for _ in range(3):
        assert client.post("/receipts/verify/", {"code": codes.new_code()}).status_code == 200
    refused = client.post("/receipts/verify/", {"code": codes.new_code()})
    assert refused.status_code == 429 and "verdict-title" not in refused.content.decode()
    assert AuditEvent.objects.filter(action="receipts.verified").count() == 3


def test_the_landing_page_links_to_the_verify_page(client):
    assert 'href="/receipts/verify/"' in client.get("/").content.decode()
