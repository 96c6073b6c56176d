"""Corporate statements and receipts in Chromium (FC-01, FC-05): an operator signs in with
their USB-Key, opens an account from the home page, filters its history, downloads the
statement as Excel and PDF, one movement's receipt and the period's receipts as a zip, with
screenshots of the account page (corp-statement-*)."""

# ruff: noqa: F401, F811 - pytest fixtures imported as parameters

import io
import zipfile

import pytest
from openpyxl import load_workbook

from tests.browser.corporate import key_agent, sign_in
from tests.browser.test_login import _shot
from tests.corporate.approving import payee
from tests.corporate.conftest import (
    authoriser,
    checker,
    company,
    enterer,
    key_of,
    now,
    service,
    sign,
)
from tests.corpweb.movements import movements, pdf_text
from wangyin.core.paths import var_dir
from wangyin.receipts.models import Receipt

pytestmark = pytest.mark.django_db(transaction=True)


def _download(page, selector: str):
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    with open(download.path(), "rb") as file:
        return download.suggested_filename, file.read()


@pytest.mark.req("FC-01", "FC-05", "CH-02")
def test_an_operator_downloads_statements_and_receipts(page, live_server, settings, tmp_path,
                                                       company, checker, movements, now):
    with key_agent(checker, serial="UK79000200", device=tmp_path / "usbkey-0.json",
                   origin=live_server.url, at=now) as agent:
        settings.USBKEY_AGENT_URL = agent
        sign_in(page, live_server, checker)
    page.click(f"a[href='/corp/accounts/{company.basic.pk}/']")
    page.wait_for_url(f"**/corp/accounts/{company.basic.pk}/")
    assert page.locator("#statement tbody tr").count() == 4
    assert page.locator(".receipt-link").count() == 3
    _shot(page, "corp-statement-account")

    name, workbook = _download(page, "#download-xlsx")
    assert name.startswith(f"statement-{company.basic.number[-4:]}-") and name.endswith(".xlsx")
    cells = [c for row in load_workbook(io.BytesIO(workbook)).active.iter_rows(values_only=True)
             for c in row if c is not None]
    assert company.name in cells and "期末余额" in cells
    name, document = _download(page, "#download-pdf")
    assert name.endswith(".pdf") and company.name in pdf_text(document)
    (var_dir() / "screenshots" / "corp-statement.pdf").write_bytes(document)  # to look at

    name, receipt_pdf = _download(page, ".receipt-link >> nth=0")  # the newest: from ICBC
    receipt = Receipt.objects.get(number=name[len("receipt-"):-len(".pdf")])
    assert receipt_pdf == bytes(receipt.pdf) and receipt.data["title"] == "来账电子回单"

    page.select_option("#id_direction", "OUT")
    page.click("#history-show")
    page.wait_for_load_state()
    assert page.locator("#statement tbody tr").count() == 1
    _shot(page, "corp-statement-filtered")
    page.select_option("#id_direction", "")
    name, archive = _download(page, "#download-receipts")
    assert name.startswith(f"receipts-{company.basic.number[-4:]}-") and name.endswith(".zip")
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert len(names) == 3 and any("_-1234.56_" in n for n in names)
    assert Receipt.objects.count() == 3
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: each line as a card
    page.goto(f"{live_server.url}/corp/accounts/{company.basic.pk}/")
    assert page.locator(".receipt-link").count() == 3
    _shot(page, "corp-statement-phone")
