"""Payments to other banks through the clearing port and the sandbox clearing system:
routing, the suspense account, settlement, rejections and returns with reversing journals,
credits from other banks, idempotent events, the reconciliation job after crashes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.payments.conftest import pay
from wangyin.authn.keydata import KeyData
from wangyin.core.money import Money
from wangyin.ledger.models import Account, Journal
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import SmsMessage
from wangyin.payments import clearing, directory, sandbox, settlement
from wangyin.payments import services as payments
from wangyin.payments.errors import PayeeAccountInvalid, PayeeNameRequired, UnknownBank
from wangyin.payments.models import (
    Bank,
    ClearingMessage,
    IncomingPayment,
    SandboxClearingEntry,
    Transfer,
)

pytestmark = pytest.mark.django_db
BEIJING = ZoneInfo("Asia/Shanghai")
ICBC = "102428000013"
OUTSIDE = "6222020000000001234"


@pytest.fixture(autouse=True)
def world(db):
    """The demo directory and one account at another bank in the sandbox."""
    directory.banks_load()
    sandbox.account_add(bank_code=ICBC, number=OUTSIDE, name="赵六")


def order(debit, *, yuan="2000.00", name="赵六", account=OUTSIDE, bank=ICBC):
    return payments.Instruction(debit_account_id=debit.pk, payee_account=account,
                                payee_name=name, amount_fen=Money.from_yuan(yuan).fen,
                                memo="货款", payee_bank=bank)


def _balance(number_or_account):
    if isinstance(number_or_account, str):
        return Account.objects.get(number=number_or_account).balance
    return Account.objects.get(pk=number_or_account.ledger_account_id).balance


def _send_and_settle(transfer, now):
    message = ClearingMessage.objects.get(transfer=transfer)
    settlement.clearing_send(message_id=message.pk, now=now)
    return sandbox.run_due(now=now + timedelta(minutes=2))


def _ok():
    report = ledger_verify()
    assert report.ok, report.problems
    assert settlement.suspense_difference() == 0


@pytest.mark.req("FP-03")
@pytest.mark.parametrize(("yuan", "when", "channel"), [
    ("50000.00", datetime(2026, 11, 1, 3, 0, tzinfo=BEIJING), "IBPS"),  # Sunday night
    ("50000.01", datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING), "HVPS"),  # Monday morning
    ("50000.01", datetime(2026, 11, 2, 17, 15, tzinfo=BEIJING), "BEPS"),  # HVPS closed
    ("800000.00", datetime(2026, 11, 1, 10, 0, tzinfo=BEIJING), "BEPS"),  # Sunday
])
def test_routing_by_amount_and_operating_hours(yuan, when, channel):
    assert clearing.route(Money.from_yuan(yuan).fen, when) == channel


@pytest.fixture
def business_calendar():
    from wangyin.core import calendar

    calendar.calendar_load()


@pytest.mark.req("FP-03")
@pytest.mark.parametrize(("when", "channel"), [
    (datetime(2026, 10, 1, 10, 0, tzinfo=BEIJING), "BEPS"),  # 国庆节 on a Thursday: closed
    (datetime(2026, 10, 10, 10, 0, tzinfo=BEIJING), "HVPS"),  # make-up Saturday: open
    (datetime(2026, 10, 10, 17, 15, tzinfo=BEIJING), "BEPS"),  # ... in its hours only
    (datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING), "HVPS"),  # an ordinary Monday
    (datetime(2026, 11, 1, 10, 0, tzinfo=BEIJING), "BEPS"),  # an ordinary Sunday
    (datetime(2026, 10, 1, 3, 0, tzinfo=UTC), "BEPS"),  # 11:00 in Beijing on 国庆节
])
def test_large_payments_follow_the_business_calendar(business_calendar, when, channel,
                                                     settings):
    assert clearing.route(settings.CLEARING_IBPS_MAX_FEN + 1, when) == channel
    assert clearing.route(settings.CLEARING_IBPS_MAX_FEN, when) == "IBPS"  # 24/7


@pytest.mark.req("FP-03", "TX-01", "TX-09")
def test_an_interbank_payment_goes_to_suspense_then_settles(payer, at):
    user, account = payer
    transfer = pay(user, order(account), at)
    assert (transfer.kind, transfer.status, transfer.channel) == ("INTERBANK", "PROCESSING",
                                                                  "IBPS")
    assert transfer.credit_account is None and transfer.payee_bank.code == ICBC
    assert _balance(account) == 10_000_000 - 200_000
    assert _balance("GL30010001") == -200_000  # the suspense holds the open payment
    journal = transfer.journal
    assert (journal.party_name, journal.party_account, journal.party_bank) == (
        "赵六", OUTSIDE, ICBC)
    assert settlement.suspense_difference() == 0
    alert = SmsMessage.objects.filter(purpose="payments.debit").latest("id").body
    assert "中国工商银行" in alert and "2,000.00" in alert

    assert _send_and_settle(transfer, at) == 1
    transfer.refresh_from_db()
    assert transfer.status == "DONE"
    assert [e.step for e in transfer.events.all()] == ["SUBMITTED", "ACCEPTED", "SETTLED"]
    assert _balance("GL30010001") == 0 and _balance("GL10030001") == -200_000
    _ok()


@pytest.mark.req("FP-03", "TX-06")
def test_the_payee_bank_is_part_of_the_confirmed_key_data(payer, at):
    user, account = payer
    quote = payments.transfer_quote(user=user, instruction=order(account), device_id="dev-1",
                                    ip=None, at=at)
    assert quote.key.payee_bank == ICBC and quote.operation == "transfer.interbank"
    other = KeyData(**{**quote.key.__dict__, "payee_bank": "104428000015"})
    assert other.digest() != quote.key.digest()
    same_bank = KeyData(operation="transfer.same_bank", device="d", nonce="n" * 18)
    assert b"payee_bank" not in same_bank.canonical()  # unchanged for this bank's payees


@pytest.mark.req("CS-09")
@pytest.mark.parametrize(("kwargs", "error"), [
    ({"bank": "999999999999"}, UnknownBank),
    ({"account": "12AB"}, PayeeAccountInvalid),
    ({"name": "  "}, PayeeNameRequired),
])
def test_bad_interbank_instructions_are_refused_and_change_nothing(payer, at, kwargs, error):
    user, account = payer
    with pytest.raises(error):
        pay(user, order(account, **kwargs), at)
    assert not Transfer.objects.exists() and _balance(account) == 10_000_000


@pytest.mark.req("FP-03", "TX-09", "DT-05")
def test_a_payment_to_an_unknown_account_is_rejected_and_refunded(payer, at):
    user, account = payer
    transfer = pay(user, order(account, account="6222029999999999"), at)
    assert _send_and_settle(transfer, at) == 1
    transfer.refresh_from_db()
    assert transfer.status == "RETURNED" and transfer.return_reason == sandbox.NO_SUCH_ACCOUNT
    assert transfer.reversal_journal.type == "REVERSAL"
    assert [e.step for e in transfer.events.all()] == [
        "SUBMITTED", "ACCEPTED", "REJECTED", "REFUNDED"]
    assert _balance(account) == 10_000_000 and _balance("GL10030001") == 0
    told = SmsMessage.objects.filter(purpose="payments.returned").get().body
    assert sandbox.NO_SUCH_ACCOUNT in told and "退回" in told
    _ok()


@pytest.mark.req("FP-03", "DT-05")
def test_a_large_payment_under_another_name_settles_then_comes_back(payer, at, settings):
    """HVPS/BEPS do not check the name: the payee's bank returns the money later."""
    settings.CLEARING_IBPS_MAX_FEN = 100_000  # ¥1,000: the ¥2,000 payment is "large"
    user, account = payer
    transfer = pay(user, order(account, name="赵七"), at)
    assert transfer.channel == "BEPS"  # the fixture's time is a Sunday
    message = ClearingMessage.objects.get(transfer=transfer)
    settlement.clearing_send(message_id=message.pk, now=at)
    assert sandbox.run_due(now=at + timedelta(seconds=5)) == 0  # not this batch yet
    assert sandbox.run_due(now=at + timedelta(minutes=1)) == 1
    transfer.refresh_from_db()
    assert transfer.status == "DONE" and _balance(account) == 10_000_000 - 200_000
    assert sandbox.run_due(now=at + timedelta(minutes=2)) == 1
    transfer.refresh_from_db()
    assert transfer.status == "RETURNED" and transfer.return_reason == sandbox.NAME_MISMATCH
    assert [e.step for e in transfer.events.all()] == [
        "SUBMITTED", "ACCEPTED", "SETTLED", "RETURNED", "REFUNDED"]
    assert _balance(account) == 10_000_000 and _balance("GL10030001") == 0
    _ok()


