"""The in-line engine: CEL rules as data, type-checked when saved; the live rule set (the
shipped pack installed when a bank has none); every decision stored with its features and
version; never a silent allow when evaluation fails or overruns."""

from datetime import timedelta

import pytest
from django.db import IntegrityError

from tests.risk.conftest import live_rules
from wangyin.audit.models import AuditEvent
from wangyin.risk import expressions
from wangyin.risk import services as risk
from wangyin.risk.models import Decision, RuleSet

pytestmark = pytest.mark.django_db


def _event(at, yuan=100, kind="transfer.same_bank"):
    return risk.Event(kind=kind, person_id=7, channel="web", device="dev-1", ip="10.0.0.1",
                      at=at, amount_fen=yuan * 100, counterparty="6217000000000001")


@pytest.mark.req("RK-18", "RK-04")
def test_the_shipped_pack_goes_live_and_every_decision_is_stored(at, settings):
    settings.RISK_REVIEW_FEN = 1_000 * 100
    assert risk.evaluate(_event(at, yuan=999)).action == "allow"
    held = risk.evaluate(_event(at, yuan=1_000))
    assert (held.action, held.reasons) == ("review", ("large_amount_review",))
    live = RuleSet.objects.get(status="LIVE")
    assert (live.version, live.created_by) == (1, "system:install")
    allowed, reviewed = Decision.objects.order_by("id")
    assert allowed.action == "allow" and allowed.reasons == []
    assert (reviewed.rule_set_version, reviewed.reasons) == (1, ["large_amount_review"])
    assert reviewed.features["amount_fen"] == 100_000 and reviewed.features["hour"] == 17
    assert "6217000000000001" not in str(reviewed.features)
    assert AuditEvent.objects.filter(action="risk.decision").count() == 1  # non-allow only


@pytest.mark.req("RK-04")
@pytest.mark.parametrize(("source", "message"), [
    ("amount_fenn > 1", "undeclared reference"),  # a misspelt feature
    ("amount_fen > 'x'", "no matching overload"),  # a number compared with text
    ("amount_fen + 1", "a rule is a condition"),  # not a bool
    ("", "1 to 2000 characters"),
    ("__import__('os')", "undeclared reference"),  # not Python
])
def test_an_expression_that_cannot_be_a_rule_is_refused_when_saved(source, message):
    with pytest.raises(expressions.ExpressionError, match=message):
        expressions.compile_rule(source)


def test_an_expression_sees_only_its_features():
    rule = expressions.compile_rule("is_funds && hour < 6 && params.review_fen <= amount_fen")
    features = {"kind": "transfer.interbank", "channel": "web", "is_funds": True,
                "amount_fen": 10, "hour": 3, "params": {"review_fen": 5}}
    assert rule(features) is True
    assert rule({**features, "hour": 12}) is False


@pytest.mark.req("RK-18")
@pytest.mark.parametrize(("yuan", "action"), [(5_000, "review"), (4_999, "step_up"),
                                              (0, "step_up")])
def test_a_failing_evaluation_never_allows(at, yuan, action):
    live_rules(at, ("broken", "params.missing_threshold > 0", "block"))  # no such key
    decision = risk.evaluate(_event(at, yuan=yuan))
    assert (decision.action, decision.reasons) == (action, ("evaluation_failed",))
    stored = Decision.objects.latest("id")
    assert stored.fallback and stored.action == action


@pytest.mark.req("RK-18")
def test_an_overrunning_evaluation_takes_the_fallback(at, settings):
    settings.RISK_BUDGET_MS = 0
    decision = risk.evaluate(_event(at, yuan=6_000))
    assert (decision.action, decision.reasons) == ("review", ("evaluation_overran",))


@pytest.mark.req("RK-04")
def test_a_new_live_version_is_picked_up_whole_after_the_refresh(at, settings):
    settings.RISK_RULES_REFRESH_SECONDS = 3600
    assert risk.evaluate(_event(at)).action == "allow"
    live_rules(at, ("night_block", "is_funds && amount_fen > 0", "block"), seen_now=False)
    assert risk.evaluate(_event(at)).action == "allow"  # this process looks again later
    settings.RISK_RULES_REFRESH_SECONDS = 0
    decision = risk.evaluate(_event(at + timedelta(seconds=1)))
    assert (decision.action, decision.reasons) == ("block", ("night_block",))
    assert Decision.objects.latest("id").rule_set_version == 2


@pytest.mark.req("ORG-02")
def test_the_checker_of_a_rule_set_is_never_its_maker(at):
    with pytest.raises(IntegrityError):
        RuleSet.objects.create(version=9, status="DRAFT", created_by="staff:a",
                               decided_by="staff:a", created_at=at)
