"""SMS one-time codes (FA-01): 6 random digits, valid 2 minutes, used once, at most 3
guesses per code, at most 5 codes per customer in 10 minutes; the code is kept only as a
keyed hash and the text names what it is for."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from wangyin.audit import services as audit
from wangyin.authn.errors import ChallengeFailed, TooManyCodes
from wangyin.authn.models import AuthChallenge, Factor
from wangyin.core import ratelimit
from wangyin.core.crypto import blind_index
from wangyin.notify import services as notify

CODE_DIGITS = 6
LIFETIME = timedelta(minutes=2)
MAX_GUESSES = 3
PURPOSE_TEXT = {"device.bind": "绑定新设备", "password.reset": "重置登录密码",
                "register": "注册网上银行"}


def _hash(challenge_id: int, code: str) -> str:
    return blind_index(f"{challenge_id}:{code}", purpose="authn.sms_code")


def digest_of(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@transaction.atomic
def sms_challenge_issue(*, person, purpose: str, digest: str, at: datetime) -> AuthChallenge:
    if not ratelimit.allow(f"sms:person:{person.pk}", limit=5, per=600, now=at):
        raise TooManyCodes()
    actor = f"customer:{person.pk}"
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge = AuthChallenge.objects.create(person=person, purpose=purpose, digest=digest,
                                             factor=Factor.SMS, code_hash="", created_at=at,
                                             expires_at=at + LIFETIME)
    challenge.code_hash = _hash(challenge.pk, code)
    challenge.save(update_fields=["code_hash"])
    notify.sms_send(phone=person.phone, purpose=f"authn.{purpose}", actor=actor,
                    at=at, body=f"{settings.SMS_SIGNATURE}验证码 {code}，用于"
                    f"{PURPOSE_TEXT.get(purpose, purpose)}，2分钟内有效。请勿告诉任何人，"
                    "本行工作人员不会索要。")
    audit.record(actor=actor, action="authn.challenge.issued",
                 target=f"challenge:{challenge.pk}", occurred_at=at,
                 details={"purpose": purpose, "factor": Factor.SMS})
    return challenge


def challenge_verify(*, challenge_id: int, person, purpose: str, digest: str, code: str,
                     at: datetime) -> AuthChallenge:
    """Check a code; raises ``ChallengeFailed``. A wrong guess is committed before the
    error so the guess budget holds."""
    ok = _verify(challenge_id=challenge_id, person=person, purpose=purpose, digest=digest,
                 code=code, at=at)
    if ok is None:
        raise ChallengeFailed()
    return ok


@transaction.atomic
def _verify(*, challenge_id, person, purpose, digest, code, at) -> AuthChallenge | None:
    challenge = AuthChallenge.objects.select_for_update().filter(
        pk=challenge_id, person=person, purpose=purpose).first()
    if (challenge is None or challenge.verified_at is not None or challenge.expires_at <= at
            or challenge.attempts >= MAX_GUESSES or challenge.digest != digest):
        return None
    challenge.attempts += 1
    good = hmac.compare_digest(challenge.code_hash, _hash(challenge.pk, (code or "").strip()))
    if good:
        challenge.verified_at = at
    challenge.save(update_fields=["attempts", "verified_at"])
    audit.record(actor=f"customer:{person.pk}", action="authn.challenge.verified" if good
                 else "authn.challenge.failed", result="SUCCESS" if good else "FAILURE",
                 target=f"challenge:{challenge.pk}", occurred_at=at,
                 details={"purpose": purpose})
    return challenge if good else None
