"""The in-line engine: CEL rules as data, type-checked when saved; the live rule set (the
shipped pack installed when a bank has none); every decision stored with its features and
version; never a silent allow when evaluation fails or overruns. The features it reads in
one statement are their definitions (a plain ORM computation of each, for varied events)."""

import time
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.db.models import Q, Sum
from django.utils import timezone

from tests.conftest import _check
from tests.risk.conftest import live_rules
from wangyin.audit.models import AuditEvent
from wangyin.identity import devices
from wangyin.identity import services as identity
from wangyin.identity.models import Device
from wangyin.risk import expressions, features, geo, lists
from wangyin.risk import services as risk
from wangyin.risk.models import Counter, Decision, ListEntry, PeerBaseline, Profile, RuleSet

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


@pytest.mark.req("RK-18")
def test_the_budget_counts_the_engines_own_time_not_its_waiting(at, settings, monkeypatch):
    settings.RISK_BUDGET_MS = 100
    place_of = geo.place_of

    def descheduled(ip):  # waiting for a CPU (or anything else) takes no CPU time
        time.sleep(0.3)
        return place_of(ip)

    monkeypatch.setattr(geo, "place_of", descheduled)
    assert risk.evaluate(_event(at, yuan=6_000)).action == "allow"
    assert Decision.objects.latest("id").elapsed_us >= 300_000  # as the operation waited
    monkeypatch.setattr(geo, "place_of", place_of)
    monkeypatch.setattr(features, "_READ_SQL", features._READ_SQL.replace(
        "LEFT JOIN risk_peerbaseline", "CROSS JOIN pg_sleep(0.3) LEFT JOIN risk_peerbaseline"))
    decision = risk.evaluate(_event(at, yuan=6_000))  # a slow database read counts
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


# --- the features: one statement, the same values as their definitions ---------------------

BEIJING, URUMQI = "192.0.2.10", "203.0.113.10"
PAYEE, OTHER_PAYEE = "6217000000000001", "6217000000000002"


def _sum(key: str, span: int, since, at, column: str = "count") -> int:
    if not key:
        return 0
    rows = Counter.objects.filter(key=key, span=span, bucket__gt=since, bucket__lte=at)
    return rows.aggregate(total=Sum(column))["total"] or 0


