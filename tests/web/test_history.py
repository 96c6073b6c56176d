"""Account history on the web: filters (period, amounts, in or out, type, counterparty) with
keyset paging, the counterparty of each line, and the CSV and PDF statements."""

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from wangyin.audit.models import AuditEvent
from wangyin.core.money import Money
from wangyin.core.paths import var_dir
from wangyin.customers.models import CustomerAccount
from wangyin.customers.services import personal_account_open
from wangyin.ledger import services as ledger
from wangyin.ledger.models import Account, AccountKind, NormalSide

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db

PARTY_OUT = ledger.Party("王五", "6217000010001234567", "102100000019")  # in the directory
PARTY_IN = ledger.Party("赣南贸易有限公司", "440012345678901", "105100000017")  # not


@dataclass
class History:
    mine: CustomerAccount
    theirs: CustomerAccount  # 李四's, same bank
    gl: dict


def history_of(person_id: int, at: datetime, *, small_transfers: int = 25) -> History:
    """A month of a demo-like customer's business, oldest first: a cash deposit, rent to
    李四 (same bank), money back from him, an interbank payment to 王五, its fee, interest,
    a cash withdrawal, an interbank credit, then ``small_transfers`` small payments to 李四
    of 1, 2, 3 … yuan, one each half hour on the last day."""
    from wangyin.customers.models import Person
    from wangyin.payments import directory

    directory.banks_load()
    mine = CustomerAccount.objects.filter(person_id=person_id).first() or personal_account_open(
        person_id=person_id, product="PERSONAL_I", face_to_face=True, actor="staff:1",
        opened_at=at - timedelta(days=60))
    li = Person.objects.filter(name="李四").first()
    if li is None:
        from wangyin.customers.services import person_create
        li = person_create(name="李四", id_type="PASSPORT", id_number="E12345678",
                           birth_date=at.date().replace(year=1990), phone="13900000001",
                           actor="staff:1", created_at=at)
    theirs = personal_account_open(person_id=li.pk, product="PERSONAL_I", face_to_face=True,
                                   actor="staff:1", opened_at=at - timedelta(days=60))
    gl = {}
    for key, number, name, side in [
            ("cash", "GL10010001", "库存现金 Cash in vault", NormalSide.DEBIT),
            ("clearing", "GL30010001", "清算往来 Interbank clearing suspense", NormalSide.DEBIT),
            ("fees", "GL60210001", "手续费收入 Fee income", NormalSide.CREDIT),
            ("interest", "GL64110001", "利息支出 Interest expense", NormalSide.DEBIT)]:
        gl[key] = Account.objects.filter(number=number).first() or ledger.account_open(
            number=number, name=name, kind=AccountKind.GL, normal_side=side,
            overdraft_limit=None, actor="staff:1", opened_at=at - timedelta(days=60))
    me, him = mine.ledger_account_id, theirs.ledger_account_id
    ledger.transfer(debit_account_id=gl["cash"].pk, credit_account_id=him,
                    amount=Money.from_yuan("1000"), idempotency_key=f"h-li-{him}",
                    actor="staff:1", posted_at=at - timedelta(days=31), type="DEPOSIT")
    moves = [
        (30, gl["cash"].pk, me, "5000.00", "DEPOSIT", "存现", None),
        (20, me, him, "1234.56", "TRANSFER", "房租", None),
        (15, him, me, "200.00", "TRANSFER", "还款", None),
        (10, me, gl["clearing"].pk, "3000.00", "TRANSFER", "跨行转账", PARTY_OUT),
        (10, me, gl["fees"].pk, "2.00", "FEE", "手续费", None),
        (5, gl["interest"].pk, me, "1.23", "INTEREST", "结息", None),
        (3, me, gl["cash"].pk, "500.00", "WITHDRAWAL", "取现", None),
        (2, gl["clearing"].pk, me, "800.00", "TRANSFER", "跨行来账", PARTY_IN),
    ]
    for n, (days, debit, credit, yuan, type_, memo, party) in enumerate(moves):
        ledger.transfer(debit_account_id=debit, credit_account_id=credit,
                        amount=Money.from_yuan(yuan), idempotency_key=f"h-{me}-{n}",
                        actor="staff:1", posted_at=at - timedelta(days=days) + timedelta(
                            minutes=n),
                        type=type_, memo=memo, party=party)
    for i in range(1, small_transfers + 1):
        ledger.transfer(debit_account_id=me, credit_account_id=him, amount=Money(i * 100),
                        idempotency_key=f"h-{me}-small-{i}", actor="staff:1",
                        posted_at=at - timedelta(minutes=30 * (26 - i)), memo=f"小额 {i}")
    return History(mine=mine, theirs=theirs, gl=gl)


