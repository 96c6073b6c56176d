"""Which factors a funds operation needs, and the limits that tie them to amounts
(FA-09, TX-01, TX-11).

Required factors are a function of the operation, the amount, the edition and the risk
decision: own-account transfers need nothing beyond the login (TX-01); the public edition
cannot pay others; otherwise the cheapest medium whose per-payment cap covers the amount:
the SMS code (something held: the reserved phone) up to the SMS cap, then the SMS code plus
the held security device with the lowest cap that covers the amount: a security token (a
challenge-response token first, because its answer is bound to the payee and amount), the
soft certificate of this device, the USB-Key. A risk decision of "step-up" skips the
SMS-only tier (``NoStrongerFactor`` when the customer holds nothing stronger). Above every cap
the customer is told which limit applies and how to proceed.

Limits are per medium (per payment, per day cumulative, payments per day) — the defaults
below unless staff changed them (``MediumLimit`` rows, audited) — and the customer's own
lower limits (``CustomerLimit``, set with re-authentication)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from wangyin.audit import services as audit
from wangyin.authn import policy
from wangyin.authn.models import TOKEN_FACTORS, CustomerLimit, Factor, Medium, MediumLimit
from wangyin.core.errors import DomainError
from wangyin.core.money import Money, format_money

YUAN = 100
# TX-11's per-payment caps; the daily caps and counts are this bank's defaults.
DEFAULTS = {
    Medium.SMS: (50_000 * YUAN, 50_000 * YUAN, 20),
    Medium.TOKEN: (1_000_000 * YUAN, 2_000_000 * YUAN, 50),
    Medium.SOFT_CERT: (1_000_000 * YUAN, 2_000_000 * YUAN, 50),
    Medium.USB_KEY: (5_000_000 * YUAN, 10_000_000 * YUAN, 100),
}
OWN_ACCOUNTS = "transfer.own"
# The payment operations; the payments work adds its own names here.
FUNDS_OPERATIONS = (OWN_ACCOUNTS, "transfer.same_bank", "transfer.interbank",
                    "transfer.mobile")


class LimitError(DomainError):
    code = "limit"


class EditionCannotPay(LimitError):
    code = "edition_cannot_pay"
    http_status = 403
    message = _("The public edition cannot pay other people. Open the professional edition "
                "at a branch counter.")


class OverLimit(LimitError):
    code = "over_limit"


class NoStrongerFactor(LimitError):
    """The risk decision asks for more than the SMS code and the customer holds no security
    device (the payments service then holds the payment for review instead)."""

    code = "no_stronger_factor"
    http_status = 403
    message = _("This payment needs a security token or USB-Key, and you have none. Get one "
                "at a branch counter, or make the payment at the counter.")


@dataclass(frozen=True)
class Caps:
    per_transaction_fen: int
    per_day_fen: int
    per_day_count: int


def caps_of(medium: str) -> Caps:
    row = MediumLimit.objects.filter(medium=medium).first()
    if row is None:
        return Caps(*DEFAULTS[medium])
    return Caps(row.per_transaction_fen, row.per_day_fen, row.per_day_count)


@dataclass(frozen=True)
class LimitSet:
    """Every medium's caps and one customer's own limits (``per_day_count`` 0: none), read
    in one query, so all the checks of one payment see the same limits."""

    caps: dict[str, Caps]
    own: Caps | None

    def caps_of(self, medium: str) -> Caps:
        return self.caps[medium]


# Every medium's row and the customer's own in one statement (no query building: every
# payment check runs it).
_LIMITS_SQL = (
    "SELECT medium, per_transaction_fen, per_day_fen, per_day_count FROM authn_mediumlimit "
    "UNION ALL SELECT NULL, per_transaction_fen, per_day_fen, 0 FROM authn_customerlimit "
    "WHERE person_id = %s"
)


def limit_set_of(person) -> LimitSet:
    """The limits in force for ``person`` now (staff rows over the defaults)."""
    with connection.cursor() as cursor:
        cursor.execute(_LIMITS_SQL, [person.pk])
        found = {medium: Caps(*values) for medium, *values in cursor.fetchall()}
    return LimitSet(caps={medium: found.get(medium) or Caps(*DEFAULTS[medium])
                          for medium in DEFAULTS},
                    own=found.get(None))


def medium_of(factors) -> str:
    """The medium a set of proven factors counts as (the strongest one)."""
    for factor, medium in ((Factor.USBKEY, Medium.USB_KEY), (Factor.SOFTCERT, Medium.SOFT_CERT),
                           *((token, Medium.TOKEN) for token in TOKEN_FACTORS),
                           (Factor.SMS, Medium.SMS)):
        if factor in factors:
            return medium
    raise ValueError(f"no funds medium in {factors!r}")


def _yuan(fen: int) -> str:
    return format_money(Money(fen))


def _held_devices(person, device_id: str, limit_set: LimitSet) -> list[tuple[str, str]]:
    """(factor, medium) of the security devices the customer can use here: the one they
    chose in the security centre first, then the one with the lowest cap — a token
    (challenge-response first), this device's soft certificate, the USB-Key."""
    held = policy.held_factors(person, device_id)
    devices = [(f, Medium.TOKEN) for f in TOKEN_FACTORS if f in held][:1]
    devices += [(f, medium) for f, medium in ((Factor.SOFTCERT, Medium.SOFT_CERT),
                                              (Factor.USBKEY, Medium.USB_KEY)) if f in held]
    preferred = policy.preferred_factor_of(person)
    # The customer's chosen device first when it covers the amount; then by cap.
    return sorted(devices, key=lambda d: (d[0] != preferred,
                                          limit_set.caps_of(d[1]).per_transaction_fen))


