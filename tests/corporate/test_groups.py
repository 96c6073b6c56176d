"""Group view (FC-08) and accounts linked online with dual approval (ON-05),
``corporate.groups``: grants at the counter only for another company's account, only
granted accounts visible and only to the administrator and the operators they allowed
(signed), an ended grant refused at once, never a payment from a subsidiary's account;
linking online with the administrator's and an authoriser's USB-Key signatures and the
company contact's code — the requester cannot approve, both signatures required and
verified, a wrong or late code links nothing — and the counter's linking as before."""

import re
from datetime import timedelta

import pytest

from tests.conftest import _uscc
from tests.corporate.conftest import signed_challenge
from wangyin.audit.models import AuditEvent
from wangyin.authn.errors import DigestMismatch, NotAuthorised
from wangyin.authn.models import Signature
from wangyin.core.money import Money
from wangyin.corporate import approvals, counter, groups
from wangyin.corporate.errors import (
    AccountAlreadyLinked,
    AccountNotInScope,
    AccountNotLinkable,
    GroupAccountNotFound,
    GroupAuthorisationRequired,
    GroupGrantExists,
    GroupGrantNotFound,
    GroupOwnAccount,
    GroupViewRefused,
    LinkApproverMissing,
    LinkAuthoriserOnly,
    LinkCodeFailed,
    LinkCodeNotYours,
    LinkCodeWrong,
    LinkOwnRequest,
    LinkRequestExists,
    LinkRequestExpired,
    LinkRequestState,
    LinkSignaturesInvalid,
    ScopeNotLinked,
)
from wangyin.corporate.models import OperatorScope, ServiceAccount
from wangyin.corporate.models.groups import AccountLinkRequest, GroupGrant, GroupViewer
from wangyin.corporate.operators import Change, Scope
from wangyin.customers import services as customers
from wangyin.notify.models import SmsMessage

pytestmark = pytest.mark.django_db

STAFF = "staff:teller01"
SUB_PHONE = "18907970123"


@pytest.fixture
def subsidiary(make_company, fund, now):
    """Another company (the subsidiary) with a funded basic account."""
    sub = make_company(name="赣州示范子公司有限公司", uscc=_uscc("91360702MA35R8LX3"),
                       contact_phone=SUB_PHONE)
    sub.basic = customers.corporate_account_open(company_id=sub.pk, product="CORPORATE_BASIC",
                                                 actor="staff:1", opened_at=now)
    fund(sub.basic.ledger_account, "88000.00")
    return sub


def _grant(service, account, now, ref="授权书2026-001"):
    return groups.group_grant(service_id=service.pk, account_number=account.number,
                              authorisation_ref=ref, staff=STAFF, at=now, reason="集团管理")


def _allow(admin, operator, sign, now, allowed=True):
    digest = groups.viewer_digest(admin=admin, operator_id=operator.pk, allowed=allowed)
    challenge = signed_challenge(admin, purpose=groups.VIEWER, digest=digest, summary="x",
                                 at=now, sign=sign)
    return groups.viewer_set(admin=admin, operator_id=operator.pk, allowed=allowed,
                             authorisation=challenge.pk, at=now)


# --- group view -------------------------------------------------------------------------------


@pytest.mark.req("FC-08")
def test_a_grant_shows_the_subsidiary_account_to_the_administrator_only(
        service, admin, enterer, subsidiary, now):
    before = SmsMessage.objects.count()
    grant = _grant(service, subsidiary.basic, now)
    assert grant.authorisation_ref == "授权书2026-001" and grant.granted_by == STAFF
    seen = groups.group_accounts(admin)
    assert [g.account.pk for g in seen] == [subsidiary.basic.pk]
    assert seen[0].account.company.name == subsidiary.name
    assert seen[0].account.ledger_account.balance_money == Money.from_yuan("88000.00")
    # Every other operator sees nothing until the administrator allows them.
    with pytest.raises(GroupViewRefused):
        groups.group_accounts(enterer)
    assert groups.group_account(enterer, subsidiary.basic.pk) is None
    # Both contacts are told, the audit keeps the authorisation's reference.
    texts = list(SmsMessage.objects.order_by("pk")[before:].values_list("body", flat=True))
    assert len(texts) == 2 and "授权书2026-001" in texts[1] and subsidiary.name in texts[0]
    event = AuditEvent.objects.get(action="corporate.group.granted")
    assert event.details["authorisation_ref"] == "授权书2026-001"


