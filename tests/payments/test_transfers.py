"""Transfers to another customer of this bank and between one's own accounts: the checks,
the step-up bound to the key data, idempotency, limits, the risk hook, the alerts."""

import pytest

from tests.payments.conftest import confirm, instruction, pay
from tests.risk.conftest import live_rules
from wangyin.audit.models import AuditEvent
from wangyin.authn import limits
from wangyin.authn.errors import DigestMismatch, NotAuthorised
from wangyin.customers.services import personal_account_open
from wangyin.ledger.errors import InsufficientFunds
from wangyin.ledger.models import Account, Hold, Journal
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import SmsMessage
from wangyin.payments import services as payments
from wangyin.payments.errors import (
    AccountCannotPay,
    AccountClassLimit,
    InstructionChanged,
    NotYourAccount,
    PayeeNameMismatch,
    PayeeNotFound,
    PaymentBlocked,
    SameAccount,
)
from wangyin.payments.models import Transfer

pytestmark = pytest.mark.django_db


def _balance(account):
    return Account.objects.get(pk=account.ledger_account_id).balance


@pytest.mark.req("FP-03", "TX-01", "TX-09", "FA-09", "CS-05")
def test_a_same_bank_transfer_posts_once_and_alerts_both(payer, payee, at):
    user, account = payer
    transfer = pay(user, instruction(account, payee), at)
    assert (transfer.status, transfer.kind, transfer.medium) == ("DONE", "SAME_BANK", "SMS")
    assert _balance(account) == 10_000_000 - 123_456 and _balance(payee) == 123_456
    assert transfer.journal.type == "TRANSFER" and not transfer.replayed
    payer_sms = SmsMessage.objects.get(purpose="payments.debit").body
    assert "转出¥1,234.56" in payer_sms and "*四" in payer_sms
    assert "可用余额¥98,765.44" in payer_sms
    assert "转入¥1,234.56" in SmsMessage.objects.get(purpose="payments.credit").body
    assert AuditEvent.objects.filter(action="payments.transfer").count() == 1
    assert ledger_verify().ok


@pytest.mark.req("TX-01")
def test_own_accounts_need_nothing_beyond_the_login(payer, at):
    user, account = payer
    savings = personal_account_open(person_id=user.person_id, product="PERSONAL_II",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    quote = payments.transfer_quote(user=user, instruction=instruction(account, savings,
                                                                       name=""),
                                    device_id="dev-1", ip=None, at=at)
    assert quote.factors == () and quote.kind == "OWN"
    transfer = pay(user, instruction(account, savings, name=""), at)
    assert transfer.status == "DONE" and transfer.challenge is None
    assert _balance(savings) == 123_456


@pytest.mark.req("TX-06")
def test_double_clicks_and_replays_pay_once_and_show_the_first_result(payer, payee, at):
    user, account = payer
    order = instruction(account, payee)
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at)
    challenge = confirm(user, quote, at)
    kwargs = {"user": user, "instruction": order, "nonce": quote.key.nonce,
              "challenge_id": challenge.pk, "idempotency_key": "idem-7", "device_id": "dev-1",
              "ip": None, "at": at}
    first = payments.transfer_execute(**kwargs)
    second = payments.transfer_execute(**kwargs)
    assert second.pk == first.pk and second.replayed
    assert Journal.objects.filter(type="TRANSFER").count() == 1
    with pytest.raises(InstructionChanged):
        payments.transfer_execute(**{**kwargs, "instruction": instruction(account, payee,
                                                                         yuan="1.00")})


@pytest.mark.req("TX-06")
def test_a_changed_amount_after_confirmation_is_refused_and_audited(payer, payee, at):
    user, account = payer
    order = instruction(account, payee)
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at)
    challenge = confirm(user, quote, at)
    tampered = instruction(account, payee, yuan="9234.56")
    with pytest.raises(DigestMismatch):
        payments.transfer_execute(user=user, instruction=tampered, nonce=quote.key.nonce,
                                  challenge_id=challenge.pk, idempotency_key="idem-1",
                                  device_id="dev-1", ip=None, at=at)
    assert not Transfer.objects.exists() and _balance(payee) == 0
    assert AuditEvent.objects.filter(action="authn.digest_mismatch").exists()
    # The authorisation is burnt: the original cannot be paid with it either.
    with pytest.raises(NotAuthorised):
        payments.transfer_execute(user=user, instruction=order, nonce=quote.key.nonce,
                                  challenge_id=challenge.pk, idempotency_key="idem-2",
                                  device_id="dev-1", ip=None, at=at)


