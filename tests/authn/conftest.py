import pyotp
import pytest

from wangyin.authn import tokens
from wangyin.identity import services as identity

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits


@pytest.fixture
def user(make_person, at):
    person = make_person()
    user, _ = identity.internet_banking_open(
        person_id=person.pk, login_name="zhangwei_01", edition="PRO", risk_acknowledged=True,
        staff="staff:1", reason="r", at=at)
    return user


@pytest.fixture
def token(user, at):
    return tokens.token_issue(person_id=user.person_id, serial="WY00012345", seed=SEED,
                              staff="staff:7", reason="counter", at=at)


def totp_code(when, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(SEED)
    return totp.generate_otp(totp.timecode(when) + offset_steps)