@pytest.mark.req("FC-08")
def test_only_granted_accounts_are_visible(service, admin, company, subsidiary,
                                           make_company, fund, now):
    third = make_company(name="不相干公司", uscc=_uscc("91360702MA35R8LX4"))
    other = customers.corporate_account_open(company_id=third.pk, product="CORPORATE_BASIC",
                                             actor="staff:1", opened_at=now)
    assert groups.group_accounts(admin) == []
    _grant(service, subsidiary.basic, now)
    assert [g.account.pk for g in groups.group_accounts(admin)] == [subsidiary.basic.pk]
    assert groups.group_account(admin, other.pk) is None
    assert groups.group_account(admin, company.basic.pk) is None  # own accounts: not here


@pytest.mark.req("FC-08")
def test_a_grant_is_refused_for_the_companys_own_account_and_needs_the_authorisation(
        service, company, subsidiary, now):
    with pytest.raises(GroupOwnAccount):
        _grant(service, company.general, now)
    with pytest.raises(GroupAuthorisationRequired):
        _grant(service, subsidiary.basic, now, ref="  ")
    with pytest.raises(GroupAccountNotFound):
        groups.group_grant(service_id=service.pk, account_number="6" * 19,
                           authorisation_ref="x", staff=STAFF, at=now)
    _grant(service, subsidiary.basic, now)
    with pytest.raises(GroupGrantExists):
        _grant(service, subsidiary.basic, now)
    assert GroupGrant.objects.count() == 1


@pytest.mark.req("FC-08")
def test_an_ended_grant_is_refused_at_once(service, admin, subsidiary, company, now):
    grant = _grant(service, subsidiary.basic, now)
    assert groups.group_account(admin, subsidiary.basic.pk) is not None
    with pytest.raises(GroupGrantNotFound):  # the counter of a company not concerned
        groups.group_grant_end(grant_id=grant.pk, staff=STAFF, reason="x", at=now,
                               company_id=company.pk + subsidiary.pk + 100)
    groups.group_grant_end(grant_id=grant.pk, staff=STAFF, reason="子公司撤回授权", at=now,
                           company_id=subsidiary.pk)
    assert groups.group_account(admin, subsidiary.basic.pk) is None
    assert groups.group_accounts(admin) == []
    ended = [m for m in SmsMessage.objects.filter(purpose="corporate.group") if "已终止" in m.body]
    assert sorted(m.phone for m in ended) == sorted([company.contact_phone, SUB_PHONE])
    with pytest.raises(GroupGrantNotFound):
        groups.group_grant_end(grant_id=grant.pk, staff=STAFF, reason="again", at=now)
    _grant(service, subsidiary.basic, now)  # granted again later: a new grant


@pytest.mark.req("FC-08", "SE-09")
def test_the_administrator_allows_an_operator_with_a_signature(service, admin, checker,
                                                               subsidiary, sign, now):
    _grant(service, subsidiary.basic, now)
    viewer = _allow(admin, checker, sign, now)
    assert [g.account.pk for g in groups.group_accounts(viewer)] == [subsidiary.basic.pk]
    live = GroupViewer.objects.get(operator=checker, ended_at__isnull=True)
    assert Signature.objects.filter(pk=live.signature_id, person=admin.person).exists()
    # A signature for allowing is not one for stopping (the digest binds the setting).
    digest = groups.viewer_digest(admin=admin, operator_id=checker.pk, allowed=True)
    challenge = signed_challenge(admin, purpose=groups.VIEWER, digest=digest, summary="x",
                                 at=now, sign=sign)
    with pytest.raises(DigestMismatch):
        groups.viewer_set(admin=admin, operator_id=checker.pk, allowed=False,
                          authorisation=challenge.pk, at=now)
    with pytest.raises(NotAuthorised):  # no signature at all
        groups.viewer_set(admin=admin, operator_id=checker.pk, allowed=False,
                          authorisation=0, at=now)
    assert groups.group_accounts(checker)
    _allow(admin, checker, sign, now, allowed=False)
    with pytest.raises(GroupViewRefused):
        groups.group_accounts(checker)
    checker.status = "DISABLED"
    checker.save()
    assert not groups.may_view_group(checker)


