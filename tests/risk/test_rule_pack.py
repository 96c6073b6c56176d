"""The shipped rule pack, rule by rule: each fires on its scenario and stays quiet for an
ordinary customer. Events go through the real engine (features from the counters, the
baselines, the device bindings and the IP table; the live pack installed as version 1)."""

from datetime import timedelta

import pytest

from tests.conftest import _check
from wangyin.identity import devices
from wangyin.identity import services as identity
from wangyin.identity.errors import LoginRefused, SignUpRefused
from wangyin.identity.models import ChannelUser
from wangyin.payments import payees
from wangyin.payments.errors import PayeeBlocked
from wangyin.risk import features, lists
from wangyin.risk import services as risk
from wangyin.risk.models import ListEntry, PeerBaseline, Profile

pytestmark = pytest.mark.django_db

BEIJING, URUMQI = "192.0.2.10", "203.0.113.10"  # the shipped table's sandbox networks
PAYEE, OTHER_PAYEE = "6217000000000001", "6217000000000002"


def _pay(at, *, person=7, yuan=500, payee=PAYEE, device="", ip=BEIJING,
         kind="transfer.same_bank"):
    return risk.Event(kind=kind, person_id=person, channel="web", device=device, ip=ip,
                      at=at, amount_fen=int(yuan * 100), counterparty=payee)


def _made(event, times=1, step=timedelta(minutes=1)):
    for n in range(times):
        risk.payment_made(_pay(event.at + n * step, person=event.person_id,
                               yuan=event.amount_fen / 100, payee=event.counterparty,
                               device=event.device, ip=event.ip, kind=event.kind))


def _reasons(event):
    decision = risk.evaluate(event)
    return decision.action, set(decision.reasons)


def _customer(make_person, at, n):
    person = make_person(id_number=_check(f"36070219850312{n:03d}"),
                         phone=f"1380797{n:04d}")
    user, _initial = identity.internet_banking_open(
        person_id=person.pk, login_name=f"customer_{n:03d}", edition="PRO",
        risk_acknowledged=True, staff="staff:teller1", reason="counter", at=at)
    return user


@pytest.mark.req("RK-05", "RK-11")
def test_an_ordinary_customer_raises_nothing(at):
    history = at - timedelta(days=20)
    _made(_pay(history, yuan=800), times=10, step=timedelta(days=1))
    assert _reasons(_pay(at, yuan=1_200)) == ("allow", set())
    assert _reasons(_pay(at, yuan=300, payee=OTHER_PAYEE)) == ("allow", set())


@pytest.mark.req("RK-16", "RK-03")
def test_failed_sign_ins_from_one_ip_block_it_for_a_while(user, at, settings):
    settings.RISK_PARAMS = {**settings.RISK_PARAMS, "ip_fail_limit": 5}
    for n in range(5):
        with pytest.raises(Exception):  # noqa: B017 - LoginFailed, whatever the name
            identity.password_login(login_name=f"guess{n}", password="x", ip=URUMQI,
                                    device="dev-x", user_agent="", at=at)
    entry = ListEntry.objects.get(subject="IP", colour="BLACK")
    assert entry.expires_at == at + timedelta(minutes=settings.RISK_IP_BLOCK_MINUTES)
    assert entry.added_by == "system:risk"
    # The right password from that IP is refused too, before it is even checked...
    with pytest.raises(LoginRefused):
        identity.password_login(login_name=user.login_name, password="whatever", ip=URUMQI,
                                device="dev-1", user_agent="", at=at + timedelta(minutes=1))
    assert ChannelUser.objects.get(pk=user.pk).failed_attempts == 0
    # ...and the block lifts when it expires.
    assert risk.ip_blocked(URUMQI, at + timedelta(minutes=1))
    assert not risk.ip_blocked(URUMQI, at + timedelta(minutes=61))
    assert not risk.ip_blocked(BEIJING, at)


