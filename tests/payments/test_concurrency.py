"""Payments racing on real PostgreSQL with real commits: parallel transfers never overdraw
an account or a daily limit, racing duplicates pay once, and the ledger verifies after."""

import pytest

from tests.payments.conftest import confirm, instruction
from tests.race import race
from wangyin.authn.limits import OverLimit
from wangyin.customers.services import personal_account_open
from wangyin.ledger.errors import InsufficientFunds
from wangyin.ledger.models import Account, Journal
from wangyin.ledger.selectors import ledger_verify
from wangyin.payments import services as payments
from wangyin.payments.models import Transfer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.req("DT-05", "FP-03"),
              pytest.mark.slow]


def test_parallel_transfers_never_overdraw(user, fund, at):
    account = personal_account_open(person_id=user.person_id, product="PERSONAL_I",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    savings = personal_account_open(person_id=user.person_id, product="PERSONAL_II",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    fund(account.ledger_account, "10000.00")
    order = instruction(account, savings, yuan="1000.00", name="")

    def pay_twice(i):
        done = 0
        for n in range(2):
            try:
                quote = payments.transfer_quote(user=user, instruction=order, device_id="d",
                                                ip=None, at=at)
                payments.transfer_execute(user=user, instruction=order,
                                          nonce=quote.key.nonce, challenge_id=None,
                                          idempotency_key=f"k-{i}-{n}", device_id="d",
                                          ip=None, at=at)
                done += 1
            except InsufficientFunds:
                pass
        return done

    results, errors = race(8, pay_twice)
    assert not errors, errors
    assert sum(results.values()) == 10 == Transfer.objects.count()
    assert Account.objects.get(pk=account.ledger_account_id).balance == 0
    assert Account.objects.get(pk=savings.ledger_account_id).balance == 1_000_000
    assert ledger_verify().ok


def test_racing_duplicates_pay_once(payer, payee, at):
    user, account = payer
    order = instruction(account, payee)
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at)
    challenge = confirm(user, quote, at)

    def submit(_i):
        return payments.transfer_execute(user=user, instruction=order, nonce=quote.key.nonce,
                                         challenge_id=challenge.pk, idempotency_key="same",
                                         device_id="dev-1", ip=None, at=at).pk

    results, errors = race(8, submit)
    assert not errors, errors
    assert len(set(results.values())) == 1 and Transfer.objects.count() == 1
    assert Journal.objects.filter(type="TRANSFER").count() == 1
    assert Account.objects.get(pk=payee.ledger_account_id).balance == 123_456
    assert ledger_verify().ok


@pytest.mark.req("TX-11")
def test_parallel_payments_cannot_exceed_the_daily_limit(payer, payee, at):
    user, account = payer
    order = instruction(account, payee, yuan="12000.00")  # 5 × 12 000 > 50 000 a day by SMS
    confirmed = []
    for _ in range(5):
        quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1",
                                        ip=None, at=at)
        confirmed.append((quote, confirm(user, quote, at)))

    def submit(i):
        quote, challenge = confirmed[i]
        return payments.transfer_execute(user=user, instruction=order, nonce=quote.key.nonce,
                                         challenge_id=challenge.pk, idempotency_key=f"k{i}",
                                         device_id="dev-1", ip=None, at=at)

    results, errors = race(5, submit)
    assert len(results) == 4 and len(errors) == 1
    assert all(isinstance(e, OverLimit) for e in errors.values())
    assert Account.objects.get(pk=payee.ledger_account_id).balance == 4 * 1_200_000
    assert ledger_verify().ok
