"""Rule sets: the live version the engine runs, installed from the shipped rule pack when a
bank has none, and read again by every process when another version goes live (the swap is
atomic: an evaluation runs entirely on one version)."""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.risk.expressions import Compiled, compile_rule
from wangyin.risk.models import Action, Family, Rule, RuleSet, RuleSetStatus

SHIPPED_PACK = Path(__file__).with_name("data") / "rules.toml"
INSTALLER = "system:install"


@dataclass(frozen=True)
class LiveRule:
    code: str
    action: str
    score: int
    check: Compiled


@dataclass(frozen=True)
class LiveSet:
    version: int
    rules: tuple[LiveRule, ...]


_live: tuple[float, LiveSet] | None = None


def cache_clear() -> None:
    global _live
    _live = None


def pack_rules(path: Path = SHIPPED_PACK) -> list[dict]:
    """The rules of a pack file, each checked (expression, action, family)."""
    rules = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", [])
    for rule in rules:
        compile_rule(rule["expression"])
        if rule["action"] not in (Action.STEP_UP, Action.REVIEW, Action.BLOCK):
            raise ValueError(f"rule {rule['code']}: unknown action {rule['action']!r}")
        if rule.get("family", Family.BEHAVIOUR) not in Family.values:
            raise ValueError(f"rule {rule['code']}: unknown family {rule['family']!r}")
    return rules


def _install_shipped() -> None:
    """Rule set version 1 from the shipped pack, live, when the bank has no live set."""
    now = timezone.now()
    try:
        with transaction.atomic():
            rule_set = RuleSet.objects.create(
                version=(RuleSet.objects.order_by("-version").values_list(
                    "version", flat=True).first() or 0) + 1,
                status=RuleSetStatus.LIVE, note="the shipped rule pack",
                created_by=INSTALLER, created_at=now, live_from=now)
            Rule.objects.bulk_create(Rule(rule_set=rule_set, **rule) for rule in pack_rules())
            audit.record(actor=INSTALLER, action="risk.ruleset.installed",
                         target=f"ruleset:{rule_set.version}", occurred_at=now,
                         details={"rules": rule_set.rules.count()})
    except IntegrityError:  # installed by a concurrent first evaluation
        pass


def _load() -> LiveSet:
    rule_set = RuleSet.objects.filter(status=RuleSetStatus.LIVE).first()
    if rule_set is None:
        _install_shipped()
        rule_set = RuleSet.objects.get(status=RuleSetStatus.LIVE)
    if _live is not None and _live[1].version == rule_set.version:
        return _live[1]
    rules = tuple(LiveRule(r.code, r.action, r.score, compile_rule(r.expression))
                  for r in rule_set.rules.filter(enabled=True).order_by("priority", "code"))
    return LiveSet(rule_set.version, rules)


def live() -> LiveSet:
    """The live rule set, checked against the database at most every
    ``RISK_RULES_REFRESH_SECONDS``."""
    global _live
    now = time.monotonic()
    if _live is None or now - _live[0] >= settings.RISK_RULES_REFRESH_SECONDS:
        _live = (now, _load())
    return _live[1]
