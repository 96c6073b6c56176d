"""Signing in with a passkey instead of the password (AU-18): the assertion names the
person, the login's rules still apply, and every failure says the same vague thing."""

import json
from datetime import timedelta

import pytest

from tests.authn.authenticator import SoftAuthenticator
from wangyin.audit.models import AuditEvent
from wangyin.authn import passkeys
from wangyin.authn.models import Passkey
from wangyin.identity import services
from wangyin.identity.errors import LoginLocked, PasskeyLoginFailed
from wangyin.identity.models import ChannelUser, LoginEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def authenticator(user, at):
    """The customer's phone, holding a passkey registered with the real ceremony."""
    authenticator = SoftAuthenticator(person_id=user.person_id)
    challenge = passkeys.new_challenge()
    passkeys.passkey_register(person=user.person, credential=authenticator.registration(challenge),
                              challenge=challenge, label="phone", at=at)
    return authenticator


def _login(assertion, challenge, at, *, issued_at=None):
    return services.passkey_login(
        assertion=assertion, challenge=challenge,
        challenge_issued_at=issued_at or at - timedelta(seconds=20), ip="203.0.113.5",
        device="dev-1", user_agent="pytest", at=at)


def _failure_audit():
    return AuditEvent.objects.filter(action="identity.login.passkey", result="FAILURE").get()


@pytest.mark.req("AU-18", "FA-07")
def test_a_passkey_signs_in_its_person_without_a_login_name(user, authenticator, later):
    options = json.loads(passkeys.login_options(challenge=passkeys.new_challenge()))
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    challenge = passkeys.new_challenge()

    signed_in = _login(authenticator.assertion(challenge), challenge, later)

    assert signed_in.pk == user.pk
    event = LoginEvent.objects.get()
    assert (event.outcome, event.method, event.device) == ("SUCCESS", "PASSKEY", "dev-1")
    audit = AuditEvent.objects.get(action="identity.login.passkey")
    assert audit.result == "SUCCESS" and audit.target == f"channel_user:{user.pk}"
    passkey = Passkey.objects.get()
    assert passkey.sign_count == 1 and passkey.last_used_at == later


@pytest.mark.req("AU-18", "FA-07")
def test_passkeys_are_registered_as_discoverable_with_user_verification(user):
    options = json.loads(passkeys.registration_options(
        person=user.person, login_name=user.login_name, challenge=passkeys.new_challenge()))
    selection = options["authenticatorSelection"]
    assert selection["residentKey"] == "required" and selection["requireResidentKey"] is True
    assert selection["userVerification"] == "required"


@pytest.mark.req("AU-18", "AU-09")
def test_a_removed_passkey_no_longer_signs_in(user, authenticator, at, later):
    passkeys.passkey_remove(person=user.person, passkey_pk=Passkey.objects.get().pk,
                            device="dev-1", at=at)
    challenge = passkeys.new_challenge()
    with pytest.raises(PasskeyLoginFailed):
        _login(authenticator.assertion(challenge), challenge, later)
    assert _failure_audit().details["why"] == "passkey removed"
    assert LoginEvent.objects.get().outcome == "BAD_PASSKEY"
    assert Passkey.objects.get().last_used_at is None


@pytest.mark.req("AU-18", "AU-08")
def test_a_locked_login_cannot_sign_in_with_a_passkey(user, authenticator, later):
    ChannelUser.objects.filter(pk=user.pk).update(
        failed_attempts=5, locked_until=services.next_unlock_time(later))
    challenge = passkeys.new_challenge()
    with pytest.raises(LoginLocked):
        _login(authenticator.assertion(challenge), challenge, later)
    assert LoginEvent.objects.get().outcome == "LOCKED"
    assert _failure_audit().details["why"] == "login locked"
    assert ChannelUser.objects.get().failed_attempts == 5  # a passkey does not unlock


@pytest.mark.req("AU-18", "AU-09")
def test_a_closed_login_cannot_sign_in_with_a_passkey(user, authenticator, at, later):
    services.internet_banking_close(person_id=user.person_id, actor="staff:1", reason="r",
                                    at=at)
    challenge = passkeys.new_challenge()
    with pytest.raises(PasskeyLoginFailed):
        _login(authenticator.assertion(challenge), challenge, later)
    assert _failure_audit().details["why"] == "no active internet banking"


@pytest.mark.req("AU-18", "FA-07", "AU-09")
@pytest.mark.parametrize(("case", "why"), [
    ("another challenge", "verification"),
    ("no challenge", "no challenge, or it expired"),
    ("expired challenge", "no challenge, or it expired"),
    ("without user verification", "verification"),
    ("from another site", "verification"),
    ("another person's handle", "user handle of another person"),
])
def test_an_assertion_that_does_not_verify_is_refused(user, authenticator, later, case, why):
    challenge = passkeys.new_challenge()
    assertion = authenticator.assertion(
        passkeys.new_challenge() if case == "another challenge" else challenge,
        user_verified=case != "without user verification",
        origin="https://phishing.example" if case == "from another site" else None,
        user_handle=b"wangyin-person-999999" if case == "another person's handle" else None)
    with pytest.raises(PasskeyLoginFailed) as refused:
        _login(assertion, "" if case == "no challenge" else challenge, later,
               issued_at=later - timedelta(minutes=3) if case == "expired challenge" else None)
    assert str(refused.value.message) == str(PasskeyLoginFailed.message)
    assert _failure_audit().details["why"].startswith(why)
    assert LoginEvent.objects.get().outcome == "BAD_PASSKEY"
    assert Passkey.objects.get().sign_count == 0
    # The signature cannot be guessed: passkey failures do not lock the password.
    assert ChannelUser.objects.get().failed_attempts == 0


@pytest.mark.req("AU-18", "FA-07")
def test_a_replayed_assertion_is_refused(user, authenticator, later):
    challenge = passkeys.new_challenge()
    assertion = authenticator.assertion(challenge)
    _login(assertion, challenge, later)
    with pytest.raises(PasskeyLoginFailed):
        _login(assertion, challenge, later)
    assert "sign count" in _failure_audit().details["why"].lower()
    assert Passkey.objects.get().sign_count == 1


@pytest.mark.req("AU-18", "AU-09")
def test_an_unknown_credential_is_refused_and_changes_nothing(user, authenticator, later):
    stranger = SoftAuthenticator(person_id=user.person_id)
    audits, passkey = AuditEvent.objects.count(), Passkey.objects.values().get()
    challenge = passkeys.new_challenge()
    for assertion in (stranger.assertion(challenge), "", "not json", "[]", '{"id": ""}'):
        with pytest.raises(PasskeyLoginFailed):
            _login(assertion, challenge, later)
    assert AuditEvent.objects.count() == audits and not LoginEvent.objects.exists()
    assert Passkey.objects.values().get() == passkey
    assert ChannelUser.objects.values("failed_attempts", "locked_until").get() == {
        "failed_attempts": 0, "locked_until": None}
