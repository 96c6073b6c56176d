"""The one masking module: what people, logs and the audit trail see of sensitive data.

Templates, API schemas, the log processor and ``audit.record`` all go through here, so a
rule changes in one place (PI-03, AD-03).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

# Values under these keys are never kept anywhere (passwords, codes, keys: AD-03).
_SECRET_KEYS = {
    "code", "sms_code", "verification_code", "auth_code", "token", "access_token",
    "refresh_token", "private_key", "session_key", "authorization", "cookie",
}
_SECRET_PARTS = {
    "password", "passwd", "pwd", "pin", "otp", "secret", "captcha", "cvv", "cvn", "seed",
}
_ID_KEYS = {"id_number", "id_no", "identity_number", "legal_rep_id_number"}
_PHONE_KEYS = {"phone", "mobile", "reserved_phone", "phone_number", "contact_phone"}
_ACCOUNT_KEYS = {"account", "account_number", "account_no", "card_number", "payee_account",
                 "debit_account", "credit_account"}
_NAME_KEYS = {"name", "person_name", "payee_name", "customer_name", "holder_name",
              "legal_rep_name", "contact_name"}


def mask_id_number(value: str) -> str:
    """ID numbers: the last six characters hidden (110101199003071234 -> 110101199003******)."""
    value = (value or "").strip()
    if len(value) <= 6:
        return "*" * len(value)
    return value[:-6] + "******"


def mask_account(value: str) -> str:
    """Account and card numbers: first four and last four shown."""
    digits = re.sub(r"\s+", "", value or "")
    if len(digits) <= 8:
        return digits[:2] + "*" * max(0, len(digits) - 2)
    return f"{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]}"


def mask_phone(value: str) -> str:
    """Mobile numbers: first three and last four shown (138****5678)."""
    digits = re.sub(r"[\s-]+", "", value or "")
    if len(digits) <= 7:
        return digits[:1] + "*" * max(0, len(digits) - 1)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_name(value: str) -> str:
    """Personal names: everything but the last character hidden (张三丰 -> **丰)."""
    value = (value or "").strip()
    if len(value) <= 1:
        return value
    return "*" * (len(value) - 1) + value[-1]


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return lowered in _SECRET_KEYS or bool(set(lowered.split("_")) & _SECRET_PARTS)


def _mask_value(key: str, value: Any) -> Any:
    lowered = key.lower()
    if _is_secret(lowered):
        return REDACTED
    if isinstance(value, Mapping):
        return mask_details(value)
    if isinstance(value, list | tuple):
        return [_mask_value(key, item) for item in value]
    if not isinstance(value, str):
        return value
    if lowered in _ID_KEYS:
        return mask_id_number(value)
    if lowered in _PHONE_KEYS:
        return mask_phone(value)
    if lowered in _ACCOUNT_KEYS:
        return mask_account(value)
    if lowered in _NAME_KEYS:
        return mask_name(value)
    return value


def mask_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy of ``details`` with secrets removed and identifiers masked."""
    plain = json.loads(json.dumps(dict(details), default=str, ensure_ascii=False))
    return {str(k): _mask_value(str(k), v) for k, v in plain.items()}
