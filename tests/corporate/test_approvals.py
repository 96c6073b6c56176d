"""Corporate payment instructions and their approvals (FC-02, TX-02, TX-04, TX-06, TX-11):
role separation, entering (checks, canonical data and digest, idempotency, drafts, the
operator's own limits, risk), approvals as USB-Key signatures over exactly the instruction,
tampering refused, reserve on entry, reject / cancel / expire with reasons, queues and
history."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate.approving are parameters

import hashlib
import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction

from tests.corporate.approving import (  # fixtures among them
    YUAN,
    approve,
    authoriser2,
    checker2,
    enter,
    enterer2,
    payee,
    set_policy,
    signed,
)
from tests.corporate.conftest import make_operator
from wangyin.audit.models import AuditEvent
from wangyin.authn import services as authn
from wangyin.authn.errors import DigestMismatch, NotAuthorised
from wangyin.authn.models import AuthChallenge, Signature
from wangyin.core.money import InvalidAmount
from wangyin.corporate import approvals, selectors
from wangyin.corporate.approvals import TierSpec
from wangyin.corporate.errors import (
    AccountNotInScope,
    AdministratorHoldsNoRoles,
    AlreadyApproved,
    AmountAboveMaximum,
    ApproverRoleRequired,
    AuthoriseRoleRequired,
    CheckRoleRequired,
    ChecksFirst,
    EnterRoleRequired,
    InstructionAltered,
    InstructionKeyReused,
    InstructionNotAuthorised,
    InstructionStateRefused,
    NotYourInstruction,
    OperatorDailyLimit,
    OperatorNotActive,
    OperatorPaymentLimit,
    OwnInstruction,
    PaymentsNotReady,
    PurposeRequired,
    QueryEditionNoPayments,
    ReasonRequired,
)
from wangyin.corporate.models import (
    Approval,
    Instruction,
    InstructionEvent,
    InstructionStatus,
    OperatorScope,
)
from wangyin.ledger.errors import InsufficientFunds
from wangyin.ledger.models import Account, Hold
from wangyin.payments import directory
from wangyin.payments.errors import (
    PayeeNameMismatch,
    PayeeNotFound,
    PaymentBlocked,
    SameAccount,
    UnknownBank,
)
from wangyin.payments.models import Bank
from wangyin.risk import lists
from wangyin.risk.models import Decision

pytestmark = pytest.mark.django_db

CHECK_THEN_AUTHORISE = (TierSpec(checkers=1, authorisers=1),)
TWO_AUTHORISERS = (TierSpec(checkers=0, authorisers=2),)


def _events(instruction):
    return list(InstructionEvent.objects.filter(instruction=instruction)
                .values_list("action", "status"))


def _held(account):
    return Account.objects.get(pk=account.ledger_account_id).held


# --- role separation ------------------------------------------------------------------------


@pytest.mark.req("FC-02")
def test_the_administrator_can_neither_enter_nor_approve(service, admin, enterer, authoriser,
                                                         payee, now):
    with pytest.raises(AdministratorHoldsNoRoles):
        enter(admin, payee, at=now)
    instruction = enter(enterer, payee, at=now)
    with pytest.raises(AdministratorHoldsNoRoles):
        approvals.approval_challenge(admin, instruction.pk, now)
    with pytest.raises(AdministratorHoldsNoRoles):
        approvals.reject(admin, instruction.pk, "不同意", now)
    assert Instruction.objects.count() == 1 and not Approval.objects.exists()


@pytest.mark.req("FC-02")
def test_each_role_takes_only_its_own_step(service, admin, enterer, enterer2, checker,
                                           checker2, authoriser, payee, sign, now):
    set_policy(admin, sign, now, *CHECK_THEN_AUTHORISE)
    for operator in (checker, authoriser):
        with pytest.raises(EnterRoleRequired):
            enter(operator, payee, at=now)
    instruction = enter(enterer, payee, at=now)
    with pytest.raises(CheckRoleRequired):
        approvals.approval_challenge(enterer2, instruction.pk, now)
    with pytest.raises(ChecksFirst):  # an authoriser waits for the checks
        approvals.approval_challenge(authoriser, instruction.pk, now)
    approve(checker, instruction, sign, now)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.CHECKED
    with pytest.raises(AuthoriseRoleRequired):  # checks complete: a checker has no step left
        approvals.approval_challenge(checker2, instruction.pk, now)
    approve(authoriser, instruction, sign, now)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.AUTHORISED
    assert list(instruction.approvals.order_by("pk").values_list("operator", "step")) == [
        (checker.pk, "CHECK"), (authoriser.pk, "AUTHORISE")]
    assert _events(instruction) == [("entered", "ENTERED"), ("checked", "CHECKED"),
                                    ("authorised", "AUTHORISED")]


@pytest.mark.req("FC-02")
def test_nobody_approves_their_own_instruction(service, admin, enterer, authoriser, payee,
                                               sign, now):
    authoriser.roles = ["ENTER", "AUTHORISE"]
    authoriser.save(update_fields=["roles"])
    instruction = enter(authoriser, payee, at=now)
    with pytest.raises(OwnInstruction):
        approvals.approval_challenge(authoriser, instruction.pk, now)
    # a challenge made around the service is refused by approve itself
    sign.key_of(authoriser)
    challenge = authn.challenge_issue(person=authoriser.person, purpose=approvals.APPROVE,
                                      factors=["USBKEY"], digest=instruction.digest, at=now,
                                      summary="x", company_id=service.company_id)
    authn.challenge_verify(challenge_id=challenge.pk, person=authoriser.person,
                           purpose=approvals.APPROVE, digest=instruction.digest,
                           codes=sign(authoriser, challenge), at=now)
    with pytest.raises(OwnInstruction):
        approvals.approve(authoriser, instruction.pk, challenge.pk, now)
    # and by the database
    signature = Signature.objects.get(challenge=challenge)
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(instruction=instruction, operator=authoriser,
                                entered_by=authoriser, step="AUTHORISE",
                                digest=instruction.digest, signature=signature, at=now)
    assert not Approval.objects.exists()


@pytest.mark.req("FC-02")
def test_one_person_approves_once_even_under_another_login(service, admin, enterer, authoriser,
                                                           authoriser2, payee, sign, now):
    set_policy(admin, sign, now, *TWO_AUTHORISERS)
    instruction = enter(enterer, payee, at=now)
    approve(authoriser, instruction, sign, now)
    with pytest.raises(AlreadyApproved):
        approvals.approval_challenge(authoriser, instruction.pk, now)
    # the same person as a new operator login of the company
    authoriser.status, authoriser.ended_at = "REMOVED", now
    authoriser.save(update_fields=["status", "ended_at"])
    again = make_operator(service, authoriser.person, code="auth09", roles=["AUTHORISE"],
                          at=now)
    with pytest.raises(AlreadyApproved):
        approvals.approval_challenge(again, instruction.pk, now)
    with pytest.raises(OperatorNotActive):
        approvals.approval_challenge(authoriser, instruction.pk, now)
    approve(authoriser2, instruction, sign, now)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.AUTHORISED
    assert instruction.approvals.count() == 2


@pytest.mark.req("FC-02")
def test_operators_act_only_on_accounts_in_their_scope(service, admin, enterer, authoriser,
                                                       payee, sign, now):
    general = service.company.general
    OperatorScope.objects.filter(operator=enterer, account=general).delete()
    with pytest.raises(AccountNotInScope):
        enter(enterer, payee, at=now, account=general)
    instruction = enter(enterer, payee, at=now, account=service.company.basic)
    OperatorScope.objects.filter(operator=authoriser, account=service.company.basic).delete()
    with pytest.raises(AccountNotInScope):
        approvals.approval_challenge(authoriser, instruction.pk, now)
    assert list(selectors.queue(authoriser)) == []


# --- entering -------------------------------------------------------------------------------


@pytest.mark.req("FC-02", "TX-06")
def test_entering_fixes_the_canonical_data_digest_tier_and_expiry(service, enterer, authoriser,
                                                                 payee, now):
    instruction = enter(enterer, payee, at=now, fen=1234_56, name=" 李四 ",
                        purpose="  三月  货款 ")
    assert instruction.status == InstructionStatus.ENTERED and not instruction.replayed
    data = json.loads(instruction.canonical)
    assert data == {
        "instruction": instruction.pk, "kind": "SINGLE", "service": service.number,
        "debit_account": service.company.basic.number, "payee_account": payee.number,
        "payee_name": "李四", "payee_bank": "", "amount_fen": 123456, "currency": "CNY",
        "purpose": "三月 货款", "checks": 0, "authorisations": 1}
    assert instruction.digest == hashlib.sha256(instruction.canonical.encode()).hexdigest()
    assert instruction.policy.status == "LIVE" and instruction.entered_at == now
    assert instruction.expires_at == approvals.expiry_of(now) > now + timedelta(days=7)
    assert instruction.risk_action in ("allow", "step_up", "review")
    decision = Decision.objects.get(ref=f"corporate:{instruction.pk}")
    assert decision.person_id == enterer.person_id and decision.features["segment"] == \
        "corporate"
    assert AuditEvent.objects.filter(action="corporate.instruction.entered",
                                     target=f"instruction:{instruction.pk}").exists()


@pytest.mark.req("FC-02")
def test_the_same_key_gives_the_same_instruction_and_another_one_is_refused(
        service, enterer, enterer2, authoriser, payee, now):
    first = enter(enterer, payee, at=now, key="form-1")
    again = enter(enterer, payee, at=now, key="form-1")
    assert again.pk == first.pk and again.replayed
    with pytest.raises(InstructionKeyReused):
        enter(enterer, payee, at=now, key="form-1", fen=999)
    with pytest.raises(InstructionKeyReused):
        enter(enterer2, payee, at=now, key="form-1")
    assert Instruction.objects.count() == 1
    assert enter(enterer, payee, at=now, key="form-2").pk != first.pk


@pytest.mark.req("FC-02")
def test_payees_are_checked_as_for_personal_payments(service, enterer, authoriser, payee, now):
    with pytest.raises(PayeeNameMismatch):
        enter(enterer, payee, at=now, name="王五")
    with pytest.raises(PayeeNotFound):
        approvals.instruction_enter(enterer, debit_account_id=service.company.basic.pk,
                                    payee_account="6222000000000000000", payee_name="李四",
                                    amount_fen=100, purpose="货款", idempotency_key="x", at=now)
    with pytest.raises(UnknownBank):
        enter(enterer, payee, at=now, bank="999999999999")
    with pytest.raises(SameAccount):
        approvals.instruction_enter(enterer, debit_account_id=service.company.basic.pk,
                                    payee_account=service.company.basic.number,
                                    payee_name=service.company.name, amount_fen=100,
                                    purpose="货款", idempotency_key="x", at=now)
    for fen in (0, -1):
        with pytest.raises(InvalidAmount):
            enter(enterer, payee, at=now, fen=fen)
    with pytest.raises(AmountAboveMaximum):
        enter(enterer, payee, at=now, fen=100_000_000 * YUAN + 1)
    with pytest.raises(PurposeRequired):
        enter(enterer, payee, at=now, purpose="  ")
    assert not Instruction.objects.exists()
    # the company's other account: a same-bank payee with the company's name
    own = approvals.instruction_enter(
        enterer, debit_account_id=service.company.basic.pk,
        payee_account=service.company.general.number, payee_name=service.company.name,
        amount_fen=100, purpose="调拨", idempotency_key="own", at=now)
    assert own.payee_bank is None
    # another bank from the directory
    directory.banks_load()
    bank = Bank.objects.exclude(code=settings.BANK_CNAPS_CODE).first()
    other = approvals.instruction_enter(
        enterer, debit_account_id=service.company.basic.pk, payee_account="6217 0000 1234 5678",
        payee_name="某某  公司", payee_bank_code=bank.code, amount_fen=100, purpose="货款",
        idempotency_key="other", at=now)
    assert (other.payee_bank, other.payee_account, other.payee_name) == (
        bank, "6217000012345678", "某某 公司")
    assert json.loads(other.canonical)["payee_bank"] == bank.code


@pytest.mark.req("FC-02", "TX-11")
def test_the_operators_own_limits_per_payment_and_per_day(service, enterer, authoriser, payee,
                                                          now):
    OperatorScope.objects.filter(operator=enterer, account=service.company.basic).update(
        per_payment_fen=10_000 * YUAN, per_day_fen=15_000 * YUAN)
    with pytest.raises(OperatorPaymentLimit) as refused:
        enter(enterer, payee, at=now, fen=10_000 * YUAN + 1, key="a")
    assert "¥10,000.00" in str(refused.value.message)
    enter(enterer, payee, at=now, fen=10_000 * YUAN, key="b")
    second = enter(enterer, payee, at=now, fen=5_000 * YUAN, key="c")
    with pytest.raises(OperatorDailyLimit) as refused:
        enter(enterer, payee, at=now, fen=1, key="d")
    assert "¥0.00" in str(refused.value.message)
    # drafts do not count; an instruction ended without paying no longer counts
    enter(enterer, payee, at=now, fen=1, key="e", draft=True)
    approvals.cancel(enterer, second.pk, "金额有误", now)
    enter(enterer, payee, at=now, fen=5_000 * YUAN, key="f")
    # another account of the operator has no limit of the operator's
    enter(enterer, payee, at=now, fen=50_000 * YUAN, key="g", account=service.company.general)


@pytest.mark.req("FC-02")
def test_payments_need_a_standard_service_with_an_enterer_and_an_authoriser(service, enterer,
                                                                           payee, now):
    with pytest.raises(PaymentsNotReady):
        enter(enterer, payee, at=now)
    enterer.roles = ["ENTER", "AUTHORISE"]  # one person cannot enter and authorise alone
    enterer.save(update_fields=["roles"])
    with pytest.raises(PaymentsNotReady):
        enter(enterer, payee, at=now)
    service.edition = "QUERY"
    service.save(update_fields=["edition"])
    with pytest.raises(QueryEditionNoPayments):
        enter(enterer, payee, at=now)


@pytest.mark.req("FC-02", "RK-08")
def test_risk_control_blocks_an_instruction_and_keeps_the_decision(service, enterer,
                                                                   authoriser, payee, now):
    lists.entry_add(colour="BLACK", subject="ACCOUNT", value=payee.number, reason="涉案",
                    staff="staff:risk1", at=now)
    with pytest.raises(PaymentBlocked):
        enter(enterer, payee, at=now, key="blocked")
    instruction = Instruction.objects.get()
    assert instruction.status == InstructionStatus.REJECTED
    assert instruction.ended_by == approvals.RISK and instruction.risk_action == "block"
    assert instruction.risk_reasons == ["black_list"] and instruction.hold is None
    assert _events(instruction) == [("blocked", "REJECTED")]
    assert Decision.objects.get(ref=f"corporate:{instruction.pk}").action == "block"
    with pytest.raises(PaymentBlocked):  # the same form again
        enter(enterer, payee, at=now, key="blocked")


@pytest.mark.req("FC-02")
def test_a_draft_is_edited_by_its_enterer_and_then_submitted(service, enterer, enterer2,
                                                             authoriser, payee, sign, now):
    draft = enter(enterer, payee, at=now, key="draft", fen=100, draft=True)
    assert draft.status == InstructionStatus.DRAFT and draft.entered_at is None
    assert draft.digest == hashlib.sha256(draft.canonical.encode()).hexdigest()
    with pytest.raises(InstructionStateRefused):
        approvals.approval_challenge(authoriser, draft.pk, now)
    assert list(selectors.queue(authoriser)) == []
    fields = {"debit_account_id": service.company.general.pk, "payee_account": payee.number,
              "payee_name": "李四", "amount_fen": 250_00, "purpose": "服务费"}
    with pytest.raises(NotYourInstruction):
        approvals.instruction_edit(enterer2, draft.pk, at=now, **fields)
    with pytest.raises(NotYourInstruction):
        approvals.instruction_submit(enterer2, draft.pk, now)
    with pytest.raises(PayeeNameMismatch):
        approvals.instruction_edit(enterer, draft.pk, at=now, **{**fields, "payee_name": "x"})
    approvals.instruction_edit(enterer, draft.pk, at=now, **fields)
    entered = approvals.instruction_submit(enterer, draft.pk, now)
    data = json.loads(entered.canonical)
    assert (data["amount_fen"], data["purpose"], data["debit_account"]) == (
        250_00, "服务费", service.company.general.number)
    assert _events(entered) == [("drafted", "DRAFT"), ("edited", "DRAFT"),
                                ("entered", "ENTERED")]
    with pytest.raises(InstructionStateRefused):
        approvals.instruction_edit(enterer, draft.pk, at=now, **fields)
    approve(authoriser, entered, sign, now)


# --- signatures (TX-02, TX-04, TX-06) ---------------------------------------------------------


@pytest.mark.req("TX-02", "TX-04")
def test_an_approval_is_a_usb_key_signature_over_the_instruction(service, enterer, authoriser,
                                                                  payee, sign, now):
    instruction = enter(enterer, payee, at=now, fen=1234_56)
    approval = approve(authoriser, instruction, sign, now)
    signature = approval.signature
    assert signature.person_id == authoriser.person_id
    assert signature.certificate.usb_key.company_id == service.company_id
    payload = json.loads(signature.payload)
    assert payload["digest"] == instruction.digest == approval.digest
    assert payload["purpose"] == approvals.APPROVE and len(payload["nonce"]) >= 16
    assert payload["serial"] == str(signature.challenge_id) and payload["time"]
    detail = payload["detail"]
    for shown in (payee.number, "李四", "¥1,234.56", "壹仟贰佰叁拾肆元伍角陆分", "货款",
                  service.company.basic.number, "授权"):
        assert shown in detail
    event = AuditEvent.objects.get(action="corporate.instruction.authorised")
    assert event.details["signature"] == signature.pk
    approvals.verify_for_execution(Instruction.objects.get(pk=instruction.pk))


@pytest.mark.req("TX-06")
def test_a_signature_over_another_instruction_is_refused(service, enterer, authoriser, payee,
                                                         sign, now):
    first = enter(enterer, payee, at=now, key="a", fen=100)
    second = enter(enterer, payee, at=now, key="b", fen=999_999_00)
    challenge_id = signed(authoriser, first, sign, now)
    with pytest.raises(DigestMismatch):
        approvals.approve(authoriser, second.pk, challenge_id, now)
    assert not Approval.objects.exists()
    assert AuthChallenge.objects.get(pk=challenge_id).used_at is not None  # burnt
    assert AuditEvent.objects.filter(action="authn.digest_mismatch").exists()
    with pytest.raises(NotAuthorised):  # and cannot be used for the first one any more
        approvals.approve(authoriser, first.pk, challenge_id, now)
    # a challenge issued but never signed
    challenge = approvals.approval_challenge(authoriser, first.pk, now)
    with pytest.raises(NotAuthorised):
        approvals.approve(authoriser, first.pk, challenge.pk, now)
    assert Instruction.objects.get(pk=first.pk).status == InstructionStatus.ENTERED


@pytest.mark.req("TX-06")
def test_an_instruction_changed_between_approvals_is_refused(service, admin, enterer,
                                                             authoriser, authoriser2, payee,
                                                             sign, now):
    set_policy(admin, sign, now, *TWO_AUTHORISERS)
    instruction = enter(enterer, payee, at=now, fen=1000_00)
    approve(authoriser, instruction, sign, now)
    # the amount changed in the database after the first approval
    Instruction.objects.filter(pk=instruction.pk).update(amount_fen=9_000_000_00)
    with pytest.raises(InstructionAltered):
        approvals.approval_challenge(authoriser2, instruction.pk, now)
    # the canonical data and digest rewritten to match: the first approval no longer does
    tampered = Instruction.objects.get(pk=instruction.pk)
    tampered.canonical = approvals.instruction_canonical(tampered)
    tampered.digest = hashlib.sha256(tampered.canonical.encode()).hexdigest()
    tampered.save(update_fields=["canonical", "digest"])
    with pytest.raises(InstructionAltered):
        approvals.approval_challenge(authoriser2, instruction.pk, now)
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.ENTERED


@pytest.mark.req("TX-06")
def test_execution_is_refused_unless_it_is_what_every_approver_signed(
        service, admin, enterer, checker, authoriser, payee, sign, now):
    set_policy(admin, sign, now, *CHECK_THEN_AUTHORISE)
    instruction = enter(enterer, payee, at=now, fen=5000_00)
    with pytest.raises(InstructionNotAuthorised):
        approvals.verify_for_execution(instruction)
    approve(checker, instruction, sign, now)
    check = Approval.objects.get(step="CHECK")
    approve(authoriser, instruction, sign, now)
    approvals.verify_for_execution(Instruction.objects.get(pk=instruction.pk))

    def refused(**changes):
        Instruction.objects.filter(pk=instruction.pk).update(**changes)
        with pytest.raises(InstructionAltered):
            approvals.verify_for_execution(Instruction.objects.get(pk=instruction.pk))
        Instruction.objects.filter(pk=instruction.pk).update(
            **{k: getattr(instruction_saved, k) for k in changes})

    instruction_saved = Instruction.objects.get(pk=instruction.pk)
    refused(amount_fen=5000_01)
    refused(payee_account="6222000000000000001")
    refused(checkers_required=0)
    refused(canonical=instruction_saved.canonical.replace("500000", "500001"))
    # canonical, digest and amount rewritten together: the approvals signed the old digest
    changed = Instruction.objects.get(pk=instruction.pk)
    changed.amount_fen = 5000_01
    canonical = approvals.instruction_canonical(changed)
    refused(amount_fen=5000_01, canonical=canonical,
            digest=hashlib.sha256(canonical.encode()).hexdigest())
    # an approval's digest moved along too: its signature's payload still names the old one
    Approval.objects.filter(pk=check.pk).update(digest="0" * 64)
    with pytest.raises(InstructionAltered):
        approvals.verify_for_execution(Instruction.objects.get(pk=instruction.pk))
    Approval.objects.filter(pk=check.pk).update(digest=instruction_saved.digest)
    # an approval pointing at another signature (the administrator's, over the policy)
    policy_signature = service.policies.get(status="LIVE").signature
    Approval.objects.filter(pk=check.pk).update(signature=policy_signature)
    with pytest.raises(InstructionAltered):
        approvals.verify_for_execution(Instruction.objects.get(pk=instruction.pk))
    Approval.objects.filter(pk=check.pk).update(signature=check.signature)
    approvals.verify_for_execution(Instruction.objects.get(pk=instruction.pk))
    # an approval removed, as if never given
    Approval.objects.filter(pk=check.pk).delete()
    with pytest.raises(InstructionNotAuthorised):
        approvals.verify_for_execution(Instruction.objects.get(pk=instruction.pk))


# --- reserve on entry -------------------------------------------------------------------------


@pytest.mark.req("FC-02")
def test_reserve_on_entry_holds_the_money_until_the_instruction_ends(service, enterer,
                                                                     checker, authoriser,
                                                                     payee, sign, now):
    basic = service.company.basic
    assert _held(basic) == 0
    unreserved = enter(enterer, payee, at=now, key="plain", fen=100_00)
    assert unreserved.hold is None and _held(basic) == 0
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    rejected = enter(enterer, payee, at=now, key="r", fen=100_00)
    assert _held(basic) == 100_00 and rejected.hold.amount == 100_00
    approvals.reject(authoriser, rejected.pk, "收款人有误", now)
    assert _held(basic) == 0 and Hold.objects.get(pk=rejected.hold_id).status == "RELEASED"
    cancelled = enter(enterer, payee, at=now, key="c", fen=200_00)
    approvals.cancel(enterer, cancelled.pk, "重复录入", now)
    expired = enter(enterer, payee, at=now, key="e", fen=300_00)
    assert _held(basic) == 300_00
    approvals.expire_due(expired.expires_at)
    assert _held(basic) == 0
    authorised = enter(enterer, payee, at=now, key="a", fen=400_00)
    approve(authoriser, authorised, sign, now)
    assert _held(basic) == 400_00  # kept for the payment
    with pytest.raises(InsufficientFunds):
        enter(enterer, payee, at=now, key="big", fen=1_000_000 * YUAN)
    assert not Instruction.objects.filter(idempotency_key="big").exists()


@pytest.mark.req("FC-02")
def test_reserve_on_entry_holds_the_fee_of_a_payment_to_another_bank(service, enterer,
                                                                     authoriser, now):
    directory.banks_load()
    bank = Bank.objects.exclude(code=settings.BANK_CNAPS_CODE).first()
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    instruction = approvals.instruction_enter(
        enterer, debit_account_id=service.company.basic.pk, payee_account="6217000012345678",
        payee_name="某某公司", payee_bank_code=bank.code, amount_fen=5000 * YUAN,
        purpose="货款", idempotency_key="k", at=now)
    assert instruction.hold.amount == 5000 * YUAN + 2 * YUAN  # the corporate fee up to ¥10,000


# --- reject, cancel, expire -------------------------------------------------------------------


@pytest.mark.req("FC-02")
def test_an_approver_rejects_with_a_reason(service, enterer, enterer2, checker, authoriser,
                                           payee, sign, now):
    instruction = enter(enterer, payee, at=now)
    with pytest.raises(ReasonRequired):
        approvals.reject(checker, instruction.pk, "  ", now)
    with pytest.raises(ApproverRoleRequired):
        approvals.reject(enterer2, instruction.pk, "不同意", now)
    approvals.reject(checker, instruction.pk, "收款人 账户有误", now)
    instruction.refresh_from_db()
    assert (instruction.status, instruction.ended_by, instruction.end_reason) == (
        InstructionStatus.REJECTED, checker.actor, "收款人 账户有误")
    event = InstructionEvent.objects.get(instruction=instruction, action="rejected")
    assert (event.actor, event.reason) == (checker.actor, "收款人 账户有误")
    assert AuditEvent.objects.filter(action="corporate.instruction.rejected").exists()
    with pytest.raises(InstructionStateRefused):
        approvals.approval_challenge(authoriser, instruction.pk, now)
    with pytest.raises(InstructionStateRefused):
        approvals.cancel(enterer, instruction.pk, "撤销", now)


@pytest.mark.req("FC-02")
def test_the_enterer_cancels_before_authorisation_only(service, enterer, authoriser, payee,
                                                       sign, now):
    open_one = enter(enterer, payee, at=now, key="a")
    with pytest.raises(NotYourInstruction):
        approvals.cancel(authoriser, open_one.pk, "撤销", now)
    with pytest.raises(ReasonRequired):
        approvals.cancel(enterer, open_one.pk, "", now)
    approvals.cancel(enterer, open_one.pk, "不再需要", now)
    assert Instruction.objects.get(pk=open_one.pk).status == InstructionStatus.CANCELLED
    draft = enter(enterer, payee, at=now, key="draft", draft=True)
    approvals.cancel(enterer, draft.pk, "草稿作废", now)
    assert _events(draft) == [("drafted", "DRAFT"), ("cancelled", "CANCELLED")]
    authorised = enter(enterer, payee, at=now, key="b")
    approve(authoriser, authorised, sign, now)
    with pytest.raises(InstructionStateRefused):
        approvals.cancel(enterer, authorised.pk, "太晚了", now)
    with pytest.raises(InstructionStateRefused):
        approvals.reject(authoriser, authorised.pk, "太晚了", now)


def test_instructions_expire_at_the_end_of_the_seventh_day_beijing_time():
    entered = datetime(2026, 3, 2, 15, 40, tzinfo=UTC)  # Monday 23:40 in Beijing
    assert approvals.expiry_of(entered) == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    after_midnight = datetime(2026, 3, 2, 16, 5, tzinfo=UTC)  # Tuesday 00:05 in Beijing
    assert approvals.expiry_of(after_midnight) == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


@pytest.mark.req("FC-02")
def test_open_instructions_expire_when_due_and_authorised_ones_do_not(service, enterer,
                                                                     authoriser, payee, sign,
                                                                     now):
    due = enter(enterer, payee, at=now, key="a")
    draft = enter(enterer, payee, at=now, key="b", draft=True)
    authorised = enter(enterer, payee, at=now, key="c")
    approve(authoriser, authorised, sign, now)
    assert approvals.expire_due(due.expires_at - timedelta(seconds=1)) == 0
    assert approvals.expire_due(due.expires_at) == 2
    assert approvals.expire_due(due.expires_at) == 0
    for instruction in (due, draft):
        instruction.refresh_from_db()
        assert (instruction.status, instruction.ended_by) == ("EXPIRED", approvals.SYSTEM)
        assert _events(instruction)[-1] == ("expired", "EXPIRED")
    assert Instruction.objects.get(pk=authorised.pk).status == InstructionStatus.AUTHORISED


def test_the_expiry_job_is_registered_and_runs(service, enterer, authoriser, payee, now):
    from procrastinate.contrib.django import app

    from wangyin.corporate import tasks

    assert "corporate.expire_instructions" in app.tasks
    assert any(p.periodic_id == "corporate-expire-instructions"
               for p in app.periodic_registry.periodic_tasks.values())
    instruction = enter(enterer, payee, at=now)
    with mock.patch("wangyin.core.clock.now", return_value=instruction.expires_at):
        assert tasks.expire_instructions(timestamp=0) == 1


# --- queues and history -----------------------------------------------------------------------


@pytest.mark.req("FC-02")
def test_each_approver_sees_only_what_they_can_act_on_now(service, admin, enterer, checker,
                                                          authoriser, payee, sign, now):
    set_policy(admin, sign, now, TierSpec(up_to_fen=1000 * YUAN),
               TierSpec(checkers=1, authorisers=1))
    small = enter(enterer, payee, at=now, key="small", fen=1000 * YUAN)
    large = enter(enterer, payee, at=now, key="large", fen=1000 * YUAN + 1)
    assert list(selectors.queue(enterer)) == []
    assert list(selectors.queue(admin)) == []
    assert list(selectors.queue(checker)) == [large]
    assert list(selectors.queue(authoriser)) == [small]
    approve(checker, large, sign, now)
    assert list(selectors.queue(checker)) == []
    assert list(selectors.queue(authoriser)) == [small, large]
    approve(authoriser, small, sign, now)
    assert list(selectors.queue(authoriser)) == [large]


@pytest.mark.req("FC-02")
def test_the_history_holds_every_step_its_approvals_and_the_risk_decision(
        service, admin, enterer, checker, authoriser, payee, sign, now):
    set_policy(admin, sign, now, *CHECK_THEN_AUTHORISE)
    instruction = enter(enterer, payee, at=now)
    approve(checker, instruction, sign, now)
    approve(authoriser, instruction, sign, now)
    seen = selectors.history(Instruction.objects.get(pk=instruction.pk))
    assert [(e.actor, e.action, e.status) for e in seen.events] == [
        (enterer.actor, "entered", "ENTERED"), (checker.actor, "checked", "CHECKED"),
        (authoriser.actor, "authorised", "AUTHORISED")]
    assert [(a.operator, a.step) for a in seen.approvals] == [(checker, "CHECK"),
                                                              (authoriser, "AUTHORISE")]
    assert all(a.signature.payload for a in seen.approvals)
    assert [d.action for d in seen.risk] == [instruction.risk_action]
    listed = selectors.instructions(service, selectors.InstructionFilters(
        statuses=("AUTHORISED",), payee="李四", min_fen=1, max_fen=instruction.amount_fen))
    assert list(listed) == [instruction]
    assert not selectors.instructions(service, selectors.InstructionFilters(
        statuses=("ENTERED",))).exists()
