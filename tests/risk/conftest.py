from tests.payments.conftest import payee, payer  # noqa: F401 - the payment fixtures
from wangyin.risk import rules
from wangyin.risk.models import Rule, RuleSet


def live_rules(at, *specs, seen_now=True):
    """Make a rule set of ``specs`` (code, expression, action) live in place of the current
    one, as an approved version would be (``seen_now``: this process sees it at once)."""
    rules.live()  # the shipped set, installed
    RuleSet.objects.filter(status="LIVE").update(status="RETIRED")
    version = RuleSet.objects.order_by("-version").values_list("version", flat=True)[0] + 1
    rule_set = RuleSet.objects.create(version=version, status="LIVE", created_by="staff:maker",
                                      decided_by="staff:checker", created_at=at)
    for code, expression, action in specs:
        Rule.objects.create(rule_set=rule_set, code=code, description=code,
                            expression=expression, action=action, score=90)
    if seen_now:
        rules.cache_clear()
    return rule_set
