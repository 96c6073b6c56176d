"""A software WebAuthn authenticator for tests without a browser: it makes the registration
and assertion responses a platform authenticator would ("none" attestation, ECDSA P-256),
so the real verification code checks them."""

from __future__ import annotations

import hashlib
import json
import secrets

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from webauthn.helpers import bytes_to_base64url

_UP, _UV, _AT = 0x01, 0x04, 0x40  # user present, user verified, attested credential data


class SoftAuthenticator:
    def __init__(self, *, person_id: int):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.user_handle = f"wangyin-person-{person_id}".encode()
        self.sign_count = 0

    @property
    def id(self) -> str:
        return bytes_to_base64url(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "crossOrigin": False,
                           "origin": origin or settings.WEBAUTHN_ORIGINS[0]}).encode()

    @staticmethod
    def _rp_hash() -> bytes:
        return hashlib.sha256(settings.WEBAUTHN_RP_ID.encode()).digest()

    def registration(self, challenge: str) -> str:
        """The JSON ``navigator.credentials.create()`` would give the page."""
        auth_data = (self._rp_hash() + bytes([_UP | _UV | _AT]) + (0).to_bytes(4, "big")
                     + bytes(16) + len(self.credential_id).to_bytes(2, "big")
                     + self.credential_id + self._cose_key())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({"id": self.id, "rawId": self.id, "type": "public-key", "response": {
            "clientDataJSON": bytes_to_base64url(
                self._client_data("webauthn.create", challenge, None)),
            "attestationObject": bytes_to_base64url(attestation), "transports": ["internal"]}})

    def assertion(self, challenge: str, *, user_verified: bool = True,
                  origin: str | None = None, user_handle: bytes | None = None) -> str:
        """The JSON ``navigator.credentials.get()`` would give the page; each one counts."""
        self.sign_count += 1
        auth_data = (self._rp_hash() + bytes([_UP | (_UV if user_verified else 0)])
                     + self.sign_count.to_bytes(4, "big"))
        client_data = self._client_data("webauthn.get", challenge, origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return json.dumps({"id": self.id, "rawId": self.id, "type": "public-key", "response": {
            "clientDataJSON": bytes_to_base64url(client_data),
            "authenticatorData": bytes_to_base64url(auth_data),
            "signature": bytes_to_base64url(signature),
            "userHandle": bytes_to_base64url(user_handle or self.user_handle)}})