@pytest.mark.req("FP-03")
def test_a_returned_payment_has_a_receipt_of_its_own(payer, at, settings):
    from wangyin.core import clock
    from wangyin.payments.receipts import transfer_receipt
    from wangyin.receipts import services as receipts

    now = clock.now()  # receipts are signed now, within the signing certificate's validity

    settings.CLEARING_IBPS_MAX_FEN = 100_000
    user, account = payer
    transfer = pay(user, order(account, name="赵七"), at)
    settlement.clearing_send(message_id=ClearingMessage.objects.get(transfer=transfer).pk,
                             now=at)
    sandbox.run_due(now=at + timedelta(minutes=1))  # settled: the payment's receipt
    paid = transfer_receipt(person_id=user.person_id, transfer_id=transfer.pk,
                            actor=user.actor, ip=None, at=now)
    sandbox.run_due(now=at + timedelta(minutes=2))  # returned by the payee's bank
    back = transfer_receipt(person_id=user.person_id, transfer_id=transfer.pk,
                            actor=user.actor, ip=None, at=now)
    assert back.pk != paid.pk and back.reference == f"transfer:{transfer.pk}:return"
    fields = {f["key"]: f["value"] for f in back.data["fields"]}
    assert fields["status"] == "已退回" and fields["return_reason"] == sandbox.NAME_MISMATCH
    assert {f["key"]: f["value"] for f in paid.data["fields"]}["status"] == "交易成功"
    for receipt in (paid, back):  # the first stays genuine: the return is a new event
        verdict = receipts.receipt_verify_code(code=receipt.code, ip=None, at=now)
        assert verdict.genuine and verdict.receipt.pk == receipt.pk


