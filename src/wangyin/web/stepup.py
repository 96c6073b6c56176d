"""The web side of a step-up: the code fields for the factors a challenge asks for, and the
codes a form posted. The rules live in ``wangyin.authn``."""

from __future__ import annotations

from wangyin.authn.models import Factor

FIELD_OF = {Factor.SMS: "code", Factor.TOTP: "token_code", Factor.OCRA: "ocra_code"}


def codes_from(post) -> dict[str, str]:
    return {factor: post.get(field, "")[:12] for factor, field in FIELD_OF.items()}


def factor_context(factors, phone: str, question: str = "") -> dict:
    """For ``web/factor_fields.html``; ``question`` is what to type into an OCRA token."""
    return {"asks_sms": Factor.SMS in factors, "asks_token": Factor.TOTP in factors,
            "asks_ocra": Factor.OCRA in factors, "question": question, "phone": phone}
