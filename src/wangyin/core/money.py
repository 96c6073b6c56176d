"""Money as integer fen with a currency: the only way amounts travel through the code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_YUAN = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"
    message = _("The currencies do not match.")


class InvalidAmount(DomainError):
    code = "invalid_amount"
    message = _("The amount is not valid.")


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in the smallest unit (fen for CNY). Never a float."""

    fen: int
    currency: str = "CNY"

    def __post_init__(self) -> None:
        if type(self.fen) is not int:  # bool is an int subclass: refuse it too
            raise InvalidAmount(extra={"reason": "amount must be an integer number of fen"})
        if not _CURRENCY.match(self.currency):
            raise InvalidAmount(extra={"reason": "currency must be three capital letters"})

    @classmethod
    def from_yuan(cls, value: str | Decimal, currency: str = "CNY") -> Money:
        """Parse '12.34' or Decimal('12.34') exactly; more than two decimals is an error."""
        if isinstance(value, float):
            raise InvalidAmount(extra={"reason": "floats are not accepted for money"})
        text = str(value).strip()
        if not _YUAN.match(text):
            raise InvalidAmount(extra={"reason": "expected yuan with at most two decimals"})
        try:
            fen = Decimal(text) * 100
        except InvalidOperation as exc:  # pragma: no cover - regex already filtered
            raise InvalidAmount() from exc
        return cls(int(fen), currency)

    @classmethod
    def zero(cls, currency: str = "CNY") -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money can only be combined with Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(extra={"left": self.currency, "right": other.currency})

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.fen + other.fen, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.fen - other.fen, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.fen, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.fen), self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.fen < other.fen

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.fen <= other.fen

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.fen > other.fen

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.fen >= other.fen

    @property
    def is_positive(self) -> bool:
        return self.fen > 0

    def to_yuan_str(self) -> str:
        sign = "-" if self.fen < 0 else ""
        whole, cents = divmod(abs(self.fen), 100)
        return f"{sign}{whole}.{cents:02d}"


_SYMBOLS = {"CNY": "¥"}


def format_money(money: Money) -> str:
    """How people see an amount: '¥1,234.56'. The one formatting helper for money."""
    sign = "-" if money.fen < 0 else ""
    whole, cents = divmod(abs(money.fen), 100)
    symbol = _SYMBOLS.get(money.currency, money.currency + " ")
    return f"{sign}{symbol}{whole:,}.{cents:02d}"
