"""Reads of corporate banking for the channels: approvers' queues, an instruction's full
history (events, approvals with their signatures, the risk decisions), instruction lists
and the approval policy in force."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet

from wangyin.corporate.models import (
    ApprovalPolicy,
    CorporateService,
    Instruction,
    InstructionEvent,
    InstructionStatus,
    Operator,
    OperatorScope,
    OperatorStatus,
    PolicyStatus,
    Role,
    ServiceAccount,
    ServiceStatus,
    Step,
)
from wangyin.corporate.models.batches import BatchRow
from wangyin.risk.models import Decision

AWAITING = (InstructionStatus.ENTERED, InstructionStatus.CHECKED)


def _instructions() -> QuerySet[Instruction]:
    return Instruction.objects.select_related("debit_account", "payee_bank", "entered_by",
                                              "service")


def queue(operator: Operator) -> QuerySet[Instruction]:
    """What the operator can act on now, oldest first: instructions of their company
    awaiting the step their roles allow (a check while checks are missing, else an
    authorisation), from accounts in their scope, that they (as a person) neither entered
    nor approved already. Empty for the administrator and for an operator not in use."""
    operator = (Operator.objects.select_related("service").filter(pk=operator.pk).first())
    if (operator is None or operator.is_admin or operator.status != OperatorStatus.ACTIVE
            or operator.service.status != ServiceStatus.ACTIVE):
        return Instruction.objects.none()
    roles = set(operator.roles)
    step = Q(pk__in=[])
    if Role.CHECK in roles:
        step |= Q(checks__lt=F("checkers_required"))
    if Role.AUTHORISE in roles:
        step |= Q(checks__gte=F("checkers_required"))
    linked = ServiceAccount.objects.filter(service_id=operator.service_id,
                                           unlinked_at__isnull=True).values("account_id")
    scope = (OperatorScope.objects.filter(operator=operator, account_id__in=linked)
             .values("account_id"))
    return (_instructions()
            .filter(service_id=operator.service_id, status__in=AWAITING,
                    debit_account_id__in=scope)
            .exclude(entered_by__person_id=operator.person_id)
            .exclude(pk__in=Instruction.objects.filter(
                approvals__operator__person_id=operator.person_id).values("pk"))
            .annotate(checks=Count("approvals", filter=Q(approvals__step=Step.CHECK)))
            .filter(step)
            .order_by("entered_at", "pk"))


@dataclass(frozen=True)
class History:
    """Everything that happened to an instruction, for approvers and staff."""

    instruction: Instruction
    events: list[InstructionEvent]  # who did what and why, in order
    approvals: list  # corporate.Approval, with operator and kept signature, in order
    risk: list[Decision]  # the risk engine's decisions on it (at entry; later execution)


def history(instruction: Instruction) -> History:
    return History(
        instruction=instruction,
        events=list(instruction.events.order_by("at", "pk")),
        approvals=list(instruction.approvals
                       .select_related("operator__person", "signature__certificate")
                       .order_by("at", "pk")),
        risk=list(Decision.objects.filter(ref=f"corporate:{instruction.pk}")
                  .order_by("at", "pk")))


@dataclass(frozen=True)
class InstructionFilters:
    """What an instruction list can be narrowed to (None: no condition)."""

    statuses: tuple[str, ...] | None = None
    debit_account_id: int | None = None
    entered_by_id: int | None = None
    created_from: datetime | None = None  # inclusive
    created_until: datetime | None = None  # exclusive
    min_fen: int | None = None
    max_fen: int | None = None
    payee: str = ""  # part of the payee's name or account number


def instructions(service: CorporateService,
                 filters: InstructionFilters | None = None) -> QuerySet[Instruction]:
    """The service's instructions, newest first (the queue index)."""
    filters = filters or InstructionFilters()
    rows = _instructions().filter(service=service)
    if filters.statuses:
        rows = rows.filter(status__in=filters.statuses)
    if filters.debit_account_id is not None:
        rows = rows.filter(debit_account_id=filters.debit_account_id)
    if filters.entered_by_id is not None:
        rows = rows.filter(entered_by_id=filters.entered_by_id)
    if filters.created_from is not None:
        rows = rows.filter(created_at__gte=filters.created_from)
    if filters.created_until is not None:
        rows = rows.filter(created_at__lt=filters.created_until)
    if filters.min_fen is not None:
        rows = rows.filter(amount_fen__gte=filters.min_fen)
    if filters.max_fen is not None:
        rows = rows.filter(amount_fen__lte=filters.max_fen)
    if filters.payee.strip():
        text = filters.payee.strip()
        rows = rows.filter(Q(payee_name__icontains=text) | Q(payee_account__contains=text))
    return rows.order_by("-created_at", "-pk")


def policy_in_force(service: CorporateService) -> ApprovalPolicy | None:
    """The live policy with its tiers prefetched (any-account tiers first, by amount)."""
    return (ApprovalPolicy.objects.filter(service=service, status=PolicyStatus.LIVE)
            .prefetch_related("tiers").first())


def policies(service: CorporateService) -> QuerySet[ApprovalPolicy]:
    """Every version of the service's policy, newest first, with who signed it."""
    return (ApprovalPolicy.objects.filter(service=service)
            .select_related("signature").prefetch_related("tiers").order_by("-version"))


def batch_rows(instruction: Instruction, *, status: str | Iterable[str] | None = None,
               ) -> QuerySet[BatchRow]:
    """A batch's rows in the file's order (line), with their bank and transfer; only
    those in ``status`` (one or several ``RowStatus``) when given."""
    rows = (BatchRow.objects.filter(batch__instruction_id=instruction.pk)
            .select_related("payee_bank", "transfer").order_by("line"))
    if status is not None:
        rows = rows.filter(status__in=[status] if isinstance(status, str) else list(status))
    return rows
