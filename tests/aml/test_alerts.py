"""Suspicious-transaction alerts: raised from stored risk decisions whose fired rules include
an AML-family rule (the family read from the decision's rule-set version) and from cases
closed as "reported"; analysed by staff with a reason (RK-09); confirmed ones exported."""

import csv
import io
from datetime import timedelta

import pytest

from tests.payments.conftest import instruction, pay
from tests.risk.conftest import live_rules
from wangyin.aml import files, selectors, services
from wangyin.aml.errors import AlreadyAnalysed, DayNotOver, NothingToExport, ReasonRequired
from wangyin.aml.models import SuspiciousAlert
from wangyin.audit.models import AuditEvent
from wangyin.risk import services as risk
from wangyin.risk.models import Case, Decision, Rule

pytestmark = pytest.mark.django_db


def _event(at, person_id, yuan):
    return risk.Event(kind="transfer.same_bank", person_id=person_id, channel="web",
                      device="dev-1", ip="203.0.113.9", at=at, amount_fen=yuan * 100,
                      counterparty="6217000000000001")


def aml_rules(at):
    """A live set with one AML-family rule (just-below-threshold amounts) and one other."""
    rule_set = live_rules(at, ("structuring", "amount_fen >= 4500000 && amount_fen < 5000000",
                               "review"),
                          ("unusual_amount", "amount_fen >= 4000000", "step_up"))
    Rule.objects.filter(rule_set=rule_set, code="structuring").update(
        family="aml", description="Just below the ¥50,000 reporting line")
    return rule_set


def generate(at):
    return services.alerts_generate(day=services.day_of(at), at=at + timedelta(days=1))


@pytest.mark.req("RK-09")
def test_an_aml_rule_hit_raises_one_alert_with_its_indicators_and_features(make_person, at):
    person = make_person()
    aml_rules(at)
    assert risk.evaluate(_event(at, person.pk, 48_000)).reasons == ("structuring", "unusual_amount")
    risk.evaluate(_event(at + timedelta(minutes=1), person.pk, 41_000))  # "unusual_amount" only
    assert generate(at).created == 1
    alert = SuspiciousAlert.objects.get()
    decision = Decision.objects.get(amount_fen=4_800_000)
    assert (alert.source, alert.decision, alert.person_id, alert.status) == (
        "DECISION", decision, person.pk, "OPEN")
    assert alert.indicators == [
        {"code": "structuring", "description": "Just below the ¥50,000 reporting line",
         "family": "aml"},
        {"code": "unusual_amount", "description": "unusual_amount", "family": "behaviour"}]
    assert alert.features == decision.features and alert.features["amount_fen"] == 4_800_000
    assert selectors.alert(alert_id=alert.pk).customer == person.masked_name
    again = generate(at)  # idempotent
    assert (again.created, again.existing) == (0, 1) and SuspiciousAlert.objects.count() == 1


@pytest.mark.req("RK-09")
def test_the_family_is_the_one_of_the_decisions_rule_set_version(make_person, at):
    """The same code in a later version outside the AML family raises nothing."""
    person = make_person()
    aml_rules(at)
    risk.evaluate(_event(at, person.pk, 48_000))
    live_rules(at, ("structuring", "amount_fen >= 4500000", "review"))  # family behaviour
    risk.evaluate(_event(at + timedelta(minutes=5), person.pk, 48_000))
    generate(at)
    assert SuspiciousAlert.objects.get().decision.rule_set_version == (
        Decision.objects.order_by("at").first().rule_set_version)


def test_nothing_is_raised_before_the_day_is_over(at):
    with pytest.raises(DayNotOver):
        services.alerts_generate(day=services.day_of(at), at=at)