@pytest.mark.req("AU-16", "RK-11")
def test_many_customers_on_one_device_ask_for_a_stronger_factor(make_person, at):
    for n in range(3):
        user = _customer(make_person, at, n)
        devices.device_bind(user=user, device_id="shared-phone", label="phone", ip=None, at=at)
        action, reasons = _reasons(risk.Event(kind="login", person_id=user.person_id,
                                              channel="web", device="shared-phone",
                                              ip=BEIJING, at=at + timedelta(days=2)))
    assert action == "step_up" and reasons == {"device_many_customers"}  # the third
    assert "device_many_customers" not in _reasons(risk.Event(
        kind="login", person_id=user.person_id, channel="web", device="own-phone",
        ip=BEIJING, at=at))[1]


@pytest.mark.req("RK-03", "RK-11")
def test_far_apart_places_in_a_short_time(at):
    risk.signed_in(person_id=7, device="d", ip=BEIJING, at=at)
    login = risk.Event(kind="login", person_id=7, channel="web", device="d", ip=URUMQI,
                       at=at + timedelta(minutes=30))
    assert _reasons(login) == ("step_up", {"impossible_travel"})
    action, reasons = _reasons(_pay(at + timedelta(minutes=30), yuan=20_000, ip=URUMQI))
    assert action == "review" and "impossible_travel_payment" in reasons
    # A day later the same trip is possible (about 2 400 km).
    assert _reasons(_pay(at + timedelta(days=1), yuan=20_000, ip=URUMQI)) == ("allow", set())


@pytest.mark.req("RK-11")
def test_a_large_payment_from_a_device_bound_today_is_held(user, at):
    devices.device_bind(user=user, device_id="new-phone", label="phone", ip=None, at=at)
    soon = at + timedelta(hours=1)
    event = _pay(soon, person=user.person_id, yuan=50_000, device="new-phone")
    assert _reasons(event) == ("review", {"new_device_large"})
    assert _reasons(_pay(soon, person=user.person_id, yuan=49_999,
                         device="new-phone")) == ("allow", set())
    assert _reasons(_pay(at + timedelta(days=2), person=user.person_id, yuan=50_000,
                         device="new-phone")) == ("allow", set())


@pytest.mark.req("RK-11")
def test_many_payments_in_a_short_time(at):
    _made(_pay(at - timedelta(minutes=9)), times=5, step=timedelta(minutes=1))
    assert _reasons(_pay(at)) == ("step_up", {"high_frequency"})
    assert _reasons(_pay(at + timedelta(minutes=6), person=8)) == ("allow", set())


@pytest.mark.req("RK-03", "RK-07")
def test_structuring_just_below_the_review_amount(at):
    _made(_pay(at - timedelta(hours=3), yuan=480_000), times=2, step=timedelta(hours=1))
    assert _reasons(_pay(at, yuan=480_000)) == ("review", {"structuring"})
    # Tomorrow the window is empty; a payment below the band never counts.
    assert _reasons(_pay(at + timedelta(days=1), yuan=480_000)) == ("allow", set())
    assert _reasons(_pay(at, yuan=440_000)) == ("allow", set())


@pytest.mark.req("RK-03", "RK-07")
def test_a_dormant_account_suddenly_paying(at):
    Profile.objects.create(person_id=7, payments=3, amount_sum_fen=30_000,
                           amount_max_fen=10_000, hours=[0] * 24,
                           last_payment_at=at - timedelta(days=200))
    assert _reasons(_pay(at, yuan=10_000)) == ("review", {"dormant_reactivated"})
    assert _reasons(_pay(at, yuan=9_999)) == ("allow", set())


@pytest.mark.req("RK-03", "RK-07")
def test_money_passing_straight_through(at):
    risk.credit_received(person_id=7, amount_fen=100_000_00, at=at - timedelta(hours=2))
    assert _reasons(_pay(at, yuan=80_000)) == ("review", {"rapid_in_out"})
    assert _reasons(_pay(at, yuan=79_000)) == ("allow", set())


@pytest.mark.req("RK-11")
def test_a_first_large_payment_to_a_new_payee_at_night(at):
    night = at.replace(hour=18, minute=30)  # 02:30 in Beijing
    assert _reasons(_pay(night, yuan=20_000)) == ("review", {"new_payee_night_large"})
    _made(_pay(night - timedelta(days=30), yuan=100))
    assert _reasons(_pay(night, yuan=20_000)) == ("allow", set())  # paid them before
    assert _reasons(_pay(at, yuan=20_000, payee=OTHER_PAYEE)) == ("allow", set())  # by day


