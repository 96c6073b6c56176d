"""Batch payments and payroll (FC-04, TX-06, TX-09): a file read and checked row by row,
rows removed, submitted as one instruction of its total, signed over the file's digest and
totals, and paid row by row exactly once — across a crash, a second run at once and a row
changed after signing."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate.approving are parameters

import codecs
import csv
import hashlib
import io
import json
from datetime import date
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from openpyxl import Workbook, load_workbook

from tests.conftest import _check
from tests.corporate.approving import approve, enterer2, set_policy, signed
from tests.race import race
from wangyin.audit.models import AuditEvent
from wangyin.corporate import approvals, batches, execution, selectors
from wangyin.corporate.approvals import TierSpec
from wangyin.corporate.errors import (
    AccountNotInScope,
    AdministratorHoldsNoRoles,
    BatchColumnsMissing,
    BatchEmpty,
    BatchFileEmpty,
    BatchFileTooLarge,
    BatchFileUnreadable,
    BatchHasErrors,
    BatchRowNotFound,
    BatchTooManyRows,
    EnterRoleRequired,
    InstructionKeyReused,
    NotYourInstruction,
)
from wangyin.corporate.models import Instruction, InstructionStatus, OperatorScope
from wangyin.corporate.models.batches import Batch, BatchRow, RowStatus
from wangyin.customers.services import personal_account_open
from wangyin.ledger.models import Account, Hold, HoldStatus
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import SmsMessage
from wangyin.payments import directory
from wangyin.payments.models import Bank, Transfer, TransferKind, TransferStatus
from wangyin.risk import lists

HEADER = "收款人户名,收款账号,收款行行号,金额,用途"


@pytest.fixture(autouse=True)
def _payments_ready(request):
    """A service takes payments once it has an operator who authorises them too."""
    if "service" in request.fixturenames:
        request.getfixturevalue("authoriser")


@pytest.fixture
def people(make_person, now):
    """Three personal customers of this bank, each with a Class I account."""
    found = []
    for n, name in enumerate(["王芳", "刘洋", "陈静"], start=1):
        person = make_person(name=name, id_number=_check(f"36070219920202{n:03d}"),
                             birth_date=date(1992, 2, 2), phone=f"1370797{n:04d}")
        account = personal_account_open(person_id=person.pk, product="PERSONAL_I",
                                        face_to_face=True, actor="staff:1", opened_at=now)
        account.holder = name
        found.append(account)
    return found


@pytest.fixture
def other_bank():
    directory.banks_load()
    return Bank.objects.exclude(code=settings.BANK_CNAPS_CODE).order_by("code").first()


def csv_file(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


def pay_rows(people, fen=(1000_00, 2000_00, 3000_00)) -> list[str]:
    return [f"{p.holder},{p.number},,{f // 100}.{f % 100:02d},工资"
            for p, f in zip(people, fen, strict=False)]


def upload(operator, data: bytes, *, at, key="batch-1", name="payroll.csv", account=None,
           purpose="代发工资"):
    debit = account or operator.service.company.basic
    return batches.batch_upload(operator, debit_account_id=debit.pk, purpose=purpose,
                                filename=name, data=data, idempotency_key=key, at=at)


def rows_of(instruction) -> dict[int, BatchRow]:
    return {r.line: r for r in selectors.batch_rows(instruction)}


def _balance(account) -> int:
    return Account.objects.get(pk=account.ledger_account_id).balance


def authorised(enterer, authoriser, sign, now, data, **kwargs) -> Instruction:
    instruction = upload(enterer, data, at=now, **kwargs)
    batches.batch_submit(enterer, instruction.pk, now)
    approve(authoriser, instruction, sign, now)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.AUTHORISED
    return instruction


# --- the file -----------------------------------------------------------------------------


@pytest.mark.req("FC-04")
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_template_reads_back_as_two_rows(fmt):
    name, content_type, data = batches.template_file(fmt)
    assert name.endswith(f".{fmt}") and content_type
    parsed = batches.parse(name, data)
    assert parsed.file_format == fmt.upper()
    assert [(r.line, r.name, r.account, r.bank_code, r.amount_fen, r.purpose)
            for r in parsed.rows] == [
        (2, "张三", "6217000012345678", "", 8500_00, "工资"),
        (3, "李四", "6222020200112233445", "102428000013", 9200_50, "工资")]


def _xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.req("FC-04")
@pytest.mark.parametrize("variant", ["utf-8", "utf-8-bom", "gb18030", "english-tabs", "xlsx"])
def test_csv_in_every_encoding_and_excel_read_the_same(variant):
    rows = ["王芳,6217 0000 1234 5678,,\"1,234.50\",工资", "", "刘洋,6217000012345679,,¥88元,"]
    if variant == "utf-8":
        data = csv_file(*rows)
    elif variant == "utf-8-bom":
        data = codecs.BOM_UTF8 + csv_file(*rows)
    elif variant == "gb18030":
        data = csv_file(*rows, encoding="gb18030")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    elif variant == "english-tabs":
        data = ("Payee name\tAccount number\tBank code\tAmount (yuan)\tPurpose\r\n"
                "王芳\t6217 0000 1234 5678\t\t1,234.50\t工资\r\n\r\n"
                "刘洋\t6217000012345679\t\t¥88元\t\r\n").encode()
    else:
        data = _xlsx([["收款人户名", "收款账号", "开户行行号", "金额（元）", "附言"],
                      ["王芳", "6217 0000 1234 5678", None, 1234.5, "工资"], [],
                      ["刘洋", 6217000012345679 // 10, None, 88, None]])
    parsed = batches.parse("pay.xlsx" if variant == "xlsx" else "pay.csv", data)
    got = [(r.line, r.name, r.account, r.amount_fen, r.purpose, r.error) for r in parsed.rows]
    second = "621700001234567" if variant == "xlsx" else "6217000012345679"
    assert got == [(2, "王芳", "6217000012345678", 1234_50, "工资", None),
                   (4, "刘洋", second, 88_00, "", None)]


@pytest.mark.req("FC-04")
@pytest.mark.parametrize(("data", "error"), [
    (b"", BatchFileEmpty),
    (b"   \r\n", BatchFileEmpty),
    (HEADER.encode() + b"\r\n\r\n", BatchFileEmpty),
    ("姓名,金额\r\n王芳,12.00\r\n".encode(), BatchColumnsMissing),
    (b"hello,world\r\n1,2\r\n", BatchColumnsMissing),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, BatchFileUnreadable),
    (b"PK\x03\x04 not really a workbook", BatchFileUnreadable),
    (b"\x80\x81\xff\xfe" * 20, BatchFileUnreadable),
])
def test_file_level_errors_refuse_the_file(data, error):
    with pytest.raises(error):
        batches.parse("pay.csv", data)


@pytest.mark.req("FC-04")
def test_too_many_rows_or_bytes_refuse_the_file(monkeypatch):
    data = csv_file(*[f"王芳,62170000123456{n:02d},,1.00,工资" for n in range(4)])
    monkeypatch.setattr(batches, "MAX_ROWS", 3)
    with pytest.raises(BatchTooManyRows):
        batches.parse("pay.csv", data)
    monkeypatch.setattr(batches, "MAX_ROWS", 4)
    assert len(batches.parse("pay.csv", data).rows) == 4
    monkeypatch.setattr(batches, "MAX_BYTES", len(data) - 1)
    with pytest.raises(BatchFileTooLarge):
        batches.parse("pay.csv", data)


@pytest.mark.req("FC-04")
def test_file_errors_speak_chinese():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert "表头" in str(BatchColumnsMissing().message)
        assert "CSV" in str(BatchFileUnreadable().message)
        assert "20,000" in str(BatchTooManyRows().message)


# --- checking the rows ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_each_row_is_checked_as_a_payment_and_errors_say_why(service, enterer, people,
                                                            other_bank, now):
    company = service.company
    wang, liu, chen = people
    OperatorScope.objects.filter(operator=enterer, account=company.basic).update(
        per_payment_fen=50_000_00)
    Account.objects.filter(pk=chen.ledger_account_id).update(status="CLOSED")
    lists.entry_add(colour="BLACK", subject="ACCOUNT", value="6228000000000001",
                    reason="涉案", staff="staff:risk1", at=now)
    long_purpose = "工" * 61
    lines = [
        f"{wang.holder},{wang.number},,100.00,工资",  # 2 ok, this bank
        f"{company.name},{company.general.number},,50.00,调拨",  # 3 ok, own account
        f"某某公司,6228000000000009,{other_bank.code},20.00,",  # 4 ok, other bank
        f"{wang.holder},{wang.number},,12.345,工资",  # 5 three decimals
        f"{wang.holder},{wang.number},,-5.00,工资",  # 6 negative
        f"{wang.holder},{wang.number},,0,工资",  # 7 zero
        f"{wang.holder},{wang.number},,十元,工资",  # 8 unreadable
        f"{wang.holder},{wang.number},,,工资",  # 9 missing
        f"{wang.holder},6217999999999999,,1.00,工资",  # 10 no such account here
        f"张冠李戴,{liu.number},,1.00,工资",  # 11 name does not match
        f"{chen.holder},{chen.number},,1.00,工资",  # 12 account closed
        "某某公司,6228000000000009,999999999999,1.00,",  # 13 unknown bank
        f"某某公司,12AB,{other_bank.code},1.00,",  # 14 other bank, bad number
        f",6228000000000009,{other_bank.code},1.00,",  # 15 other bank, no name
        f"{company.name},{company.basic.number},,1.00,工资",  # 16 the debit account itself
        f"{wang.holder},{wang.number},,1.00,{long_purpose}",  # 17 purpose too long
        f"{wang.holder},{wang.number},,50000.01,工资",  # 18 above the operator's limit
        f"{wang.holder},{wang.number},,100000001.00,工资",  # 19 above the bank's maximum
        f"某某公司,6228000000000001,{other_bank.code},1.00,",  # 20 black-listed payee
    ]
    instruction = upload(enterer, csv_file(*lines), at=now)
    rows = rows_of(instruction)
    codes = {line: row.error_code for line, row in rows.items()}
    assert codes == {
        2: "", 3: "", 4: "",
        5: "corporate_batch_amount_unreadable", 6: "corporate_batch_amount_not_positive",
        7: "corporate_batch_amount_not_positive", 8: "corporate_batch_amount_unreadable",
        9: "corporate_batch_amount_unreadable", 10: "payee_not_found",
        11: "payee_name_mismatch", 12: "payee_account_closed", 13: "unknown_bank",
        14: "payee_account_invalid", 15: "payee_name_required", 16: "same_account",
        17: "corporate_purpose_required", 18: "corporate_operator_payment_limit",
        19: "corporate_amount_above_maximum", 20: "payment_blocked"}
    assert {line for line, row in rows.items() if row.status == RowStatus.VALID} == {2, 3, 4}
    assert all(row.error for row in rows.values() if row.status == RowStatus.INVALID)
    # in the bank's language, saying what to do
    assert "两位小数" in rows[5].error and "¥50,000.00" in rows[18].error
    assert rows[8].amount_text == "十元" and rows[8].amount_fen is None
    assert (rows[3].kind, rows[4].kind, rows[2].kind) == (
        TransferKind.OWN, TransferKind.INTERBANK, TransferKind.SAME_BANK)
    assert rows[4].payee_bank == other_bank and rows[4].fee_fen == 200
    assert instruction.kind == "BATCH" and instruction.status == InstructionStatus.DRAFT
    assert instruction.amount_fen == 170_00 and instruction.payee_account == ""
    batch = instruction.batch
    assert batch.rows_count == 19 and batch.file_format == "CSV"
    assert batch.file_sha256 == hashlib.sha256(csv_file(*lines)).hexdigest()
    assert AuditEvent.objects.filter(action="corporate.instruction.uploaded").count() == 1


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_an_account_excel_turned_into_a_number_is_an_error(service, enterer, people, now):
    data = _xlsx([["收款人", "账号", "金额"], ["王芳", 6.217000012345678e15, 10]])
    instruction = upload(enterer, data, at=now, name="pay.xlsx")
    row = rows_of(instruction)[2]
    assert row.status == RowStatus.INVALID
    assert row.error_code == "corporate_batch_account_as_number" and "文本" in row.error


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_the_same_key_returns_the_same_batch_and_another_file_is_refused(service, enterer,
                                                                         people, now):
    data = csv_file(*pay_rows(people))
    first = upload(enterer, data, at=now)
    again = upload(enterer, data, at=now)
    assert again.pk == first.pk and again.replayed and not first.replayed
    with pytest.raises(InstructionKeyReused):
        upload(enterer, csv_file(*pay_rows(people[:2])), at=now)
    assert Instruction.objects.count() == 1 and BatchRow.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.req("FC-02")
def test_only_an_entering_operator_uploads(service, admin, enterer, checker, authoriser,
                                           people, now):
    data = csv_file(*pay_rows(people))
    for operator, error in ((checker, EnterRoleRequired), (authoriser, EnterRoleRequired),
                            (admin, AdministratorHoldsNoRoles)):
        with pytest.raises(error):
            upload(operator, data, at=now, key=f"k-{operator.pk}")
    OperatorScope.objects.filter(operator=enterer, account=service.company.general).delete()
    with pytest.raises(AccountNotInScope):
        upload(enterer, data, at=now, account=service.company.general)
    assert not Instruction.objects.exists() and not Batch.objects.exists()


# --- removing rows and submitting ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_batch_with_errors_is_not_submitted_until_they_are_removed(service, enterer,
                                                                      enterer2, people, now):
    rows = [*pay_rows(people), f"{people[0].holder},{people[0].number},,abc,工资"]
    instruction = upload(enterer, csv_file(*rows), at=now)
    assert instruction.amount_fen == 6000_00
    with pytest.raises(BatchHasErrors):
        batches.batch_submit(enterer, instruction.pk, now)
    with pytest.raises(NotYourInstruction):  # only the enterer
        batches.rows_remove(enterer2, instruction.pk, invalid=True, at=now)
    with pytest.raises(BatchRowNotFound):
        batches.rows_remove(enterer, instruction.pk, lines=[99], at=now)
    batches.rows_remove(enterer, instruction.pk, invalid=True, at=now)
    batches.rows_remove(enterer, instruction.pk, lines=[2], at=now)  # 王芳's 1000.00 out
    instruction.refresh_from_db()
    assert instruction.amount_fen == 5000_00
    assert {line: r.status for line, r in rows_of(instruction).items()} == {
        2: RowStatus.REMOVED, 3: RowStatus.VALID, 4: RowStatus.VALID, 5: RowStatus.REMOVED}
    entered = batches.batch_submit(enterer, instruction.pk, now)
    assert entered.status == InstructionStatus.ENTERED and entered.amount_fen == 5000_00
    data = json.loads(entered.canonical)
    assert data["rows"] == 2 and data["amount_fen"] == 5000_00
    assert [e.action for e in entered.events.all()] == ["uploaded", "rows_removed",
                                                       "rows_removed", "entered"]
    with pytest.raises(NotYourInstruction):  # no longer a draft of theirs to change
        batches.rows_remove(enterer2, instruction.pk, lines=[3], at=now)


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_batch_with_no_row_left_is_not_submitted(service, enterer, people, now):
    instruction = upload(enterer, csv_file(*pay_rows(people[:1])), at=now)
    batches.rows_remove(enterer, instruction.pk, lines=[2], at=now)
    instruction.refresh_from_db()
    assert instruction.amount_fen == 0
    with pytest.raises(BatchEmpty):
        batches.batch_submit(enterer, instruction.pk, now)
    # nothing valid at all: still kept as a draft, its rows to be seen
    bad = upload(enterer, csv_file("王芳,1,,x,工资"), at=now, key="batch-2")
    assert bad.amount_fen == 0 and rows_of(bad)[2].status == RowStatus.INVALID


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_payee_closed_since_the_upload_stops_the_submit_and_is_marked(service, enterer,
                                                                        people, now):
    instruction = upload(enterer, csv_file(*pay_rows(people)), at=now)
    Account.objects.filter(pk=people[1].ledger_account_id).update(status="CLOSED")
    with pytest.raises(BatchHasErrors):
        batches.batch_submit(enterer, instruction.pk, now)
    rows = rows_of(instruction)
    assert rows[3].status == RowStatus.INVALID and rows[3].error_code == "payee_account_closed"
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.DRAFT and instruction.amount_fen == 4000_00


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.req("FC-02")
@pytest.mark.parametrize(("last", "checks"), [("4000.00", 0), ("4000.01", 1)])
def test_the_tier_is_chosen_by_the_total(service, admin, enterer, checker, people, sign, now,
                                         last, checks):
    set_policy(admin, sign, now, TierSpec(up_to_fen=5000_00, checkers=0, authorisers=1),
               TierSpec(checkers=1, authorisers=1))
    rows = [f"{people[0].holder},{people[0].number},,1000.00,工资",
            f"{people[1].holder},{people[1].number},,{last},工资"]
    instruction = upload(enterer, csv_file(*rows), at=now)
    batches.batch_submit(enterer, instruction.pk, now)
    instruction.refresh_from_db()
    assert (instruction.checkers_required, instruction.authorisers_required) == (checks, 1)


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_the_days_limit_counts_the_total(service, enterer, people, now):
    OperatorScope.objects.filter(operator=enterer, account=service.company.basic).update(
        per_day_fen=5000_00)
    instruction = upload(enterer, csv_file(*pay_rows(people)), at=now)  # 6000.00
    from wangyin.corporate.errors import OperatorDailyLimit

    with pytest.raises(OperatorDailyLimit):
        batches.batch_submit(enterer, instruction.pk, now)


# --- what is signed ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.req("TX-06")
def test_the_approvers_signature_covers_the_file_digest_rows_and_total(service, enterer,
                                                                       authoriser, people,
                                                                       sign, now):
    data = csv_file(*pay_rows(people))
    instruction = upload(enterer, data, at=now)
    batches.batch_submit(enterer, instruction.pk, now)
    instruction.refresh_from_db()
    canonical = json.loads(instruction.canonical)
    rows = [json.dumps([line, p.number, p.holder, "", fen, "工资"], ensure_ascii=False,
                       separators=(",", ":"))
            for line, p, fen in zip((2, 3, 4), people, (1000_00, 2000_00, 3000_00),
                                    strict=True)]
    assert canonical["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert canonical["rows_digest"] == hashlib.sha256(
        "".join(r + "\n" for r in rows).encode()).hexdigest()
    assert (canonical["rows"], canonical["amount_fen"], canonical["kind"]) == (3, 6000_00,
                                                                               "BATCH")
    assert instruction.digest == hashlib.sha256(instruction.canonical.encode()).hexdigest()
    sign.key_of(authoriser)
    challenge = approvals.approval_challenge(authoriser, instruction.pk, now)
    assert challenge.digest == instruction.digest
    shown = challenge.sign_payload
    assert "批量付款指令" in shown and "3笔" in shown and "¥6,000.00" in shown
    assert "陆仟元整" in shown and canonical["file_sha256"][:16] in shown
    approvals.approval_verify(authoriser, instruction.pk, challenge.pk,
                              sign(authoriser, challenge)["USBKEY"], now)
    approval = approvals.approve(authoriser, instruction.pk, challenge.pk, now)
    assert approval.digest == instruction.digest
    instruction.refresh_from_db()
    approvals.verify_for_execution(instruction)  # what was signed is what is stored


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.req("TX-06")
def test_a_row_changed_between_entry_and_approval_is_refused(service, enterer, authoriser,
                                                             people, sign, now):
    instruction = upload(enterer, csv_file(*pay_rows(people)), at=now)
    batches.batch_submit(enterer, instruction.pk, now)
    BatchRow.objects.filter(batch__instruction=instruction, line=3).update(amount_fen=1)
    from wangyin.corporate.errors import InstructionAltered

    with pytest.raises(InstructionAltered):
        approvals.approval_challenge(authoriser, instruction.pk, now)


# --- paying ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.req("TX-09")
def test_an_authorised_batch_pays_each_row_once(service, enterer, authoriser, people,
                                                other_bank, sign, now):
    company = service.company
    before = _balance(company.basic)
    rows = [*pay_rows(people[:2]), f"某某公司,6228000000000009,{other_bank.code},20.00,货款",
            f"{company.name},{company.general.number},,50.00,调拨"]
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*rows))
    assert instruction.amount_fen == 3070_00
    done = execution.instruction_execute(instruction.pk, now)
    assert done.status == InstructionStatus.EXECUTED and done.transfer is None
    paid = rows_of(instruction)
    assert {r.status for r in paid.values()} == {RowStatus.PAID}
    transfers = {r.line: r.transfer for r in paid.values()}
    assert [t.idempotency_key for t in transfers.values()] == [
        f"corporate:{instruction.pk}:{line}" for line in (2, 3, 4, 5)]
    assert all(t.company_id == company.pk and t.digest == instruction.digest
               for t in transfers.values())
    assert (transfers[4].kind, transfers[4].status, transfers[4].fee_fen) == (
        TransferKind.INTERBANK, TransferStatus.PROCESSING, 200)
    assert transfers[5].kind == TransferKind.OWN
    assert _balance(company.basic) == before - 3070_00 - 200
    assert Account.objects.get(pk=people[0].ledger_account_id).balance == 1000_00
    batch = Batch.objects.get(instruction=instruction)
    assert (batch.paid_count, batch.paid_fen, batch.failed_count) == (4, 3070_00, 0)
    assert batch.started_at == now and batch.finished_at == now
    assert done.events.last().action == "executed"
    # the payees at this bank are told (TX-09); the company once, for the whole batch
    assert SmsMessage.objects.filter(purpose="payments.credit").count() == 2
    summary = list(SmsMessage.objects.filter(purpose="payments.debit")
                   .values_list("phone", "body"))
    assert {phone for phone, _ in summary} == {company.contact_phone, enterer.person.phone}
    assert len(summary) == 2
    assert "成功4笔，共¥3,070.00；未成功0笔" in summary[0][1]
    # again: nothing more
    for _ in range(2):
        assert execution.instruction_execute(instruction.pk, now).status == "EXECUTED"
    assert execution.execute_authorised(now) == 0
    assert Transfer.objects.count() == 4 and _balance(company.basic) == before - 3070_00 - 200
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_row_refused_when_paid_fails_alone_with_its_reason(service, enterer, authoriser,
                                                              people, sign, now):
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*pay_rows(people)))
    Account.objects.filter(pk=people[1].ledger_account_id).update(status="CLOSED")
    done = execution.instruction_execute(instruction.pk, now)
    assert done.status == InstructionStatus.EXECUTED
    rows = rows_of(instruction)
    assert [rows[line].status for line in (2, 3, 4)] == ["PAID", "FAILED", "PAID"]
    assert rows[3].error_code == "payee_account_closed" and rows[3].transfer is None
    assert rows[3].error == "收款账户已销户，无法入账。" or rows[3].error
    batch = Batch.objects.get(instruction=instruction)
    assert (batch.paid_count, batch.failed_count, batch.paid_fen) == (2, 1, 4000_00)
    assert "2" in done.events.last().reason and "1" in done.events.last().reason


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_batch_with_no_row_paid_fails(service, enterer, authoriser, people, sign, now):
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*pay_rows(people[:1])))
    Account.objects.filter(pk=people[0].ledger_account_id).update(status="CLOSED")
    done = execution.instruction_execute(instruction.pk, now)
    assert done.status == InstructionStatus.FAILED
    assert done.end_reason and not Transfer.objects.exists()


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.req("TX-06")
@pytest.mark.parametrize("change", ["amount", "account", "restored", "file"])
def test_a_row_changed_after_authorisation_pays_nothing(service, enterer, authoriser,
                                                        people, sign, now, change):
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    rows = [*pay_rows(people), f"{people[0].holder},{people[0].number},,x,工资"]
    instruction = upload(enterer, csv_file(*rows), at=now)
    batches.rows_remove(enterer, instruction.pk, invalid=True, at=now)
    batches.batch_submit(enterer, instruction.pk, now)
    approve(authoriser, instruction, sign, now)
    instruction.refresh_from_db()
    before = _balance(service.company.basic)
    batch_rows = BatchRow.objects.filter(batch__instruction=instruction)
    if change == "amount":
        batch_rows.filter(line=3).update(amount_fen=2000_01)
    elif change == "account":
        batch_rows.filter(line=4).update(payee_account=people[0].number,
                                         payee_name=people[0].holder)
    elif change == "restored":
        batch_rows.filter(line=5).update(status=RowStatus.VALID, amount_fen=1)
    else:
        Batch.objects.filter(instruction=instruction).update(file_sha256="0" * 64)
    refused = execution.instruction_execute(instruction.pk, now)
    assert refused.status == InstructionStatus.FAILED
    assert not Transfer.objects.exists() and _balance(service.company.basic) == before
    assert set(batch_rows.filter(line__in=(2, 3, 4)).values_list("status", flat=True)) == {
        RowStatus.FAILED}
    assert Hold.objects.get(pk=instruction.hold_id).status == HoldStatus.RELEASED
    assert AuditEvent.objects.get(action="corporate.instruction.refused").result == "FAILURE"
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.req("TX-06")
def test_a_row_changed_while_the_batch_is_being_paid_stops_it(service, enterer, authoriser,
                                                              people, sign, now):
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*pay_rows(people)))
    real = batches.payments.company_transfer_execute

    def pay_then_tamper(*, order, at):
        transfer = real(order=order, at=at)
        BatchRow.objects.filter(batch__instruction=instruction, line=4).update(amount_fen=1)
        return transfer

    with mock.patch.object(batches.payments, "company_transfer_execute", pay_then_tamper):
        done = batches.batch_execute(instruction.pk, now)
    assert done.status == InstructionStatus.FAILED
    statuses = {line: r.status for line, r in rows_of(instruction).items()}
    assert statuses == {2: RowStatus.PAID, 3: RowStatus.PAID, 4: RowStatus.FAILED}
    assert Transfer.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_crash_mid_way_then_a_new_run_pays_every_row_once(service, enterer, authoriser,
                                                            people, sign, now):
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*pay_rows(people)))
    before = _balance(service.company.basic)
    real = batches.payments.company_transfer_execute
    calls = []

    def dies_on_the_second_row(*, order, at):
        transfer = real(order=order, at=at)  # paid, then the worker dies before commit
        calls.append(order.idempotency_key)
        if len(calls) == 2:
            raise RuntimeError("worker died")
        return transfer

    with mock.patch.object(batches.payments, "company_transfer_execute",
                           dies_on_the_second_row):
        stopped = batches.batch_execute(instruction.pk, now)
    assert stopped.status == InstructionStatus.AUTHORISED and batches.unfinished(stopped)
    rows = rows_of(instruction)
    assert (rows[2].status, rows[3].status, rows[3].attempts) == ("PAID", "VALID", 1)
    assert Transfer.objects.count() == 1  # the second row's payment rolled back
    assert execution.execute_authorised(now) == 1  # the sweep runs it again
    rows = rows_of(instruction)
    assert {r.status for r in rows.values()} == {RowStatus.PAID}
    assert Transfer.objects.count() == 3
    assert _balance(service.company.basic) == before - 6000_00
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.EXECUTED
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_row_that_keeps_failing_unexpectedly_fails_after_the_last_attempt(
        service, enterer, authoriser, people, sign, now):
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*pay_rows(people[:2])))
    real = batches.payments.company_transfer_execute

    def second_row_broken(*, order, at):
        if order.idempotency_key.endswith(":3"):
            raise ConnectionError("clearing front-end unreachable")
        return real(order=order, at=at)

    with mock.patch.object(batches.payments, "company_transfer_execute", second_row_broken):
        for _ in range(batches.MAX_ATTEMPTS - 1):
            assert batches.batch_execute(instruction.pk, now).status == "AUTHORISED"
        done = batches.batch_execute(instruction.pk, now)  # the last attempt, then the end
    assert done.status == InstructionStatus.EXECUTED
    row = rows_of(instruction)[3]
    assert (row.status, row.attempts, row.error_code) == (
        RowStatus.FAILED, batches.MAX_ATTEMPTS, "corporate_batch_row_not_paid")


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_the_worker_pays_in_runs_of_a_chunk(service, enterer, authoriser, people, sign, now,
                                            monkeypatch):
    from wangyin.corporate import tasks

    instruction = authorised(enterer, authoriser, sign, now, csv_file(*pay_rows(people)))
    monkeypatch.setattr(batches, "CHUNK", 2)
    assert tasks.execute_instruction(instruction_id=instruction.pk) == "AUTHORISED"
    assert BatchRow.objects.filter(status=RowStatus.PAID).count() == 2

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s "
                       "AND status = 'todo'", ["corporate.execute_batch"])
        assert cursor.fetchone()[0] == 1  # the next run is asked for, once
    batches.defer_run(instruction.pk)  # asked again: still one waiting
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s",
                       ["corporate.execute_batch"])
        assert cursor.fetchone()[0] == 1
    assert tasks.execute_batch(instruction_id=instruction.pk) == "EXECUTED"
    assert Transfer.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_money_reserved_on_entry_pays_the_rows_and_frees_the_rest(service, enterer,
                                                                  authoriser, people,
                                                                  other_bank, sign, now):
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    basic = service.company.basic
    before = _balance(basic)
    rows = [*pay_rows(people[:2]), f"某某公司,6228000000000009,{other_bank.code},20.00,货款"]
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*rows))
    assert instruction.hold.amount == 3020_00 + 200  # the total and the row's fee
    assert Account.objects.get(pk=basic.ledger_account_id).held == 3022_00
    Account.objects.filter(pk=people[1].ledger_account_id).update(status="CLOSED")
    done = execution.instruction_execute(instruction.pk, now)
    assert done.status == InstructionStatus.EXECUTED
    account = Account.objects.get(pk=basic.ledger_account_id)
    assert (account.balance, account.held) == (before - 1020_00 - 200, 0)
    assert not Hold.objects.filter(account_id=basic.ledger_account_id,
                                   status=HoldStatus.PENDING).exists()
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_a_payee_black_listed_after_approval_is_not_paid(service, enterer, authoriser,
                                                         people, sign, now):
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*pay_rows(people)))
    lists.entry_add(colour="BLACK", subject="ACCOUNT", value=people[2].number, reason="涉案",
                    staff="staff:risk1", at=now)
    execution.instruction_execute(instruction.pk, now)
    rows = rows_of(instruction)
    assert (rows[4].status, rows[4].error_code) == (RowStatus.FAILED, "payment_blocked")
    assert rows[2].status == rows[3].status == RowStatus.PAID


@pytest.mark.django_db
@pytest.mark.req("FC-04")
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_result_file_lists_every_row_with_its_outcome(service, enterer, authoriser,
                                                          people, sign, now, fmt):
    rows = [*pay_rows(people), f"{people[0].holder},{people[0].number},,x,工资"]
    instruction = upload(enterer, csv_file(*rows), at=now)
    batches.rows_remove(enterer, instruction.pk, invalid=True, at=now)
    batches.batch_submit(enterer, instruction.pk, now)
    approve(authoriser, instruction, sign, now)
    Account.objects.filter(pk=people[1].ledger_account_id).update(status="CLOSED")
    execution.instruction_execute(instruction.pk, now)
    name, content_type, data = batches.result_file(instruction, fmt)
    assert name.endswith(f".{fmt}") and content_type
    if fmt == "csv":
        table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        table = [["" if v is None else str(v) for v in row]
                 for row in sheet.iter_rows(values_only=True)]
    assert table[0] == batches.RESULT_HEADER
    by_line = {row[0]: row for row in table[1:]}
    paid = rows_of(instruction)
    assert by_line["2"][1:7] == [people[0].holder, people[0].number, "", "1000.00", "工资",
                                 "已付款"]
    assert by_line["2"][7] == str(paid[2].transfer_id) and by_line["2"][8] == ""
    assert by_line["3"][6] == "未付款" and by_line["3"][8] == paid[3].error
    assert by_line["5"][4] == "x" and by_line["5"][6] == "已移除"
    assert len(table) == 5


@pytest.mark.django_db
@pytest.mark.req("FC-04")
def test_rejecting_a_batch_uses_the_ordinary_rejection(service, enterer, authoriser, people,
                                                       now):
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    instruction = upload(enterer, csv_file(*pay_rows(people)), at=now)
    batches.batch_submit(enterer, instruction.pk, now)
    approvals.reject(authoriser, instruction.pk, "金额不对", now)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.REJECTED
    assert Hold.objects.get(pk=instruction.hold_id).status == HoldStatus.RELEASED
    assert execution.instruction_execute(instruction.pk, now).status == "REJECTED"
    assert not Transfer.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.req("FC-04")
def test_two_runs_at_once_pay_each_row_exactly_once(service, enterer, authoriser, people,
                                                    sign, now):
    """Real commits: the job, a retried job and the sweep on three connections at once."""
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    many = [f"{p.holder},{p.number},,{n + 1}.00,工资" for n in range(4) for p in people]
    instruction = authorised(enterer, authoriser, sign, now, csv_file(*many))
    before = _balance(service.company.basic)
    runs = [lambda: batches.batch_execute(instruction.pk, now).status,
            lambda: execution.instruction_execute(instruction.pk, now).status,
            lambda: execution.execute_authorised(now)]
    _results, errors = race(3, lambda i: runs[i]())
    assert not errors, errors
    assert Transfer.objects.count() == 12
    keys = list(Transfer.objects.values_list("idempotency_key", flat=True))
    assert len(set(keys)) == 12
    assert set(BatchRow.objects.values_list("status", flat=True)) == {RowStatus.PAID}
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.EXECUTED
    account = Account.objects.get(pk=service.company.basic.ledger_account_id)
    assert (account.balance, account.held) == (before - 3 * (1 + 2 + 3 + 4) * 100, 0)
    assert ledger_verify().ok
