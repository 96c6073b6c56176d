"""The canonical key data of an operation a customer confirms (TX-04, TX-06): what the
step-up is bound to and what the executing service recomputes. Its digest covers the
operation type, payee account, name and bank, amount, currency, fee, the device and a single-use
server random drawn when the confirmation page is built."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass

from wangyin.core.masking import mask_account, mask_name
from wangyin.core.money import Money, format_money


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class KeyData:
    operation: str
    device: str
    nonce: str
    payee_account: str = ""
    payee_name: str = ""
    amount_fen: int = 0
    currency: str = "CNY"
    payee_bank: str = ""  # the payee's bank (CNAPS code) when it is another bank
    schedule: str = ""  # a scheduled or recurring transfer's dates, e.g. "MONTHLY:…"
    fee_fen: int = 0  # the fee quoted for a payment now (free: left out of the bytes)

    def __post_init__(self) -> None:
        if not self.operation or not self.device or len(self.nonce) < 16:
            raise ValueError("key data needs an operation, a device and a server nonce")
        if self.amount_fen < 0 or self.fee_fen < 0:
            raise ValueError("amounts are not negative")

    def canonical(self) -> bytes:
        """Sorted keys, no whitespace, UTF-8: one byte string per operation."""
        data = asdict(self)
        # Unused optional fields are left out: the bytes stay as they were before them.
        for optional in ("payee_bank", "schedule", "fee_fen"):
            if not data[optional]:
                del data[optional]
        return json.dumps(data, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def amount(self) -> Money:
        return Money(self.amount_fen, self.currency)

    def sms_detail(self) -> str:
        """What the SMS names (FA-01): masked payee account, masked name, amount — chosen by
        the bank from the operation, never typed by the customer."""
        parts = []
        if self.payee_account:
            parts.append(f"收款账户{mask_account(self.payee_account)}")
        if self.payee_name:
            parts.append(f"户名{mask_name(self.payee_name)}")
        if self.amount_fen:
            parts.append(f"金额{format_money(self.amount)}")
        return "（" + "，".join(parts) + "）" if parts else ""
