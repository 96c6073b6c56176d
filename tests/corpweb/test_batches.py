"""Batch payments and payroll in the corporate web bank (FC-04) through the Django test
client: the template files, uploading a valid and an invalid file, the draft's preview
(invalid rows first with their line and what is wrong, the total in figures and in
capitals, paged rows), removing rows, submitting, one batch for a double submit, file-level
refusals and the size limit, the approval and instruction pages of a batch, the result
file after execution, and the pages each role or another company may not use looking
missing."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

import codecs
import csv
import io
import re
from datetime import date

import pytest
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from tests.conftest import _check, _uscc
from tests.corporate.approving import approve, payee  # noqa: F401 -- fixture
from tests.corporate.conftest import PASSWORD
from wangyin.audit.models import AuditEvent
from wangyin.corporate import batches, counter
from wangyin.corporate.models import Instruction, InstructionStatus, Operator
from wangyin.corporate.models.batches import BatchRow
from wangyin.corpweb import batches as batch_pages
from wangyin.customers import services as customers
from wangyin.customers.services import personal_account_open

from .conftest import sign_in

pytestmark = pytest.mark.django_db

HEADER = ["收款人户名", "收款账号", "收款行行号", "金额", "用途"]


def csv_file(rows, header=HEADER) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return codecs.BOM_UTF8 + out.getvalue().encode()


def xlsx_file(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _key(page: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)


@pytest.fixture
def wang(make_person, now):
    """王五, a second payee at this bank."""
    person = make_person(
        id_type="PASSPORT", id_number="E22345678", name="王五", phone="13900000002"
    )
    return personal_account_open(
        person_id=person.pk, product="PERSONAL_I", face_to_face=True, actor="staff:1", opened_at=now
    )


@pytest.fixture
def entering(client, service, enterer, authoriser, key_of):
    sign_in(client, enterer, key_of(enterer))
    return client


def upload(client, company, data: bytes, *, name="payroll.csv", purpose="三月工资", key=None):
    page = client.get("/corp/batches/").content.decode()
    return client.post(
        "/corp/batches/",
        {
            "debit_account": str(company.basic.pk),
            "purpose": purpose,
            "file": SimpleUploadedFile(name, data, "text/csv"),
            "idempotency_key": key or _key(page),
        },
    )


def good_rows(payee, wang):
    return [["李四", payee.number, "", "8500.00", "工资"], ["王五", wang.number, "", "9200.50", ""]]


@pytest.mark.req("FC-04")
@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_the_template_files_download_with_their_columns(entering, fmt, content_type):
    page = entering.get("/corp/batches/").content.decode()
    assert f'href="/corp/batches/template.{fmt}"' in page
    response = entering.get(f"/corp/batches/template.{fmt}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert f".{fmt}" in response["Content-Disposition"]
    if fmt == "csv":
        first = response.content.decode("utf-8-sig").splitlines()[0]
    else:
        sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
        first = ",".join(str(c.value) for c in sheet[1])
    assert first == ",".join(batches.TEMPLATE_HEADER)
    assert entering.get("/corp/batches/template.pdf").status_code == 404


@pytest.mark.req("FC-04")
def test_a_valid_file_is_previewed_with_its_total_in_words_and_submitted(
    entering, company, payee, wang
):
    response = upload(entering, company, csv_file(good_rows(payee, wang)))
    instruction = Instruction.objects.get()
    assert response.status_code == 302 and response.url == f"/corp/batches/{instruction.pk}/"
    assert instruction.kind == "BATCH" and instruction.status == InstructionStatus.DRAFT
    assert instruction.amount_fen == 1770050
    page = entering.get(response.url).content.decode()
    assert "payroll.csv" in page and instruction.batch.file_sha256 in page
    assert "17,700.50" in page and "壹万柒仟柒佰元伍角" in page  # the total in capitals
    assert 'id="batch-invalid"' not in page
    assert 'id="row-2"' in page and 'id="row-3"' in page  # line 1 is the header
    assert "三月工资" in page  # the batch's purpose fills an empty row purpose

    submitted = entering.post(f"/corp/batches/{instruction.pk}/submit/")
    assert submitted.status_code == 302 and submitted.url == f"/corp/instructions/{instruction.pk}/"
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.ENTERED
    detail = entering.get(submitted.url).content.decode()
    assert 'id="instruction-notice"' in detail and "批量" in detail
    assert 'id="batch-file"' in detail and instruction.batch.file_sha256 in detail
    assert 'id="batch-row-table"' in detail and "李四" in detail
    # Once entered, the preview is the instruction's page.
    assert entering.get(f"/corp/batches/{instruction.pk}/").url == submitted.url
    mine = entering.get("/corp/batches/").content.decode()
    assert f'href="/corp/instructions/{instruction.pk}/"' in mine and "payroll.csv" in mine


@pytest.mark.req("FC-04")
def test_invalid_rows_come_first_with_their_line_and_block_the_submit_until_removed(
    entering, company, payee, wang
):
    rows = good_rows(payee, wang) + [
        ["赵六", "6222000000000000000", "", "100.00", "工资"],  # no such account here
        ["李四", payee.number, "", "12.345", "工资"],  # three decimals
    ]
    response = upload(entering, company, xlsx_file(rows), name="payroll.xlsx")
    instruction = Instruction.objects.get()
    assert response.url == f"/corp/batches/{instruction.pk}/"
    page = entering.get(response.url).content.decode()
    invalid = re.search(r'id="batch-invalid".*?</table>', page, re.S).group(0)
    assert 'id="invalid-4"' in invalid and 'id="invalid-5"' in invalid
    assert 'id="invalid-2"' not in invalid
    assert "12.345" in invalid  # what was typed, since it could not be read
    for line in (4, 5):
        error = BatchRow.objects.get(batch__instruction=instruction, line=line).error
        assert error and error in invalid
    assert "2 行有错误" in page or "2 rows have errors" in page
    assert instruction.amount_fen == 1770050  # only the valid rows count

    refused = entering.post(f"/corp/batches/{instruction.pk}/submit/")
    assert refused.url == f"/corp/batches/{instruction.pk}/"
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.DRAFT
    notice = re.search(r'id="batch-notice">([^<]+)<', entering.get(refused.url).content.decode())
    assert notice and notice.group(1).strip()

    removed = entering.post(f"/corp/batches/{instruction.pk}/remove/", {"action": "invalid"})
    assert removed.url == f"/corp/batches/{instruction.pk}/"
    statuses = dict(
        BatchRow.objects.filter(batch__instruction=instruction).values_list("line", "status")
    )
    assert statuses == {2: "VALID", 3: "VALID", 4: "REMOVED", 5: "REMOVED"}
    after = entering.get(removed.url).content.decode()
    assert 'id="batch-invalid"' not in after and "17,700.50" in after
    notice = re.search(r'id="batch-notice">([^<]+)<', after).group(1)
    assert "2 笔" in notice and "¥17,700.50" in notice
    assert entering.post(f"/corp/batches/{instruction.pk}/submit/").status_code == 302
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.ENTERED


@pytest.mark.req("FC-04")
def test_the_operator_removes_the_rows_ticked_and_the_total_follows(entering, company, payee, wang):
    upload(entering, company, csv_file(good_rows(payee, wang)))
    instruction = Instruction.objects.get()
    page = entering.get(f"/corp/batches/{instruction.pk}/").content.decode()
    assert 'name="line" value="3"' in page
    none = entering.post(f"/corp/batches/{instruction.pk}/remove/", {"action": "chosen"})
    assert none.status_code == 302
    assert BatchRow.objects.filter(status="REMOVED").count() == 0
    entering.post(f"/corp/batches/{instruction.pk}/remove/", {"action": "chosen", "line": ["3"]})
    instruction.refresh_from_db()
    assert instruction.amount_fen == 850000
    page = entering.get(f"/corp/batches/{instruction.pk}/").content.decode()
    assert "8,500.00" in page and "捌仟伍佰元整" in page
    removed = entering.get(f"/corp/batches/{instruction.pk}/?rows=REMOVED").content.decode()
    rows = re.search(r'id="batch-row-table".*?</table>', removed, re.S).group(0)
    assert 'id="row-3"' in rows and 'id="row-2"' not in rows


@pytest.mark.req("FC-04")
def test_the_rows_are_paged(entering, company, payee):
    rows = [["李四", payee.number, "", f"{n}.00", "工资"] for n in range(1, 56)]
    upload(entering, company, csv_file(rows))
    instruction = Instruction.objects.get()
    first = entering.get(f"/corp/batches/{instruction.pk}/").content.decode()
    assert 'id="row-51"' in first and 'id="row-52"' not in first and 'id="rows-next"' in first
    second = entering.get(f"/corp/batches/{instruction.pk}/?page=2").content.decode()
    assert 'id="row-52"' in second and 'id="row-56"' in second and 'id="row-2"' not in second


@pytest.mark.req("FC-04", "TX-11")
def test_a_double_submit_of_the_upload_makes_one_batch(entering, company, payee, wang):
    page = entering.get("/corp/batches/").content.decode()
    key = _key(page)
    data = csv_file(good_rows(payee, wang))
    first = upload(entering, company, data, key=key)
    second = upload(entering, company, data, key=key)
    assert first.url == second.url
    assert Instruction.objects.count() == 1


@pytest.mark.req("FC-04")
@pytest.mark.parametrize(
    ("data", "name"),
    [
        (csv_file([["李四", "1", "", "1.00"]], header=["名字", "别的"]), "payroll.csv"),  # columns
        (b"", "payroll.csv"),
        (b"\xd0\xcf\x11\xe0 an old .xls", "payroll.xls"),
    ],
)
def test_a_file_the_bank_cannot_read_is_refused_next_to_the_file_and_makes_nothing(
    entering, company, data, name
):
    response = upload(entering, company, data, name=name)
    assert response.status_code == 400
    error = re.search(r'id="id_file-error"[^>]*>([^<]+)<', response.content.decode())
    assert error is not None and error.group(1).strip()
    assert not Instruction.objects.exists()
    assert _key(response.content.decode())  # a new key for the next try


@pytest.mark.req("FC-04")
def test_a_file_over_the_limit_is_refused_on_the_server(
    entering, company, payee, wang, monkeypatch
):
    data = csv_file(good_rows(payee, wang))
    monkeypatch.setattr(batch_pages, "MAX_FILE_BYTES", len(data) - 1)
    response = upload(entering, company, data)
    assert response.status_code == 400
    assert 'id="id_file-error"' in response.content.decode()
    monkeypatch.setattr(batch_pages, "MAX_REQUEST", 100)
    response = upload(entering, company, data)
    assert response.status_code == 413 and 'id="batch-error"' in response.content.decode()
    assert not Instruction.objects.exists()


@pytest.mark.req("FC-04", "FC-02")
@pytest.mark.parametrize("who", ["checker", "authoriser", "admin"])
def test_only_an_entering_operator_reaches_the_batch_pages(
    client, request, entering, company, payee, wang, key_of, who
):
    upload(entering, company, csv_file(good_rows(payee, wang)))
    instruction = Instruction.objects.get()
    entering.post("/corp/logout/")
    operator = request.getfixturevalue(who)
    sign_in(client, operator, key_of(operator))
    home = client.get("/corp/home/").content.decode()
    assert 'id="nav-batches"' not in home
    assert client.get("/corp/batches/").status_code == 404
    assert client.get("/corp/batches/template.csv").status_code == 404
    posted = client.post(
        "/corp/batches/",
        {
            "debit_account": str(company.basic.pk),
            "purpose": "x",
            "file": SimpleUploadedFile("p.csv", csv_file(good_rows(payee, wang))),
            "idempotency_key": "k-other",
        },
    )
    assert posted.status_code == 404
    for path in ("remove/", "submit/"):
        assert (
            client.post(f"/corp/batches/{instruction.pk}/{path}", {"action": "invalid"}).status_code
            == 404
        )
    assert client.get(f"/corp/batches/{instruction.pk}/").status_code == 404
    assert Instruction.objects.count() == 1
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.DRAFT
    assert not BatchRow.objects.filter(status="REMOVED").exists()


@pytest.mark.req("FC-04", "FC-02")
def test_the_enterers_own_menu_has_batch_payments(entering):
    home = entering.get("/corp/home/").content.decode()
    assert 'id="nav-batches"' in home and "批量付款" in home


@pytest.mark.req("FC-04", "SE-09")
def test_another_companys_operator_never_reaches_the_batch(
    client, entering, company, payee, wang, key_of, make_company, make_person, now
):
    upload(entering, company, csv_file(good_rows(payee, wang)))
    instruction = Instruction.objects.get()
    entering.post("/corp/logout/")
    other = make_company(name="另一家公司", uscc=_uscc("91360702MA35R8LX2"))
    account = customers.corporate_account_open(
        company_id=other.pk, product="CORPORATE_BASIC", actor="staff:1", opened_at=now
    )
    person = make_person(
        name="钱七",
        id_number=_check("36070219800101501"),
        birth_date=date(1980, 1, 1),
        phone="13707970555",
    )
    theirs, _admin, _password = counter.service_open(
        company_id=other.pk,
        edition="STANDARD",
        account_ids=[account.pk],
        admin_person_id=person.pk,
        admin_code="admin",
        staff="staff:1",
        at=now,
    )
    stranger = Operator.objects.create(
        service=theirs,
        person=make_person(
            name="孙八",
            id_number=_check("36070219800101602"),
            birth_date=date(1980, 1, 1),
            phone="13707970556",
        ),
        code="enter9",
        roles=["ENTER", "AUTHORISE"],
        password=make_password(PASSWORD),
        must_change_password=False,
        password_changed_at=now,
        created_at=now,
        created_by="staff:1",
    )
    sign_in(client, stranger, key_of(stranger))
    assert client.get("/corp/batches/").status_code == 200
    for path in (
        f"/corp/batches/{instruction.pk}/",
        f"/corp/instructions/{instruction.pk}/",
        f"/corp/approvals/{instruction.pk}/",
        f"/corp/instructions/{instruction.pk}/result.csv",
    ):
        assert client.get(path).status_code == 404, path
    for path in ("remove/", "submit/"):
        assert (
            client.post(f"/corp/batches/{instruction.pk}/{path}", {"action": "invalid"}).status_code
            == 404
        )
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.DRAFT


@pytest.mark.req("FC-04", "TX-02")
def test_the_approver_sees_the_batch_and_after_execution_everyone_downloads_the_result(
    client, entering, company, payee, wang, authoriser, key_of, sign, now
):
    upload(entering, company, csv_file(good_rows(payee, wang)))
    instruction = Instruction.objects.get()
    entering.post(f"/corp/batches/{instruction.pk}/submit/")
    assert entering.get(f"/corp/instructions/{instruction.pk}/result.csv").status_code == 404
    entering.post("/corp/logout/")

    sign_in(client, authoriser, key_of(authoriser))
    queue = client.get("/corp/approvals/").content.decode()
    assert f"/corp/approvals/{instruction.pk}/" in queue and "批量付款" in queue
    page = client.get(f"/corp/approvals/{instruction.pk}/").content.decode()
    assert 'id="usbkey-sign"' in page  # signed on the key as a single payment is
    assert instruction.batch.file_sha256 in page and "17,700.50" in page
    assert 'id="batch-row-table"' in page and "王五" in page
    approve(authoriser, instruction, sign, now)
    batches.batch_execute(instruction.pk, now, limit=None)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.EXECUTED

    detail = client.get(f"/corp/instructions/{instruction.pk}/").content.decode()
    outcome = re.search(r'id="batch-outcome".*?</div>', detail, re.S).group(0)
    assert "2" in re.search(r'id="batch-paid">([^<]+)<', outcome).group(1)
    assert 'id="batch-failed"' not in outcome
    assert f"/corp/instructions/{instruction.pk}/result.xlsx" in outcome

    response = client.get(f"/corp/instructions/{instruction.pk}/result.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == batches.RESULT_HEADER
    assert [line[:3] for line in lines[1:]] == [
        ["2", "李四", payee.number],
        ["3", "王五", wang.number],
    ]
    assert all(line[7] for line in lines[1:])  # the transfer that paid each row
    excel = client.get(f"/corp/instructions/{instruction.pk}/result.xlsx")
    assert excel["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(excel.content)).worksheets[0]
    assert sheet.max_row == 3
    assert (
        AuditEvent.objects.filter(
            action="corpweb.batch.result_downloaded", target=f"instruction:{instruction.pk}"
        ).count()
        == 2
    )
    assert client.get(f"/corp/instructions/{instruction.pk}/result.pdf").status_code == 404


@pytest.mark.req("FC-04", "FC-02")
def test_the_enterer_cancels_a_draft_batch_with_a_reason(entering, company, payee, wang):
    upload(entering, company, csv_file(good_rows(payee, wang)))
    instruction = Instruction.objects.get()
    page = entering.get(f"/corp/batches/{instruction.pk}/").content.decode()
    assert f'action="/corp/payments/{instruction.pk}/cancel/"' in page
    refused = entering.post(f"/corp/payments/{instruction.pk}/cancel/", {"reason": " "})
    assert refused.status_code == 400
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.DRAFT
    done = entering.post(f"/corp/payments/{instruction.pk}/cancel/", {"reason": "文件有误"})
    assert done.url == f"/corp/instructions/{instruction.pk}/"
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.CANCELLED
    assert instruction.end_reason == "文件有误"
    assert entering.post(f"/corp/batches/{instruction.pk}/submit/").status_code == 302
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.CANCELLED  # a cancelled batch stays so
