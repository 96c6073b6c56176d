import re

import pytest

from wangyin.authn import services as authn
from wangyin.customers.services import personal_account_open
from wangyin.notify.models import SmsMessage
from wangyin.payments import services as payments


@pytest.fixture
def payer(user, fund, at):
    """张伟 (professional edition) with ¥100,000.00 in his Class I account."""
    account = personal_account_open(person_id=user.person_id, product="PERSONAL_I",
                                    face_to_face=True, actor="staff:1", opened_at=at)
    fund(account.ledger_account, "100000.00")
    return user, account


@pytest.fixture
def payee(make_person, at):
    """李四, another customer, with a Class I account."""
    person = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                         phone="13900000001")
    return personal_account_open(person_id=person.pk, product="PERSONAL_I",
                                 face_to_face=True, actor="staff:1", opened_at=at)


def instruction(debit, credit, yuan="1234.56", name="李四", memo="房租"):
    from wangyin.core.money import Money
    return payments.Instruction(debit_account_id=debit.pk, payee_account=credit.number,
                                payee_name=name, amount_fen=Money.from_yuan(yuan).fen,
                                memo=memo)


def confirm(user, quote, at):
    """The customer confirms with the codes the bank sent (SMS only below its cap)."""
    challenge = authn.challenge_issue(person=user.person, purpose=quote.operation,
                                      factors=quote.factors, key=quote.key, at=at,
                                      device_id=quote.key.device)
    body = SmsMessage.objects.filter(purpose=f"authn.{quote.operation}").latest("id").body
    code = re.search(r"验证码 (\d{6})", body).group(1)
    authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                           purpose=quote.operation, digest=quote.key.digest(),
                           codes={"SMS": code}, at=at)
    return challenge


def pay(user, order, at, *, key="idem-1", device="dev-1"):
    """Quote, confirm by SMS, execute: the whole customer journey for one payment."""
    quote = payments.transfer_quote(user=user, instruction=order, device_id=device, ip=None,
                                    at=at)
    challenge = confirm(user, quote, at) if quote.factors else None
    return payments.transfer_execute(user=user, instruction=order, nonce=quote.key.nonce,
                                     challenge_id=challenge.pk if challenge else None,
                                     idempotency_key=key, device_id=device, ip=None, at=at)


def receive_by_mobile(user, account, at, *, device="dev-9"):
    """``user`` registers their reserved number to ``account`` with the SMS code."""
    from wangyin.payments import payees

    challenge = payees.mobile_register_start(user=user, account_id=account.pk,
                                             device_id=device, at=at)
    body = SmsMessage.objects.filter(purpose=f"authn.{payees.REGISTER}").latest("id").body
    authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                           purpose=payees.REGISTER, at=at,
                           digest=payees.mobile_register_digest(user, account, device),
                           codes={"SMS": re.search(r"验证码 (\d{6})", body).group(1)})
    return payees.mobile_register(user=user, account_id=account.pk, challenge_id=challenge.pk,
                                  device_id=device, ip=None, at=at)


def banking_for(account, at, login_name="lisi_0001"):
    """Internet banking (professional edition) for the holder of ``account``."""
    from wangyin.identity import services as identity

    user, _initial = identity.internet_banking_open(
        person_id=account.person_id, login_name=login_name, edition="PRO",
        risk_acknowledged=True, staff="staff:teller1", reason="counter", at=at)
    return user
