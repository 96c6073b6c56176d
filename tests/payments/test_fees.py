"""Transfer fees: the schedule (data, checked), the fee quoted and bound into the confirmed
key data, posted as its own journal to fee income, held with a payment under review and
given back with money that comes back; the public fee page (CS-04)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.payments.conftest import confirm, instruction, pay
from wangyin.authn.errors import DigestMismatch
from wangyin.core.money import Money
from wangyin.customers.services import personal_account_open
from wangyin.ledger.errors import InsufficientFunds
from wangyin.ledger.models import Account, Journal
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import Notice, SmsMessage
from wangyin.payments import directory, fees, review, sandbox, settlement
from wangyin.payments import services as payments
from wangyin.payments.models import ClearingMessage, Transfer, TransferStatus
from wangyin.payments.receipts import transfer_fields

pytestmark = pytest.mark.django_db
CHARGING = """
[personal]
SAME_BANK = [{ up_to = "1000.00", fee = "1.00" }, { rate = "0.001", max = "50.00" }]
INTERBANK = [{ fee = "5.00" }]
"""


def _schedule(tmp_path: Path, settings, text: str = CHARGING) -> Path:
    path = tmp_path / "fees.toml"
    path.write_text(text, encoding="utf-8")
    settings.FEE_SCHEDULE_FILE = str(path)
    return path


@pytest.fixture
def charging(tmp_path, settings):
    return _schedule(tmp_path, settings)


def _account(account) -> Account:
    return Account.objects.get(pk=account.ledger_account_id)


def _fee(segment: str, kind: str, yuan: str) -> str:
    fen = fees.fee_for(segment=segment, kind=kind, amount_fen=Money.from_yuan(yuan).fen)
    return Money(fen).to_yuan_str()


def test_tiers_apply_at_their_boundaries(charging):
    assert _fee("personal", "SAME_BANK", "1000.00") == "1.00"
    assert _fee("personal", "SAME_BANK", "1000.01") == "1.00"  # 0.1 % of 1,000.01, rounded
    assert _fee("personal", "SAME_BANK", "20000.00") == "20.00"
    assert _fee("personal", "SAME_BANK", "90000.00") == "50.00"  # the cap
    assert _fee("personal", "INTERBANK", "0.01") == "5.00"
    assert _fee("personal", "OWN", "5000.00") == _fee("corporate", "SAME_BANK", "9.00") == "0.00"


def test_the_shipped_schedule_charges_personal_customers_nothing(settings):
    for kind in ("OWN", "SAME_BANK", "MOBILE", "INTERBANK"):
        assert _fee("personal", kind, "1000000.00") == "0.00"
    assert _fee("corporate", "INTERBANK", "10000.00") == "2.00"
    assert _fee("corporate", "INTERBANK", "10000.01") == "5.00"
    assert _fee("corporate", "INTERBANK", "1000000.00") == "15.00"
    assert _fee("corporate", "INTERBANK", "2000000.00") == "40.00"  # 0.002 %
    assert _fee("corporate", "INTERBANK", "50000000.00") == "200.00"  # at most


@pytest.mark.parametrize("text", [
    "[people]\nOWN = []",  # unknown segment
    "[personal]\nCHEQUE = []",  # unknown kind
    '[personal]\nOWN = [{ up_to = "10.00", fee = "1.00" }]',  # the last tier is bounded
    '[personal]\nOWN = [{ up_to = "10.00" }, { up_to = "5.00" }, { fee = "1" }]',  # falls
    '[personal]\nOWN = [{ fee = "-1.00" }]',
    '[personal]\nOWN = [{ fee = "1.001" }]',  # below a fen
    '[personal]\nOWN = [{ rate = "0.5" }]',
    '[personal]\nOWN = [{ fees = "1.00" }]',  # a misspelt key is not ignored
    "[personal\n",
])
def test_a_bad_schedule_is_refused_naming_the_problem(text):
    with pytest.raises(ImproperlyConfigured, match="fee schedule"):
        fees.parse(text)


@pytest.mark.req("FP-03", "TX-09")
def test_the_fee_is_quoted_posted_to_fee_income_and_told(charging, payer, payee, at):
    user, account = payer
    order = instruction(account, payee, yuan="20000.00")
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at)
    assert quote.fee_fen == quote.key.fee_fen == 2_000
    transfer = pay(user, order, at)
    assert (transfer.status, transfer.fee_fen) == (TransferStatus.DONE, 2_000)
    assert _account(account).balance == 10_000_000 - 2_000_000 - 2_000
    assert _account(payee).balance == 2_000_000  # the payee gets the whole amount
    fee = transfer.fee_journal
    assert (fee.type, fee.memo) == ("FEE", "手续费")
    postings = {p.account.number: p.amount for p in fee.postings.select_related("account")}
    assert postings == {account.number: 2_000, settings_fee_account(): -2_000}
    assert Account.objects.get(number=settings_fee_account()).balance == 2_000
    body = SmsMessage.objects.filter(purpose="payments.debit").latest("id").body
    assert "转出¥20,000.00，手续费¥20.00" in body
    assert Notice.objects.filter(person_id=user.person_id, kind="funds.debit_fee").exists()
    assert ("fee", "¥20.00") in {(f.key, f.value) for f in transfer_fields(transfer)}
    assert ledger_verify().ok


def settings_fee_account() -> str:
    from django.conf import settings

    return settings.FEE_INCOME_ACCOUNT


@pytest.mark.req("TX-06")
def test_a_fee_changed_after_confirming_is_refused_not_charged(tmp_path, settings, payer,
                                                                payee, at):
    path = _schedule(tmp_path, settings)
    user, account = payer
    order = instruction(account, payee, yuan="500.00")
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at)
    challenge = confirm(user, quote, at)
    path.write_text(CHARGING.replace('fee = "1.00"', 'fee = "3.00"'), encoding="utf-8")
    with pytest.raises(DigestMismatch):
        payments.transfer_execute(user=user, instruction=order, nonce=quote.key.nonce,
                                  challenge_id=challenge.pk, idempotency_key="k",
                                  device_id="dev-1", ip=None, at=at)
    assert not Transfer.objects.exists() and _account(account).balance == 10_000_000


@pytest.mark.req("FP-03")
def test_money_for_the_amount_but_not_the_fee_pays_nothing(charging, user, fund, payee, at):
    account = personal_account_open(person_id=user.person_id, product="PERSONAL_I",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    fund(account.ledger_account, "1000.00")
    with pytest.raises(InsufficientFunds):
        pay(user, instruction(account, payee, yuan="1000.00"), at)  # + ¥1.00 fee
    assert not Transfer.objects.exists() and not Journal.objects.filter(type="FEE").exists()
    assert _account(account).balance == 100_000


@pytest.mark.req("FP-03", "DT-05")
def test_a_returned_interbank_payment_brings_its_fee_back(charging, payer, at):
    directory.banks_load()
    user, account = payer
    transfer = pay(user, payments.Instruction(
        debit_account_id=account.pk, payee_account="6222029999999999", payee_name="赵六",
        payee_bank="102428000013", amount_fen=200_000), at)
    assert transfer.fee_fen == 500
    assert _account(account).balance == 10_000_000 - 200_500
    message = ClearingMessage.objects.get(transfer=transfer)
    settlement.clearing_send(message_id=message.pk, now=at)
    assert sandbox.run_due(now=at + timedelta(minutes=2)) == 1  # no such account: rejected
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RETURNED
    assert transfer.fee_refund_journal.type == "REVERSAL"
    assert _account(account).balance == 10_000_000
    assert Account.objects.get(number=settings_fee_account()).balance == 0
    assert settlement.suspense_difference() == 0 and ledger_verify().ok


@pytest.mark.req("FP-03")
def test_a_payment_under_review_holds_its_fee_and_pays_it_only_when_released(
        charging, payer, payee, at, later, settings):
    settings.RISK_REVIEW_FEN = 100_000
    user, account = payer
    first = pay(user, instruction(account, payee, yuan="2000.00"), at, key="a")
    second = pay(user, instruction(account, payee, yuan="3000.00"), at, key="b")
    assert first.status == second.status == TransferStatus.HELD
    assert (first.hold.amount, second.hold.amount) == (200_200, 300_300)
    assert _account(account).held == 500_500 and not Journal.objects.filter(type="FEE")

    review.held_release(transfer_id=first.pk, staff="staff:risk1", reason="ok", at=later)
    review.held_decline(transfer_id=second.pk, staff="staff:risk1", reason="no", at=later)
    first.refresh_from_db()
    payer_account = _account(account)
    assert (payer_account.balance, payer_account.held) == (10_000_000 - 200_200, 0)
    assert first.fee_journal.type == "FEE" and _account(payee).balance == 200_000
    assert Journal.objects.filter(type="FEE").count() == 1  # the declined one paid none
    assert ledger_verify().ok


@pytest.mark.req("CS-04")
def test_the_fee_page_is_public_and_shows_the_schedule_charged(client, charging):
    page = client.get("/fees/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "转账收费标准" in text
    assert "¥1.00" in text and "0.1%" in text and "¥50.00" in text and "¥5.00" in text
    assert "免费" in text  # kinds the schedule leaves out
