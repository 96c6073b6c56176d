"""Staff decide a transfer held for review: released (paid, once) or declined (the hold
lifted, nothing paid); the customer is told."""

from datetime import timedelta

import pytest

from tests.payments.conftest import instruction, pay
from wangyin.audit.models import AuditEvent
from wangyin.ledger.models import Account, Hold
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import Notice, SmsMessage
from wangyin.payments import directory, review, sandbox, settlement
from wangyin.payments import services as payments
from wangyin.payments.errors import TransferNotHeld
from wangyin.payments.models import ClearingMessage, TransferStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(payer, payee, at, settings):
    settings.RISK_REVIEW_FEN = 100_000
    user, account = payer
    transfer = pay(user, instruction(account, payee, yuan="1000.00"), at)
    assert transfer.status == TransferStatus.HELD
    return transfer


def _balance(account):
    return Account.objects.get(pk=account.ledger_account_id)


@pytest.mark.req("TX-09")
def test_a_released_transfer_is_paid_once(held, payer, payee, later):
    _user, account = payer
    done = review.held_release(transfer_id=held.pk, staff="staff:risk1", reason="customer "
                               "confirmed by phone", at=later)
    assert done.status == TransferStatus.RELEASED and done.journal is not None
    again = review.held_release(transfer_id=held.pk, staff="staff:risk1", reason="x", at=later)
    assert again.journal_id == done.journal_id
    assert _balance(payee).balance == 100_000
    payer_account = _balance(account)
    assert (payer_account.balance, payer_account.held) == (10_000_000 - 100_000, 0)
    assert Hold.objects.get().status == "CAPTURED"
    assert list(held.events.values_list("step", flat=True)) == ["HELD", "RELEASED"]
    assert AuditEvent.objects.get(action="payments.held.released").actor == "staff:risk1"
    assert Notice.objects.filter(kind="funds.credit", person_id=payee.person_id).exists()
    with pytest.raises(TransferNotHeld):
        review.held_decline(transfer_id=held.pk, staff="staff:risk2", reason="x", at=later)
    assert ledger_verify().ok


@pytest.mark.req("TX-09")
def test_a_declined_transfer_frees_the_money_and_pays_nothing(held, payer, payee, later):
    _user, account = payer
    review.held_decline(transfer_id=held.pk, staff="staff:risk1", reason="fraud suspected",
                        at=later)
    held.refresh_from_db()
    assert held.status == TransferStatus.REJECTED and held.journal is None
    payer_account = _balance(account)
    assert (payer_account.balance, payer_account.held) == (10_000_000, 0)
    assert _balance(payee).balance == 0
    assert "未予支付" in SmsMessage.objects.get(purpose="payments.declined").body
    assert Notice.objects.filter(kind="funds.declined").count() == 1
    review.held_decline(transfer_id=held.pk, staff="staff:risk1", reason="again", at=later)
    assert Notice.objects.filter(kind="funds.declined").count() == 1  # once
    with pytest.raises(TransferNotHeld):
        review.held_release(transfer_id=held.pk, staff="staff:risk2", reason="x", at=later)
    assert ledger_verify().ok


def test_a_released_interbank_transfer_goes_to_the_clearing(payer, at, later, settings):
    settings.RISK_REVIEW_FEN = 100_000
    directory.banks_load()
    sandbox.account_add(bank_code="102428000013", number="6222020000000001234", name="赵六")
    user, account = payer
    transfer = pay(user, payments.Instruction(
        debit_account_id=account.pk, payee_account="6222020000000001234", payee_name="赵六",
        payee_bank="102428000013", amount_fen=200_000), at)
    assert transfer.status == TransferStatus.HELD and not ClearingMessage.objects.exists()
    released = review.held_release(transfer_id=transfer.pk, staff="staff:risk1", reason="ok",
                                   at=later)
    assert released.status == TransferStatus.PROCESSING
    assert released.journal.party_name == "赵六"
    assert settlement.suspense_difference() == 0
    settlement.clearing_send(message_id=ClearingMessage.objects.get().pk, now=later)
    sandbox.run_due(now=later + timedelta(minutes=1))
    released.refresh_from_db()
    assert released.status == TransferStatus.DONE
    assert settlement.suspense_difference() == 0 and ledger_verify().ok
