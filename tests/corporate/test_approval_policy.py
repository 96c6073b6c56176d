"""The approval policy (FC-02): tiers by account and amount at their boundaries, the
account's own tier before the any-account ones, a change signed with the administrator's
USB-Key that goes live atomically and applies to new instructions only, invalid policies
refused, tiers the operators cannot satisfy yet allowed with a warning."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate.approving are parameters

import hashlib
import json

import pytest

from tests.corporate.approving import (  # fixtures among them
    YUAN,
    approve,
    enter,
    payee,
    set_policy,
)
from wangyin.audit.models import AuditEvent
from wangyin.authn.errors import DigestMismatch
from wangyin.authn.models import AuthChallenge
from wangyin.corporate import approvals
from wangyin.corporate.approvals import TierSpec
from wangyin.corporate.errors import (
    ChecksFirst,
    PolicyAdministratorOnly,
    PolicyNoCatchAll,
    PolicyTierAccount,
    PolicyTierDuplicate,
    PolicyTierInvalid,
    PolicyTierOrder,
    PolicyTooManyTiers,
    QueryEditionNoPayments,
)
from wangyin.corporate.models import ApprovalPolicy, InstructionStatus

pytestmark = pytest.mark.django_db

# ≤ ¥10,000: one authorisation; ≤ ¥100,000: a check and an authorisation; above: a check
# and two authorisations.
THREE_TIERS = (TierSpec(up_to_fen=10_000 * YUAN, checkers=0, authorisers=1),
               TierSpec(up_to_fen=100_000 * YUAN, checkers=1, authorisers=1),
               TierSpec(checkers=1, authorisers=2))


def _needs(tier):
    return tier.checkers, tier.authorisers


@pytest.mark.req("FC-02")
def test_tiers_apply_at_their_boundaries_inclusive(service, admin, sign, now):
    set_policy(admin, sign, now, *THREE_TIERS)
    account = service.company.basic.pk
    assert _needs(approvals.policy_tier(service, account, 1)) == (0, 1)
    assert _needs(approvals.policy_tier(service, account, 10_000 * YUAN)) == (0, 1)
    assert _needs(approvals.policy_tier(service, account, 10_000 * YUAN + 1)) == (1, 1)
    assert _needs(approvals.policy_tier(service, account, 100_000 * YUAN)) == (1, 1)
    assert _needs(approvals.policy_tier(service, account, 100_000 * YUAN + 1)) == (1, 2)
    assert _needs(approvals.policy_tier(service, account, 10 ** 12)) == (1, 2)


@pytest.mark.req("FC-02")
def test_the_accounts_own_tier_wins_over_the_any_account_tier(service, admin, sign, now):
    basic, general = service.company.basic.pk, service.company.general.pk
    set_policy(admin, sign, now, *THREE_TIERS,
               TierSpec(account_id=basic, up_to_fen=50_000 * YUAN, checkers=0, authorisers=2))
    # the basic account's own tier, even for small amounts an any-account tier covers
    assert _needs(approvals.policy_tier(service, basic, 100)) == (0, 2)
    assert _needs(approvals.policy_tier(service, basic, 50_000 * YUAN)) == (0, 2)
    # above the account's own tiers: the any-account tiers
    assert _needs(approvals.policy_tier(service, basic, 50_000 * YUAN + 1)) == (1, 1)
    # another account: the any-account tiers only
    assert _needs(approvals.policy_tier(service, general, 100)) == (0, 1)


@pytest.mark.req("FC-02")
def test_a_change_is_signed_goes_live_atomically_and_is_audited(service, admin, sign, now):
    policy = set_policy(admin, sign, now, *THREE_TIERS)
    assert list(ApprovalPolicy.objects.filter(service=service).order_by("version")
                .values_list("version", "status")) == [(1, "RETIRED"), (2, "LIVE")]
    assert policy.created_by == admin.actor and policy.tiers.count() == 3
    # the kept signature is the administrator's, over the canonical tiers
    signature = policy.signature
    assert signature.person_id == admin.person_id
    payload = json.loads(signature.payload)
    canonical = approvals.policy_canonical(service, list(THREE_TIERS), replaces=1)
    assert payload["digest"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert payload["purpose"] == approvals.POLICY_CHANGE
    assert "复核1人、授权2人" in payload["detail"] and "¥100,000.00及以下" in payload["detail"]
    event = AuditEvent.objects.filter(action="corporate.policy.changed").get()
    assert event.actor == admin.actor and event.details["version"] == 2
    assert event.details["signature"] == signature.pk
    assert approvals.policy_tier(service, None, 1).policy_id == policy.pk


@pytest.mark.req("FC-02", "TX-06")
def test_a_signature_for_other_tiers_or_an_older_version_is_refused(service, admin, sign, now):
    sign.key_of(admin)
    signed_for = (TierSpec(checkers=0, authorisers=1),)
    challenge = approvals.policy_change_challenge(admin, signed_for, now)
    approvals.policy_change_verify(admin, signed_for, challenge.pk,
                                   sign(admin, challenge)["USBKEY"], now)
    with pytest.raises(DigestMismatch):
        approvals.policy_change(admin, (TierSpec(checkers=0, authorisers=2),), challenge.pk, now)
    assert AuthChallenge.objects.get(pk=challenge.pk).used_at is not None  # burnt
    assert ApprovalPolicy.objects.get(service=service, status="LIVE").version == 1
    # signed against version 1, applied after version 2 went live: refused
    challenge = approvals.policy_change_challenge(admin, signed_for, now)
    approvals.policy_change_verify(admin, signed_for, challenge.pk,
                                   sign(admin, challenge)["USBKEY"], now)
    set_policy(admin, sign, now, *THREE_TIERS)
    with pytest.raises(DigestMismatch):
        approvals.policy_change(admin, signed_for, challenge.pk, now)
    assert ApprovalPolicy.objects.get(service=service, status="LIVE").version == 2


@pytest.mark.req("FC-02")
@pytest.mark.parametrize(("tiers", "error"), [
    ((TierSpec(up_to_fen=100),), PolicyNoCatchAll),
    ((TierSpec(), TierSpec(checkers=6)), PolicyTierInvalid),
    ((TierSpec(authorisers=0),), PolicyTierInvalid),
    ((TierSpec(), TierSpec(up_to_fen=0)), PolicyTierInvalid),
    ((TierSpec(), TierSpec(up_to_fen=-5)), PolicyTierInvalid),
    ((TierSpec(checkers=True),), PolicyTierInvalid),
    ((TierSpec(), TierSpec(up_to_fen=100), TierSpec(up_to_fen=100, authorisers=2)),
     PolicyTierDuplicate),
    ((TierSpec(), TierSpec(up_to_fen=100, authorisers=2)), PolicyTierOrder),
    ((TierSpec(checkers=0), TierSpec(up_to_fen=100, checkers=1)), PolicyTierOrder),
    (tuple(TierSpec(up_to_fen=n + 1) for n in range(20)) + (TierSpec(),), PolicyTooManyTiers),
])
def test_invalid_policies_are_refused_before_signing(service, admin, now, tiers, error):
    with pytest.raises(error):
        approvals.policy_change_challenge(admin, tiers, now)
    assert not AuthChallenge.objects.exists()


@pytest.mark.req("FC-02")
def test_a_tier_names_only_a_linked_account(service, admin, make_company, now):
    from tests.conftest import _uscc
    from wangyin.customers import services as customers

    other = make_company(name="另一公司", uscc=_uscc("91360702MA35R8LX2"))
    foreign = customers.corporate_account_open(company_id=other.pk, product="CORPORATE_BASIC",
                                               actor="staff:1", opened_at=now)
    with pytest.raises(PolicyTierAccount):
        approvals.policy_change_challenge(
            admin, (TierSpec(), TierSpec(account_id=foreign.pk, up_to_fen=100)), now)


@pytest.mark.req("FC-02")
def test_only_the_administrator_of_a_standard_service_changes_it(service, admin, enterer,
                                                                 authoriser, now):
    for operator in (enterer, authoriser):
        with pytest.raises(PolicyAdministratorOnly):
            approvals.policy_change_challenge(operator, THREE_TIERS, now)
    service.edition = "QUERY"
    service.save(update_fields=["edition"])
    with pytest.raises(QueryEditionNoPayments):
        approvals.policy_change_challenge(admin, THREE_TIERS, now)


@pytest.mark.req("FC-02")
def test_tiers_the_operators_cannot_satisfy_are_saved_with_a_warning(service, admin, enterer,
                                                                    authoriser, sign, now):
    assert approvals.policy_warnings(service, [TierSpec()]) == []
    tiers = (TierSpec(up_to_fen=100 * YUAN), TierSpec(checkers=1, authorisers=2))
    warnings = approvals.policy_warnings(service, tiers)
    assert len(warnings) == 1 and "¥100.00" not in warnings[0]
    policy = set_policy(admin, sign, now, *tiers)
    assert policy.warnings == warnings and ApprovalPolicy.objects.get(pk=policy.pk)
    event = AuditEvent.objects.filter(action="corporate.policy.changed").get()
    assert event.details["warnings"] == warnings


@pytest.mark.req("FC-02")
def test_a_change_applies_to_new_instructions_only(service, admin, enterer, checker, authoriser,
                                                   payee, sign, now):
    before = enter(enterer, payee, at=now, key="before")
    assert (before.checkers_required, before.authorisers_required) == (0, 1)
    set_policy(admin, sign, now, TierSpec(checkers=1, authorisers=1))
    after = enter(enterer, payee, at=now, key="after")
    assert (after.checkers_required, after.authorisers_required) == (1, 1)
    assert after.policy_id != before.policy_id
    # the old one is still authorised by one authorisation; the new one needs its check
    approve(authoriser, before, sign, now)
    before.refresh_from_db()
    assert before.status == InstructionStatus.AUTHORISED
    with pytest.raises(ChecksFirst):
        approvals.approval_challenge(authoriser, after.pk, now)
    approve(checker, after, sign, now)
    approve(authoriser, after, sign, now)
    after.refresh_from_db()
    assert after.status == InstructionStatus.AUTHORISED
