"""Passkeys (WebAuthn / FIDO2 through ``webauthn``; FA-07, AU-18). The authenticator —
the phone's or computer's fingerprint or face unlock — keeps the private key; biometric
data never leaves it. User verification is required at registration and at every use
(py_webauthn does not require it by default). The signature counter is kept and a
credential whose counter goes backwards is refused (a cloned authenticator).

Registration needs an existing strong factor: the caller runs it after a step-up. Passkeys
are discoverable (resident) credentials whose user handle names the person, so a customer
can also sign in with one without typing a login name (``passkey_identify``)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from wangyin.audit import services as audit
from wangyin.authn.errors import ChallengeFailed, PasskeyRefused
from wangyin.authn.models import Passkey

RP_NAME = "网银银行"
# A sign-in challenge is drawn when the customer presses the button: two minutes is ample
# for a fingerprint and short enough that a stolen one is of little use.
LOGIN_CHALLENGE_TTL = timedelta(minutes=2)


def new_challenge() -> str:
    return bytes_to_base64url(secrets.token_bytes(32))


def passkeys_of(person) -> list[Passkey]:
    return list(Passkey.objects.filter(person=person, removed_at__isnull=True)
                .order_by("created_at"))


def user_handle(person_id: int) -> bytes:
    """The WebAuthn user id of a person's passkeys (set at registration)."""
    return f"wangyin-person-{person_id}".encode()


def _descriptors(person) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in passkeys_of(person)]


def registration_options(*, person, login_name: str, challenge: str) -> str:
    """The options for ``navigator.credentials.create()`` as JSON."""
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID, rp_name=RP_NAME, user_name=login_name,
        user_id=user_handle(person.pk), user_display_name=person.masked_name,
        challenge=base64url_to_bytes(challenge), exclude_credentials=_descriptors(person),
        authenticator_selection=AuthenticatorSelectionCriteria(
            # Discoverable, so that it can sign in without a login name (login_options).
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED))
    return options_to_json(options)


@transaction.atomic
def passkey_register(*, person, credential: str, challenge: str, label: str,
                     at: datetime) -> Passkey:
    try:
        verified = verify_registration_response(
            credential=json.loads(credential), expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.WEBAUTHN_RP_ID, expected_origin=settings.WEBAUTHN_ORIGINS,
            require_user_verification=True)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise ChallengeFailed(extra={"why": f"passkey registration: {exc}"}) from exc
    passkey = Passkey.objects.create(
        person=person, credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key, sign_count=verified.sign_count,
        label=label[:120], created_at=at)
    audit.record(actor=f"customer:{person.pk}", action="authn.passkey.registered",
                 target=f"passkey:{passkey.pk}", occurred_at=at, details={"label": label})
    return passkey


def passkey_remove(*, person, passkey_pk: int, device: str, at: datetime) -> bool:
    """Forget one of the customer's passkeys; the caller has re-authenticated them."""
    removed = Passkey.objects.filter(pk=passkey_pk, person=person,
                                     removed_at__isnull=True).update(removed_at=at)
    if removed:
        audit.record(actor=f"customer:{person.pk}", action="authn.passkey.removed",
                     device=device, target=f"passkey:{passkey_pk}", occurred_at=at)
    return bool(removed)


def assertion_options(*, person, challenge: str) -> str:
    """The options for ``navigator.credentials.get()`` as JSON."""
    return options_to_json(generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID, challenge=base64url_to_bytes(challenge),
        allow_credentials=_descriptors(person),
        user_verification=UserVerificationRequirement.REQUIRED))


def _verified_sign_count(passkey: Passkey, data: dict, challenge: str) -> int:
    """The new signature counter of a valid assertion by ``passkey`` over ``challenge``
    (origin, RP id, user verification, signature, counter); raises otherwise."""
    return verify_authentication_response(
        credential=data, expected_challenge=base64url_to_bytes(challenge),
        expected_rp_id=settings.WEBAUTHN_RP_ID, expected_origin=settings.WEBAUTHN_ORIGINS,
        credential_public_key=bytes(passkey.public_key),
        credential_current_sign_count=passkey.sign_count,
        require_user_verification=True).new_sign_count


def _used(passkey: Passkey, sign_count: int, at: datetime) -> None:
    passkey.sign_count, passkey.last_used_at = sign_count, at
    passkey.save(update_fields=["sign_count", "last_used_at"])


def passkey_accept(*, person, assertion: str, challenge: str, at: datetime) -> bool:
    """Check an assertion from one of the customer's passkeys over ``challenge``; the
    caller holds the challenge row's lock. Updates the signature counter."""
    try:
        data = json.loads(assertion or "")
        passkey = (Passkey.objects.select_for_update()
                   .filter(person=person, removed_at__isnull=True,
                           credential_id=str(data.get("id", ""))).first())
        if passkey is None or not challenge:
            return False
        sign_count = _verified_sign_count(passkey, data, challenge)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
        return False
    _used(passkey, sign_count, at)
    return True


def login_options(*, challenge: str) -> str:
    """The options for a sign-in without a login name: no allowCredentials, so the
    authenticator offers the passkeys it holds for this site and the page says nothing
    about which names have one (AU-09)."""
    return options_to_json(generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID, challenge=base64url_to_bytes(challenge),
        allow_credentials=[], user_verification=UserVerificationRequirement.REQUIRED))


@transaction.atomic
def passkey_identify(*, assertion: str, challenge: str, challenge_issued_at: datetime | None,
                     at: datetime) -> Passkey:
    """The passkey that signed ``challenge`` (issued for ``login_options`` at
    ``challenge_issued_at``, used once: the caller has already forgotten it) with the
    customer's fingerprint or face. Updates its signature counter. Raises
    ``PasskeyRefused``; its ``passkey`` is None for an unknown credential."""
    try:
        data = json.loads(assertion or "")
        credential_id = str(data.get("id") or "")
        handle = (data.get("response") or {}).get("userHandle") or ""
    except (ValueError, AttributeError) as exc:
        raise PasskeyRefused(why="malformed assertion") from exc
    passkey = (Passkey.objects.select_for_update().filter(credential_id=credential_id).first()
               if credential_id else None)
    if passkey is None:
        raise PasskeyRefused(why="unknown credential")
    if passkey.removed_at is not None:
        raise PasskeyRefused(why="passkey removed", passkey=passkey)
    if (not challenge or challenge_issued_at is None
            or not timedelta(0) <= at - challenge_issued_at <= LOGIN_CHALLENGE_TTL):
        raise PasskeyRefused(why="no challenge, or it expired", passkey=passkey)
    try:
        if base64url_to_bytes(str(handle)) != user_handle(passkey.person_id):
            raise PasskeyRefused(why="user handle of another person", passkey=passkey)
        sign_count = _verified_sign_count(passkey, data, challenge)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PasskeyRefused(why=f"verification: {exc}", passkey=passkey) from exc
    _used(passkey, sign_count, at)
    return passkey
