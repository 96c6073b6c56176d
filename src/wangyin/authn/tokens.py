"""Hardware tokens registered at the counter with their serial and seed (encrypted at
rest):

- time-based OTP tokens (FA-02): RFC 6238 TOTP through ``pyotp``;
- challenge-response tokens (FA-03): RFC 6287 OCRA through ``oath``, suite
  ``OCRA_SUITE``. The question the customer types into the token is the payee account's
  last 6 digits followed by the amount in fen, so the answer is bound to both; for an
  operation without a payee it is 8 random digits. The suite includes a one-minute time
  step, so an answer also expires.

Either kind accepts a code one time step either side of now, and each step at most once;
consecutive wrong codes lock the token on the server (``settings.TOKEN_MAX_FAILURES``, at
most 6) until a teller unlocks it. (The token's own PIN lock is the device's job.)"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from datetime import datetime

import pyotp
from django.conf import settings
from django.db import IntegrityError, transaction
from oath import str2ocrasuite

from wangyin.audit import services as audit
from wangyin.authn.errors import InvalidToken, NoToken, TokenAlreadyIssued
from wangyin.authn.keydata import KeyData
from wangyin.authn.models import Factor, OtpToken, TokenStatus
from wangyin.customers.errors import PartyNotFound
from wangyin.customers.models import Person
from wangyin.notify import services as notify

_SERIAL = re.compile(r"^[A-Z0-9]{6,20}$")
MIN_SEED_BYTES = 16  # 128 bits (RFC 4226 §4: at least 128, 160 recommended)
OCRA_SUITE = "OCRA-1:HOTP-SHA256-6:QN16-T1M"
_OCRA = str2ocrasuite(OCRA_SUITE)
_OCRA_STEP = 60
KIND_NAMES = {Factor.TOTP: "动态令牌", Factor.OCRA: "挑战应答令牌"}
NOTICE_FACTOR = {Factor.TOTP: "token", Factor.OCRA: "ocra_token"}  # notify.kinds.FACTORS


def _clean_seed(seed: str) -> str:
    seed = "".join((seed or "").split()).upper().rstrip("=")
    try:
        raw = base64.b32decode(seed + "=" * (-len(seed) % 8))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken(extra={"why": "seed not base32"}) from exc
    if len(raw) < MIN_SEED_BYTES:
        raise InvalidToken(extra={"why": "seed shorter than 128 bits"})
    return seed


def _seed_bytes(token: OtpToken) -> bytes:
    return base64.b32decode(token.seed + "=" * (-len(token.seed) % 8))


def _current_token(person_id: int, kind: str) -> OtpToken:
    token = (OtpToken.objects.select_for_update().exclude(status=TokenStatus.REVOKED)
             .filter(person_id=person_id, kind=kind).first())
    if token is None:
        raise NoToken(extra={"person_id": person_id, "kind": kind})
    return token


@transaction.atomic
def token_issue(*, person_id: int, serial: str, seed: str, kind: str = Factor.TOTP,
                period: int = 30, staff: str, reason: str, at: datetime) -> OtpToken:
    serial = (serial or "").strip().upper()
    if kind not in KIND_NAMES or not _SERIAL.fullmatch(serial) or period not in (30, 60):
        raise InvalidToken(extra={"why": "kind, serial or period"})
    seed = _clean_seed(seed)
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    try:
        with transaction.atomic():
            token = OtpToken.objects.create(
                person=person, kind=kind, serial=serial, seed=seed, issued_at=at,
                period=_OCRA_STEP if kind == Factor.OCRA else period, issued_by=staff)
    except IntegrityError as exc:
        raise TokenAlreadyIssued() from exc
    audit.record(actor=staff, action="authn.token.issued", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": serial, "kind": kind, "reason": reason})
    notify.notice_send(person=person, kind="security.factor_added",
                       params={"factor": NOTICE_FACTOR[kind]}, actor=staff, at=at,
                       sms_purpose="authn.token_issued",
                       sms=f"{settings.SMS_SIGNATURE}您已在柜台绑定{KIND_NAMES[kind]}（序列号尾号"
                       f"{serial[-4:]}）。如非本人办理，请立即致电本行客服。")
    return token


@transaction.atomic
def token_revoke(*, person_id: int, kind: str = Factor.TOTP, staff: str, reason: str,
                 at: datetime) -> OtpToken:
    token = _current_token(person_id, kind)
    token.status, token.revoked_at = TokenStatus.REVOKED, at
    token.save(update_fields=["status", "revoked_at"])
    audit.record(actor=staff, action="authn.token.revoked", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": token.serial, "reason": reason})
    notify.notice_send(person=token.person, kind="security.factor_removed",
                       params={"factor": NOTICE_FACTOR[token.kind]}, at=at)
    return token


@transaction.atomic
def token_unlock(*, person_id: int, kind: str = Factor.TOTP, staff: str, reason: str,
                 at: datetime) -> OtpToken:
    token = _current_token(person_id, kind)
    token.status, token.failures = TokenStatus.ACTIVE, 0
    token.save(update_fields=["status", "failures"])
    audit.record(actor=staff, action="authn.token.unlocked", target=f"person:{person_id}",
                 occurred_at=at, details={"serial": token.serial, "reason": reason})
    return token


def token_of(person, kind: str = Factor.TOTP) -> OtpToken | None:
    """The customer's token of this kind that is not revoked (active or locked), if any."""
    return (OtpToken.objects.exclude(status=TokenStatus.REVOKED)
            .filter(person=person, kind=kind).first())