@pytest.mark.req("RK-05")
def test_far_above_the_customers_own_usual_amounts(at):
    _made(_pay(at - timedelta(days=10), yuan=2_000), times=5, step=timedelta(days=1))
    assert _reasons(_pay(at, yuan=10_000)) == ("step_up", {"unusual_amount"})
    assert _reasons(_pay(at, yuan=9_999)) == ("allow", set())


@pytest.mark.req("RK-05")
def test_a_new_customer_far_above_their_peers(at):
    for person, yuan in ((1, 900), (2, 1_000), (3, 1_100)):
        _made(_pay(at - timedelta(days=3), person=person, yuan=yuan))
    assert features.peers_compute(now=at) == 1
    peer = PeerBaseline.objects.get(segment="personal")
    assert (peer.customers, peer.amount_mean_fen) == (3, 100_000)
    assert 100_000 < peer.amount_p95_fen <= 110_000
    assert _reasons(_pay(at, person=9, yuan=10_000)) == ("step_up", {"above_peers"})
    assert _reasons(_pay(at, person=9, yuan=5_000)) == ("allow", set())


@pytest.mark.req("ON-15")
def test_suspicious_sign_ups_are_refused_online_and_night_ones_watched(make_person, at):
    person = make_person()
    lists.entry_add(colour="GREY", subject="DEVICE", value="farm-phone", reason="SIM farm",
                    staff="staff:risk01", at=at)
    with pytest.raises(SignUpRefused):
        identity.self_register(person_id=person.pk, login_name="farmed01", password="x",
                               ip=BEIJING, device="farm-phone", at=at)
    assert not ChannelUser.objects.exists() and person.pk in risk_cases()
    night = risk.Event(kind="signup", person_id=8, channel="web", device="own", ip=BEIJING,
                       at=at.replace(hour=18, minute=30))  # 02:30 in Beijing
    assert _reasons(night) == ("step_up", {"night_signup"})  # goes ahead, a case is opened
    assert 8 in risk_cases()
    day = risk.Event(kind="signup", person_id=9, channel="web", device="own", ip=BEIJING,
                     at=at)
    assert _reasons(day) == ("allow", set())


def risk_cases():
    from wangyin.risk.models import Case
    return set(Case.objects.values_list("person_id", flat=True))


@pytest.mark.req("RK-10", "RK-11")
def test_grey_listed_device_asks_for_more_at_sign_in_and_a_black_listed_payee_is_refused(
        user, at, payer, payee):
    lists.entry_add(colour="GREY", subject="DEVICE", value="odd-device", reason="shared",
                    staff="staff:risk01", at=at)
    login = risk.Event(kind="login", person_id=user.person_id, channel="web",
                       device="odd-device", ip=BEIJING, at=at)
    assert _reasons(login) == ("step_up", {"grey_list_access"})
    payer_user, _account = payer
    lists.entry_add(colour="BLACK", subject="ACCOUNT", value=payee.number, reason="fraud",
                    staff="staff:risk01", at=at)
    with pytest.raises(PayeeBlocked):
        payees.payee_add_quote(user=payer_user, account=payee.number, name="李四",
                               bank_code="", device_id="dev-1", at=at)


def test_counter_buckets_no_window_reads_are_pruned(at):
    from wangyin.risk.models import Counter
    _made(_pay(at - timedelta(days=2)))
    _made(_pay(at))
    before = Counter.objects.count()
    assert features.counters_prune(now=at) == 3  # the old minute buckets: person, IP, payee
    assert Counter.objects.count() == before - 3
    assert not _reasons(_pay(at + timedelta(minutes=1)))[1]  # the day bucket: payee known


def test_the_docs_list_every_shipped_rule():
    from pathlib import Path

    from wangyin.risk.rules import pack_rules
    docs = (Path(__file__).parents[2] / "docs" / "risk.md").read_text(encoding="utf-8")
    assert all(f"| `{rule['code']}` |" in docs for rule in pack_rules())
