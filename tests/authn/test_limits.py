"""Authentication strength follows the amount (FA-09, TX-01) and payments are capped per
medium, per day and by the customer's own limits (TX-11). Boundaries: exactly at a cap
passes, one fen above fails."""

import pytest

from wangyin.audit.models import AuditEvent
from wangyin.authn import limits, tokens
from wangyin.authn.limits import EditionCannotPay, LimitError, NoStrongerFactor, OverLimit
from wangyin.authn.models import Medium

from .conftest import SEED

pytestmark = pytest.mark.django_db

SMS_CAP = 50_000_00
TOKEN_CAP = 1_000_000_00


def _factors(person, amount, *, operation="transfer.same_bank", edition="PRO", risk="allow"):
    return limits.funds_factors(person=person, edition=edition, operation=operation,
                                amount_fen=amount, risk=risk)


@pytest.mark.req("FA-09", "TX-01", "TX-11")
def test_policy_table_without_a_token(user):
    person = user.person
    assert _factors(person, 10**10, operation="transfer.own") == ()  # own accounts: login only
    assert _factors(person, 1) == ("SMS",)
    assert _factors(person, SMS_CAP) == ("SMS",)
    with pytest.raises(OverLimit) as over:
        _factors(person, SMS_CAP + 1)
    assert "¥50,000.00" in str(over.value.message)
    with pytest.raises(EditionCannotPay):
        _factors(person, 1, edition="PUBLIC")
    assert _factors(person, 1, operation="transfer.own", edition="PUBLIC") == ()
    with pytest.raises(NoStrongerFactor) as weak:
        _factors(person, 1, risk="step_up")  # no token to step up to
    assert weak.value.code == "no_stronger_factor" and "¥" not in str(weak.value.message)
    with pytest.raises(ValueError):
        _factors(person, 1, operation="lottery")


@pytest.mark.req("FA-09", "TX-11")
def test_policy_table_with_tokens(user, at):
    person = user.person
    tokens.token_issue(person_id=person.pk, serial="WY00012345", seed=SEED, staff="s",
                       reason="r", at=at)
    assert _factors(person, SMS_CAP) == ("SMS",)
    assert _factors(person, SMS_CAP + 1) == ("SMS", "TOTP")
    assert _factors(person, 1, risk="step_up") == ("SMS", "TOTP")
    assert _factors(person, TOKEN_CAP) == ("SMS", "TOTP")
    with pytest.raises(OverLimit):
        _factors(person, TOKEN_CAP + 1)
    tokens.token_issue(person_id=person.pk, serial="WYOCRA0001", seed=SEED, kind="OCRA",
                       staff="s", reason="r", at=at)
    assert _factors(person, SMS_CAP + 1) == ("SMS", "OCRA")  # bound to payee and amount


@pytest.mark.req("TX-11")
def test_medium_caps_per_payment_per_day_and_count(user):
    person = user.person
    check = limits.limits_check
    check(person=person, medium=Medium.SMS, amount_fen=SMS_CAP, paid_today_fen=0,
          paid_today_count=0)
    with pytest.raises(OverLimit):
        check(person=person, medium=Medium.SMS, amount_fen=SMS_CAP + 1, paid_today_fen=0,
              paid_today_count=0)
    check(person=person, medium=Medium.TOKEN, amount_fen=100, paid_today_fen=2_000_000_00 - 100,
          paid_today_count=0)
    with pytest.raises(OverLimit) as over:
        check(person=person, medium=Medium.TOKEN, amount_fen=101,
              paid_today_fen=2_000_000_00 - 100, paid_today_count=0)
    assert "¥2,000,000.00" in str(over.value.message)
    check(person=person, medium=Medium.TOKEN, amount_fen=1, paid_today_fen=0,
          paid_today_count=49)
    with pytest.raises(OverLimit):
        check(person=person, medium=Medium.TOKEN, amount_fen=1, paid_today_fen=0,
              paid_today_count=50)


@pytest.mark.req("TX-11")
def test_the_customers_own_limits_are_lower_only(user, at):
    person = user.person
    limits.own_limits_store(person=person, per_transaction_fen=1_000_00, per_day_fen=3_000_00,
                            at=at)
    limits.limits_check(person=person, medium=Medium.TOKEN, amount_fen=1_000_00,
                        paid_today_fen=0, paid_today_count=0)
    with pytest.raises(OverLimit) as over:
        limits.limits_check(person=person, medium=Medium.TOKEN, amount_fen=1_000_01,
                            paid_today_fen=0, paid_today_count=0)
    assert "¥1,000.00" in str(over.value.message)
    with pytest.raises(OverLimit):
        limits.limits_check(person=person, medium=Medium.TOKEN, amount_fen=1_000_00,
                            paid_today_fen=2_000_01, paid_today_count=0)
    for per_tx, per_day in ((0, 100), (200, 100), (5_000_000_01, 10_000_000_00),
                            (100, 10_000_000_01)):
        with pytest.raises(LimitError):
            limits.own_limits_store(person=person, per_transaction_fen=per_tx,
                                    per_day_fen=per_day, at=at)