def tokens_of(person) -> list[OtpToken]:
    return list(OtpToken.objects.exclude(status=TokenStatus.REVOKED).filter(person=person)
                .order_by("kind"))


def ocra_question(key: KeyData | None) -> str:
    """What the customer types into a challenge-response token for this operation."""
    if key is not None and key.payee_account:
        digits = "".join(c for c in key.payee_account if c.isdigit())[-6:]
        return (digits + str(key.amount_fen))[:16]
    return f"{secrets.randbelow(10 ** 8):08d}"


def ocra_response(seed_base32: str, question: str, at: datetime) -> str:
    """What a challenge-response token shows (for the software token and the tests)."""
    key = base64.b32decode(seed_base32 + "=" * (-len(seed_base32) % 8))
    return _OCRA(key, Q=question, T_precomputed=int(at.timestamp()) // _OCRA_STEP)


def code_accept(token: OtpToken, code: str, at: datetime, *, question: str = "") -> bool:
    """Check ``code`` against the token, whose row the caller has locked. A code is good
    for one time step either side of ``at`` and only for a step after the last accepted
    one, so a code works once. Saves the token either way."""
    code = (code or "").strip()
    good_step = None
    if token.status == TokenStatus.ACTIVE and code.isdigit() and len(code) == token.digits:
        now_step = int(at.timestamp()) // token.period
        for step in (now_step - 1, now_step, now_step + 1):
            if step > token.last_step and hmac.compare_digest(
                    _expected(token, step, question), code):
                good_step = step
    if good_step is not None:
        token.last_step, token.failures = good_step, 0
    elif token.status == TokenStatus.ACTIVE:
        token.failures += 1
        if token.failures >= settings.TOKEN_MAX_FAILURES:
            token.status = TokenStatus.LOCKED
    token.save(update_fields=["last_step", "failures", "status"])
    return good_step is not None


def _expected(token: OtpToken, step: int, question: str) -> str:
    if token.kind == Factor.OCRA:
        if not question:
            return ""
        return _OCRA(_seed_bytes(token), Q=question, T_precomputed=step)
    return pyotp.TOTP(token.seed, digits=token.digits, interval=token.period
                      ).generate_otp(step)