@pytest.mark.req("RK-09")
def test_a_case_closed_as_reported_raises_an_alert(make_person, at):
    person = make_person()
    aml_rules(at)
    risk.evaluate(_event(at, person.pk, 48_000))
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(status="CLOSED", outcome="reported",
                                           outcome_reason="cash-out pattern",
                                           closed_by="staff:risk01",
                                           closed_at=at + timedelta(hours=1))
    generate(at)
    by_source = {a.source: a for a in SuspiciousAlert.objects.all()}
    assert set(by_source) == {"DECISION", "CASE"}
    from_case = by_source["CASE"]
    assert from_case.case_id == case.pk and "cash-out pattern" in from_case.summary
    assert [i["code"] for i in from_case.indicators] == ["structuring", "unusual_amount"]


@pytest.mark.req("RK-09")
def test_the_alert_shows_the_payment_it_was_about(payer, payee, at):
    user, account = payer
    aml_rules(at)
    held = pay(user, instruction(account, payee, yuan="48000.00"), at)
    assert held.status == "HELD"  # the AML rule asked for review: no journal yet
    generate(at)
    # The quote and the execution are two decisions of one operation: one alert, the last.
    alert = SuspiciousAlert.objects.filter(transactions__transfer=held).get()
    assert alert.decision == Decision.objects.filter(ref=alert.decision.ref).latest("pk")
    assert Decision.objects.filter(ref=alert.decision.ref).count() == 2
    hit = alert.transactions.get(hit=True)
    assert (hit.amount_fen, hit.direction, hit.counterparty_account, hit.journal) == (
        4_800_000, "OUT", payee.number, None)
    shown = selectors.alert(alert_id=alert.pk)
    assert shown.rows[-1].masked_account != account.number  # masked for the screens
    # the opening deposit of the day before the hit is shown as context
    assert any(tx.what == "DEPOSIT" and tx.direction == "IN" for tx in shown.rows)


@pytest.mark.req("RK-09")
def test_staff_confirm_or_dismiss_with_a_reason_and_confirmed_ones_are_exported(make_person,
                                                                                at):
    person = make_person()
    aml_rules(at)
    risk.evaluate(_event(at, person.pk, 48_000))
    risk.evaluate(_event(at + timedelta(minutes=3), person.pk, 49_000))
    generate(at)
    first, second = SuspiciousAlert.objects.order_by("raised_at")
    later = at + timedelta(days=1)
    with pytest.raises(ReasonRequired):
        services.alert_analyse(alert_id=first.pk, confirm=True, reason="  ",
                               actor="staff:risk01", at=later)
    first.refresh_from_db()
    assert first.status == "OPEN" and first.analysed_by == ""
    services.alert_analyse(alert_id=first.pk, confirm=True, reason="splits below the line",
                           actor="staff:risk01", at=later)
    services.alert_analyse(alert_id=second.pk, confirm=False, reason="salary, known payer",
                           actor="staff:risk02", at=later)
    with pytest.raises(AlreadyAnalysed):
        services.alert_analyse(alert_id=first.pk, confirm=False, reason="changed my mind",
                               actor="staff:risk01", at=later)
    first.refresh_from_db()
    assert (first.status, first.reason, first.analysed_by, first.analysed_at) == (
        "CONFIRMED", "splits below the line", "staff:risk01", later)
    assert AuditEvent.objects.filter(action="aml.alert.dismissed",
                                     actor="staff:risk02").exists()
    batch = services.suspicious_export(actor="staff:risk01", at=later)
    header, *rows = csv.reader(io.StringIO(batch.content.lstrip("\ufeff")))
    assert header == files.SUSPICIOUS_COLUMNS
    assert {row[0] for row in rows} == {str(first.pk)}  # the dismissed one is not reported
    row = dict(zip(header, rows[0], strict=True))
    assert (row["customer_name"], row["reason"], row["amount"]) == (
        person.name, "splits below the line", "48000.00")
    assert "structuring: Just below" in row["indicators"]
    with pytest.raises(NothingToExport):
        services.suspicious_export(actor="staff:risk01", at=later)
    first.refresh_from_db()
    assert first.exported_at == later and list(first.batches.all()) == [batch]