def _reference(event) -> dict:
    """The features of ``event`` computed one by one through the ORM."""
    at, person_id, local = event.at, event.person_id, timezone.localtime(event.at)
    payee = features.payee_index(event.counterparty)
    minute = features.MINUTE

    def window(prefix, value, name, column="count"):
        key = f"{prefix}:{value}" if value else ""
        return _sum(key, minute, at - features.WINDOWS[name], at, column)

    profile = Profile.objects.filter(person_id=person_id).first() if person_id else None
    profile = profile or Profile()
    bound = Device.objects.filter(device_id=event.device, removed_at__isnull=True)
    mine = bound.filter(user__person_id=person_id).order_by("bound_at").first()
    peer = PeerBaseline.objects.filter(segment=event.segment).first()
    wanted = Q(pk__in=[])
    for subject, value in ((lists.ListSubject.ID_NUMBER, event.id_number_index),
                           (lists.ListSubject.PHONE, event.phone_index)):
        if value:
            wanted |= Q(subject=subject, value_index=value)
    for subject, value in ((lists.ListSubject.ACCOUNT, event.counterparty),
                           (lists.ListSubject.DEVICE, event.device),
                           (lists.ListSubject.IP, event.ip or "")):
        try:
            wanted |= Q(subject=subject, value_index=lists.normalised(subject, value)[1])
        except lists.ListValueInvalid:
            pass
    listed = ListEntry.objects.filter(wanted, removed_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at))
    place = geo.place_of(event.ip)
    distance = minutes = speed = -1
    if place.located and profile.last_located_at is not None:
        distance = int(geo.distance_km(place, geo.Place(
            profile.last_region, profile.last_latitude, profile.last_longitude)))
        minutes = max(int((at - profile.last_located_at).total_seconds() // 60), 0)
        speed = distance * 60 // max(minutes, 1)
    payments = profile.payments
    pair = f"pp:{person_id}:{payee}" if payee and person_id else ""
    return {
        "kind": event.kind, "channel": event.channel, "segment": event.segment,
        "is_funds": event.kind.startswith("transfer."),
        "to_others": event.kind.startswith("transfer.") and event.kind != "transfer.own",
        "amount_fen": event.amount_fen, "hour": local.hour, "is_night": local.hour < 6,
        "list_hits": sorted({f"{e.colour}:{e.subject}" for e in listed}),
        "params": features.params(),
        "device_age_hours": max(int((at - mine.bound_at).total_seconds() // 3600), 0)
        if mine and event.device else -1,
        "customers_on_device": bound.values("user__person_id").distinct().count()
        if event.device else 0,
        "new_payee": bool(pair) and _sum(pair, features.DAY, at - features.PAYEE_MEMORY,
                                         at) == 0,
        "count_10m": window("p", person_id, "10m"), "count_1h": window("p", person_id, "1h"),
        "count_24h": window("p", person_id, "24h"),
        "sum_24h_fen": window("p", person_id, "24h", "sum_fen"),
        "device_count_1h": window("d", event.device, "1h"),
        "ip_count_1h": window("ip", event.ip, "1h"),
        "payee_count_24h": window("cp", payee, "24h"),
        "near_threshold_24h": window("nt", person_id, "24h"),
        "inflow_24h_fen": window("in", person_id, "24h", "sum_fen"),
        "ip_failed_logins_1h": window("lf", event.ip, "1h"),
        "payments_before": payments, "usual_max_fen": profile.amount_max_fen,
        "usual_mean_fen": profile.amount_sum_fen // payments if payments else 0,
        "hour_share_pct": (profile.hours or [0] * 24)[local.hour] * 100 // payments
        if payments else 0,
        "peer_mean_fen": peer.amount_mean_fen if peer else 0,
        "peer_p95_fen": peer.amount_p95_fen if peer else 0,
        "dormant_days": (at - profile.last_payment_at).days if profile.last_payment_at else 0,
        "region": place.region, "distance_km": distance, "minutes_since_last": minutes,
        "speed_kmh": speed}


def _pay(at, *, person=7, yuan=500, payee=PAYEE, device="dev-1", ip=BEIJING,
         kind="transfer.same_bank", **more):
    return risk.Event(kind=kind, person_id=person, channel="web", device=device, ip=ip,
                      at=at, amount_fen=int(yuan * 100), counterparty=payee, **more)


def _customer(make_person, at, n):
    person = make_person(id_number=_check(f"36070219850312{n:03d}"),
                         phone=f"1380797{n:04d}")
    user, _initial = identity.internet_banking_open(
        person_id=person.pk, login_name=f"customer_{n:03d}", edition="PRO",
        risk_acknowledged=True, staff="staff:teller1", reason="counter", at=at)
    return user


@pytest.mark.req("RK-11", "RK-05")
def test_the_features_read_in_one_statement_are_their_definitions(make_person, at):
    first, second = _customer(make_person, at, 1), _customer(make_person, at, 2)
    me = first.person_id
    devices.device_bind(user=first, device_id="shared", label="phone", ip=None,
                        at=at - timedelta(hours=30))
    devices.device_bind(user=second, device_id="shared", label="phone", ip=None, at=at)
    gone = devices.device_bind(user=second, device_id="old-phone", label="old", ip=None,
                               at=at - timedelta(days=9))
    Device.objects.filter(pk=gone.pk).update(removed_at=at - timedelta(days=1))
    # Counters: on both sides of every window's edge, other keys, a bucket after the event.
    for minutes, yuan in ((-1, 480_000), (-9, 300), (-10, 100), (-59, 470_000), (-61, 200),
                          (-60 * 23, 700), (-60 * 24, 900), (-60 * 24 - 1, 50), (3, 999)):
        risk.payment_made(_pay(at + timedelta(minutes=minutes), person=me, yuan=yuan,
                               device="shared"), credited_person_id=second.person_id)
    risk.payment_made(_pay(at - timedelta(days=40), person=me, payee=OTHER_PAYEE))
    risk.payment_made(_pay(at - timedelta(days=500), person=me, payee="6217000000000003"))
    risk.payment_made(_pay(at - timedelta(minutes=5), person=second.person_id, ip=URUMQI))
    risk.credit_received(person_id=me, amount_fen=123_400, at=at - timedelta(hours=3))
    for _n in range(3):
        features.record_failed_login(ip=URUMQI, at=at - timedelta(minutes=20))
    risk.signed_in(person_id=me, device="shared", ip=URUMQI, at=at - timedelta(minutes=45))
    features.peers_compute(now=at)
    # Lists: live, expired, removed; every subject.
    staff = "staff:risk01"
    lists.entry_add(colour="GREY", subject="ACCOUNT", value=PAYEE, reason="r", staff=staff,
                    at=at - timedelta(days=1))
    lists.entry_add(colour="BLACK", subject="IP", value=URUMQI, reason="r", staff=staff,
                    at=at - timedelta(days=1), expires_at=at + timedelta(minutes=1))
    lists.entry_add(colour="GREY", subject="IP", value=URUMQI, reason="r", staff=staff,
                    at=at - timedelta(days=1), expires_at=at)  # expired at the event
    removed = lists.entry_add(colour="BLACK", subject="DEVICE", value="shared", reason="r",
                              staff=staff, at=at - timedelta(days=1))
    lists.entry_remove(entry_id=removed.pk, staff=staff, reason="r", at=at - timedelta(hours=1))
    lists.entry_add(colour="GREY", subject="DEVICE", value="shared", reason="r", staff=staff,
                    at=at - timedelta(days=1))
    lists.entry_add(colour="BLACK", subject="PHONE", value="13807970001", reason="r",
                    staff=staff, at=at - timedelta(days=1))
    phone = lists.normalised("PHONE", "13807970001")[1]
    events = [
        _pay(at, person=me, device="shared", ip=URUMQI, phone_index=phone, yuan=480_000),
        _pay(at, person=me, payee=OTHER_PAYEE, device="shared", ip=BEIJING),
        _pay(at, person=me, payee="6217000000000003", device="old-phone", ip="10.20.30.4"),
        _pay(at, person=me, payee="not-an-account", device="", ip=None, kind="transfer.own"),
        _pay(at + timedelta(hours=7), person=second.person_id, device="shared", ip=URUMQI,
             kind="transfer.interbank", segment="corporate"),
        risk.Event(kind="login.failed", person_id=None, channel="web", device="x", ip=URUMQI,
                   at=at),
        risk.Event(kind="signup", person_id=99, channel="web", device="", ip="", at=at,
                   id_number_index="no-such-index"),
    ]
    seen = [features.features_of(event) for event in events]
    assert seen == [_reference(event) for event in events]
    # The scenario reaches what it means to (a test of the test).
    mine, other_payee = seen[0], seen[1]
    assert mine["list_hits"] == ["BLACK:IP", "BLACK:PHONE", "GREY:ACCOUNT", "GREY:DEVICE"]
    assert (mine["count_10m"], mine["count_1h"], mine["count_24h"]) == (2, 4, 6)
    assert mine["customers_on_device"] == 2 and mine["device_age_hours"] == 30
    assert mine["ip_failed_logins_1h"] == 3 and mine["ip_count_1h"] == 1
    assert mine["near_threshold_24h"] == 2 and mine["inflow_24h_fen"] == 123_400
    assert not mine["new_payee"] and mine["minutes_since_last"] == 45
    assert mine["payments_before"] == 11 and mine["peer_p95_fen"] > 0
    assert not other_payee["new_payee"] and seen[2]["new_payee"]
    assert seen[2]["device_age_hours"] == -1 and seen[2]["customers_on_device"] == 0
    assert seen[4]["device_age_hours"] == 7 and seen[4]["peer_p95_fen"] == 0
    assert seen[6]["payments_before"] == 0 and seen[6]["list_hits"] == []


_PROFILE_FIELDS = ("segment", "payments", "amount_sum_fen", "amount_max_fen", "hours",
                   "first_seen_at", "last_active_at", "last_payment_at", "last_region",
                   "last_latitude", "last_longitude", "last_located_at")


def _learnt(before: dict | None, event, *, paid: bool) -> dict:
    """What the customer's profile becomes after ``event``, by its definition."""
    after = dict(before) if before else {
        "segment": event.segment, "payments": 0, "amount_sum_fen": 0, "amount_max_fen": 0,
        "hours": [0] * 24, "first_seen_at": event.at, "last_active_at": None,
        "last_payment_at": None, "last_region": "", "last_latitude": None,
        "last_longitude": None, "last_located_at": None}
    if paid:
        hours = list(after["hours"] or [0] * 24)
        hours[timezone.localtime(event.at).hour] += 1
        after.update(payments=after["payments"] + 1, hours=hours, last_payment_at=event.at,
                     amount_sum_fen=after["amount_sum_fen"] + event.amount_fen,
                     amount_max_fen=max(after["amount_max_fen"], event.amount_fen))
    after["last_active_at"] = max(filter(None, (after["last_active_at"], event.at)))
    place = geo.place_of(event.ip)
    if place.located:
        after.update(last_region=place.region, last_latitude=place.latitude,
                     last_longitude=place.longitude, last_located_at=event.at)
    return after


@pytest.mark.req("RK-05")
def test_the_profile_learns_each_event_in_one_statement_as_defined(at):
    Profile.objects.create(person_id=9, payments=2, amount_sum_fen=300, amount_max_fen=200,
                           hours=[], last_region="上海", last_latitude=31.2, last_longitude=121.5,
                           last_located_at=at - timedelta(days=1))
    steps = [  # (person, paid, event time, IP, yuan): new by sign-in, by payment, hours [] ...
        (7, False, at, BEIJING, 0), (7, True, at + timedelta(hours=1), URUMQI, 500),
        (7, True, at + timedelta(minutes=30), "10.0.0.1", 80),  # earlier; placed, not located
        (7, True, at + timedelta(hours=2), "198.18.0.1", 1_000), (8, True, at, URUMQI, 20),
        (8, False, at - timedelta(hours=3), "", 0), (9, True, at, BEIJING, 100)]
    seen = {9: {f: getattr(Profile.objects.get(person_id=9), f) for f in _PROFILE_FIELDS}}
    for person, paid, when, ip, yuan in steps:
        event = _pay(when, person=person, ip=ip, yuan=yuan, device="d")
        if paid:
            risk.payment_made(event)
        else:
            risk.signed_in(person_id=person, device="d", ip=ip, at=when)
        seen[person] = _learnt(seen.get(person), event, paid=paid)
        stored = Profile.objects.get(person_id=person)
        assert {f: getattr(stored, f) for f in _PROFILE_FIELDS} == seen[person]
    assert seen[7]["payments"] == 3 and seen[7]["last_region"] == "乌鲁木齐"
    assert seen[8]["last_active_at"] == at and sum(seen[9]["hours"]) == 1
