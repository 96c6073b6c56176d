"""Electronic receipts in Chromium: the payer downloads the receipt from the transfer's
result page; anyone checks it on the public verify page by code or by file, with
screenshots of each verdict."""

import pytest

from tests.browser.test_login import _shot, enrolled, signed_in  # noqa: F401
from tests.payments.conftest import instruction, pay
from wangyin.customers.models import CustomerAccount
from wangyin.customers.services import personal_account_open
from wangyin.receipts import codes
from wangyin.receipts.models import Receipt

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.req("FP-03", "CH-01", "PI-03")
def test_download_a_receipt_then_verify_it(page, browser, live_server, enrolled,  # noqa: F811
                                           make_person, fund, at):
    user = signed_in(page, live_server.url, enrolled)
    mine = CustomerAccount.objects.get(person_id=user.person_id)
    fund(mine.ledger_account, "5000.00")
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                        phone="13900000001")
    theirs = personal_account_open(person_id=other.pk, product="PERSONAL_I",
                                   face_to_face=True, actor="staff:1", opened_at=at)
    transfer = pay(user, instruction(mine, theirs, memo="十一月房租"), at)

    page.goto(f"{live_server.url}/transfers/{transfer.pk}/")
    link = page.locator("#receipt-link")
    assert link.inner_text() == "下载电子回单（PDF）"
    _shot(page, "receipt-transfer-done")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("receipt-")
    document = open(download.path(), "rb").read()
    receipt = Receipt.objects.get()
    assert document == bytes(receipt.pdf)

    # Anyone, not signed in: from the landing page to the verify page.
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    public = context.new_page()
    problems = []
    public.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    public.goto(live_server.url + "/")
    public.click("#verify-receipt-link")
    public.wait_for_url("**/receipts/verify/")
    assert public.locator("h1").inner_text() == "电子回单验证"
    _shot(public, "receipt-verify")

    public.fill("#id_code", codes.grouped(receipt.code).lower())
    public.click("#verify-submit")
    public.wait_for_load_state()
    assert public.locator("#verdict-title").inner_text() == "真实有效"
    verdict = public.locator("#verdict").inner_text()
    assert "¥1,234.56" in verdict and "*四" in verdict and theirs.number not in verdict
    assert "人民币壹仟贰佰叁拾肆元伍角陆分" in verdict
    _shot(public, "receipt-verify-code-genuine")

    public.set_input_files("#id_document", download.path())
    public.click("#verify-submit")
    public.wait_for_load_state()
    assert public.locator("#verdict-title").inner_text() == "真实有效"
    _shot(public, "receipt-verify-file-genuine")

    altered = document.replace(b"%%EOF", b"%%EOF\n")
    public.set_input_files("#id_document", files=[{
        "name": "receipt.pdf", "mimeType": "application/pdf", "buffer": altered}])
    public.click("#verify-submit")
    public.wait_for_load_state()
    assert public.locator("#verdict-title").inner_text() == "不是真实回单"
    assert receipt.number in public.locator("#verdict").inner_text()
    _shot(public, "receipt-verify-file-altered")

    public.fill("#id_code", "7K3M-9QXD-2F8H-WN4P")
    public.click("#verify-submit")
    public.wait_for_load_state()
    assert public.locator("#verdict-title").inner_text() == "不是真实回单"
    _shot(public, "receipt-verify-code-unknown")
    assert problems == [] and page.console_problems == []
    context.close()
