"""A payroll batch in Chromium (FC-04, TX-02): the entering operator signs in with their
USB-Key, uploads a payroll file with a mistyped account, sees that row first with what is
wrong, removes it and submits the batch; the authorising operator opens it from the
approval queue, checks the file's digest, total and rows, and their key signs it on its
own window through the U盾 agent; the worker's job pays the rows, and the result file is
downloaded from the batch's page."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

import csv
import io

import pytest

from tests.browser.corporate import key_agent, sign_in, sign_on_key
from tests.browser.test_login import _shot
from tests.corporate.approving import payee  # noqa: F401 -- fixture
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    authoriser,
    company,
    enterer,
    now,
    service,
)
from wangyin.corporate import batches, tasks
from wangyin.corporate.models import Instruction, InstructionStatus
from wangyin.corporate.models.batches import BatchRow
from wangyin.customers.services import personal_account_open

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agents(tmp_path, live_server, enterer, authoriser, now):
    with key_agent(enterer, serial="UK79000200", device=tmp_path / "usbkey-0.json",
                   origin=live_server.url, at=now) as entering, \
         key_agent(authoriser, serial="UK79000201", device=tmp_path / "usbkey-1.json",
                   origin=live_server.url, at=now) as authorising:
        yield {enterer.pk: entering, authoriser.pk: authorising}


@pytest.fixture
def staff(make_person, now, payee):
    """Three employees paid at this bank: 李四 (``payee``), 王五 and 赵敏."""
    accounts = [payee]
    for n, name in enumerate(("王五", "赵敏")):
        person = make_person(id_type="PASSPORT", id_number=f"E3234567{n}", name=name,
                             phone=f"1390000001{n}")
        accounts.append(personal_account_open(person_id=person.pk, product="PERSONAL_I",
                                              face_to_face=True, actor="staff:1",
                                              opened_at=now))
    return accounts


def _payroll(path, staff):
    li, wang, zhao = staff
    rows = [["李四", li.number, "", "8500.00", "工资"],
            ["王五", wang.number[:-2] + wang.number[-1] + wang.number[-2], "", "9200.50",
             "工资"],  # the last two digits swapped
            ["赵敏", zhao.number, "", "7300.00", "工资"]]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(batches.TEMPLATE_HEADER)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())
    return path


def _sign_in(page, live_server, operator, settings, agents):
    settings.USBKEY_AGENT_URL = agents[operator.pk]
    sign_in(page, live_server, operator)


@pytest.mark.req("FC-04", "FC-02", "TX-02", "CH-02")
def test_a_payroll_file_is_corrected_submitted_authorised_with_the_key_and_paid(
    page, live_server, settings, tmp_path, company, enterer, authoriser, staff, agents
):
    payroll = _payroll(tmp_path / "payroll-march.csv", staff)
    _sign_in(page, live_server, enterer, settings, agents)
    page.click("#nav-batches")
    page.wait_for_url("**/corp/batches/")
    page.select_option("#id_debit_account", str(company.basic.pk))
    page.fill("#id_purpose", "三月工资")
    page.set_input_files("#id_file", str(payroll))
    _shot(page, "corp-batch-upload")
    page.click("#batch-upload-submit")
    page.wait_for_url("**/corp/batches/*/")
    instruction = Instruction.objects.get()
    invalid = page.locator("#batch-invalid")
    assert invalid.is_visible() and "1 行有错误" in invalid.inner_text()
    assert page.locator("#invalid-3").is_visible()  # 王五's row: line 3 of the file
    assert "王五" in page.inner_text("#invalid-3")
    assert "15,800.00" in page.inner_text("#batch-total")  # 李四 and 赵敏 only
    assert "壹万伍仟捌佰元整" in page.inner_text("#batch-words")
    _shot(page, "corp-batch-preview")
    page.click("#batch-submit")  # refused while a row is in error
    page.wait_for_url(f"**/corp/batches/{instruction.pk}/")
    assert page.locator("#batch-notice").is_visible()
    _shot(page, "corp-batch-refused")
    page.click("#remove-invalid")
    page.wait_for_url(f"**/corp/batches/{instruction.pk}/")
    assert page.locator("#batch-invalid").count() == 0
    assert "已移除" in page.inner_text("#row-3")
    _shot(page, "corp-batch-removed")
    page.click("#batch-submit")
    page.wait_for_url(f"**/corp/instructions/{instruction.pk}/")
    assert "已录入，待授权" in page.inner_text("#instruction-status")
    _shot(page, "corp-batch-entered")
    page.click("#corp-logout")
    page.wait_for_url("**/corp/signed-out/")

    _sign_in(page, live_server, authoriser, settings, agents)
    page.click("#nav-approvals")
    page.wait_for_url("**/corp/approvals/")
    page.click(f"#approval-queue a[href='/corp/approvals/{instruction.pk}/']")
    page.wait_for_url(f"**/corp/approvals/{instruction.pk}/")
    instruction.refresh_from_db()
    assert instruction.batch.file_sha256 in page.inner_text("#batch-digest")
    assert "壹万伍仟捌佰元整" in page.inner_text("#instruction-words")
    assert "赵敏" in page.inner_text("#batch-row-table")
    _shot(page, "corp-batch-approval")
    shown = sign_on_key(page, "corp-batch-key-window")
    assert "15,800.00" in shown and "审批企业付款" in shown
    page.click("#approve-confirm")
    page.wait_for_url(f"**/corp/instructions/{instruction.pk}/")
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.AUTHORISED

    # The worker runs the job the authorisation left (corporate.execute_instruction).
    tasks.execute_instruction(instruction_id=instruction.pk)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.EXECUTED
    page.reload()
    assert "2 笔" in page.inner_text("#batch-paid")
    assert "已付款" in page.inner_text("#row-2") and "已付款" in page.inner_text("#row-4")
    _shot(page, "corp-batch-paid")
    with page.expect_download() as download:
        page.click("#result-csv")
    content = download.value.path().read_bytes().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(content)))
    assert lines[0] == batches.RESULT_HEADER
    paid = {line[1]: line[6] for line in lines[1:]}
    assert paid["李四"] == paid["赵敏"] == "已付款" and paid["王五"] != "已付款"
    assert download.value.suggested_filename.endswith(".csv")
    assert BatchRow.objects.filter(status="PAID").count() == 2
    assert page.console_problems == []