@pytest.mark.req("FC-08", "FC-02")
def test_no_payment_or_scope_from_a_subsidiary_account(service, admin, enterer, authoriser,
                                                       subsidiary, sign, now):
    _grant(service, subsidiary.basic, now)
    _allow(admin, enterer, sign, now)
    assert groups.group_accounts(enterer)
    with pytest.raises(AccountNotInScope):
        approvals.instruction_enter(
            enterer, debit_account_id=subsidiary.basic.pk,
            payee_account=service.company.basic.number, payee_name=service.company.name,
            amount_fen=100, purpose="货款", idempotency_key="k1", at=now)
    # Even a scope cannot be given on it: it is not linked to the service.
    change = Change.scope_set(operator_id=enterer.pk,
                              scopes=[Scope(account_id=subsidiary.basic.pk)])
    from wangyin.corporate import operators

    with pytest.raises(ScopeNotLinked):
        operators.change_challenge(admin=admin, change=change, at=now)
    assert not OperatorScope.objects.filter(account=subsidiary.basic).exists()


# --- linking online (ON-05) -------------------------------------------------------------------


@pytest.fixture
def third_account(company, now):
    """An account of the company not linked to the service yet."""
    return customers.corporate_account_open(company_id=company.pk, product="CORPORATE_GENERAL",
                                            actor="staff:1", opened_at=now)


def _request(admin, account, sign, now):
    digest = groups.link_digest(admin.service, account)
    challenge = signed_challenge(admin, purpose=groups.REQUEST, digest=digest, summary="x",
                                 at=now, sign=sign)
    return groups.link_request(admin=admin, account_number=account.number,
                               authorisation=challenge.pk, at=now)


def _approve(operator, request, sign, now):
    challenge = signed_challenge(operator, purpose=groups.APPROVE,
                                 digest=groups.approval_digest(request), summary="x", at=now,
                                 sign=sign)
    return groups.link_approve(operator=operator, request_id=request.pk,
                               authorisation=challenge.pk, at=now)


def _code(company) -> str:
    body = SmsMessage.objects.filter(purpose="corporate.link_code").latest("pk").body
    return re.search(r"确认码(\d{6})", body).group(1)


def _links(service):
    return sorted(ServiceAccount.objects.filter(service=service, unlinked_at__isnull=True)
                  .values_list("account_id", flat=True))


def _scopes():
    return sorted(OperatorScope.objects.values_list("operator_id", "account_id"))