@pytest.mark.req("TX-11", "AD-02")
def test_staff_change_bank_caps_within_the_regulatory_ceiling(user, at):
    limits.medium_limit_set(medium=Medium.SMS, per_transaction_fen=20_000_00,
                            per_day_fen=40_000_00, per_day_count=10, staff="staff:sec1",
                            reason="fraud wave", at=at)
    assert limits.caps_of(Medium.SMS).per_transaction_fen == 20_000_00
    assert limits.funds_factors(person=user.person, edition="PRO",
                                operation="transfer.same_bank", amount_fen=20_000_00) == ("SMS",)
    with pytest.raises(OverLimit):
        limits.funds_factors(person=user.person, edition="PRO",
                             operation="transfer.same_bank", amount_fen=20_000_01)
    with pytest.raises(LimitError):  # above TX-11's SMS cap
        limits.medium_limit_set(medium=Medium.SMS, per_transaction_fen=SMS_CAP + 1,
                                per_day_fen=SMS_CAP + 1, per_day_count=10,
                                staff="staff:sec1", reason="x", at=at)
    event = AuditEvent.objects.get(action="authn.limits.bank_changed")
    assert event.details["before"]["per_transaction_fen"] == SMS_CAP
    assert event.details["after"]["per_transaction_fen"] == 20_000_00


def _usb_key_certificate(person, at):
    from wangyin.authn import certificates
    from wangyin.core import clock, pki

    now = clock.now()
    key, _reference = certificates.usb_key_bind(person_id=person.pk, serial="UK20260042",
                                                staff="staff:7", at=now)
    suite = pki.SUITES["sm2"]
    request = pki.request_parse(pki.request_build(suite, suite.generate(),
                                                  serial_number="UK20260042"))
    return certificates._issue(person=person, medium="USBKEY", at=now, usb_key=key,
                               device_id="", request=request)


@pytest.mark.req("FA-09", "TX-11")
def test_the_customer_chooses_the_device_and_the_policy_still_decides(user, token, at):
    from wangyin.authn import policy
    from wangyin.authn.errors import NoSecondFactor
    from wangyin.authn.models import FactorPreference

    person = user.person
    _usb_key_certificate(person, at)
    assert policy.held_factors(person) == ["TOTP", "USBKEY"]
    assert policy.required_factors(person=person, purpose="security.change") == ("SMS", "TOTP")
    assert _factors(person, SMS_CAP + 1) == ("SMS", "TOTP")  # lowest cap that covers it

    policy.preferred_factor_set(person=person, factor="USBKEY", actor="customer:1",
                                device_id="dev-1", at=at)
    assert policy.required_factors(person=person, purpose="security.change") == ("SMS",
                                                                                  "USBKEY")
    assert _factors(person, SMS_CAP + 1) == ("SMS", "USBKEY")
    assert _factors(person, SMS_CAP) == ("SMS",)  # small amounts: SMS whatever the choice

    policy.preferred_factor_set(person=person, factor="TOTP", actor="customer:1",
                                device_id="dev-1", at=at)
    assert _factors(person, TOKEN_CAP) == ("SMS", "TOTP")
    assert _factors(person, TOKEN_CAP + 1) == ("SMS", "USBKEY")  # the token's cap is too low

    for not_held in ("CARD", "SOFTCERT", "SMS", "nonsense"):
        with pytest.raises(NoSecondFactor):
            policy.preferred_factor_set(person=person, factor=not_held, actor="customer:1",
                                        device_id="dev-1", at=at)
    assert FactorPreference.objects.get(person=person).factor == "TOTP"
    assert AuditEvent.objects.filter(action="authn.factor.preferred").count() == 2


@pytest.mark.req("TX-11")
def test_one_read_gives_every_medium_and_the_own_limits(user, at, django_assert_num_queries):
    person = user.person
    with django_assert_num_queries(1):
        fresh = limits.limit_set_of(person)
    assert fresh.own is None
    assert {m: fresh.caps_of(m) for m in Medium.values} == {
        m: limits.Caps(*limits.DEFAULTS[m]) for m in Medium.values}
    limits.medium_limit_set(medium=Medium.TOKEN, per_transaction_fen=500_000_00,
                            per_day_fen=600_000_00, per_day_count=7, staff="staff:sec1",
                            reason="r", at=at)
    limits.own_limits_store(person=person, per_transaction_fen=1_000_00, per_day_fen=3_000_00,
                            at=at)
    changed = limits.limit_set_of(person)
    assert changed.caps_of(Medium.TOKEN) == limits.Caps(500_000_00, 600_000_00, 7)
    assert changed.caps_of(Medium.SMS) == limits.caps_of(Medium.SMS)
    assert (changed.own.per_transaction_fen, changed.own.per_day_fen) == (1_000_00, 3_000_00)
    # The checks decide the same with the set as with their own reads.
    for amount in (1_000_00, 1_000_01):
        outcomes = []
        for limit_set in (None, changed):
            try:
                limits.limits_check(person=person, medium=Medium.TOKEN, amount_fen=amount,
                                    paid_today_fen=0, paid_today_count=0, limit_set=limit_set)
                outcomes.append("ok")
            except OverLimit as exc:
                outcomes.append(str(exc.message))
        assert outcomes[0] == outcomes[1]
