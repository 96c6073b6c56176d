"""OTP tokens (FA-02): RFC 6238 TOTP through ``pyotp``, registered at the counter with the
token's serial and seed (encrypted at rest). Codes are accepted in a window of one step
either side, each time step at most once; consecutive wrong codes lock the token on the
server (``settings.TOKEN_MAX_FAILURES``, at most 6) until a teller unlocks it."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from datetime import datetime

import pyotp
from django.conf import settings
from django.db import IntegrityError, transaction

from wangyin.audit import services as audit
from wangyin.authn.errors import InvalidToken, NoToken, TokenAlreadyIssued
from wangyin.authn.models import OtpToken, TokenStatus
from wangyin.customers.errors import PartyNotFound
from wangyin.customers.models import Person
from wangyin.notify import services as notify

_SERIAL = re.compile(r"^[A-Z0-9]{6,20}$")
MIN_SEED_BYTES = 16  # 128 bits (RFC 4226 §4: at least 128, 160 recommended)


def _clean_seed(seed: str) -> str:
    seed = "".join((seed or "").split()).upper().rstrip("=")
    try:
        raw = base64.b32decode(seed + "=" * (-len(seed) % 8))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken(extra={"why": "seed not base32"}) from exc
    if len(raw) < MIN_SEED_BYTES:
        raise InvalidToken(extra={"why": "seed shorter than 128 bits"})
    return seed


def _current_token(person_id: int) -> OtpToken:
    token = (OtpToken.objects.select_for_update().exclude(status=TokenStatus.REVOKED)
             .filter(person_id=person_id).first())
    if token is None:
        raise NoToken(extra={"person_id": person_id})
    return token


@transaction.atomic
def token_issue(*, person_id: int, serial: str, seed: str, period: int = 30, staff: str,
                reason: str, at: datetime) -> OtpToken:
    serial = (serial or "").strip().upper()
    if not _SERIAL.fullmatch(serial) or period not in (30, 60):
        raise InvalidToken(extra={"why": "serial or period"})
    seed = _clean_seed(seed)
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    try:
        with transaction.atomic():
            token = OtpToken.objects.create(person=person, serial=serial, seed=seed,
                                            period=period, issued_at=at, issued_by=staff)
    except IntegrityError as exc:
        raise TokenAlreadyIssued() from exc
    audit.record(actor=staff, action="authn.token.issued", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": serial, "reason": reason})
    notify.sms_send(phone=person.phone, purpose="authn.token_issued", actor=staff, at=at,
                    body=f"{settings.SMS_SIGNATURE}您已在柜台绑定动态令牌（序列号尾号"
                    f"{serial[-4:]}）。如非本人办理，请立即致电本行客服。")
    return token


@transaction.atomic
def token_revoke(*, person_id: int, staff: str, reason: str, at: datetime) -> OtpToken:
    token = _current_token(person_id)
    token.status, token.revoked_at = TokenStatus.REVOKED, at
    token.save(update_fields=["status", "revoked_at"])
    audit.record(actor=staff, action="authn.token.revoked", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": token.serial, "reason": reason})
    return token


@transaction.atomic
def token_unlock(*, person_id: int, staff: str, reason: str, at: datetime) -> OtpToken:
    token = _current_token(person_id)
    token.status, token.failures = TokenStatus.ACTIVE, 0
    token.save(update_fields=["status", "failures"])
    audit.record(actor=staff, action="authn.token.unlocked", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": token.serial, "reason": reason})
    return token


def token_of(person) -> OtpToken | None:
    """The customer's token that is not revoked (active or locked), if any."""
    return OtpToken.objects.exclude(status=TokenStatus.REVOKED).filter(person=person).first()


def totp_accept(token: OtpToken, code: str, at: datetime) -> bool:
    """Check ``code`` against the token, whose row the caller has locked. A code is good
    for one time step either side of ``at`` and only for a step after the last accepted
    one, so a code works once. Saves the token either way."""
    code = (code or "").strip()
    good_step = None
    if token.status == TokenStatus.ACTIVE and code.isdigit() and len(code) == token.digits:
        totp = pyotp.TOTP(token.seed, digits=token.digits, interval=token.period)
        now_step = totp.timecode(at)
        for step in (now_step - 1, now_step, now_step + 1):
            if step > token.last_step and hmac.compare_digest(totp.generate_otp(step), code):
                good_step = step
    if good_step is not None:
        token.last_step, token.failures = good_step, 0
    elif token.status == TokenStatus.ACTIVE:
        token.failures += 1
        if token.failures >= settings.TOKEN_MAX_FAILURES:
            token.status = TokenStatus.LOCKED
    token.save(update_fields=["last_step", "failures", "status"])
    return good_step is not None
