"""The web side of a step-up: the code fields for the factors a challenge asks for, and the
codes a form posted. The rules live in ``wangyin.authn``."""

from __future__ import annotations

from django.conf import settings

from wangyin.authn import face, passkeys
from wangyin.authn.models import Factor
from wangyin.web.middleware import CAMERA_PERMISSIONS
from wangyin_sdk.usbkey import display_text

FIELD_OF = {Factor.SMS: "code", Factor.TOTP: "token_code", Factor.OCRA: "ocra_code",
            Factor.CARD: "card_code", Factor.PASSKEY: "passkey_assertion",
            Factor.SOFTCERT: "softcert_signature", Factor.USBKEY: "usbkey_signature",
            Factor.FACE: "face_frames"}
LONG_ANSWERS = {Factor.PASSKEY: 4000, Factor.SOFTCERT: 200, Factor.USBKEY: 200,
                Factor.FACE: face.ANSWER_MAX_CHARS}


def codes_from(post) -> dict[str, str]:
    return {factor: post.get(field, "")[:LONG_ANSWERS.get(factor, 12)]
            for factor, field in FIELD_OF.items()}


def pending_of(challenge) -> dict:
    """What a page keeps in the session to show the challenge's fields again."""
    pending = {"challenge": challenge.pk, "factors": challenge.factors,
               "question": challenge.question, "cells": challenge.card_cells,
               "payload": challenge.sign_payload}
    if Factor.PASSKEY in challenge.factors:
        pending["passkey_options"] = passkeys.assertion_options(
            person=challenge.person, challenge=challenge.webauthn_challenge)
    return pending


def factor_context(pending: dict, phone: str) -> dict:
    """For ``web/factor_fields.html``, from what ``pending_of`` kept."""
    factors = pending.get("factors", ())
    return {"asks_sms": Factor.SMS in factors, "asks_token": Factor.TOTP in factors,
            "asks_ocra": Factor.OCRA in factors, "asks_card": Factor.CARD in factors,
            "asks_passkey": Factor.PASSKEY in factors,
            "asks_softcert": Factor.SOFTCERT in factors,
            "asks_usbkey": Factor.USBKEY in factors, "usbkey_agent": settings.USBKEY_AGENT_URL,
            "asks_face": Factor.FACE in factors,
            "payload": pending.get("payload", ""),
            "payload_shown": display_text(pending["payload"]) if pending.get("payload") else "",
            "passkey_options": pending.get("passkey_options", ""),
            "question": pending.get("question", ""), "cells": pending.get("cells", ""),
            "phone": phone}


def camera_if_asked(response, pending: dict):
    """A step-up page that asks for the customer's face may use the camera (only then)."""
    if Factor.FACE in pending.get("factors", ()):
        response["Permissions-Policy"] = CAMERA_PERMISSIONS
    return response
