"""OTP tokens (FA-02): RFC 6238 codes, ±1 step, each code once, server-side lock-out,
seed encrypted at rest, issued and revoked at the counter with an audit record."""

from datetime import timedelta

import pytest
from django.db import connection

from wangyin.audit.models import AuditEvent
from wangyin.authn import services as authn
from wangyin.authn import tokens
from wangyin.authn.errors import (
    ChallengeFailed,
    InvalidToken,
    NoToken,
    TokenAlreadyIssued,
    TokenLocked,
)
from wangyin.authn.models import OtpToken, TokenStatus
from wangyin.notify.models import SmsMessage

from .conftest import SEED, totp_code

pytestmark = [pytest.mark.django_db, pytest.mark.req("FA-02")]


def _check(token, code, when):
    token = OtpToken.objects.get(pk=token.pk)
    return tokens.code_accept(token, code, when)


def test_the_current_code_is_accepted_once(token, at):
    code = totp_code(at)
    assert _check(token, code, at)
    assert not _check(token, code, at)  # replay
    assert not _check(token, code, at + timedelta(seconds=20))


def test_window_is_one_step_either_side(token, at):
    assert _check(token, totp_code(at, -1), at)
    assert _check(token, totp_code(at, +1), at)
    assert not _check(token, totp_code(at, +2), at)
    assert not _check(token, totp_code(at, -2), at + timedelta(minutes=5))


def test_an_older_step_is_refused_after_a_newer_one(token, at):
    assert _check(token, totp_code(at, +1), at)
    assert not _check(token, totp_code(at), at)


def test_consecutive_failures_lock_the_token_until_a_teller_unlocks(token, at, settings):
    settings.TOKEN_MAX_FAILURES = 3
    wrong = f"{(int(totp_code(at)) + 1) % 1_000_000:06d}"
    for _ in range(3):
        assert not _check(token, wrong, at)
    token.refresh_from_db()
    assert token.status == TokenStatus.LOCKED
    assert not _check(token, totp_code(at), at)  # even the right code
    tokens.token_unlock(person_id=token.person_id, staff="staff:7", reason="id checked", at=at)
    assert _check(token, totp_code(at), at)


def test_a_success_resets_the_failure_count(token, at, settings):
    settings.TOKEN_MAX_FAILURES = 3
    wrong = "000000" if totp_code(at) != "000000" else "111111"
    _check(token, wrong, at)
    _check(token, wrong, at)
    assert _check(token, totp_code(at), at)
    token.refresh_from_db()
    assert token.failures == 0


def test_the_seed_is_encrypted_at_rest(token):
    with connection.cursor() as cursor:
        cursor.execute("SELECT seed FROM authn_otptoken WHERE id = %s", [token.pk])
        stored = bytes(cursor.fetchone()[0])
    assert SEED.encode() not in stored and b"JBSWY3DP" not in stored
    assert OtpToken.objects.get(pk=token.pk).seed == SEED


def test_issue_validates_serial_and_seed(user, at):
    for serial, seed in (("x", SEED), ("WY00012345", "not base32!"),
                         ("WY00012345", "JBSWY3DPEHPK3PXP")):  # 80 bits: too short
        with pytest.raises(InvalidToken):
            tokens.token_issue(person_id=user.person_id, serial=serial, seed=seed,
                               staff="staff:7", reason="r", at=at)
    assert not OtpToken.objects.exists()


def test_one_token_per_customer_and_revoke(token, user, at):
    with pytest.raises(TokenAlreadyIssued):
        tokens.token_issue(person_id=user.person_id, serial="WY00099999", seed=SEED,
                           staff="staff:7", reason="r", at=at)
    tokens.token_revoke(person_id=user.person_id, staff="staff:7", reason="lost", at=at)
    assert tokens.token_of(user.person) is None
    with pytest.raises(NoToken):
        tokens.token_revoke(person_id=user.person_id, staff="staff:7", reason="again", at=at)
    tokens.token_issue(person_id=user.person_id, serial="WY00099999", seed=SEED,
                       staff="staff:7", reason="replacement", at=at)


@pytest.mark.req("AD-02")
def test_counter_actions_are_audited_and_texted(token, user, at):
    tokens.token_revoke(person_id=user.person_id, staff="staff:7", reason="lost", at=at)
    actions = set(AuditEvent.objects.filter(actor="staff:7").values_list("action", flat=True))
    assert {"authn.token.issued", "authn.token.revoked"} <= actions
    assert SmsMessage.objects.filter(purpose="authn.token_issued").exists()
    assert SEED not in str(list(AuditEvent.objects.values_list("details", flat=True)))


def test_a_challenge_with_a_token_needs_both_codes(token, user, at):
    challenge = authn.challenge_issue(person=user.person, purpose="device.bind",
                                      digest="d", factors=["SMS", "TOTP"], at=at)
    sms = SmsMessage.objects.filter(purpose="authn.device.bind").latest("id").body
    sms_code = sms.split("验证码 ")[1][:6]
    with pytest.raises(ChallengeFailed):
        authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                               purpose="device.bind", digest="d", codes={"SMS": sms_code},
                               at=at)
    done = authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                  purpose="device.bind", digest="d",
                                  codes={"SMS": sms_code, "TOTP": totp_code(at)}, at=at)
    assert done.verified_at == at and done.factors == ["SMS", "TOTP"]


def test_a_locked_token_cannot_be_asked_for_and_says_so(token, user, at, settings):
    settings.TOKEN_MAX_FAILURES = 1
    challenge = authn.challenge_issue(person=user.person, purpose="device.bind",
                                      digest="d", factors=["TOTP"], at=at)
    with pytest.raises(TokenLocked):
        authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                               purpose="device.bind", digest="d", codes={"TOTP": "12345x"},
                               at=at)
    with pytest.raises(TokenLocked):
        authn.challenge_issue(person=user.person, purpose="device.bind", digest="d",
                              factors=["TOTP"], at=at)


def test_the_code_used_at_sign_in_does_not_also_confirm_a_transaction(token, user, at):
    """FA-02 "login and transaction codes differ": a code is spent by whichever operation
    takes it first, so binding a device at sign-in and a payment need two codes."""
    code = totp_code(at)

    def verify(purpose):
        challenge = authn.challenge_issue(person=user.person, purpose=purpose, digest="d",
                                          factors=["SMS", "TOTP"], at=at)
        sms = SmsMessage.objects.filter(purpose=f"authn.{purpose}").latest("id").body
        return authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                      purpose=purpose, digest="d", at=at,
                                      codes={"SMS": sms.split("验证码 ")[1][:6], "TOTP": code})

    assert verify("device.bind").verified_at == at
    with pytest.raises(ChallengeFailed):
        verify("transfer")
    assert AuditEvent.objects.filter(action="authn.challenge.failed").exists()
