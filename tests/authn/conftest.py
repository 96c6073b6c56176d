import pyotp
import pytest

from wangyin.authn import tokens

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits


@pytest.fixture
def token(user, at):
    return tokens.token_issue(person_id=user.person_id, serial="WY00012345", seed=SEED,
                              staff="staff:7", reason="counter", at=at)


def totp_code(when, offset_steps: int = 0) -> str:
    totp = pyotp.TOTP(SEED)
    return totp.generate_otp(totp.timecode(when) + offset_steps)
