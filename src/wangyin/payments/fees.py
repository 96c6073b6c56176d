"""Transfer fees (收费标准): what a transfer costs, by customer segment, kind of transfer and
amount. The schedule is the bank's data — a TOML file (``settings.FEE_SCHEDULE_FILE``,
the shipped one in ``payments/data/fees.toml``) read and checked on first use; the public
fee page shows it to everyone (CS-04).

A fee is quoted on the confirmation page, bound into the key data the customer confirms
(TX-06: a schedule changed in between is refused, not charged), and posted as a journal
of its own (type FEE: the customer's account → the fee income account) in the payment's
transaction. It is not counted against payment limits. Money that comes back (a payment
rejected or returned by the other bank) brings its fee back too; a payment held for
review pays its fee only when released."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from wangyin.core.money import InvalidAmount, Money
from wangyin.ledger import services as ledger
from wangyin.ledger.models import JournalType, NormalSide
from wangyin.payments.models import TransferKind

SEGMENTS = ("personal", "corporate")
ACTOR = "system:payments"


@dataclass(frozen=True)
class Tier:
    """Amounts up to ``up_to_fen`` (None: any amount) pay ``fixed_fen`` plus ``rate`` of the
    amount (rounded half up to the fen), at most ``max_fen`` (None: no cap)."""

    up_to_fen: int | None
    fixed_fen: int = 0
    rate: Decimal = Decimal(0)
    max_fen: int | None = None

    def fee(self, amount_fen: int) -> int:
        fee = self.fixed_fen + int((self.rate * amount_fen).quantize(Decimal(1), ROUND_HALF_UP))
        return min(fee, self.max_fen) if self.max_fen is not None else fee


@dataclass(frozen=True)
class Schedule:
    tiers: dict[tuple[str, str], tuple[Tier, ...]]  # (segment, kind) → tiers; none: free

    def fee(self, *, segment: str, kind: str, amount_fen: int) -> int:
        for tier in self.tiers.get((segment, kind), ()):
            if tier.up_to_fen is None or amount_fen <= tier.up_to_fen:
                return tier.fee(amount_fen)
        return 0


def _fen(value, where: str) -> int:
    try:
        money = Money.from_yuan(str(value))
    except InvalidAmount as exc:
        raise ImproperlyConfigured(f"fee schedule {where}: {value!r} is not an amount") from exc
    if money.fen < 0:
        raise ImproperlyConfigured(f"fee schedule {where}: amounts are not negative")
    return money.fen


def _tier(raw: dict, where: str) -> Tier:
    unknown = set(raw) - {"up_to", "fee", "rate", "max"}
    if unknown:
        raise ImproperlyConfigured(f"fee schedule {where}: unknown keys {sorted(unknown)}")
    try:
        rate = Decimal(str(raw.get("rate", "0")))
    except ArithmeticError as exc:
        raise ImproperlyConfigured(f"fee schedule {where}: rate is not a number") from exc
    if not Decimal(0) <= rate < Decimal("0.1"):
        raise ImproperlyConfigured(f"fee schedule {where}: rate must be in [0, 0.1)")
    return Tier(up_to_fen=_fen(raw["up_to"], where) if "up_to" in raw else None,
                fixed_fen=_fen(raw.get("fee", "0"), where), rate=rate,
                max_fen=_fen(raw["max"], where) if "max" in raw else None)


def parse(text: str) -> Schedule:
    """A checked schedule, or ``ImproperlyConfigured`` naming what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImproperlyConfigured(f"fee schedule: {exc}") from exc
    tiers: dict[tuple[str, str], tuple[Tier, ...]] = {}
    for segment, kinds in data.items():
        if segment not in SEGMENTS or not isinstance(kinds, dict):
            raise ImproperlyConfigured(f"fee schedule: unknown segment {segment!r}")
        for kind, raw_tiers in kinds.items():
            where = f"{segment}.{kind}"
            if kind not in TransferKind.values or not isinstance(raw_tiers, list):
                raise ImproperlyConfigured(f"fee schedule: unknown transfer kind {where!r}")
            parsed = tuple(_tier(raw, f"{where}[{n}]") for n, raw in enumerate(raw_tiers))
            bounds = [t.up_to_fen for t in parsed]
            if parsed and (bounds[-1] is not None or None in bounds[:-1]
                           or bounds[:-1] != sorted(set(bounds[:-1]))):
                raise ImproperlyConfigured(
                    f"fee schedule {where}: tiers rise by up_to and the last has none")
            tiers[(segment, kind)] = parsed
    return Schedule(tiers)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> Schedule:
    return parse(Path(path).read_text(encoding="utf-8"))


def schedule() -> Schedule:
    """The bank's schedule, read again when its file changes."""
    path = Path(settings.FEE_SCHEDULE_FILE)
    return _load(str(path), path.stat().st_mtime_ns)


def fee_for(*, segment: str, kind: str, amount_fen: int) -> int:
    return schedule().fee(segment=segment, kind=kind, amount_fen=amount_fen)


def income_account() -> int:
    """The ledger id of the fee income account (opened on first use)."""
    number = settings.FEE_INCOME_ACCOUNT
    return ledger.gl_accounts({number: ("手续费收入 Fee income", NormalSide.CREDIT)},
                              actor=ACTOR)[number]


def charge(*, account_id: int, fee_fen: int, key: str, actor: str, at):
    """Post a fee (the caller's transaction): the customer's account → fee income."""
    return ledger.transfer(debit_account_id=account_id, credit_account_id=income_account(),
                           amount=Money(fee_fen), idempotency_key=key, actor=actor,
                           posted_at=at, memo="手续费", type=JournalType.FEE)


def refund(*, account_id: int, fee_fen: int, key: str, actor: str, at):
    """Give a fee back (a payment that came back): fee income → the customer's account."""
    return ledger.transfer(debit_account_id=income_account(), credit_account_id=account_id,
                           amount=Money(fee_fen), idempotency_key=key, actor=actor,
                           posted_at=at, memo="退还手续费", type=JournalType.REVERSAL)
