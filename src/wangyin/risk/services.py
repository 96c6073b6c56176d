"""The in-line risk decision every money movement asks for before it happens (RK-18).

``evaluate`` turns an event into features, runs the live rule set (``risk.rules``: CEL rules
that are data, versioned, maker–checker approved) and answers allow / step_up / review /
block with a score and the codes of the rules that fired. Every decision is stored with its
features and the rule set's version, so it can be explained later and a draft can be
replayed against it. It never fails open: if evaluation fails or overruns its time budget
(``RISK_BUDGET_MS``) the answer is "review" for a payment at or above
``RISK_FALLBACK_REVIEW_FEN`` and "step_up" otherwise.

The budget is the engine's own time: the CPU time of this thread while it reads the features
and runs the rules, plus the database's time executing the read (the server's clock, read
in the same statement). Time spent waiting — for a CPU on a busy server, for the reply to
be picked up — does not count: it is the queue's, and a stricter answer would not shorten
it (measured by the wall clock, a 50 ms budget sent most decisions of the transfer
benchmark to the fallback). The check comes after the fact: it never cuts an evaluation
short. A server-side ``statement_timeout`` would, but it is not used: ``SET LOCAL`` lasts
to the end of the caller's transaction, and a cancelled statement aborts that transaction
unless a savepoint wraps it — a savepoint, the setting and its way back cost at least two
more round trips, as many as the evaluation itself makes. ``elapsed_us`` stores the
wall-clock time, as the operation waited."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from psycopg.types.json import Jsonb

from wangyin.audit import services as audit
from wangyin.risk import cases, expressions, features, lists, rules
from wangyin.risk.models import STRENGTH, Action

log = structlog.get_logger(__name__)

ALLOW, STEP_UP, REVIEW, BLOCK = Action.ALLOW, Action.STEP_UP, Action.REVIEW, Action.BLOCK


@dataclass(frozen=True)
class Event:
    kind: str  # e.g. "transfer.same_bank"
    person_id: int
    channel: str  # "web", "mobile", "counter"
    device: str
    ip: str | None
    at: datetime
    amount_fen: int = 0
    counterparty: str = ""  # the payee account
    # The customer's ID and mobile numbers as their blind indexes (checked against lists).
    id_number_index: str = ""
    phone_index: str = ""
    segment: str = "personal"
    # The operation the event belongs to (a payment's confirmation nonce): its decisions at
    # confirmation and at execution share it, so they are one operation in cases and AML.
    ref: str = ""


@dataclass(frozen=True)
class Decision:
    action: str
    score: int = 0
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _decide(live: rules.LiveSet, features: dict) -> Decision:
    bound = expressions.bind(features)
    fired = [rule for rule in live.rules if rule.check(bound)]
    if not fired:
        return Decision(ALLOW)
    strongest = max(fired, key=lambda rule: STRENGTH[rule.action])
    return Decision(strongest.action, max(rule.score for rule in fired),
                    tuple(rule.code for rule in fired))


def _fallback(event: Event, why: str) -> Decision:
    funds = event.kind.startswith("transfer.")
    review = funds and event.amount_fen >= settings.RISK_FALLBACK_REVIEW_FEN
    return Decision(REVIEW if review else STEP_UP, 50, (why,))


# The decision row as plain SQL on the path every operation takes (JSON as Django's
# JSONField writes it: json.dumps); a non-allow decision's row goes in with its case
# (``cases.on_decision``).
_INSERT_SQL = (
    "INSERT INTO risk_decision (at, kind, person_id, channel, amount_fen, action, score, "
    "reasons, features, rule_set_version, fallback, elapsed_us, ref) VALUES (%(at)s, "
    "%(kind)s, %(person_id)s, %(channel)s, %(amount_fen)s, %(action)s, %(score)s, "
    "%(reasons)s, %(features)s, %(rule_set_version)s, %(fallback)s, %(elapsed_us)s, "
    "%(ref)s)")


def evaluate(event: Event) -> Decision:
    """The decision for ``event``, stored; when it is not "allow", audited and filed in the
    subject's case. Runs in the caller's transaction: a caller that refuses the operation
    must let that transaction commit (the decision and its case are the record of it)."""
    try:  # a new version is compiled once per process: not counted in the event's budget
        live = rules.live()
    except Exception:  # noqa: BLE001 - never fail open
        log.exception("risk.rules_unavailable")
        live = None
    started, cpu_started = time.perf_counter(), time.thread_time()
    seen, version, fallback, database_s = {}, None, False, 0.0
    try:
        if live is None:
            raise RuntimeError("no live rule set")
        observed = features.observe(event)
        seen, database_s = observed.features, observed.database_s
        decision = _decide(live, seen)
        version = live.version
    except Exception:  # noqa: BLE001 - never fail open
        log.exception("risk.evaluate_failed", kind=event.kind)
        decision, fallback, version = _fallback(event, "evaluation_failed"), True, None
    elapsed_us = int((time.perf_counter() - started) * 1e6)
    engine_us = int((time.thread_time() - cpu_started + database_s) * 1e6)
    if not fallback and engine_us > settings.RISK_BUDGET_MS * 1000:
        log.warning("risk.evaluate_overran", kind=event.kind, engine_us=engine_us,
                    elapsed_us=elapsed_us)
        decision, fallback = _fallback(event, "evaluation_overran"), True
    row = {"at": event.at, "kind": event.kind, "person_id": event.person_id,
           "channel": event.channel, "amount_fen": event.amount_fen,
           "action": str(decision.action), "score": decision.score,
           "reasons": Jsonb(list(decision.reasons)), "features": Jsonb(seen),
           "rule_set_version": version, "fallback": fallback, "elapsed_us": elapsed_us,
           "ref": event.ref[:64]}
    if decision.action == ALLOW:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_SQL, row)
        return decision
    with transaction.atomic(savepoint=False):  # the decision, its case and the audit row
        cases.on_decision(row, ip=event.ip)
        audit.record(actor=f"customer:{event.person_id}", action="risk.decision",
                     target=f"person:{event.person_id}", occurred_at=event.at,
                     device=event.device, ip=event.ip,
                     details={"kind": event.kind, "action": decision.action,
                              "score": decision.score, "reasons": list(decision.reasons),
                              "amount_fen": event.amount_fen, "rule_set": version})
    return decision


def payment_made(event: Event, *, credited_person_id: int | None = None) -> None:
    """Count a payment that was made (posted, sent to clearing or held) in the windows and
    the payer's baseline, and the payee's inflow when they bank here — in the payment's
    transaction."""
    features.record_payment(event, credited_person_id=credited_person_id)


def money_held(*, person_id: int, at: datetime) -> None:
    """A payment of the customer's was held for review: ask them to confirm it (RK-12), in
    the payment's transaction — the question is never lost to a crash after the hold."""
    cases.money_held(person_id=person_id, at=at)