@pytest.mark.req("ON-05")
def test_linking_online_with_two_signatures_and_the_contacts_code(
        service, admin, enterer, authoriser, company, third_account, sign, now):
    scopes = _scopes()
    request = _request(admin, third_account, sign, now)
    assert request.status == "REQUESTED" and _links(service) == [company.basic.pk,
                                                                  company.general.pk]
    request = _approve(authoriser, request, sign, now)
    assert request.status == "APPROVED" and request.approved_by == authoriser
    sms = SmsMessage.objects.filter(purpose="corporate.link_code").latest("pk")
    assert sms.phone == company.contact_phone and third_account.number[-4:] in sms.body
    assert _links(service) == [company.basic.pk, company.general.pk]  # not yet
    done = groups.link_confirm(operator=admin, request_id=request.pk, code=_code(company),
                               at=now + timedelta(minutes=3))
    assert done.status == "LINKED" and done.link.account_id == third_account.pk
    assert third_account.pk in _links(service)
    assert _scopes() == scopes  # the administrator gives it to operators afterwards
    actions = list(AuditEvent.objects.filter(action__startswith="corporate.link")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["corporate.link.requested", "corporate.link.approved",
                       "corporate.link.linked"]
    linked = AuditEvent.objects.get(action="corporate.account.linked")
    assert linked.details["channel"] == "online" and linked.details["request"] == request.pk


@pytest.mark.req("ON-05")
def test_the_requester_cannot_approve_and_only_an_authoriser_can(
        service, admin, enterer, checker, authoriser, third_account, sign, now):
    request = _request(admin, third_account, sign, now)
    with pytest.raises(LinkOwnRequest):
        groups.link_approve_challenge(operator=admin, request_id=request.pk, at=now)
    for operator in (enterer, checker):
        with pytest.raises(LinkAuthoriserOnly):
            groups.link_approve_challenge(operator=operator, request_id=request.pk, at=now)
    # The administrator's signature over the request cannot stand in for an approval.
    request_challenge = request.request_signature.challenge_id
    with pytest.raises(LinkOwnRequest):
        groups.link_approve(operator=admin, request_id=request.pk,
                            authorisation=request_challenge, at=now)
    # Nor a second request while one is open.
    with pytest.raises(LinkRequestExists):
        groups.link_request_challenge(admin=admin, account_number=third_account.number, at=now)
    request.refresh_from_db()
    assert request.status == "REQUESTED" and request.approved_by is None


@pytest.mark.req("ON-05")
def test_both_signatures_are_required_and_verified(service, admin, authoriser, company,
                                                   third_account, sign, now):
    with pytest.raises(NotAuthorised):  # the administrator's request goes signed
        groups.link_request(admin=admin, account_number=third_account.number,
                            authorisation=0, at=now)
    # The authoriser's signature must be over this request: one for another is refused.
    request = _request(admin, third_account, sign, now)
    challenge = signed_challenge(authoriser, purpose=groups.APPROVE, digest="0" * 64,
                                 summary="x", at=now, sign=sign)
    with pytest.raises(DigestMismatch):
        groups.link_approve(operator=authoriser, request_id=request.pk,
                            authorisation=challenge.pk, at=now)
    with pytest.raises(NotAuthorised):
        groups.link_approve(operator=authoriser, request_id=request.pk, authorisation=0,
                            at=now)
    request = _approve(authoriser, request, sign, now)
    # The account changed under the signatures: the code is right, nothing is linked.
    other = customers.corporate_account_open(company_id=company.pk,
                                             product="CORPORATE_GENERAL", actor="staff:1",
                                             opened_at=now)
    AccountLinkRequest.objects.filter(pk=request.pk).update(account=other)
    with pytest.raises(LinkSignaturesInvalid):
        groups.link_confirm(operator=admin, request_id=request.pk, code=_code(company),
                            at=now)
    assert other.pk not in _links(service) and third_account.pk not in _links(service)
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "FAILED"


@pytest.mark.req("ON-05")
def test_a_wrong_or_late_code_links_nothing(service, admin, enterer, authoriser, company,
                                            third_account, sign, now):
    request = _approve(authoriser, _request(admin, third_account, sign, now), sign, now)
    code = _code(company)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(LinkCodeNotYours):
        groups.link_confirm(operator=enterer, request_id=request.pk, code=code, at=now)
    for _ in range(groups.CODE_TRIES - 1):
        with pytest.raises(LinkCodeWrong):
            groups.link_confirm(operator=admin, request_id=request.pk, code=wrong, at=now)
    assert AccountLinkRequest.objects.get(pk=request.pk).code_attempts == groups.CODE_TRIES - 1
    with pytest.raises(LinkCodeFailed):  # the last try ends it
        groups.link_confirm(operator=authoriser, request_id=request.pk, code=wrong, at=now)
    with pytest.raises(LinkRequestState):  # the right code is now too late
        groups.link_confirm(operator=admin, request_id=request.pk, code=code, at=now)
    assert third_account.pk not in _links(service)
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "FAILED"
    # A new request; this time the code comes too late.
    request = _approve(authoriser, _request(admin, third_account, sign, now), sign, now)
    with pytest.raises(LinkCodeFailed):
        groups.link_confirm(operator=admin, request_id=request.pk, code=_code(company),
                            at=now + groups.CODE_LIFETIME)
    assert third_account.pk not in _links(service)
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "EXPIRED"


@pytest.mark.req("ON-05")
def test_a_request_is_rejected_cancelled_or_expires(service, admin, authoriser,
                                                    third_account, sign, now):
    request = _request(admin, third_account, sign, now)
    groups.link_reject(operator=authoriser, request_id=request.pk, reason="不需要", at=now)
    with pytest.raises(LinkRequestState):
        groups.link_approve_challenge(operator=authoriser, request_id=request.pk, at=now)
    request = _request(admin, third_account, sign, now)
    groups.link_cancel(admin=admin, request_id=request.pk, reason="填错", at=now)
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "CANCELLED"
    request = _request(admin, third_account, sign, now)
    later = now + groups.REQUEST_LIFETIME
    with pytest.raises(LinkRequestExpired):
        groups.link_approve_challenge(operator=authoriser, request_id=request.pk, at=later)
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "EXPIRED"
    request = _request(admin, third_account, sign, now)  # the job expires it too
    assert groups.link_requests_expire(later - timedelta(seconds=1)) == 0
    assert groups.link_requests_expire(later) == 1
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "EXPIRED"
    assert third_account.pk not in _links(service)
    assert list(AuditEvent.objects.filter(action__in=[
        "corporate.link.rejected", "corporate.link.cancelled", "corporate.link.expired",
        "corporate.link.expired"])
        .order_by("pk").values_list("action", flat=True)) == [
        "corporate.link.rejected", "corporate.link.cancelled", "corporate.link.expired",
        "corporate.link.expired"]


@pytest.mark.req("ON-05")
def test_only_the_companys_own_active_unlinked_account(service, admin, authoriser, company,
                                                       subsidiary, sign, now):
    sign.key_of(admin)
    with pytest.raises(AccountNotLinkable):
        groups.link_request_challenge(admin=admin, account_number=subsidiary.basic.number,
                                      at=now)
    with pytest.raises(AccountAlreadyLinked):
        groups.link_request_challenge(admin=admin, account_number=company.basic.number, at=now)
    with pytest.raises(LinkAuthoriserOnly):  # only the administrator asks
        groups.link_request_challenge(admin=authoriser, account_number=company.basic.number,
                                      at=now)


@pytest.mark.req("ON-05")
def test_without_another_authoriser_linking_is_counter_only(service, admin, enterer,
                                                            third_account, sign, now):
    sign.key_of(admin)
    with pytest.raises(LinkApproverMissing):
        groups.link_request_challenge(admin=admin, account_number=third_account.number,
                                      at=now)
    # The counter still links it, as before.
    link = counter.account_link(service_id=service.pk, account_id=third_account.pk,
                                staff=STAFF, reason="柜台加挂", at=now)
    assert link.linked_by == STAFF and third_account.pk in _links(service)
    event = AuditEvent.objects.get(action="corporate.account.linked")
    assert event.details["channel"] == "counter"
    with pytest.raises(AccountAlreadyLinked):
        counter.account_link(service_id=service.pk, account_id=third_account.pk, staff=STAFF,
                             reason="again", at=now)


@pytest.mark.req("ON-05")
def test_linked_at_the_counter_meanwhile_ends_the_request(service, admin, authoriser, company,
                                                          third_account, sign, now):
    request = _approve(authoriser, _request(admin, third_account, sign, now), sign, now)
    counter.account_link(service_id=service.pk, account_id=third_account.pk, staff=STAFF,
                         reason="柜台", at=now)
    with pytest.raises(AccountAlreadyLinked):
        groups.link_confirm(operator=admin, request_id=request.pk, code=_code(company), at=now)
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "FAILED"
    assert ServiceAccount.objects.filter(account=third_account).count() == 1



@pytest.mark.req("ON-05")
def test_the_link_expiry_job_is_registered_and_runs(service, admin, authoriser, third_account,
                                                    sign, now):
    from unittest import mock

    from procrastinate.contrib.django import app

    from wangyin.corporate import tasks

    assert "corporate.expire_link_requests" in app.tasks
    assert any(p.periodic_id == "corporate-expire-link-requests"
               for p in app.periodic_registry.periodic_tasks.values())
    request = _request(admin, third_account, sign, now)
    with mock.patch("wangyin.core.clock.now", return_value=request.expires_at):
        assert tasks.expire_link_requests(timestamp=0) == 1
    assert AccountLinkRequest.objects.get(pk=request.pk).status == "EXPIRED"
