"""SMS one-time codes (FA-01)."""

import re
from datetime import timedelta

import pytest

from wangyin.audit.models import AuditEvent
from wangyin.authn import services as authn
from wangyin.authn.errors import ChallengeFailed, TooManyCodes
from wangyin.notify.models import SmsMessage

pytestmark = [pytest.mark.django_db, pytest.mark.req("FA-01")]


def _issue(user, at, digest="d1"):
    challenge = authn.challenge_issue(person=user.person, purpose="device.bind",
                                      digest=digest, factors=["SMS"], at=at)
    body = SmsMessage.objects.filter(purpose="authn.device.bind").latest("id").body
    return challenge, re.search(r"验证码 (\d{6})", body).group(1), body


def _verify(user, challenge, code, at, digest="d1"):
    return authn.challenge_verify(challenge_id=challenge.pk, person=user.person,
                                  purpose="device.bind", digest=digest, codes={"SMS": code},
                                  at=at)


def test_a_six_digit_code_names_its_purpose_and_is_not_stored(user, at):
    challenge, code, body = _issue(user, at)
    assert len(code) == 6 and "绑定新设备" in body and "2分钟" in body
    assert code not in challenge.code_hash
    assert code not in str(list(AuditEvent.objects.values_list("details", flat=True)))


def test_right_code_passes_once(user, at):
    challenge, code, _ = _issue(user, at)
    assert _verify(user, challenge, code, at).verified_at == at
    with pytest.raises(ChallengeFailed):
        _verify(user, challenge, code, at)


def test_expires_after_two_minutes(user, at):
    challenge, code, _ = _issue(user, at)
    with pytest.raises(ChallengeFailed):
        _verify(user, challenge, code, at + timedelta(minutes=2))


def test_three_wrong_guesses_burn_the_code(user, at):
    challenge, code, _ = _issue(user, at)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        with pytest.raises(ChallengeFailed):
            _verify(user, challenge, wrong, at)
    with pytest.raises(ChallengeFailed):
        _verify(user, challenge, code, at)


def test_a_code_is_bound_to_its_data(user, at):
    challenge, code, _ = _issue(user, at, digest="device-A")
    with pytest.raises(ChallengeFailed):
        _verify(user, challenge, code, at, digest="device-B")


def test_at_most_five_codes_in_ten_minutes(user, at):
    for _ in range(5):
        _issue(user, at)
    with pytest.raises(TooManyCodes):
        _issue(user, at)
    _issue(user, at + timedelta(minutes=11))


@pytest.mark.req("SE-11")
def test_customers_sharing_a_phone_share_its_budget(user, at, make_person):
    relative = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    assert relative.phone == user.person.phone
    for _ in range(3):
        _issue(user, at)
    for _ in range(2):
        authn.challenge_issue(person=relative, purpose="register", digest="r", factors=["SMS"],
                              at=at)
    with pytest.raises(TooManyCodes):
        authn.challenge_issue(person=relative, purpose="register", digest="r",
                              factors=["SMS"], at=at)
