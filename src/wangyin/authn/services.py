"""Step-up challenges (one mechanism for every factor) and their single-use authorisations.

``challenge_issue`` asks for a set of factors for one purpose and one digest of the data
being authorised; SMS codes are 6 random digits, valid 2 minutes, at most 3 guesses per
challenge and 5 codes per customer and per phone number in 10 minutes, kept only as a
keyed hash, and the text names what they are for (FA-01). ``challenge_verify`` checks
every factor's code at once. ``authorisation_use`` is called by the service that
executes, with the digest recomputed from what it is about to do: a difference is refused
and audited (TX-06)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from wangyin.audit import services as audit
from wangyin.authn import cards, certificates, face, passkeys, tokens
from wangyin.authn.errors import (
    CardUnusable,
    ChallengeFailed,
    DigestMismatch,
    FaceNotRecognised,
    NoCertificate,
    NotAuthorised,
    TokenLocked,
    TooManyCodes,
)
from wangyin.authn.keydata import KeyData
from wangyin.authn.models import (
    CERT_FACTORS,
    TOKEN_FACTORS,
    AuthChallenge,
    CardStatus,
    Factor,
    OtpToken,
    PasswordCard,
    TokenStatus,
)
from wangyin.core import ratelimit
from wangyin.core.crypto import blind_index
from wangyin.notify import services as notify

CODE_DIGITS = 6
LIFETIME = timedelta(minutes=2)
MAX_GUESSES = 3
# A verified challenge must be used soon: the confirmation page and the execution are one
# sitting, not an authorisation kept for later.
AUTHORISATION_LIFETIME = timedelta(minutes=5)
PURPOSE_TEXT = {"device.bind": "绑定新设备", "password.reset": "重置登录密码",
                "register": "注册网上银行", "security.change": "修改安全设置",
                "passkey.add": "添加通行密钥", "softcert.add": "安装软证书",
                "phone.change": "修改预留手机号", "transfer.same_bank": "本行转账",
                "transfer.interbank": "跨行转账", "transfer.mobile": "手机号转账",
                "payee.add": "添加收款人", "mobile.register": "开通手机号收款",
                "corporate.signin": "登录企业网银", "corporate.approve": "审批企业付款",
                "corporate.operator_create": "新增企业网银操作员",
                "corporate.operator_disable": "停用企业网银操作员",
                "corporate.operator_enable": "启用企业网银操作员",
                "corporate.operator_remove": "删除企业网银操作员",
                "corporate.operator_password_reset": "重置企业网银操作员密码",
                "corporate.operator_roles_set": "设置企业网银操作员角色",
                "corporate.operator_scope_set": "设置企业网银操作员账户权限",
                "corporate.operator_usb_key_bind": "绑定企业网银操作员USB-Key",
                "corporate.reconcile": "银企对账余额确认",
                "corporate.group_viewer_set": "设置集团账户查询权限",
                "corporate.account_link_request": "申请加挂企业账户",
                "corporate.account_link_approve": "授权加挂企业账户"}


def _hash(challenge_id: int, code: str) -> str:
    return blind_index(f"{challenge_id}:{code}", purpose="authn.sms_code")


def digest_of(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@transaction.atomic
def challenge_issue(*, person, purpose: str, factors: Iterable[str], at: datetime,
                    key: KeyData | None = None, digest: str = "",
                    device_id: str = "", summary: str = "",
                    company_id: int | None = None) -> AuthChallenge:
    """Open a challenge for ``factors``, bound to the operation's key data (``key``; its
    digest, SMS text, token question and certificate payload derive from it) or, for
    identity operations that have no payee or amount, to a ``digest`` the caller
    computed. An SMS code, if asked for, goes to the reserved phone. A soft certificate
    signs only on its own device (``device_id``). ``summary``: the change in words, for
    the text a certificate signs when there is no key data. ``company_id``: the person
    signs as an operator of that company (its USB-Key, ``wangyin.corporate``)."""
    factors = sorted(set(factors))
    if not factors or not set(factors) <= set(Factor.values):
        raise ValueError(f"bad factor set {factors!r}")
    if (key is None) == (not digest):
        raise ValueError("give either the key data or a digest")
    for factor in TOKEN_FACTORS:
        if factor in factors:
            token = tokens.token_of(person, factor)
            if token is None:
                raise ValueError(f"the customer holds no {factor} token")
            if token.status != TokenStatus.ACTIVE:
                raise TokenLocked()
    if Factor.CARD in factors and not cards.card_usable(cards.card_of(person), at):
        raise CardUnusable()
    if Factor.PASSKEY in factors and not passkeys.passkeys_of(person):
        raise ValueError("the customer has no passkey")
    if Factor.FACE in factors and not face.enabled():
        raise ValueError("the bank has no face-verification provider")
    certificate = None
    for factor in CERT_FACTORS:
        if factor in factors:
            certificate = certificates.certificate_for(person, factor, device_id=device_id,
                                                       company_id=company_id)
            if certificate is None:
                raise NoCertificate(extra={"factor": factor})
    actor = f"customer:{person.pk}"
    challenge = AuthChallenge.objects.create(
        certificate=certificate,
        person=person, purpose=purpose, digest=key.digest() if key else digest,
        factors=factors, created_at=at, expires_at=at + LIFETIME,
        question=tokens.ocra_question(key) if Factor.OCRA in factors else "",
        card_cells=cards.draw_cells() if Factor.CARD in factors else "",
        webauthn_challenge=passkeys.new_challenge() if Factor.PASSKEY in factors else "")
    if certificate is not None:
        challenge.sign_payload = certificates.sign_payload(
            challenge=challenge, key=key, at=at, what=PURPOSE_TEXT.get(purpose, purpose),
            detail=summary)
        challenge.save(update_fields=["sign_payload"])
    if Factor.SMS in factors:
        # Per customer and per phone number: two customers sharing one number share its
        # budget, so nobody floods a phone (SE-11).
        phone_key = blind_index(person.phone, purpose="authn.sms_phone")
        if not (ratelimit.allow(f"sms:person:{person.pk}", limit=5, per=600, now=at)
                and ratelimit.allow(f"sms:phone:{phone_key}", limit=5, per=600, now=at)):
            raise TooManyCodes()
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        challenge.code_hash = _hash(challenge.pk, code)
        challenge.save(update_fields=["code_hash"])
        notify.sms_send(phone=person.phone, purpose=f"authn.{purpose}", actor=actor,
                        at=at, body=f"{settings.SMS_SIGNATURE}验证码 {code}，用于"
                        f"{PURPOSE_TEXT.get(purpose, purpose)}"
                        f"{key.sms_detail() if key else ''}，2分钟内有效。"
                        "请勿告诉任何人，本行工作人员不会索要。")
    audit.record(actor=actor, action="authn.challenge.issued",
                 target=f"challenge:{challenge.pk}", occurred_at=at,
                 details={"purpose": purpose, "factors": factors})
    return challenge


def challenge_verify(*, challenge_id: int, person, purpose: str, digest: str,
                     codes: Mapping[str, str], at: datetime) -> AuthChallenge:
    """Check the code of every factor the challenge asked for; raises ``ChallengeFailed``
    (or ``TokenLocked`` when this guess locked the token). A wrong guess is committed
    before the error so the guess budgets hold."""
    ok, results = _verify(challenge_id=challenge_id, person=person, purpose=purpose,
                          digest=digest, codes=codes, at=at)
    if ok is None:
        if results.get(Factor.FACE, True) is not True and all(
                value is True for factor, value in results.items() if factor != Factor.FACE):
            raise FaceNotRecognised()
        if any(t.status == TokenStatus.LOCKED for t in tokens.tokens_of(person)):
            raise TokenLocked()
        card = cards.card_of(person)
        if card is not None and card.status == CardStatus.LOCKED:
            raise CardUnusable()
        raise ChallengeFailed()
    return ok


@transaction.atomic
def _verify(*, challenge_id, person, purpose, digest, codes,
            at) -> tuple[AuthChallenge | None, dict]:
    """The challenge if every factor was right, and each factor's result (True or why
    not); (None, {}) for a challenge that cannot be verified at all."""
    challenge = AuthChallenge.objects.select_for_update().filter(
        pk=challenge_id, person=person, purpose=purpose).first()
    if (challenge is None or challenge.verified_at is not None or challenge.expires_at <= at
            or challenge.attempts >= MAX_GUESSES or challenge.digest != digest):
        return None, {}
    challenge.attempts += 1
    results = {}
    if Factor.SMS in challenge.factors:
        results[Factor.SMS] = hmac.compare_digest(
            challenge.code_hash, _hash(challenge.pk, (codes.get(Factor.SMS) or "").strip()))
    for factor in TOKEN_FACTORS:
        if factor in challenge.factors:
            token = (OtpToken.objects.select_for_update().exclude(status=TokenStatus.REVOKED)
                     .filter(person=person, kind=factor).first())
            results[factor] = token is not None and tokens.code_accept(
                token, codes.get(factor, ""), at, question=challenge.question)
    if Factor.CARD in challenge.factors:
        card = (PasswordCard.objects.select_for_update().exclude(status=CardStatus.REVOKED)
                .filter(person=person).first())
        results[Factor.CARD] = card is not None and cards.card_accept(
            card, codes.get(Factor.CARD, ""), challenge.card_cells, at)
    if Factor.PASSKEY in challenge.factors:
        results[Factor.PASSKEY] = passkeys.passkey_accept(
            person=person, assertion=codes.get(Factor.PASSKEY, ""),
            challenge=challenge.webauthn_challenge, at=at)
    if Factor.FACE in challenge.factors:
        # The provider is asked within the challenge's lock: each try counts once.
        results[Factor.FACE] = face.face_check(
            person=person, answer=codes.get(Factor.FACE, ""), at=at,
            reference=f"challenge-{challenge.pk}-{challenge.attempts}") or True
    for factor in CERT_FACTORS:
        if factor in challenge.factors:
            why = certificates.signature_accept(
                challenge=challenge, signature=_signature_bytes(codes.get(factor)), at=at)
            results[factor] = why or True
    good = all(value is True for value in results.values())
    if good:
        challenge.verified_at = at
    challenge.save(update_fields=["attempts", "verified_at"])
    audit.record(actor=f"customer:{person.pk}", action="authn.challenge.verified" if good
                 else "authn.challenge.failed", result="SUCCESS" if good else "FAILURE",
                 target=f"challenge:{challenge.pk}", occurred_at=at,
                 details={"purpose": purpose, "factors": results})
    return (challenge if good else None), results


def _signature_bytes(text: str | None) -> bytes:
    """A signature as sent by a page or a key: base64 of the DER value."""
    try:
        return base64.b64decode((text or "").strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


def authorisation_use(*, challenge_id: int, person, purpose: str, digest: str,
                      at: datetime, requires: Iterable[str] = ()) -> AuthChallenge:
    """Spend a verified challenge on the operation whose digest the executing service has
    just recomputed. Raises ``NotAuthorised`` (not verified, used, stale, another purpose or
    person, fewer factors than ``requires``) or ``DigestMismatch`` (TX-06). A mismatch is
    audited and burns the authorisation; both are committed before the error."""
    outcome = _use(challenge_id=challenge_id, person=person, purpose=purpose, digest=digest,
                   at=at, requires=set(requires))
    if outcome == "mismatch":
        raise DigestMismatch(extra={"challenge": challenge_id})
    if not isinstance(outcome, AuthChallenge):
        raise NotAuthorised(extra={"challenge": challenge_id, "why": outcome})
    return outcome


@transaction.atomic
def _use(*, challenge_id, person, purpose, digest, at, requires) -> AuthChallenge | str:
    challenge = AuthChallenge.objects.select_for_update().filter(
        pk=challenge_id or 0, person=person, purpose=purpose).first()
    if challenge is None or challenge.verified_at is None:
        return "not verified"
    if challenge.used_at is not None:
        return "already used"
    if challenge.verified_at + AUTHORISATION_LIFETIME <= at:
        return "stale"
    if not requires <= set(challenge.factors):
        return "weaker than required"
    challenge.used_at = at
    challenge.save(update_fields=["used_at"])
    if not hmac.compare_digest(challenge.digest, digest):
        audit.record(actor=f"customer:{person.pk}", action="authn.digest_mismatch",
                     result="FAILURE", target=f"challenge:{challenge.pk}", occurred_at=at,
                     details={"purpose": purpose, "confirmed": challenge.digest,
                              "executing": digest})
        return "mismatch"
    return challenge
