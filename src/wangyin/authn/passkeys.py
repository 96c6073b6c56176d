"""Passkeys (WebAuthn / FIDO2 through ``webauthn``; FA-07, AU-18). The authenticator —
the phone's or computer's fingerprint or face unlock — keeps the private key; biometric
data never leaves it. User verification is required at registration and at every use
(py_webauthn does not require it by default). The signature counter is kept and a
credential whose counter goes backwards is refused (a cloned authenticator).

Registration needs an existing strong factor: the caller runs it after a step-up."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

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
from wangyin.authn.errors import ChallengeFailed
from wangyin.authn.models import Passkey

RP_NAME = "网银银行"


def new_challenge() -> str:
    return bytes_to_base64url(secrets.token_bytes(32))


def passkeys_of(person) -> list[Passkey]:
    return list(Passkey.objects.filter(person=person, removed_at__isnull=True)
                .order_by("created_at"))


def _descriptors(person) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in passkeys_of(person)]


def registration_options(*, person, login_name: str, challenge: str) -> str:
    """The options for ``navigator.credentials.create()`` as JSON."""
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID, rp_name=RP_NAME, user_name=login_name,
        user_id=f"wangyin-person-{person.pk}".encode(), user_display_name=person.masked_name,
        challenge=base64url_to_bytes(challenge), exclude_credentials=_descriptors(person),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
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
        verified = verify_authentication_response(
            credential=data, expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=settings.WEBAUTHN_RP_ID, expected_origin=settings.WEBAUTHN_ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count, require_user_verification=True)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
        return False
    passkey.sign_count, passkey.last_used_at = verified.new_sign_count, at
    passkey.save(update_fields=["sign_count", "last_used_at"])
    return True