@pytest.fixture
def history(ready_customer, at):
    return history_of(ready_customer.person_id, at)


@pytest.fixture
def signed_in(client, history):
    sign_in(client, "zhangwei_01", PASSWORD)
    return client


def _rows(content: str) -> list[dict]:
    """The history table's rows: memo, counterparty text, amount."""
    rows = []
    for tr in re.findall(r"<tr>\s*<td class=\"when\">(.*?)</tr>", content, re.S):
        cells = re.findall(r"<td class=\"[^\"]*\">(.*?)</td>", tr, re.S)
        text = [html.unescape(re.sub(r"<[^>]+>", " ", c)).split() for c in cells]
        rows.append({"memo": " ".join(text[0][1:]), "kind": text[0][0],
                     "who": " ".join(text[1]), "amount": text[2][0]})
    return rows


def _memos(client, account, **params) -> list[str]:
    response = client.get(f"/accounts/{account.pk}/", params)
    assert response.status_code == 200, response.content.decode()[:2000]
    return [r["memo"] for r in _rows(response.content.decode())]


def _all_pages(client, account, **params) -> list[dict]:
    rows, url, pages = [], f"/accounts/{account.pk}/", 0
    response = client.get(url, params)
    while True:
        pages += 1
        content = response.content.decode()
        rows += _rows(content)
        found = re.search(r'href="(\?[^"]+)" rel="next"', content)
        if not found:
            return rows, pages
        response = client.get(url + html.unescape(found.group(1)))


SMALL = [f"小额 {i}" for i in range(25, 0, -1)]


CASES = [
    ({"direction": "IN"}, ["跨行来账", "结息", "还款", "存现"]),
    ({"direction": "OUT", "min_amount": "4"},
     SMALL[:-3] + ["取现", "跨行转账", "房租"]),
    ({"kind": "FEE"}, ["手续费"]),
    ({"kind": "INTEREST"}, ["结息"]),
    ({"kind": "DEPOSIT"}, ["存现"]),
    ({"kind": "WITHDRAWAL"}, ["取现"]),
    ({"kind": "REVERSAL"}, []),
    ({"kind": "TRANSFER", "min_amount": "100"}, ["跨行来账", "跨行转账", "还款", "房租"]),
    ({"min_amount": "800", "max_amount": "3000"}, ["跨行来账", "跨行转账", "房租"]),
    ({"max_amount": "2"}, ["小额 2", "小额 1", "结息", "手续费"]),
    ({"since": "2026-10-10", "until": "2026-10-20"}, ["还款", "房租"]),
    ({"counterparty": "王五"}, ["跨行转账"]),
    ({"counterparty": "贸易"}, ["跨行来账"]),
    ({"counterparty": "6217000010001234567"}, ["跨行转账"]),  # the party's whole number
    ({"counterparty": "4567"}, ["跨行转账"]),  # its last four digits
    ({"counterparty": "00001000123"}, []),  # hidden digits cannot be probed
    ({"counterparty": "库存现金"}, ["取现", "存现"]),  # the cash desk
    ({"counterparty": "fee income"}, ["手续费"]),
    ({"counterparty": "李四", "max_amount": "1000"}, SMALL + ["还款"]),
]


@pytest.mark.req("FP-02", "AD-05")
def test_each_filter_shows_just_its_movements(signed_in, history):
    for params, expected in CASES:
        rows = _all_pages(signed_in, history.mine, **params)[0]
        assert [r["memo"] for r in rows] == expected, params


