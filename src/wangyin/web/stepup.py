"""The web side of a step-up: the code fields for the factors a challenge asks for, and the
codes a form posted. The rules live in ``wangyin.authn``."""

from __future__ import annotations

from wangyin.authn import passkeys
from wangyin.authn.models import Factor

FIELD_OF = {Factor.SMS: "code", Factor.TOTP: "token_code", Factor.OCRA: "ocra_code",
            Factor.CARD: "card_code", Factor.PASSKEY: "passkey_assertion"}


def codes_from(post) -> dict[str, str]:
    return {factor: post.get(field, "")[:4000 if factor == Factor.PASSKEY else 12]
            for factor, field in FIELD_OF.items()}


def pending_of(challenge) -> dict:
    """What a page keeps in the session to show the challenge's fields again."""
    pending = {"challenge": challenge.pk, "factors": challenge.factors,
               "question": challenge.question, "cells": challenge.card_cells}
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
            "passkey_options": pending.get("passkey_options", ""),
            "question": pending.get("question", ""), "cells": pending.get("cells", ""),
            "phone": phone}