@pytest.mark.req("DT-05")
def test_every_clearing_event_is_applied_once(payer, at):
    user, account = payer
    transfer = pay(user, order(account, account="6222029999999999"), at)
    message = ClearingMessage.objects.get(transfer=transfer)
    rejected = clearing.Event(kind="rejected", msg_id=message.msg_id, reason="收款账号不存在")
    assert settlement.clearing_receive(event=rejected, now=at) == "rejected"
    assert settlement.clearing_receive(event=rejected, now=at) == "conflict"
    settled = clearing.Event(kind="settled", msg_id=message.msg_id)
    assert settlement.clearing_receive(event=settled, now=at) == "duplicate"
    unknown = clearing.Event(kind="settled", msg_id="nope")
    assert settlement.clearing_receive(event=unknown, now=at) == "unknown"
    assert Journal.objects.filter(type="REVERSAL").count() == 1
    assert _balance(account) == 10_000_000
    _ok()


@pytest.mark.req("DT-05")
def test_sending_twice_is_harmless(payer, at):
    user, account = payer
    transfer = pay(user, order(account), at)
    message = ClearingMessage.objects.get(transfer=transfer)
    port = clearing.port()
    port.send(clearing.Message(**message.payload), at=at)
    port.send(clearing.Message(**message.payload), at=at)
    settlement.clearing_send(message_id=message.pk, now=at)
    assert SandboxClearingEntry.objects.filter(msg_id=message.msg_id).count() == 1
    assert sandbox.run_due(now=at + timedelta(minutes=1)) == 1
    assert Journal.objects.filter(idempotency_key__startswith="clearing:").count() == 1
    _ok()


class SimulatedCrash(BaseException):
    """The process dies: the open transaction is rolled back, nothing else runs."""


@pytest.mark.req("DT-05")
def test_a_worker_dying_between_debit_and_clearing_is_repaired_by_reconciliation(
        payer, at, monkeypatch):
    user, account = payer
    transfer = pay(user, order(account), at)
    message = ClearingMessage.objects.get(transfer=transfer)
    # The worker hands the message over, then dies before recording it.
    real_send = sandbox.SandboxClearing.send

    def send_then_die(self, message, *, at):
        real_send(self, message, at=at)
        raise SimulatedCrash

    monkeypatch.setattr(sandbox.SandboxClearing, "send", send_then_die)
    with pytest.raises(SimulatedCrash):
        settlement.clearing_send(message_id=message.pk, now=at)
    monkeypatch.setattr(sandbox.SandboxClearing, "send", real_send)
    message.refresh_from_db()
    assert message.status == "QUEUED"  # we never learnt it was taken
    # Too early for the reconciliation job: a queued message is given a minute.
    assert settlement.clearing_reconcile(now=at + timedelta(seconds=30)).sent == 0
    report = settlement.clearing_reconcile(now=at + timedelta(minutes=2))
    assert (report.sent, report.suspense_difference_fen) == (1, 0)
    assert SandboxClearingEntry.objects.filter(msg_id=message.msg_id).count() == 1
    # The clearing system's answer is lost too (the sandbox worker never ran): the job asks.
    SandboxClearingEntry.objects.filter(msg_id=message.msg_id).update(
        state="SETTLED", delivered=True)
    report = settlement.clearing_reconcile(now=at + timedelta(minutes=10))
    assert report.completed == 1
    transfer.refresh_from_db()
    assert transfer.status == "DONE"
    assert _balance(account) == 10_000_000 - 200_000
    assert _balance("GL30010001") == 0 and _balance("GL10030001") == -200_000
    _ok()


