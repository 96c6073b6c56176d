"""The AML desk in the back office: risk roles only (RK-15), masked names, review and export
of large-value lines, analysis of alerts with a reason, file downloads (audited)."""

from datetime import timedelta

import pytest

from tests.backoffice.conftest import staff_signed_in
from wangyin.aml import services
from wangyin.aml.models import ExportBatch, LargeValueReport, SuspiciousAlert
from wangyin.audit.models import AuditEvent
from wangyin.backoffice import staff
from wangyin.risk import services as risk

from .conftest import DAY, GENERATE_AT
from .test_alerts import _event, aml_rules

pytestmark = pytest.mark.django_db


@pytest.fixture
def lines(bank):
    payer, payee = bank.person(name="张伟"), bank.person(name="李四")
    bank.pay(payer, payee, "500000.00")
    services.large_value_generate(day=DAY, at=GENERATE_AT)
    return LargeValueReport.objects.get(direction="OUT"), LargeValueReport.objects.get(
        direction="IN")


@pytest.fixture
def open_alert(make_person, at):
    person = make_person(name="王小明", id_type="PASSPORT", id_number="E77777777")
    aml_rules(at)
    risk.evaluate(_event(at, person.pk, 48_000))
    services.alerts_generate(day=services.day_of(at), at=at + timedelta(days=1))
    return SuspiciousAlert.objects.get()


def _urls(report, alert, batch):
    return ["/bo/risk/aml/large/", f"/bo/risk/aml/large/{report.pk}/",
            "/bo/risk/aml/alerts/", f"/bo/risk/aml/alerts/{alert.pk}/",
            f"/bo/risk/aml/files/{batch.pk}/"]


@pytest.mark.req("RK-15")
@pytest.mark.parametrize("role", [staff.TELLER, staff.SECURITY_ADMIN, staff.AUDITOR])
def test_only_the_risk_roles_reach_the_aml_pages(lines, open_alert, risk_officer, role):
    report, _in = lines
    services.large_value_review(report_id=report.pk, actor="staff:risk01", note="",
                                at=GENERATE_AT)
    batch = services.large_value_export(actor="staff:risk01", at=GENERATE_AT)
    other = staff_signed_in(f"x_{role}", role)
    for url in _urls(report, open_alert, batch):
        assert risk_officer.get(url).status_code == 200, url
        assert other.get(url).status_code == 404, url  # looks missing (SE-08)
    before = (LargeValueReport.objects.filter(status="NEW").count(),
              ExportBatch.objects.count())
    assert other.post("/bo/risk/aml/large/export/").status_code == 404
    assert other.post(f"/bo/risk/aml/alerts/{open_alert.pk}/",
                      {"verdict": "dismiss", "reason": "x"}).status_code == 404
    open_alert.refresh_from_db()
    assert open_alert.status == "OPEN" and before == (
        LargeValueReport.objects.filter(status="NEW").count(), ExportBatch.objects.count())


@pytest.mark.req("RK-09", "PI-03")
def test_the_list_shows_masked_customers_and_the_home_page_links_it(lines, risk_officer):
    home = risk_officer.get("/bo/risk/").content.decode()
    assert "/bo/risk/aml/large/" in home and "/bo/risk/aml/alerts/" in home
    page = risk_officer.get("/bo/risk/aml/large/").content.decode()
    assert "大额交易报告" in page and "*伟" in page and "张伟" not in page
    report, _in = lines
    detail = risk_officer.get(f"/bo/risk/aml/large/{report.pk}/").content.decode()
    number = report.items.get().account.number
    assert number not in detail and number[-4:] in detail and "500,000.00" in detail


@pytest.mark.req("RK-09")
def test_review_export_and_download_from_the_desk(lines, risk_officer):
    report, received = lines
    risk_officer.post(f"/bo/risk/aml/large/{report.pk}/", {"note": "checked the contract"})
    report.refresh_from_db()
    assert (report.status, report.reviewed_by, report.note) == (
        "REVIEWED", "staff:risk01", "checked the contract")
    risk_officer.post("/bo/risk/aml/large/export/")
    batch = ExportBatch.objects.get()
    report.refresh_from_db()
    assert report.status == "EXPORTED" and received.status == "NEW"
    response = risk_officer.get(f"/bo/risk/aml/files/{batch.pk}/")
    assert response["Content-Type"].startswith("text/csv")
    assert batch.file_name in response["Content-Disposition"]
    assert "张伟" in response.content.decode("utf-8")  # the file carries the full name
    assert AuditEvent.objects.filter(action="aml.export.downloaded",
                                     actor="staff:risk01").exists()
    risk_officer.post("/bo/risk/aml/large/export/")  # nothing reviewed is left
    assert ExportBatch.objects.count() == 1
    risk_officer.post(f"/bo/risk/aml/large/{report.pk}/reexport/", {"reason": ""})
    assert ExportBatch.objects.count() == 1  # a re-export needs a reason
    risk_officer.post(f"/bo/risk/aml/large/{report.pk}/reexport/", {"reason": "file lost"})
    assert ExportBatch.objects.filter(reexport=True, reason="file lost").count() == 1


@pytest.mark.req("RK-09")
def test_an_alert_is_confirmed_only_with_a_reason(open_alert, risk_manager):
    page = risk_manager.get(f"/bo/risk/aml/alerts/{open_alert.pk}/").content.decode()
    assert "structuring" in page and "*明" in page and "王小明" not in page
    risk_manager.post(f"/bo/risk/aml/alerts/{open_alert.pk}/", {"verdict": "confirm",
                                                                 "reason": ""})
    open_alert.refresh_from_db()
    assert open_alert.status == "OPEN"
    risk_manager.post(f"/bo/risk/aml/alerts/{open_alert.pk}/",
                      {"verdict": "confirm", "reason": "amounts kept just below the line"})
    open_alert.refresh_from_db()
    assert (open_alert.status, open_alert.analysed_by) == ("CONFIRMED", "staff:riskhq01")
    risk_manager.post("/bo/risk/aml/alerts/export/")
    open_alert.refresh_from_db()
    assert open_alert.exported_at is not None and ExportBatch.objects.get().kind == "SUSPICIOUS"
