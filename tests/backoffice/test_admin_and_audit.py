"""Security administrators manage staff; auditors read and verify the audit trail; each
role sees only its own pages (ORG-01, AD-02, AD-04)."""

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP

from wangyin.audit.models import AuditEvent
from wangyin.backoffice import staff

from .test_backoffice import STAFF_PASSWORD, _code

pytestmark = pytest.mark.django_db


def _signed_in(client, username, role):
    user, device = staff.staff_create(username=username, password=STAFF_PASSWORD, role=role,
                                      created_by="system:test")
    client.post("/bo/login/", {"username": username, "password": STAFF_PASSWORD})
    assert client.post("/bo/login/otp/", {"token": _code(device)}).url == "/bo/"
    return client


@pytest.mark.req("AD-02", "ORG-01")
def test_security_admin_adds_a_staff_member_who_can_sign_in(client):
    admin = _signed_in(client, "secadmin1", staff.SECURITY_ADMIN)
    page = admin.post("/bo/staff/", {"username": "teller02", "role": "teller",
                                     "reason": "new hire"})
    assert page.status_code == 200
    handover = page.context["handover"]
    assert handover["password"] in page.content.decode()
    again = admin.get("/bo/staff/").content.decode()
    assert handover["password"] not in again and handover["totp"] not in again  # once only
    duplicate = admin.post("/bo/staff/", {"username": "TELLER02", "role": "auditor",
                                          "reason": "x"})
    assert duplicate.status_code == 400
    admin.post("/bo/logout/")
    fresh = client.__class__()
    fresh.post("/bo/login/", {"username": "teller02", "password": handover["password"]})
    device = get_user_model().objects.get(username="teller02").totpdevice_set.get()
    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"
    assert fresh.post("/bo/login/otp/", {"token": code}).url == "/bo/"
    event = AuditEvent.objects.get(action="backoffice.staff.enrolled")
    assert event.actor == "staff:secadmin1" and event.details["reason"] == "new hire"
    assert handover["password"] not in str(event.details)


@pytest.mark.req("AD-02")
def test_role_changes_and_disabling_are_audited_and_not_on_oneself(client):
    admin = _signed_in(client, "secadmin1", staff.SECURITY_ADMIN)
    staff.staff_create(username="teller09", password=STAFF_PASSWORD, role=staff.TELLER,
                       created_by="system:test")
    admin.post("/bo/staff/teller09/role/", {"role": "auditor", "reason": "moved team"})
    user = get_user_model().objects.get(username="teller09")
    assert staff.role_of(user) == staff.AUDITOR
    admin.post("/bo/staff/teller09/disable/", {"reason": "left the bank"})
    assert not get_user_model().objects.get(username="teller09").is_active
    admin.post("/bo/staff/secadmin1/disable/", {"reason": "oops"})
    assert get_user_model().objects.get(username="secadmin1").is_active
    assert "自己" in admin.get("/bo/staff/").content.decode()
    actions = list(AuditEvent.objects.filter(actor="staff:secadmin1")
                   .values_list("action", "details"))
    assert ("backoffice.staff.role_changed",
            {"from": "teller", "to": "auditor", "reason": "moved team"}) in actions
    assert any(a == "backoffice.staff.disabled" for a, _ in actions)


@pytest.mark.req("AD-04")
def test_only_auditors_read_the_trail_and_reading_is_audited(client, make_person):
    make_person()
    teller = _signed_in(client.__class__(), "teller07", staff.TELLER)
    assert teller.get("/bo/audit/").status_code == 404
    assert teller.get("/bo/staff/").status_code == 404
    auditor = _signed_in(client, "auditor07", staff.AUDITOR)
    assert auditor.get("/bo/staff/").status_code == 404
    page = auditor.get("/bo/audit/", {"action": "customers."}).content.decode()
    assert "customers.person.created" in page and "backoffice.login" not in page
    assert AuditEvent.objects.filter(actor="staff:auditor07",
                                     action="backoffice.audit.viewed").exists()
    assert auditor.get("/bo/audit/", {"since": "not a date"}).status_code == 400
    auditor.post("/bo/audit/verify/")
    result = auditor.get("/bo/audit/").content.decode()
    assert 'id="verify-result"' in result and "链" in result


def test_audit_pages_have_keyset_paging(client, make_person):
    from wangyin.audit import services as audit

    for i in range(60):
        audit.record(actor="system:test", action="test.paging", details={"i": i})
    auditor = _signed_in(client, "auditor07", staff.AUDITOR)
    first = auditor.get("/bo/audit/", {"action": "test.paging"})
    events = first.context["events"]
    assert len(events) == 50 and events[0].details["i"] == 59
    older = auditor.get("/bo/audit/?" + first.context["next_query"]).context["events"]
    assert [e.details["i"] for e in older] == list(range(9, -1, -1))


@pytest.mark.req("TX-11", "AD-02")
def test_security_admin_edits_bank_limits(client):
    from wangyin.authn.limits import caps_of

    admin = _signed_in(client, "secadmin1", staff.SECURITY_ADMIN)
    page = admin.get("/bo/limits/").content.decode()
    assert "50000.00" in page
    admin.post("/bo/limits/", {"medium": "SMS", "per_transaction": "30000",
                               "per_day": "30000", "per_day_count": "10",
                               "reason": "policy"})
    assert caps_of("SMS").per_transaction_fen == 30_000_00
    admin.post("/bo/limits/", {"medium": "SMS", "per_transaction": "60000",
                               "per_day": "60000", "per_day_count": "10", "reason": "x"})
    assert caps_of("SMS").per_transaction_fen == 30_000_00
    teller = _signed_in(client.__class__(), "teller07", staff.TELLER)
    assert teller.get("/bo/limits/").status_code == 404


@pytest.mark.req("RK-15")
def test_only_the_risk_roles_reach_the_risk_desk(client, risk_officer, risk_manager):
    assert "风险" in risk_officer.get("/bo/risk/").content.decode()
    assert risk_manager.get("/bo/risk/").status_code == 200
    for role in (staff.TELLER, staff.SECURITY_ADMIN, staff.AUDITOR):
        other = _signed_in(client.__class__(), f"x_{role}", role)
        assert other.get("/bo/risk/").status_code == 404  # looks missing (SE-08)
