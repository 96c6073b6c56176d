"""Graphical captchas (AU-04): drawn on the server by the ``captcha`` library (noise dots
and curve, per-character colour, rotation and warping), 5 characters mixing letters and
digits from an alphabet without look-alikes, valid 2 minutes, used at most once whether
the answer was right or not. Answers compare case-insensitively."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from captcha.image import ImageCaptcha
from django.db import transaction

from wangyin.identity.models import Captcha

LETTERS = "ACDEFGHJKLMNPQRTUVWXY"
DIGITS = "2345689"
LENGTH = 5
LIFETIME = timedelta(minutes=2)


def _answer() -> str:
    while True:
        text = "".join(secrets.choice(LETTERS + DIGITS) for _ in range(LENGTH))
        if any(c in LETTERS for c in text) and any(c in DIGITS for c in text):
            return text


def captcha_issue(*, purpose: str, at: datetime) -> Captcha:
    return Captcha.objects.create(token=secrets.token_urlsafe(32), answer=_answer(),
                                  purpose=purpose, created_at=at, expires_at=at + LIFETIME)


def captcha_image(*, token: str, at: datetime) -> bytes | None:
    """The PNG of a live captcha, or None (unknown, used or expired)."""
    captcha = Captcha.objects.filter(token=token, used_at__isnull=True,
                                     expires_at__gt=at).first()
    if captcha is None:
        return None
    return ImageCaptcha(width=200, height=70).generate(captcha.answer).getvalue()


@transaction.atomic
def captcha_verify(*, token: str, answer: str, purpose: str, at: datetime) -> bool:
    """True when ``answer`` matches a live captcha of this purpose. Burns the captcha."""
    captcha = Captcha.objects.select_for_update().filter(token=token or "").first()
    if captcha is None or captcha.used_at is not None:
        return False
    captcha.used_at = at
    captcha.save(update_fields=["used_at"])
    if captcha.purpose != purpose or captcha.expires_at <= at:
        return False
    given = (answer or "").strip().upper()
    return secrets.compare_digest(given.encode(), captcha.answer.encode())


def captcha_purge(*, now: datetime) -> int:
    """Delete captchas that expired more than a day ago (worker job)."""
    deleted, _ = Captcha.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    return deleted