def credit_received(*, person_id: int, amount_fen: int, at: datetime) -> None:
    """Money in from another bank (for "rapid in-and-out")."""
    features.record_credit(person_id=person_id, amount_fen=amount_fen, at=at)


def signed_in(*, person_id: int, device: str, ip: str | None, at: datetime) -> None:
    """Remember when and where the customer was last seen (distance and speed features)."""
    features.record_activity(Event(kind="login", person_id=person_id, channel="web",
                                   device=device, ip=ip, at=at))


def ip_blocked(ip: str | None, at: datetime) -> bool:
    """The IP is on the black list (e.g. blocked automatically after failed sign-ins)."""
    return bool(ip) and "BLACK:IP" in lists.hits(lists.Subjects(ip=ip), at)


def login_failed(*, ip: str | None, device: str, person_id: int | None, at: datetime) -> None:
    """A failed sign-in: counted per IP and evaluated (RK-01); when the decision blocks it
    the IP goes on the black list for ``RISK_IP_BLOCK_MINUTES`` (RK-16) — a rule decides
    how many failures that takes (shipped: ``ip_failed_logins``)."""
    features.record_failed_login(ip=ip, at=at)
    decision = evaluate(Event(kind="login.failed", person_id=person_id, channel="web",
                              device=device, ip=ip, at=at))
    if decision.action == BLOCK and ip:  # idempotent while the entry lasts
        lists.entry_add(colour="BLACK", subject="IP", value=ip, staff=cases.SYSTEM, at=at,
                        reason="automatic: repeated failed sign-ins",
                        expires_at=at + timedelta(minutes=settings.RISK_IP_BLOCK_MINUTES),
                        source="risk.login_failed")