def funds_factors(*, person, edition: str, operation: str, amount_fen: int,
                  risk: str = "allow", device_id: str = "",
                  limit_set: LimitSet | None = None) -> tuple[str, ...]:
    """The factors to ask for (FA-09); raises ``EditionCannotPay`` or ``OverLimit``. Two
    factors always include the SMS code, so a certificate never confirms a payment alone
    (TX-02). ``limit_set``: the limits already read for this payment."""
    if operation not in FUNDS_OPERATIONS:
        raise ValueError(f"no factor policy for {operation!r}")
    if amount_fen <= 0:
        raise ValueError("amounts are positive")
    if operation == OWN_ACCOUNTS:
        return ()
    if edition != "PRO":
        raise EditionCannotPay()
    limit_set = limit_set or limit_set_of(person)
    sms_cap = limit_set.caps_of(Medium.SMS).per_transaction_fen
    if risk != "step_up" and amount_fen <= sms_cap:
        return (Factor.SMS,)
    devices = _held_devices(person, device_id, limit_set)
    for factor, medium in devices:
        if amount_fen <= limit_set.caps_of(medium).per_transaction_fen:
            return (Factor.SMS, factor)
    if not devices and risk == "step_up" and amount_fen <= sms_cap:
        raise NoStrongerFactor()
    if devices:
        top = max(limit_set.caps_of(medium).per_transaction_fen for _factor, medium in devices)
        raise OverLimit(_("%(amount)s is above the %(cap)s limit per payment for your "
                          "security devices. Split the payment over several days, or ask a "
                          "branch for a USB-Key.") % {"amount": _yuan(amount_fen),
                                                       "cap": _yuan(top)})
    raise OverLimit(_("%(amount)s is above the %(cap)s limit per payment confirmed by SMS. "
                      "For larger payments, get a security token at a branch counter.")
                    % {"amount": _yuan(amount_fen), "cap": _yuan(sms_cap)})


