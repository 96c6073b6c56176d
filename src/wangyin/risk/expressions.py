"""Rule expressions: CEL (Common Expression Language — Google's C++ implementation through
``cel-expr-python``), never ``eval``. An expression is type-checked when it is saved against
the feature set below (an unknown name or a comparison of a number with text is refused with
CEL's own message) and must be a condition (bool). Evaluation has no side effects, no loops
and no access to anything but the features it is given.

This module is the only one that knows the library: rules are stored as CEL text, so another
conforming implementation can replace it here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cel_expr_python import cel

# The feature set: every name a rule may use, its CEL type and what it means. ``params`` are
# the bank's parameters (thresholds in settings), so a threshold moves without a new rule.
FEATURES: dict[str, tuple[Any, str]] = {
    "kind": (cel.Type.STRING, "the event: transfer.same_bank, transfer.interbank, …"),
    "channel": (cel.Type.STRING, "web, mobile or counter"),
    "is_funds": (cel.Type.BOOL, "the event moves money"),
    "to_others": (cel.Type.BOOL, "the event moves money to someone else (not between the "
                                 "customer's own accounts)"),
    "amount_fen": (cel.Type.INT, "the amount in fen (0 when no money moves)"),
    "hour": (cel.Type.INT, "the local hour of the event, 0–23"),
    "list_hits": (cel.Type.List(cel.Type.STRING),
                  "black/grey list hits of the customer, payee account, device and IP, as "
                  "\"BLACK:ACCOUNT\", \"GREY:IP\" …"),
    "params": (cel.Type.Map(cel.Type.STRING, cel.Type.INT), "the bank's risk parameters"),
    "segment": (cel.Type.STRING, "the customer's segment: personal or corporate"),
    "is_night": (cel.Type.BOOL, "the local hour is between 0:00 and 6:00"),
    # The device and the counterparty
    "device_age_hours": (cel.Type.INT, "hours since this device was bound for the customer "
                                       "(-1: not bound)"),
    "customers_on_device": (cel.Type.INT, "customers with this device bound (AU-16)"),
    "new_payee": (cel.Type.BOOL, "the customer has not paid this account before"),
    # Sliding windows, before this event
    "count_10m": (cel.Type.INT, "the customer's payments in the last 10 minutes"),
    "count_1h": (cel.Type.INT, "the customer's payments in the last hour"),
    "count_24h": (cel.Type.INT, "the customer's payments in the last 24 hours"),
    "sum_24h_fen": (cel.Type.INT, "what the customer paid in the last 24 hours"),
    "device_count_1h": (cel.Type.INT, "payments from this device in the last hour (anyone)"),
    "ip_count_1h": (cel.Type.INT, "payments from this IP in the last hour (anyone)"),
    "payee_count_24h": (cel.Type.INT, "payments into this account in the last 24 hours "
                                      "(anyone)"),
    "near_threshold_24h": (cel.Type.INT, "the customer's payments in the last 24 hours of "
                                         "at least params.structuring_floor_fen and below "
                                         "params.review_fen"),
    "inflow_24h_fen": (cel.Type.INT, "money the customer received in the last 24 hours"),
    "ip_failed_logins_1h": (cel.Type.INT, "failed sign-ins from this IP in the last hour"),
    # The customer's baseline (RK-05) and their peers'
    "payments_before": (cel.Type.INT, "the customer's payments so far"),
    "usual_max_fen": (cel.Type.INT, "the customer's largest payment so far"),
    "usual_mean_fen": (cel.Type.INT, "the customer's average payment"),
    "hour_share_pct": (cel.Type.INT, "the share of the customer's payments made at this "
                                     "hour, percent"),
    "peer_mean_fen": (cel.Type.INT, "the average payment of the customer's segment"),
    "peer_p95_fen": (cel.Type.INT, "the 95th percentile of the segment's largest payments"),
    "dormant_days": (cel.Type.INT, "days since the customer's last payment (0: none yet)"),
    # Where
    "region": (cel.Type.STRING, "the region of the IP (the bank's IP table), or empty"),
    "distance_km": (cel.Type.INT, "distance from the place of the customer's last event"),
    "minutes_since_last": (cel.Type.INT, "minutes since that event (-1: none located)"),
    "speed_kmh": (cel.Type.INT, "the speed that distance in that time would take"),
}


class ExpressionError(ValueError):
    """An expression that cannot be a rule; the message is CEL's, for the rule's author."""


@dataclass(frozen=True)
class Compiled:
    source: str
    program: Any

    def __call__(self, features: dict[str, Any] | Bound) -> bool:
        """True when the rule fires, on the features or the same ``bind``-ed once for all
        the rules of an evaluation. An evaluation error (a missing map key, an overflow)
        raises ``ExpressionError``: the engine decides what that means, never "no"."""
        if isinstance(features, Bound):
            value = self.program.eval(activation=features.activation)
        else:
            value = self.program.eval(data=features)
        if value.type() == cel.Type.ERROR or not isinstance(value.value(), bool):
            raise ExpressionError(str(value)[:200])
        return value.value()


@dataclass(frozen=True)
class Bound:
    """Features converted to CEL values once (``bind``): each rule then reads them as they
    are, instead of converting the whole feature set again (most of a rule's cost)."""

    activation: Any


def bind(features: dict[str, Any]) -> Bound:
    return Bound(_env().Activation(data=features))


@lru_cache(maxsize=1)
def _env():
    return cel.NewEnv(variables={name: spec[0] for name, spec in FEATURES.items()})


@lru_cache(maxsize=2048)
def compile_rule(source: str) -> Compiled:
    """The checked, compiled expression (cached by its text)."""
    if not source.strip() or len(source) > 2000:
        raise ExpressionError("an expression of 1 to 2000 characters")
    try:
        program = _env().compile(source)
    except RuntimeError as exc:
        raise ExpressionError(str(exc).replace("INVALID_ARGUMENT: ", "")[:500]) from exc
    if program.return_type() != cel.Type.BOOL:
        raise ExpressionError(f"a rule is a condition (bool), not {program.return_type()}")
    return Compiled(source, program)
