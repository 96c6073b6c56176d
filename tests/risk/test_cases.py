"""Every non-allow decision is filed in a case: one open case per subject, graded by its
strongest decision; a payment blocked at execution leaves its decision and case behind."""

from datetime import timedelta

import pytest

from tests.payments.conftest import confirm, instruction
from tests.risk.conftest import live_rules
from wangyin.payments import services as payments
from wangyin.payments.errors import PaymentBlocked
from wangyin.payments.models import Transfer
from wangyin.risk import services as risk
from wangyin.risk.models import Case, CaseEvent, Decision

pytestmark = pytest.mark.django_db


def _event(at, person_id=7, yuan=100, ip="203.0.113.9"):
    return risk.Event(kind="transfer.same_bank", person_id=person_id, channel="web",
                      device="dev-1", ip=ip, at=at, amount_fen=yuan * 100,
                      counterparty="6217000000000001")


@pytest.mark.req("RK-06")
def test_decisions_join_the_subjects_open_case_and_raise_its_grade(at):
    live_rules(at, ("big", "amount_fen >= 100000", "review"),
               ("huge", "amount_fen >= 1000000", "block"))
    assert risk.evaluate(_event(at, yuan=10)).action == "allow"
    assert not Case.objects.exists()  # allow opens nothing
    risk.evaluate(_event(at, yuan=1_000))
    case = Case.objects.get()
    assert (case.subject, case.severity, case.reasons) == ("person:7", 4, ["big"])  # score 90
    risk.evaluate(_event(at + timedelta(minutes=5), yuan=10_000))
    risk.evaluate(_event(at + timedelta(minutes=6), person_id=None, yuan=1_000))
    case.refresh_from_db()
    assert case.reasons == ["big", "huge"] and case.updated_at == at + timedelta(minutes=5)
    assert Case.objects.count() == 2 and Case.objects.filter(subject="ip:203.0.113.9").exists()
    assert list(case.decisions.values_list("action", flat=True).order_by("at")) == [
        "review", "block"]
    assert list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True)) == [
        "opened", "decision"]


@pytest.mark.req("RK-18")
def test_a_payment_blocked_at_execution_leaves_its_decision_and_case(payer, payee, at):
    user, account = payer
    order = instruction(account, payee)
    quote = payments.transfer_quote(user=user, instruction=order, device_id="dev-1", ip=None,
                                    at=at)
    challenge = confirm(user, quote, at)
    live_rules(at, ("late_block", "is_funds", "block"))  # live between confirming and paying
    with pytest.raises(PaymentBlocked):
        payments.transfer_execute(user=user, instruction=order, nonce=quote.key.nonce,
                                  challenge_id=challenge.pk, idempotency_key="k1",
                                  device_id="dev-1", ip=None, at=at)
    blocked = Decision.objects.get(action="block")  # committed although nothing moved
    assert blocked.case.person_id == user.person_id and not Transfer.objects.exists()


@pytest.mark.req("RK-06")
def test_a_filed_decision_is_the_cases_event_and_never_lowers_its_grade_or_time(at):
    from wangyin.risk import rules
    from wangyin.risk.models import Rule

    live_rules(at, ("small", "amount_fen >= 100", "step_up"),
               ("big", "amount_fen >= 100000", "review"))
    Rule.objects.filter(code="small").update(score=30)
    rules.cache_clear()
    risk.evaluate(_event(at, yuan=1_000))
    risk.evaluate(_event(at - timedelta(hours=1), yuan=10))  # reported late, weaker
    case = Case.objects.get()
    assert (case.severity, case.reasons, case.updated_at) == (4, ["big", "small"], at)
    first, second = Decision.objects.order_by("id")
    assert first.case_id == second.case_id == case.pk
    assert [(e.kind, e.actor, e.details) for e in case.events.order_by("id")] == [
        ("opened", "system:risk", {"decision": first.pk, "kind": "transfer.same_bank",
                                   "action": "review", "score": 90,
                                   "reasons": ["big", "small"]}),
        ("decision", "system:risk", {"decision": second.pk, "kind": "transfer.same_bank",
                                     "action": "step_up", "score": 30, "reasons": ["small"]})]


@pytest.mark.req("RK-06")
def test_a_case_a_decision_opens_is_the_models_new_case(at):
    live_rules(at, ("big", "amount_fen >= 100000", "review"))
    risk.evaluate(_event(at, yuan=1_000))
    opened = Case.objects.get()
    new = Case(subject="person:7", person_id=7, opened_at=at, updated_at=at, severity=4,
               reasons=["big"])
    fields = [f.attname for f in Case._meta.concrete_fields if not f.primary_key]
    assert {f: getattr(opened, f) for f in fields} == {f: getattr(new, f) for f in fields}


@pytest.mark.django_db(transaction=True)
@pytest.mark.req("RK-06")
def test_concurrent_decisions_of_one_subject_share_one_case(at):
    import time

    from django.db import transaction

    from tests.race import race

    live_rules(at, ("big", "amount_fen >= 100000", "review"))

    def decide(i):
        with transaction.atomic():
            decision = risk.evaluate(_event(at + timedelta(seconds=i), yuan=1_000))
            time.sleep(0.3)  # the other waits for this case to be committed, then joins it
        return decision.action

    results, errors = race(2, decide)
    assert not errors and results == {0: "review", 1: "review"}
    case = Case.objects.get()
    assert set(Decision.objects.values_list("case_id", flat=True)) == {case.pk}
    assert sorted(case.events.values_list("kind", flat=True)) == ["decision", "opened"]
