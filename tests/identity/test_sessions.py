"""The session rules at their exact edges: the one-statement check of a live session must
decide exactly as the locked path that ends a session and names why."""

from datetime import timedelta

import pytest

from wangyin.identity import sessions
from wangyin.identity.models import CustomerSession, SessionEnd

pytestmark = pytest.mark.django_db

DEVICE = "d" * 32
MICRO = timedelta(microseconds=1)


@pytest.fixture
def live(user, at):
    return sessions.session_start(user=user, ip="192.0.2.10", device=DEVICE, at=at)


def _check(session, at, *, ip="192.0.2.10", device=DEVICE, touch=True):
    return sessions.session_check(sid=session.sid, ip=ip, device=device, at=at, touch=touch)


def test_a_live_session_is_checked_and_touched_in_one_statement(
        live, at, user, django_assert_num_queries):
    with django_assert_num_queries(1):
        check = _check(live, at + timedelta(seconds=30))
    assert check.session.pk == live.pk and check.session.user == user
    assert check.session.user.person_id == user.person_id and check.ended == ""
    assert CustomerSession.objects.get(pk=live.pk).last_seen_at == at + timedelta(seconds=30)


@pytest.mark.req("SE-02")
def test_idle_timeout_to_the_microsecond(live, at):
    idle = sessions.idle_timeout()
    assert _check(live, at + idle).session is not None  # exactly the timeout: still live
    last = at + idle
    check = _check(live, last + idle + MICRO)
    assert check.session is None and check.ended == SessionEnd.IDLE
    assert CustomerSession.objects.get(pk=live.pk).ended_at == last + idle + MICRO
    # An ended session stays ended, and says why.
    assert _check(live, last + MICRO).ended == SessionEnd.IDLE


@pytest.mark.req("SE-02")
def test_the_status_check_does_not_count_as_activity(live, at):
    idle = sessions.idle_timeout()
    assert _check(live, at + idle, touch=False).session is not None
    assert CustomerSession.objects.get(pk=live.pk).last_seen_at == at
    assert _check(live, at + idle + MICRO, touch=False).ended == SessionEnd.IDLE


def test_absolute_lifetime_to_the_microsecond(live, at, settings):
    settings.CUSTOMER_SESSION_MAX_SECONDS = 600
    step = sessions.idle_timeout() - MICRO
    seen = at
    while seen + step <= at + timedelta(seconds=600):
        seen += step
        assert _check(live, seen).session is not None
    assert _check(live, at + timedelta(seconds=600)).session is not None
    assert _check(live, at + timedelta(seconds=600) + MICRO).ended == SessionEnd.EXPIRED


@pytest.mark.req("AU-17")
@pytest.mark.parametrize(("ip", "device", "reason"), [
    ("192.0.2.11", DEVICE, SessionEnd.NETWORK),
    (None, DEVICE, SessionEnd.NETWORK),
    ("192.0.2.10", "e" * 32, SessionEnd.DEVICE),
])
def test_a_new_address_or_device_ends_it(live, at, ip, device, reason):
    check = _check(live, at + MICRO, ip=ip, device=device)
    assert check.session is None and check.ended == reason
    assert CustomerSession.objects.get(pk=live.pk).end_reason == reason


@pytest.mark.req("AU-17")
@pytest.mark.parametrize("ip", [None, "2001:db8::1", "::ffff:192.0.2.1"])
def test_the_same_address_of_any_form_goes_on(user, at, ip):
    session = sessions.session_start(user=user, ip=ip, device=DEVICE, at=at)
    assert _check(session, at + MICRO, ip=ip).session is not None


def test_a_closed_customer_is_signed_out(live, at, user):
    user.status, user.closed_at = "CLOSED", at
    user.save(update_fields=["status", "closed_at"])
    assert _check(live, at + MICRO).ended == SessionEnd.CLOSED


def test_an_unknown_session_is_none(at):
    check = sessions.session_check(sid="x" * 43, ip=None, device=DEVICE, at=at)
    assert check.session is None and check.ended == ""
