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
    "amount_fen": (cel.Type.INT, "the amount in fen (0 when no money moves)"),
    "hour": (cel.Type.INT, "the local hour of the event, 0–23"),
    "list_hits": (cel.Type.List(cel.Type.STRING),
                  "black/grey list hits of the customer, payee account, device and IP, as "
                  "\"BLACK:ACCOUNT\", \"GREY:IP\" …"),
    "params": (cel.Type.Map(cel.Type.STRING, cel.Type.INT), "the bank's risk parameters"),
}


class ExpressionError(ValueError):
    """An expression that cannot be a rule; the message is CEL's, for the rule's author."""


@dataclass(frozen=True)
class Compiled:
    source: str
    program: Any

    def __call__(self, features: dict[str, Any]) -> bool:
        """True when the rule fires. An evaluation error (a missing map key, an overflow)
        raises ``ExpressionError``: the engine decides what that means, never "no"."""
        value = self.program.eval(data=features)
        if value.type() == cel.Type.ERROR or not isinstance(value.value(), bool):
            raise ExpressionError(str(value)[:200])
        return value.value()


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
