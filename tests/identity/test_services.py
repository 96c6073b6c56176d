"""Counter enrolment, password login with lock-out, password change, teller actions."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password

from wangyin.audit.models import AuditEvent
from wangyin.identity import services
from wangyin.identity.errors import (
    AlreadyEnrolled,
    InvalidLoginName,
    LoginFailed,
    LoginLocked,
    LoginNameTaken,
    NotEnrolled,
    PasswordReused,
    RiskNotAcknowledged,
    WeakPassword,
)
from wangyin.identity.models import ChannelUser, LoginEvent
from wangyin.notify.models import SmsMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(make_person):
    return make_person()


@pytest.fixture
def enrolled(person, at):
    user, password = services.internet_banking_open(
        person_id=person.pk, login_name="zhangwei_01", edition="PRO", risk_acknowledged=True,
        staff="staff:teller1", reason="customer request at counter", at=at)
    return user, password


def _login(name, password, at, ip="203.0.113.5"):
    return services.password_login(login_name=name, password=password, ip=ip,
                                   device="dev-1", user_agent="pytest", at=at)


@pytest.mark.req("ON-01", "AD-02")
def test_teller_enrols_a_customer_with_a_one_time_initial_password(enrolled, at):
    user, password = enrolled
    assert user.must_change_password and user.edition == "PRO"
    assert password not in user.password and check_password(password, user.password)
    assert user.password.startswith("argon2")
    event = AuditEvent.objects.get(action="identity.banking.opened")
    assert event.actor == "staff:teller1" and event.details["reason"]
    assert password not in str(AuditEvent.objects.values_list("details", flat=True))
    sms = SmsMessage.objects.get(purpose="identity.opened")
    assert sms.phone == "13807970001" and "zhangwei_01" in sms.body and password not in sms.body


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"login_name": "abc"}, InvalidLoginName),
    ({"login_name": "13807970001"}, InvalidLoginName),
    ({"login_name": "zhang wei"}, InvalidLoginName),
    ({"risk_acknowledged": False}, RiskNotAcknowledged),
])
def test_enrolment_input_is_checked(person, at, kwargs, error):
    fields = {"person_id": person.pk, "login_name": "zhangwei_01", "edition": "PUBLIC",
              "risk_acknowledged": True, "staff": "staff:1", "reason": "r", "at": at}
    with pytest.raises(error):
        services.internet_banking_open(**{**fields, **kwargs})
    assert not ChannelUser.objects.exists()


@pytest.mark.req("AU-10")
def test_one_login_per_customer_and_unique_names(enrolled, person, make_person, at):
    with pytest.raises(AlreadyEnrolled):
        services.internet_banking_open(person_id=person.pk, login_name="other_name",
                                       edition="PRO", risk_acknowledged=True, staff="staff:1",
                                       reason="r", at=at)
    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    with pytest.raises(LoginNameTaken):
        services.internet_banking_open(person_id=other.pk, login_name="ZHANGWEI_01",
                                       edition="PRO", risk_acknowledged=True, staff="staff:1",
                                       reason="r", at=at)


def test_correct_password_signs_in_and_is_recorded(enrolled, at):
    user, password = enrolled
    assert _login("ZhangWei_01", password, at) == user
    event = LoginEvent.objects.get()
    assert (event.outcome, event.ip, event.device) == ("SUCCESS", "203.0.113.5", "dev-1")


@pytest.mark.req("AU-09")
def test_unknown_name_and_wrong_password_fail_alike(enrolled, at):
    with pytest.raises(LoginFailed) as unknown:
        _login("nobody_here", "Whatever9x", at)
    with pytest.raises(LoginFailed) as wrong:
        _login("zhangwei_01", "Whatever9x", at)
    assert unknown.value.as_dict() == wrong.value.as_dict()
    assert "attempt" not in str(wrong.value.message).lower()


@pytest.mark.req("AU-08")
def test_five_failures_lock_until_tomorrow_and_text_the_customer(enrolled, at, settings):
    user, password = enrolled
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        with pytest.raises(LoginFailed):
            _login("zhangwei_01", "Wrong1pass", at)
    assert not SmsMessage.objects.filter(purpose="identity.locked").exists()
    with pytest.raises(LoginLocked):
        _login("zhangwei_01", "Wrong1pass", at)
    user.refresh_from_db()
    assert user.failed_attempts == 5 and user.locked_until == services.next_unlock_time(at)
    sms = SmsMessage.objects.get(purpose="identity.locked")
    assert sms.phone == "13807970001" and "锁定" in sms.body
    with pytest.raises(LoginLocked):  # the right password does not help while locked
        _login("zhangwei_01", password, at + timedelta(hours=1))
    assert _login("zhangwei_01", password, user.locked_until + timedelta(seconds=1)) == user
    user.refresh_from_db()
    assert user.failed_attempts == 0 and user.locked_until is None


@pytest.mark.req("AU-08")
def test_a_success_resets_the_failure_count(enrolled, at):
    user, password = enrolled
    for _ in range(3):
        with pytest.raises(LoginFailed):
            _login("zhangwei_01", "Wrong1pass", at)
    _login("zhangwei_01", password, at)
    user.refresh_from_db()
    assert user.failed_attempts == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.req("AU-08")
def test_failures_are_committed_although_the_caller_gets_an_error(enrolled, at):
    with pytest.raises(LoginFailed):
        _login("zhangwei_01", "Wrong1pass", at)
    assert ChannelUser.objects.get().failed_attempts == 1


def test_teller_unlocks_and_resets(enrolled, person, at, settings):
    user, password = enrolled
    for _ in range(settings.LOGIN_MAX_FAILURES):
        with pytest.raises((LoginFailed, LoginLocked)):
            _login("zhangwei_01", "Wrong1pass", at)
    services.login_unlock(person_id=person.pk, staff="staff:2", reason="id checked", at=at)
    assert _login("zhangwei_01", password, at) == user
    _, new_password = services.password_reset_at_counter(person_id=person.pk, staff="staff:2",
                                                         reason="forgotten", at=at)
    with pytest.raises(LoginFailed):
        _login("zhangwei_01", password, at)
    assert _login("zhangwei_01", new_password, at).must_change_password
    assert {"identity.login.unlocked", "identity.password.reset"} <= set(
        AuditEvent.objects.values_list("action", flat=True))


@pytest.mark.req("ON-07", "AU-11")
def test_password_change_enforces_the_policy(enrolled, at):
    user, password = enrolled
    with pytest.raises(LoginFailed):
        services.password_change(user_id=user.pk, current_password="Wrong1pass",
                                 new_password="Tq7mX9vK", ip=None, at=at)
    with pytest.raises(WeakPassword) as weak:
        services.password_change(user_id=user.pk, current_password=password,
                                 new_password="zhangwei_01x1", ip=None, at=at)
    assert "personal" in weak.value.problems
    with pytest.raises(PasswordReused):
        services.password_change(user_id=user.pk, current_password=password,
                                 new_password=password, ip=None, at=at)
    changed = services.password_change(user_id=user.pk, current_password=password,
                                       new_password="Tq7mX9vK", ip=None, at=at)
    assert not changed.must_change_password and changed.password_changed_at == at


@pytest.mark.req("AU-12")
def test_passwords_expire_after_ninety_days(enrolled, at):
    user, _ = enrolled
    assert not services.password_expired(user, at=at + timedelta(days=90))
    assert services.password_expired(user, at=at + timedelta(days=91))


@pytest.mark.req("ON-06")
def test_closing_internet_banking_stops_login(enrolled, person, at):
    _, password = enrolled
    services.internet_banking_close(person_id=person.pk, actor="staff:3", reason="customer",
                                    at=at)
    with pytest.raises(LoginFailed):
        _login("zhangwei_01", password, at)
    with pytest.raises(NotEnrolled):
        services.login_unlock(person_id=person.pk, staff="staff:3", reason="r", at=at)
