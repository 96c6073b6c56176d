"""The risk desk's rule sets and lists in the back office: a risk officer drafts, edits and
submits a version, a head-office risk manager who did not make it approves it; a backtest
page; the black and grey lists kept through the web; nobody outside the risk roles reaches
any of it (RK-15)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from tests.backoffice.conftest import staff_signed_in
from wangyin.audit.models import AuditEvent
from wangyin.backoffice import staff
from wangyin.risk import errors, lists, rules
from wangyin.risk import services as risk
from wangyin.risk.models import Decision, ListEntry, Rule, RuleSet

pytestmark = pytest.mark.django_db

RULE = {"code": "night_large", "description": "a large payment at night",
        "expression": "is_funds && amount_fen >= 100000 && hour < 6", "action": "review",
        "score": "70", "priority": "60", "family": "behaviour", "enabled": "on"}


def _notice(client) -> str:
    return client.get("/bo/risk/lists/").context["notice"]


def _draft(client, note="stricter at night") -> RuleSet:
    rules.live()
    response = client.post("/bo/risk/rules/new/", {"note": note})
    draft = RuleSet.objects.get(status="DRAFT")
    assert response.url == f"/bo/risk/rules/{draft.version}/"
    return draft


@pytest.mark.req("RK-04", "ORG-02")
def test_an_officer_drafts_and_submits_and_a_manager_approves(risk_officer, risk_manager):
    draft = _draft(risk_officer)
    assert draft.created_by == "staff:risk01"
    listing = risk_officer.get("/bo/risk/rules/")
    assert listing.status_code == 200 and 'id="open-version"' in listing.content.decode()
    form = risk_officer.get(f"/bo/risk/rules/{draft.version}/add/")
    assert "list_hits" in form.content.decode()  # the features reference at hand
    refused = risk_officer.post(f"/bo/risk/rules/{draft.version}/add/",
                                {**RULE, "expression": "amount_fenn > 1"})
    assert refused.status_code == 400
    assert "undeclared reference to 'amount_fenn'" in refused.context["error"]
    saved = risk_officer.post(f"/bo/risk/rules/{draft.version}/add/", RULE)
    assert saved.url == f"/bo/risk/rules/{draft.version}/"
    changed = risk_officer.post(f"/bo/risk/rules/{draft.version}/rules/night_large/",
                                {**RULE, "code": "renamed", "action": "block"})
    assert changed.status_code == 302
    rule = draft.rules.get(code="night_large")  # the code stays: it names the rule
    assert (rule.action, rule.score) == ("block", 70)
    risk_officer.post(f"/bo/risk/rules/{draft.version}/rules/large_amount_review/delete/")
    assert not draft.rules.filter(code="large_amount_review").exists()
    page = risk_officer.get(f"/bo/risk/rules/{draft.version}/").content.decode()
    assert "night_large" in page and 'id="approve"' not in page
    risk_officer.post(f"/bo/risk/rules/{draft.version}/submit/")
    draft.refresh_from_db()
    assert draft.status == "PENDING"
    assert risk_officer.post(f"/bo/risk/rules/{draft.version}/add/", RULE).status_code == 404

    checker_page = risk_manager.get(f"/bo/risk/rules/{draft.version}/").content.decode()
    assert 'id="approve"' in checker_page and 'id="reject"' in checker_page
    risk_manager.post(f"/bo/risk/rules/{draft.version}/approve/", {"reason": ""})
    draft.refresh_from_db()
    assert draft.status == "PENDING"  # a reason is required
    risk_manager.post(f"/bo/risk/rules/{draft.version}/approve/",
                      {"reason": "backtest checked: 3 more reviews a week"})
    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == ("LIVE", "staff:riskhq01")
    assert RuleSet.objects.get(version=1).status == "RETIRED"
    rules.cache_clear()  # done on commit; the test's transaction never commits
    assert rules.live().version == draft.version


@pytest.mark.req("ORG-02")
def test_the_maker_and_a_branch_officer_cannot_approve(risk_officer, risk_manager):
    draft = _draft(risk_manager)  # the head-office manager is the maker this time
    risk_manager.post(f"/bo/risk/rules/{draft.version}/submit/")
    own = risk_manager.get(f"/bo/risk/rules/{draft.version}/").content.decode()
    assert 'id="approve"' not in own
    risk_manager.post(f"/bo/risk/rules/{draft.version}/approve/", {"reason": "mine"})
    notice = risk_manager.get(f"/bo/risk/rules/{draft.version}/").context["notice"]
    with translation.override("zh-hans"):
        assert notice == str(errors.SelfApproval.message)
    assert 'id="approve"' not in risk_officer.get(
        f"/bo/risk/rules/{draft.version}/").content.decode()
    risk_officer.post(f"/bo/risk/rules/{draft.version}/approve/", {"reason": "looks fine"})
    risk_officer.post(f"/bo/risk/rules/{draft.version}/reject/", {"reason": "no"})
    draft.refresh_from_db()
    assert (draft.status, draft.decided_by) == ("PENDING", "")
    assert RuleSet.objects.get(status="LIVE").version == 1
    assert not AuditEvent.objects.filter(action__in=["risk.ruleset.approved",
                                                     "risk.ruleset.rejected"]).exists()


def test_a_manager_rejects_with_a_reason_shown_in_the_history(risk_officer, risk_manager):
    draft = _draft(risk_officer)
    risk_officer.post(f"/bo/risk/rules/{draft.version}/submit/")
    risk_manager.post(f"/bo/risk/rules/{draft.version}/reject/",
                      {"reason": "would hold every salary payment"})
    draft.refresh_from_db()
    assert draft.status == "REJECTED"
    page = risk_officer.get(f"/bo/risk/rules/{draft.version}/").content.decode()
    assert "would hold every salary payment" in page


@pytest.mark.req("RK-04")
def test_the_backtest_page_compares_a_version_with_past_decisions(risk_officer, at):
    for minute, yuan in ((1, 100), (2, 2_000)):
        risk.evaluate(risk.Event(kind="transfer.same_bank", person_id=7, channel="web",
                                 device="dev-1", ip="10.0.0.1",
                                 at=at + timedelta(minutes=minute), amount_fen=yuan * 100))
    live = Decision.objects.values_list("rule_set_version", flat=True).first()
    day = at.date().isoformat()
    page = risk_officer.get(f"/bo/risk/rules/{live}/backtest/", {"since": day, "until": day})
    assert page.status_code == 200
    result = page.context["result"]
    assert (result.replayed, result.compared, result.changed) == (2, 2, 0)
    assert 'id="changes"' in page.content.decode()
    backwards = risk_officer.get(f"/bo/risk/rules/{live}/backtest/",
                                 {"since": day, "until": (at - timedelta(days=3)).date()})
    assert backwards.status_code == 400 and backwards.context["error"]


def _other_role_pages(version: int, entry: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", "/bo/risk/rules/", {}), ("post", "/bo/risk/rules/new/", {"note": "x"}),
        ("get", f"/bo/risk/rules/{version}/", {}),
        ("get", f"/bo/risk/rules/{version}/add/", {}),
        ("post", f"/bo/risk/rules/{version}/add/", RULE),
        ("get", f"/bo/risk/rules/{version}/rules/black_list/", {}),
        ("post", f"/bo/risk/rules/{version}/rules/black_list/delete/", {}),
        ("post", f"/bo/risk/rules/{version}/submit/", {}),
        ("post", f"/bo/risk/rules/{version}/discard/", {}),
        ("post", f"/bo/risk/rules/{version}/approve/", {"reason": "x"}),
        ("post", f"/bo/risk/rules/{version}/reject/", {"reason": "x"}),
        ("get", f"/bo/risk/rules/{version}/backtest/", {"since": "2026-11-01",
                                                        "until": "2026-11-01"}),
        ("get", "/bo/risk/lists/", {}),
        ("post", "/bo/risk/lists/add/", {"colour": "BLACK", "subject": "IP",
                                         "value": "203.0.113.9", "reason": "x"}),
        ("post", f"/bo/risk/lists/{entry}/remove/", {"reason": "x"}),
        ("post", "/bo/risk/lists/export/", {"reason": "x"}),
        ("post", "/bo/risk/lists/import/", {}),
    ]


@pytest.mark.req("RK-15")
@pytest.mark.parametrize("role", [staff.TELLER, staff.AUDITOR, staff.SECURITY_ADMIN])
def test_rules_and_lists_look_missing_to_every_other_role(role, risk_officer, at):
    rules.live()
    draft = _draft(risk_officer)
    entry = lists.entry_add(colour="GREY", subject="IP", value="198.51.100.7", reason="t",
                            staff="staff:risk01", at=at)
    before = (RuleSet.objects.count(), Rule.objects.count(), ListEntry.objects.count(),
              ListEntry.objects.filter(removed_at__isnull=False).count())
    other = staff_signed_in(f"x_{role}", role)
    for method, url, data in _other_role_pages(draft.version, entry.pk):
        assert getattr(other, method)(url, data).status_code == 404, url
        if method == "get":  # the same page is there for the risk staff
            assert risk_officer.get(url, data).status_code == 200, url
    assert before == (RuleSet.objects.count(), Rule.objects.count(),
                      ListEntry.objects.count(),
                      ListEntry.objects.filter(removed_at__isnull=False).count())
    assert not AuditEvent.objects.filter(actor=f"staff:x_{role}",
                                         action__startswith="risk.").exists()


def test_changes_need_the_csrf_token(risk_officer):
    rules.live()
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = risk_officer.cookies
    assert strict.post("/bo/risk/rules/new/", {"note": "x"}).status_code == 403
    assert strict.post("/bo/risk/lists/add/", {"colour": "BLACK", "subject": "IP",
                                               "value": "203.0.113.9",
                                               "reason": "x"}).status_code == 403
    assert not RuleSet.objects.filter(status="DRAFT").exists()
    assert not ListEntry.objects.exists()


@pytest.mark.req("RK-10")
def test_a_risk_officer_lists_and_removes_values_seen_only_masked(risk_officer):
    refused = risk_officer.post("/bo/risk/lists/add/", {
        "colour": "BLACK", "subject": "PHONE", "value": "13812345678", "reason": ""})
    assert refused.status_code == 302 and not ListEntry.objects.exists()
    risk_officer.post("/bo/risk/lists/add/", {
        "colour": "BLACK", "subject": "PHONE", "value": "13812345678",
        "reason": "电信诈骗涉案号码", "expires": "2030-01-01"})
    risk_officer.post("/bo/risk/lists/add/", {
        "colour": "GREY", "subject": "IP", "value": "not-an-ip", "reason": "x"})
    assert "not-an-ip" not in str(ListEntry.objects.values_list("shown", flat=True))
    page = risk_officer.get("/bo/risk/lists/", {"colour": "BLACK"}).content.decode()
    entry = ListEntry.objects.get()
    assert entry.shown in page and "13812345678" not in page
    assert entry.expires_at is not None
    risk_officer.post(f"/bo/risk/lists/{entry.pk}/remove/", {"reason": ""})
    entry.refresh_from_db()
    assert entry.removed_at is None  # a reason is required
    risk_officer.post(f"/bo/risk/lists/{entry.pk}/remove/", {"reason": "号码已核实清白"})
    entry.refresh_from_db()
    assert entry.removed_by == "staff:risk01"
    assert entry not in risk_officer.get("/bo/risk/lists/").context["entries"]
    assert entry in risk_officer.get("/bo/risk/lists/", {"ended": "on"}).context["entries"]


@pytest.mark.req("RK-04", "RK-10")
def test_lists_are_shared_by_csv_export_and_all_or_nothing_import(risk_officer, risk_manager,
                                                                 at):
    lists.entry_add(colour="BLACK", subject="IP", value="203.0.113.9", reason="扫号",
                    staff="staff:risk01", at=at)
    assert risk_officer.post("/bo/risk/lists/export/", {"reason": ""}).status_code == 302
    exported = risk_officer.post("/bo/risk/lists/export/", {"reason": "同业共享"})
    assert exported["Content-Type"].startswith("text/csv")
    assert "attachment" in exported["Content-Disposition"]
    assert "203.0.113.9" in exported.content.decode()
    assert AuditEvent.objects.filter(action="risk.list.exported",
                                     actor="staff:risk01").count() == 1

    good = ("colour,subject,value,reason,expires_at\n"
            "GREY,DEVICE,dev-shared-1,同业共享,\n"
            "BLACK,PHONE,13900001111,同业共享,2030-01-01T00:00:00+08:00\n")
    bad = good + "BLACK,IP,999.1.1.1,typo,\n"
    upload = _csv(bad, "bad.csv")
    risk_manager.post("/bo/risk/lists/import/", {"file": upload})
    assert "line 4" in _notice(risk_manager)
    assert ListEntry.objects.count() == 1  # nothing of the bad file
    risk_manager.post("/bo/risk/lists/import/", {"file": _csv(good, "partner.csv")})
    assert ListEntry.objects.filter(source="partner.csv").count() == 2


def _csv(text: str, name: str):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")