@pytest.mark.req("TX-06", "TX-16")
def test_without_a_verified_step_up_nothing_is_paid(payer, payee, at):
    user, account = payer
    order = instruction(account, payee)
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at)
    with pytest.raises(NotAuthorised):
        payments.transfer_execute(user=user, instruction=order, nonce=quote.key.nonce,
                                  challenge_id=None, idempotency_key="idem-1",
                                  device_id="dev-1", ip=None, at=at)
    assert not Transfer.objects.exists()


@pytest.mark.req("TX-07", "SE-09")
def test_only_own_accounts_pay(payer, payee, at):
    user, account = payer
    with pytest.raises(NotYourAccount):
        payments.transfer_quote(user=user, instruction=instruction(payee, account, name="张伟"),
                                device_id="dev-1", ip=None, at=at)


@pytest.mark.req("FP-03")
@pytest.mark.parametrize(("change", "error"), [
    ({"name": "李五"}, PayeeNameMismatch),
    ({"yuan": "0.00"}, Exception),
])
def test_bad_instructions_get_a_clear_error_and_change_nothing(payer, payee, at, change,
                                                               error):
    user, account = payer
    with pytest.raises(error):
        pay(user, instruction(account, payee, **change), at)
    assert not Transfer.objects.exists() and _balance(account) == 10_000_000


def test_unknown_and_same_accounts_are_refused(payer, at):
    user, account = payer
    order = payments.Instruction(debit_account_id=account.pk, payee_account="6236800199999999",
                                 payee_name="李四", amount_fen=100)
    with pytest.raises(PayeeNotFound):
        payments.transfer_quote(user=user, instruction=order, device_id="d", ip=None, at=at)
    with pytest.raises(SameAccount):
        payments.transfer_quote(user=user, instruction=instruction(account, account),
                                device_id="d", ip=None, at=at)