@pytest.mark.req("FP-02")
def test_counterparty_by_the_same_bank_account_number(signed_in, history):
    number = history.theirs.number
    by_name = _all_pages(signed_in, history.mine, counterparty="李四")[0]
    assert [r["memo"] for r in by_name] == SMALL + ["还款", "房租"]
    for text in (number, number[-4:], f"{number[:6]} {number[6:]}"):
        assert [r["memo"] for r in _all_pages(signed_in, history.mine,
                                              counterparty=text)[0]] == SMALL + ["还款", "房租"]
    assert _memos(signed_in, history.mine, counterparty=number[:10]) == []


@pytest.mark.req("FP-02", "AD-05")
def test_filter_combinations_page_through_every_match_once(signed_in, history):
    rows, pages = _all_pages(signed_in, history.mine, counterparty="李四", direction="OUT",
                             min_amount="3", since="2026-10-01", until="2026-11-01")
    assert pages == 2
    assert [r["memo"] for r in rows] == SMALL[:-2] + ["房租"]  # 23 small ones and the rent
    rows, pages = _all_pages(signed_in, history.mine, kind="TRANSFER")
    assert pages == 2 and len(rows) == 29 and len({(r["memo"]) for r in rows}) == 29
    every, pages = _all_pages(signed_in, history.mine)
    assert pages == 2 and len(every) == 33 and every[-1]["memo"] == "存现"


@pytest.mark.req("FP-02")
def test_a_cursor_keeps_its_filters_and_a_tampered_one_starts_again(signed_in, history):
    url = f"/accounts/{history.mine.pk}/"
    first = signed_in.get(url, {"counterparty": "李四"}).content.decode()
    cursor = re.search(r'after=([^"&]+)', html.unescape(
        re.search(r'href="(\?[^"]+)" rel="next"', first).group(1))).group(1)
    from urllib.parse import unquote
    cursor = unquote(cursor)
    second = _memos(signed_in, history.mine, counterparty="李四", after=cursor)
    assert second == SMALL[20:] + ["还款", "房租"]
    # The same cursor under other filters would skip movements: it starts again instead.
    assert _memos(signed_in, history.mine, direction="IN", after=cursor) == [
        "跨行来账", "结息", "还款", "存现"]
    assert _memos(signed_in, history.mine, counterparty="李四", after=cursor[:-4] + "AAAA"
                  ) == SMALL[:20]
    assert _memos(signed_in, history.mine, counterparty="李四", after="bm9wZQ==") == SMALL[:20]


@pytest.mark.req("FP-02", "CS-09", "PI-03")
def test_each_line_names_its_counterparty_with_a_masked_number(signed_in, history):
    content = signed_in.get(f"/accounts/{history.mine.pk}/", {"min_amount": "1.2"}
                            ).content.decode()
    rows = {r["memo"]: r for r in _all_pages(signed_in, history.mine)[0]}
    theirs = history.theirs.number
    assert rows["房租"]["who"] == f"李四 {theirs[:4]}{'*' * 11}{theirs[-4:]}"
    assert rows["还款"]["who"] == rows["房租"]["who"]
    assert rows["跨行转账"]["who"] == "王五 6217***********4567 中国工商银行"
    assert rows["跨行来账"]["who"] == "赣南贸易有限公司 4400*******8901 行号 105100000017"
    assert rows["存现"]["who"] == rows["取现"]["who"] == "库存现金 Cash in vault"
    assert rows["手续费"]["who"] == "手续费收入 Fee income"
    assert rows["结息"]["who"] == "利息支出 Interest expense"
    assert rows["房租"]["kind"] == "转账" and rows["存现"]["kind"] == "存现"
    assert rows["跨行来账"]["amount"] == "+¥800.00" and rows["房租"]["amount"] == "-¥1,234.56"
    for number in (theirs, PARTY_OUT.account, PARTY_IN.account, history.mine.number):
        assert number not in content