@pytest.mark.req("DT-05")
def test_a_crash_while_applying_an_answer_leaves_it_to_be_delivered_again(
        payer, at, monkeypatch):
    user, account = payer
    transfer = pay(user, order(account), at)
    message = ClearingMessage.objects.get(transfer=transfer)
    settlement.clearing_send(message_id=message.pk, now=at)

    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(settlement, "_settle", crash)
    assert sandbox.run_due(now=at + timedelta(minutes=1)) == 0
    monkeypatch.undo()
    assert SandboxClearingEntry.objects.get(msg_id=message.msg_id).delivered is False
    assert sandbox.run_due(now=at + timedelta(minutes=1)) == 1
    transfer.refresh_from_db()
    assert transfer.status == "DONE"
    _ok()


@pytest.mark.req("FP-03", "TX-09")
def test_a_credit_from_another_bank_arrives_once(payee, at):
    sandbox.credit_incoming(payer_name="钱七", payer_account=OUTSIDE, payer_bank=ICBC,
                            payee_account=payee.number, payee_name="李四",
                            amount_fen=88_800, memo="还款", at=at)
    assert sandbox.run_due(now=at + timedelta(minutes=1)) == 1
    incoming = IncomingPayment.objects.get()
    assert incoming.status == "CREDITED" and _balance(payee) == 88_800
    assert incoming.journal.party_name == "钱七"
    event = clearing.Event(kind="credit", msg_id=incoming.msg_id, amount_fen=88_800,
                           payee_account=payee.number, payee_name="李四")
    assert settlement.clearing_receive(event=event, now=at) == "duplicate"
    assert _balance(payee) == 88_800
    alert = SmsMessage.objects.filter(purpose="payments.credit").get().body
    assert "跨行转入" in alert and "888.00" in alert
    _ok()


@pytest.mark.req("FP-03", "DT-05")
def test_a_credit_for_someone_else_is_returned_to_the_sender(payee, at):
    sandbox.credit_incoming(payer_name="钱七", payer_account=OUTSIDE, payer_bank=ICBC,
                            payee_account=payee.number, payee_name="王五",
                            amount_fen=10_000, at=at)
    sandbox.run_due(now=at + timedelta(minutes=1))
    incoming = IncomingPayment.objects.get()
    assert (incoming.status, incoming.journal) == ("RETURNED", None)
    assert _balance(payee) == 0
    back = ClearingMessage.objects.get(incoming=incoming)
    assert back.kind == "RETURN" and back.payload["original_msg_id"] == incoming.msg_id
    settlement.clearing_send(message_id=back.pk, now=at)
    assert SandboxClearingEntry.objects.get(msg_id=back.msg_id).state == "settled"
    _ok()


def test_the_directory_loads_as_data(tmp_path):
    assert Bank.objects.filter(code=ICBC, bank_name="中国工商银行").exists()
    bad = tmp_path / "banks.csv"
    bad.write_text("# a comment\ncode,name,bank_name\n\n12345,短,某银行\n", encoding="utf-8")
    with pytest.raises(directory.DirectoryError, match="^line 4:"):  # as the file counts
        directory.banks_load(bad)
    small = tmp_path / "small.csv"
    small.write_text(f"code,name,bank_name,city\n{ICBC},工行赣州,中国工商银行,赣州\n",
                     encoding="utf-8")
    counts = directory.banks_load(small)
    assert counts["updated"] == 1 and counts["deactivated"] == Bank.objects.filter(
        active=False).count() > 0
    assert directory.bank_by_code("104428000015") is None  # no longer in the directory


@pytest.mark.req("TX-11")
def test_interbank_payments_count_against_the_class_cap(user, fund, at, world):
    from wangyin.customers.services import personal_account_open
    from wangyin.payments.errors import AccountClassLimit

    account = personal_account_open(person_id=user.person_id, product="PERSONAL_II",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    fund(account.ledger_account, "20000.00")
    pay(user, order(account, yuan="6000.00"), at, key="a")
    with pytest.raises(AccountClassLimit):
        pay(user, order(account, yuan="4000.01"), at, key="b")
