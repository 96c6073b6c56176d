"""A verified challenge is a single-use authorisation for exactly the confirmed data
(TX-06), and the factor policy asks for the customer's device where they hold one."""

from datetime import timedelta

import pytest

from wangyin.audit.models import AuditEvent
from wangyin.authn import policy, tokens
from wangyin.authn import services as authn
from wangyin.authn.errors import ChallengeFailed, DigestMismatch, NoSecondFactor, NotAuthorised

from .conftest import SEED

pytestmark = pytest.mark.django_db


def _verified(user, at, digest="confirmed"):
    challenge = authn.challenge_issue(person=user.person, purpose="security.change",
                                      digest=digest, factors=["SMS"], at=at)
    from wangyin.notify.models import SmsMessage
    body = SmsMessage.objects.filter(purpose="authn.security.change").latest("id").body
    return authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                  purpose="security.change", digest=digest,
                                  codes={"SMS": body.split("验证码 ")[1][:6]}, at=at)


def _use(user, challenge, at, digest="confirmed", **kw):
    return authn.authorisation_use(challenge_id=challenge.pk, person=user.person,
                                   purpose=kw.pop("purpose", "security.change"),
                                   digest=digest, at=at, **kw)


@pytest.mark.req("TX-06", "TX-16")
def test_an_authorisation_works_once(user, at):
    challenge = _verified(user, at)
    assert _use(user, challenge, at).used_at == at
    with pytest.raises(NotAuthorised):
        _use(user, challenge, at)


@pytest.mark.req("TX-06")
def test_different_data_is_refused_audited_and_burns_the_authorisation(user, at):
    challenge = _verified(user, at)
    with pytest.raises(DigestMismatch):
        _use(user, challenge, at, digest="tampered")
    event = AuditEvent.objects.get(action="authn.digest_mismatch")
    assert event.result == "FAILURE" and event.target == f"challenge:{challenge.pk}"
    with pytest.raises(NotAuthorised):
        _use(user, challenge, at)


@pytest.mark.req("TX-16")
def test_unverified_stale_foreign_or_weaker_is_refused(user, at, make_person):
    unverified = authn.challenge_issue(person=user.person, purpose="security.change",
                                       digest="confirmed", factors=["SMS"], at=at)
    with pytest.raises(NotAuthorised):
        _use(user, unverified, at)
    with pytest.raises(NotAuthorised):
        _use(user, _verified(user, at), at + authn.AUTHORISATION_LIFETIME)
    with pytest.raises(NotAuthorised):
        _use(user, _verified(user, at), at, purpose="password.reset")
    with pytest.raises(NotAuthorised):
        _use(user, _verified(user, at), at, requires=["SMS", "TOTP"])
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    challenge = _verified(user, at)
    with pytest.raises(NotAuthorised):
        authn.authorisation_use(challenge_id=challenge.pk, person=other,
                                purpose="security.change", digest="confirmed",
                                at=at + timedelta(seconds=1))
    # The code sent to this customer's phone verifies only this customer's challenge.
    later = at + timedelta(minutes=11)  # a fresh SMS budget
    mine = authn.challenge_issue(person=user.person, purpose="security.change",
                                 digest="confirmed", factors=["SMS"], at=later)
    from wangyin.notify.models import SmsMessage
    code = SmsMessage.objects.filter(purpose="authn.security.change").latest("id").body
    with pytest.raises(ChallengeFailed):
        authn.challenge_verify(challenge_id=mine.pk, person=other, purpose="security.change",
                               digest="confirmed", codes={"SMS": code.split("验证码 ")[1][:6]},
                               at=later)


@pytest.mark.req("FA-09", "ON-08", "FA-08")
def test_policy_rows(user, at, settings, make_person):
    person = user.person
    assert policy.required_factors(person=person, purpose="register") == ("SMS",)
    assert policy.required_factors(person=person, purpose="device.bind") == ("SMS",)
    assert policy.required_factors(person=person, purpose="security.change") == ("SMS",)
    # No security device: the face against the ID card's photo, where the bank verifies
    # faces and the document is a resident ID card; else the counter.
    assert policy.required_factors(person=person, purpose="password.reset") == ("SMS", "FACE")
    visitor = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                          phone="13900000001")
    with pytest.raises(NoSecondFactor):
        policy.required_factors(person=visitor, purpose="password.reset")
    settings.FACE_VERIFIER = "off"
    with pytest.raises(NoSecondFactor):
        policy.required_factors(person=person, purpose="password.reset")
    settings.FACE_VERIFIER = "sandbox"
    tokens.token_issue(person_id=person.pk, serial="WY00012345", seed=SEED, staff="s",
                       reason="r", at=at)
    for purpose in ("device.bind", "security.change", "password.reset"):
        assert policy.required_factors(person=person, purpose=purpose) == ("SMS", "TOTP")
    assert policy.required_factors(person=person, purpose="register") == ("SMS",)
    tokens.token_issue(person_id=person.pk, serial="WYOCRA0001", seed=SEED, kind="OCRA",
                       staff="s", reason="r", at=at)
    # Both held: the quicker OTP token for identity operations.
    assert policy.required_factors(person=person, purpose="device.bind") == ("SMS", "TOTP")
    tokens.token_revoke(person_id=person.pk, kind="TOTP", staff="s", reason="r", at=at)
    assert policy.required_factors(person=person, purpose="device.bind") == ("SMS", "OCRA")
    with pytest.raises(ValueError):
        policy.required_factors(person=person, purpose="payment")