BAD = [
    ({"min_amount": "500", "max_amount": "20"}, "最小金额大于最大金额"),
    ({"min_amount": "-5"}, "最小金额（元）：确保该值大于或等于0"),
    ({"max_amount": "abc"}, "输入一个数字"),
    ({"min_amount": "1.234"}, "小数不超过 2 位"),
    ({"direction": "SIDEWAYS"}, "选择一个有效的选项"),
    ({"kind": "LOTTERY"}, "选择一个有效的选项"),
    ({"counterparty": "长" * 61}, "对方"),
    ({"since": "2026-13-01"}, "起始日期：输入一个有效的日期"),
]


@pytest.mark.req("SE-07", "CS-09")
@pytest.mark.parametrize("path", ["", "statement.csv", "statement.pdf"])
def test_bad_filters_show_a_clear_message_and_change_nothing(signed_in, history, path):
    for params, message in BAD:
        response = signed_in.get(f"/accounts/{history.mine.pk}/{path}", params)
        assert response.status_code == 400, params
        assert response["Content-Type"].startswith("text/html")
        assert "Content-Disposition" not in response
        content = response.content.decode()
        alert = re.search(r'<div class="error" role="alert" id="filter-errors">(.*?)</div>',
                          content, re.S).group(1)
        assert message in alert, (params, alert)
        assert 'id="statement"' not in content  # no list under filters that are not valid
    assert not AuditEvent.objects.filter(action="web.statement.downloaded").exists()


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))


@pytest.mark.req("SE-10", "FP-02")
def test_csv_has_the_counterparty_and_follows_the_filters(signed_in, history, monkeypatch):
    from wangyin.statements import documents as statements

    url = f"/accounts/{history.mine.pk}/statement.csv"
    rows = _csv_rows(signed_in.get(url, {"since": "2026-09-01", "direction": "OUT",
                                         "min_amount": "100"}))
    assert rows[0] == ["时间", "摘要", "对方", "金额", "余额"]
    assert rows[1:] == [
        ["2026-10-29 17:36:00", "取现", "库存现金 Cash in vault", "-500.00", "464.67"],
        ["2026-10-22 17:33:00", "跨行转账", "王五 6217***********4567 中国工商银行",
         "-3000.00", "965.44"],
        ["2026-10-12 17:31:00", "房租", f"李四 {history.theirs.number[:4]}{'*' * 11}"
         f"{history.theirs.number[-4:]}", "-1234.56", "3765.44"]]
    event = AuditEvent.objects.filter(action="web.statement.downloaded").latest("id")
    assert event.details["format"] == "csv" and event.details["rows"] == 3
    assert event.details["filtered"] is True and event.details["truncated"] is False
    monkeypatch.setattr(statements, "STATEMENT_MAX_ROWS", 2)
    capped = _csv_rows(signed_in.get(url, {"since": "2026-09-01", "direction": "OUT",
                                           "min_amount": "100"}))
    assert [r[1] for r in capped[1:3]] == ["取现", "跨行转账"]
    assert capped[3:] == [["只包含最新的 2 笔交易，其余的请缩短期间后下载。"]]
    event = AuditEvent.objects.filter(action="web.statement.downloaded").latest("id")
    assert event.details["rows"] == 2 and event.details["truncated"] is True


@pytest.mark.req("SE-10")
def test_a_counterparty_name_cannot_become_a_spreadsheet_formula(signed_in, history, at):
    ledger.transfer(debit_account_id=history.gl["clearing"].pk,
                    credit_account_id=history.mine.ledger_account_id, amount=Money(100),
                    idempotency_key="evil", actor="staff:1", posted_at=at,
                    memo="来账", party=ledger.Party("=cmd|' /C calc'!A0", "", ""))
    rows = _csv_rows(signed_in.get(f"/accounts/{history.mine.pk}/statement.csv"))
    assert rows[1][2] == "'=cmd|' /C calc'!A0"


