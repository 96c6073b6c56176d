"""Challenge-response tokens (FA-03): RFC 6287 OCRA; the question is derived from the payee
account and the amount, so the answer is bound to them (TX-06); answers expire with the
one-minute time step and work once."""

from datetime import timedelta

import pytest
from oath import str2ocrasuite

from wangyin.authn import services as authn
from wangyin.authn import tokens
from wangyin.authn.errors import ChallengeFailed
from wangyin.authn.keydata import KeyData, new_nonce
from wangyin.notify.models import SmsMessage

from .conftest import SEED

pytestmark = [pytest.mark.django_db, pytest.mark.req("FA-03")]


def test_the_ocra_library_matches_the_rfc_6287_test_vectors():
    plain = str2ocrasuite("OCRA-1:HOTP-SHA1-6:QN08")
    assert [plain(b"12345678901234567890", Q=q * 8) for q in "0123"] == [
        "237653", "243178", "653583", "740991"]
    timed = str2ocrasuite("OCRA-1:HOTP-SHA512-8:QN08-T1M")
    key = b"1234567890" * 6 + b"1234"
    assert [timed(key, Q=q * 8, T_precomputed=0x132D0B6) for q in "012"] == [
        "95209754", "55907591", "22048402"]


@pytest.fixture
def ocra_token(user, at):
    return tokens.token_issue(person_id=user.person_id, serial="WYOCRA0001", seed=SEED,
                              kind="OCRA", staff="staff:7", reason="counter", at=at)


def _transfer(amount_fen=123_456, account="6236800100000012345"):
    return KeyData(operation="transfer", device="dev-1", nonce=new_nonce(),
                   payee_account=account, payee_name="李四", amount_fen=amount_fen)


def _issue(user, key, at, factors=("OCRA",)):
    return authn.challenge_issue(person=user.person, purpose="security.change", key=key,
                                 factors=factors, at=at)


def test_the_question_is_the_payees_last_digits_and_the_amount(user, ocra_token, at):
    challenge = _issue(user, _transfer(), at)
    assert challenge.question == "012345" + "123456"
    other = _issue(user, _transfer(amount_fen=123_457), at)
    assert other.question != challenge.question


def test_the_right_answer_passes_once(user, ocra_token, at):
    key = _transfer()
    challenge = _issue(user, key, at)
    answer = tokens.ocra_response(SEED, challenge.question, at)
    done = authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                  purpose="security.change", digest=key.digest(),
                                  codes={"OCRA": answer}, at=at)
    assert done.verified_at == at
    again = _issue(user, key, at + timedelta(seconds=5))
    with pytest.raises(ChallengeFailed):  # same question, same minute: replay refused
        authn.challenge_verify(challenge_id=again.pk, person=user.person,
                               purpose="security.change", digest=key.digest(),
                               codes={"OCRA": answer}, at=at + timedelta(seconds=5))


def test_an_answer_for_another_amount_or_an_old_minute_fails(user, ocra_token, at):
    key = _transfer()
    challenge = _issue(user, key, at)
    wrong_amount = tokens.ocra_response(SEED, "012345" + "999999", at)
    stale = tokens.ocra_response(SEED, challenge.question, at - timedelta(minutes=3))
    for answer in (wrong_amount, stale):
        with pytest.raises(ChallengeFailed):
            authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                   purpose="security.change", digest=key.digest(),
                                   codes={"OCRA": answer}, at=at)


@pytest.mark.req("FA-01", "TX-03")
def test_the_sms_names_the_masked_payee_and_the_amount(user, at):
    key = _transfer()
    _issue(user, key, at, factors=("SMS",))
    body = SmsMessage.objects.filter(purpose="authn.security.change").latest("id").body
    assert "2345" in body and "6236800100000012345" not in body
    assert "收款账户6236***********2345" in body and "户名*四" in body
    assert "¥1,234.56" in body and "请勿告诉任何人" in body


@pytest.mark.req("TX-06", "TX-05")  # the device (terminal) id is part of the confirmed data
def test_key_data_digest_covers_every_field_and_needs_a_nonce():
    base = _transfer()
    assert base.digest() == KeyData(**{**base.__dict__}).digest()
    for change in ({"amount_fen": 123_457}, {"payee_account": "6236800100000012346"},
                   {"payee_name": "李五"}, {"currency": "USD"}, {"device": "dev-2"},
                   {"nonce": new_nonce()}, {"operation": "payee.add"}):
        assert KeyData(**{**base.__dict__, **change}).digest() != base.digest()
    with pytest.raises(ValueError):
        KeyData(operation="transfer", device="dev-1", nonce="short")


def test_the_software_token_command_answers_like_the_token(at):
    from click.testing import CliRunner
    from django.utils import timezone

    from wangyin.cli import main

    before = tokens.ocra_response(SEED, "012345123456", timezone.now())
    result = CliRunner().invoke(main, ["token", "answer", "012345123456", "--seed", SEED])
    after = tokens.ocra_response(SEED, "012345123456", timezone.now())
    assert result.exit_code == 0
    assert result.output.strip() in {before, after}  # the minute may turn meanwhile
    assert CliRunner().invoke(main, ["token", "answer", "12ab"]).exit_code == 2