@pytest.mark.req("FP-03", "DT-05")
def test_no_overdraft(payer, payee, at):
    user, account = payer
    savings = personal_account_open(person_id=user.person_id, product="PERSONAL_II",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    pay(user, instruction(account, savings, yuan="99999.99", name=""), at, key="a")
    with pytest.raises(InsufficientFunds):
        pay(user, instruction(account, payee, yuan="0.02"), at, key="b")
    assert Transfer.objects.count() == 1 and _balance(account) == 1


@pytest.mark.req("FP-03")
def test_a_frozen_account_cannot_pay(payer, payee, at):
    from wangyin.ledger import services as ledger
    user, account = payer
    ledger.account_freeze(account_id=account.ledger_account_id, actor="staff:1",
                          reason="court order", at=at)
    with pytest.raises(AccountCannotPay):
        pay(user, instruction(account, payee), at)


@pytest.mark.req("TX-11")
def test_sms_cap_exactly_passes_and_one_fen_above_needs_a_device(payer, payee, at):
    user, account = payer
    cap = limits.caps_of("SMS").per_transaction_fen
    quote = payments.transfer_quote(
        user=user, instruction=payments.Instruction(account.pk, payee.number, "李四", cap),
        device_id="d", ip=None, at=at)
    assert quote.factors == ("SMS",)
    with pytest.raises(limits.OverLimit):  # no security device held
        payments.transfer_quote(
            user=user, instruction=payments.Instruction(account.pk, payee.number, "李四",
                                                        cap + 1),
            device_id="d", ip=None, at=at)


@pytest.mark.req("TX-11")
def test_the_daily_sms_cap_counts_todays_payments(payer, payee, at, fund):
    user, account = payer
    fund(account.ledger_account, "100000.00")
    pay(user, instruction(account, payee, yuan="30000.00"), at, key="a")
    with pytest.raises(limits.OverLimit):  # 30 000 + 20 000.01 > 50 000 a day by SMS
        pay(user, instruction(account, payee, yuan="20000.01"), at, key="b")
    assert pay(user, instruction(account, payee, yuan="20000.00"), at, key="c").status == "DONE"


@pytest.mark.req("ON-13")
def test_class_ii_and_remote_accounts_have_daily_caps_to_others(payer, payee, at, fund):
    user, _account = payer
    second = personal_account_open(person_id=user.person_id, product="PERSONAL_II",
                                   face_to_face=False, actor="staff:1", opened_at=at)
    fund(second.ledger_account, "20000.00")
    pay(user, instruction(second, payee, yuan="4000.00"), at, key="a")
    with pytest.raises(AccountClassLimit) as refused:
        pay(user, instruction(second, payee, yuan="1000.01"), at, key="b")
    assert "5,000.00" in str(refused.value.message)  # the remote-account cap is lower
    # Moving money between one's own accounts is not limited by the class.
    assert pay(user, instruction(second, _account, yuan="9000.00", name=""), at,
               key="c").kind == "OWN"


@pytest.mark.req("FP-03", "TX-01")
def test_the_public_edition_cannot_pay_others(payer, payee, at):
    user, account = payer
    user.edition = "PUBLIC"
    user.save(update_fields=["edition"])
    with pytest.raises(limits.EditionCannotPay):
        pay(user, instruction(account, payee), at)


def test_risk_review_holds_the_money_without_posting(payer, payee, at, settings):
    settings.RISK_REVIEW_FEN = 100_000
    user, account = payer
    transfer = pay(user, instruction(account, payee, yuan="1000.00"), at)
    assert transfer.status == "HELD" and transfer.journal is None
    hold = Hold.objects.get()
    assert hold.amount == 100_000 and hold.status == "PENDING"
    ledger_account = Account.objects.get(pk=account.ledger_account_id)
    assert ledger_account.balance == 10_000_000 and ledger_account.held == 100_000
    assert _balance(payee) == 0
    assert "正在审核" in SmsMessage.objects.get(purpose="payments.debit").body
    assert not SmsMessage.objects.filter(purpose="payments.credit").exists()
    assert AuditEvent.objects.filter(action="risk.decision").exists()


@pytest.mark.req("RK-18")
def test_risk_block_posts_nothing(payer, payee, at):
    live_rules(at, ("test_block", "is_funds", "block"))
    user, account = payer
    with pytest.raises(PaymentBlocked):
        pay(user, instruction(account, payee), at)
    assert not Transfer.objects.exists() and _balance(account) == 10_000_000


@pytest.mark.req("RK-18")
def test_a_failing_risk_evaluation_never_allows_silently(payer, payee, at, settings):
    settings.RISK_FALLBACK_REVIEW_FEN = 100_000  # ¥1,000: this payment is held
    live_rules(at, ("broken", "params.no_such_parameter > 0", "block"))
    user, account = payer
    transfer = pay(user, instruction(account, payee), at)
    assert transfer.status == "HELD" and transfer.risk_reasons == ["evaluation_failed"]


@pytest.mark.req("RK-18", "TX-08")
def test_a_step_up_for_a_customer_with_only_sms_holds_the_payment_for_review(payer, payee,
                                                                              at):
    """Nothing stronger than the SMS code to ask for: the payment is not refused with a
    limit message, it is confirmed by SMS and held until the bank's review releases it."""
    live_rules(at, ("ask_more", "is_funds", "step_up"))
    user, account = payer
    quote = payments.transfer_quote(user=user, instruction=instruction(account, payee),
                                    device_id="dev-1", ip=None, at=at)
    assert quote.held_for_review and quote.factors == ("SMS",)
    assert quote.risk.reasons == ("ask_more", "no_stronger_factor")
    transfer = pay(user, instruction(account, payee), at)
    assert transfer.status == "HELD" and transfer.risk_reasons == ["ask_more",
                                                                   "no_stronger_factor"]
    assert _balance(account) == 10_000_000 and _balance(payee) == 0
    with pytest.raises(limits.NoStrongerFactor):  # the factor policy itself
        limits.funds_factors(person=user.person, edition=user.edition,
                             operation="transfer.same_bank", amount_fen=100, risk="step_up")