def limits_check(*, person, medium: str, amount_fen: int, paid_today_fen: int,
                 paid_today_count: int, limit_set: LimitSet | None = None) -> None:
    """Refuse a payment over the medium's caps or the customer's own limits (TX-11), with
    a message naming the limit. ``paid_today_*`` are the customer's payments so far today
    with this medium (the payments service counts them); ``limit_set``: the limits already
    read for this payment."""
    limit_set = limit_set or limit_set_of(person)
    caps, own = limit_set.caps_of(medium), limit_set.own
    checks = [
        (amount_fen > caps.per_transaction_fen,
         _("the bank's limit per payment for this security method"), caps.per_transaction_fen),
        (paid_today_fen + amount_fen > caps.per_day_fen,
         _("the bank's daily limit for this security method"), caps.per_day_fen),
    ]
    if own is not None:
        checks += [
            (amount_fen > own.per_transaction_fen, _("your own limit per payment"),
             own.per_transaction_fen),
            (paid_today_fen + amount_fen > own.per_day_fen, _("your own daily limit"),
             own.per_day_fen),
        ]
    for over, which, cap in checks:
        if over:
            raise OverLimit(_("This payment is over %(which)s (%(cap)s). You can change your "
                              "own limits in the security centre; the bank's limits are "
                              "higher with a stronger security device.")
                            % {"which": which, "cap": _yuan(cap)},
                            extra={"medium": medium, "cap": cap})
    if paid_today_count + 1 > caps.per_day_count:
        raise OverLimit(_("You have reached the number of payments allowed today (%(count)s). "
                          "Please try again tomorrow.") % {"count": caps.per_day_count},
                        extra={"medium": medium})


def bank_maximum() -> Caps:
    """The highest caps of any medium: a customer's own limits cannot exceed them."""
    all_caps = [caps_of(m) for m in Medium.values]
    return Caps(max(c.per_transaction_fen for c in all_caps),
                max(c.per_day_fen for c in all_caps), max(c.per_day_count for c in all_caps))


@transaction.atomic
def medium_limit_set(*, medium: str, per_transaction_fen: int, per_day_fen: int,
                     per_day_count: int, staff: str, reason: str, at: datetime) -> MediumLimit:
    """Staff change a medium's caps; TX-11's per-payment defaults are the ceiling."""
    if medium not in DEFAULTS:
        raise ValueError(f"unknown medium {medium!r}")
    if not 0 < per_transaction_fen <= DEFAULTS[medium][0] or per_day_fen < per_transaction_fen \
            or per_day_count <= 0:
        raise LimitError(_("Limits must be positive, the daily limit at least the limit per "
                           "payment, and the limit per payment at most %(cap)s for this "
                           "medium.") % {"cap": _yuan(DEFAULTS[medium][0])})
    before = caps_of(medium)
    row, _created = MediumLimit.objects.update_or_create(medium=medium, defaults={
        "per_transaction_fen": per_transaction_fen, "per_day_fen": per_day_fen,
        "per_day_count": per_day_count, "updated_at": at, "updated_by": staff})
    audit.record(actor=staff, action="authn.limits.bank_changed", target=f"medium:{medium}",
                 occurred_at=at, details={"before": before.__dict__,
                                          "after": caps_of(medium).__dict__, "reason": reason})
    return row


def own_limits_clean(*, per_transaction_fen: int, per_day_fen: int) -> tuple[int, int]:
    top = bank_maximum()
    if not (0 < per_transaction_fen <= per_day_fen and per_transaction_fen
            <= top.per_transaction_fen and per_day_fen <= top.per_day_fen):
        raise LimitError(_("Choose positive limits, the daily one at least the one per "
                           "payment, and neither above the bank's (%(tx)s per payment, "
                           "%(day)s per day).") % {"tx": _yuan(top.per_transaction_fen),
                                                   "day": _yuan(top.per_day_fen)})
    return per_transaction_fen, per_day_fen


def own_limits_store(*, person, per_transaction_fen: int, per_day_fen: int,
                     at: datetime) -> CustomerLimit:
    """Keep the customer's own limits; the caller has re-authenticated them (AU-11)."""
    per_transaction_fen, per_day_fen = own_limits_clean(
        per_transaction_fen=per_transaction_fen, per_day_fen=per_day_fen)
    row, _created = CustomerLimit.objects.update_or_create(person=person, defaults={
        "per_transaction_fen": per_transaction_fen, "per_day_fen": per_day_fen,
        "updated_at": at})
    return row


def own_limits_of(person) -> CustomerLimit | None:
    return CustomerLimit.objects.filter(person=person).first()