def _pdf_text(content: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


@pytest.mark.req("SE-10", "FP-02")
def test_pdf_statement_for_the_filters(signed_in, history, settings):
    url = f"/accounts/{history.mine.pk}/statement.pdf"
    response = signed_in.get(url, {"since": "2026-10-01", "until": "2026-10-31"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-{history.mine.number[-4:]}-20261001.pdf"')
    assert "no-store" in response["Cache-Control"]
    (text,) = _pdf_text(response.content)
    flat = " ".join(text.split())
    masked = history.mine.masked_number
    for expected in ("网银银行", "对账单", "*伟", masked, "2026-10-01 至 2026-10-31",
                     "期初余额 收入合计 支出合计 期末余额",
                     "0.00 6,001.23 4,736.56 1,264.67",  # opening, in, out, closing
                     "2026-10-02 17:30 存现 库存现金 Cash in vault +5,000.00 5,000.00",
                     "2026-10-22 17:33 跨行转账 王五 6217***********4567 中国工商银行 "
                     "-3,000.00 965.44",
                     "2026-10-30 17:37 跨行来账 赣南贸易有限公司 4400*******8901 "
                     "行号 105100000017 +800.00 1,264.67",
                     "8 笔交易符合条件", "第 1 页 / 共 1 页"):
        assert expected in flat, expected
    assert flat.index("存现") < flat.index("取现")  # oldest first, after the opening balance
    assert history.mine.number not in flat and history.theirs.number not in flat
    event = AuditEvent.objects.filter(action="web.statement.downloaded").latest("id")
    assert event.details["format"] == "pdf" and event.details["rows"] == 8
    assert event.target == f"account:{history.mine.pk}"


@pytest.mark.req("SE-10", "FP-02")
def test_pdf_with_filters_many_pages_and_a_cap(signed_in, history, monkeypatch):
    from wangyin.statements import documents as statements

    url = f"/accounts/{history.mine.pk}/statement.pdf"
    filtered = _pdf_text(signed_in.get(url, {"since": "2026-10-01", "counterparty": "李四",
                                             "direction": "OUT"}).content)
    flat = " ".join(" ".join(filtered).split())
    assert "筛选条件 支出; 对方“李四”" in flat
    assert "0.00 0.00 1,559.56 939.67" in flat  # out: the rent and 1+…+25
    assert "26 笔交易符合条件" in flat and "跨行转账" not in flat
    monkeypatch.setattr(statements, "STATEMENT_MAX_ROWS", 3)
    capped = _pdf_text(signed_in.get(url, {"since": "2026-10-01"}).content)
    flat = " ".join(" ".join(capped).split())
    assert "只包含最新的 3 笔交易" in flat and "小额 25" in flat and "小额 22" not in flat
    assert "33 笔交易符合条件" in flat
    monkeypatch.setattr(statements, "STATEMENT_MAX_ROWS", 10_000)
    ledger_id = history.mine.ledger_account_id
    for i in range(90):
        ledger.transfer(debit_account_id=history.gl["cash"].pk, credit_account_id=ledger_id,
                        amount=Money(100 + i), idempotency_key=f"many-{i}", actor="staff:1",
                        posted_at=datetime(2026, 10, 31, 1, 0, tzinfo=UTC)
                        + timedelta(minutes=i), type="DEPOSIT", memo=f"批量 {i}")
    content = signed_in.get(url, {"since": "2026-10-01"}).content
    shots = var_dir() / "screenshots"
    shots.mkdir(exist_ok=True)
    (shots / "statement.pdf").write_bytes(content)  # to look at
    pages = _pdf_text(content)
    assert len(pages) == 4  # 123 rows
    assert [f"第 {n} 页 / 共 4 页" in p for n, p in enumerate(pages, 1)] == [True] * 4
    assert all("时间" in p and "对方" in p for p in pages)  # the table head on every page
    every = " ".join(" ".join(pages).split())
    assert all(f"批量 {i} 库存现金" in every for i in range(90))


@pytest.mark.req("SE-10", "SE-09")
def test_statements_are_the_owners_only(signed_in, history, make_person, at):
    for path in ("", "statement.csv", "statement.pdf"):
        assert signed_in.get(f"/accounts/{history.theirs.pk}/{path}").status_code == 404
        assert signed_in.get(f"/accounts/999999/{path}").status_code == 404
    assert not AuditEvent.objects.filter(action="web.statement.downloaded").exists()
    signed_in.post("/logout/")
    for path in ("statement.csv", "statement.pdf"):
        response = signed_in.get(f"/accounts/{history.mine.pk}/{path}")
        assert response.status_code == 302 and "Content-Disposition" not in response
