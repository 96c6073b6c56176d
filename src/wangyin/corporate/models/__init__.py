"""Corporate internet banking (CH-02, FC-01…FC-08): a company's service opened at the
counter, its operators and their roles, scopes and limits, the approval policy, and the
payment instructions that move draft → entered → checked → authorised → executed.

An operator is a natural person the bank knows (``customers.Person``: identity checked,
mobile number reserved) acting for one company; the same person may be an operator of
another company and a personal customer too. Operators sign in with the service number,
their operator code, a password and their USB-Key — a key bound to them *for this
company* (``authn.UsbKey.company``), never their personal one. See docs/corporate.md."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Edition(models.TextChoices):
    QUERY = "QUERY", _("Query edition (one operator, queries only)")
    STANDARD = "STANDARD", _("Standard edition (payments with approvals)")


class ServiceStatus(models.TextChoices):
    ACTIVE = "ACTIVE", pgettext_lazy("corporate service", "Active")
    CANCELLED = "CANCELLED", pgettext_lazy("corporate service", "Cancelled")


class CorporateService(models.Model):
    """A company's internet banking, opened and cancelled only at the counter (ON-04)."""

    company = models.ForeignKey("customers.Company", on_delete=models.PROTECT,
                                related_name="banking_services")
    # What operators type to sign in (企业客户号): ten digits, not the credit code.
    number = models.CharField(max_length=10, unique=True)
    edition = models.CharField(max_length=8, choices=Edition.choices)
    status = models.CharField(max_length=9, choices=ServiceStatus.choices,
                              default=ServiceStatus.ACTIVE)
    # Reserve the money when an instruction is entered (a hold until it executes or ends);
    # by default funds are checked only when it executes.
    reserve_on_entry = models.BooleanField(default=False)
    opened_at = models.DateTimeField()
    opened_by = models.CharField(max_length=40)  # "staff:<username>"
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company"], condition=Q(status="ACTIVE"),
                                    name="corporate_one_active_service_per_company"),
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{10}$"),
                                   name="corporate_service_number_digits"),
            models.CheckConstraint(condition=Q(status="ACTIVE")
                                   | Q(cancelled_at__isnull=False),
                                   name="corporate_service_cancelled_has_time"),
        ]

    def __str__(self) -> str:
        return f"corporate_service:{self.pk}"


class ServiceAccount(models.Model):
    """An account of the company reachable through the service (the settlement accounts
    linked at the counter; more linked online with dual approval, ON-05)."""

    service = models.ForeignKey(CorporateService, on_delete=models.PROTECT,
                                related_name="accounts")
    account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                related_name="corporate_links")
    linked_at = models.DateTimeField()
    linked_by = models.CharField(max_length=40)
    unlinked_at = models.DateTimeField(null=True, blank=True)
    unlinked_by = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "account"],
                                    condition=Q(unlinked_at__isnull=True),
                                    name="corporate_account_linked_once"),
        ]


class Role(models.TextChoices):
    ENTER = "ENTER", _("Entering")  # 录入
    CHECK = "CHECK", _("Checking")  # 复核
    AUTHORISE = "AUTHORISE", _("Authorising")  # 授权


class OperatorStatus(models.TextChoices):
    ACTIVE = "ACTIVE", pgettext_lazy("operator", "Active")
    DISABLED = "DISABLED", pgettext_lazy("operator", "Disabled")
    REMOVED = "REMOVED", pgettext_lazy("operator", "Removed")


class Operator(models.Model):
    """A person acting for the company in its internet banking. The administrator manages
    the other operators and the approval policy and holds no payment role (FC-02)."""

    service = models.ForeignKey(CorporateService, on_delete=models.PROTECT,
                                related_name="operators")
    person = models.ForeignKey("customers.Person", on_delete=models.PROTECT,
                               related_name="corporate_operators")
    code = models.CharField(max_length=20)  # typed at sign-in with the service number
    is_admin = models.BooleanField(default=False)
    roles = ArrayField(models.CharField(max_length=9, choices=Role.choices), default=list,
                       blank=True)
    status = models.CharField(max_length=8, choices=OperatorStatus.choices,
                              default=OperatorStatus.ACTIVE)
    password = models.CharField(max_length=200)  # a Django (Argon2) password hash
    must_change_password = models.BooleanField(default=True)
    password_changed_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    # The anti-phishing phrase (预留信息, AU-13) shown at sign-in before the password; empty:
    # a stable phrase only the bank can compute stands in (``corporate.signin``).
    reserved_message = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=40)  # staff at the counter, or the admin
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(F("service"), Lower("code"),
                                    name="corporate_operator_code_unique"),
            models.UniqueConstraint(fields=["service", "person"],
                                    condition=~Q(status="REMOVED"),
                                    name="corporate_one_operator_per_person"),
            models.UniqueConstraint(fields=["service"],
                                    condition=Q(is_admin=True) & ~Q(status="REMOVED"),
                                    name="corporate_one_administrator"),
            models.CheckConstraint(condition=Q(is_admin=False) | Q(roles=[]),
                                   name="corporate_administrator_cannot_pay"),
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Za-z0-9_]{2,20}$"),
                                   name="corporate_operator_code_format"),
            models.CheckConstraint(condition=~Q(status="REMOVED") | Q(ended_at__isnull=False),
                                   name="corporate_operator_removed_has_time"),
        ]

    def __str__(self) -> str:
        return f"operator:{self.pk}"

    @property
    def actor(self) -> str:
        return f"operator:{self.pk}"


class OperatorScope(models.Model):
    """An account the operator may see and use, with the operator's own limits on it
    (None: no limit of the operator's; the approval policy and the bank's limits apply)."""

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="scopes")
    account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                related_name="+")
    per_payment_fen = models.BigIntegerField(null=True, blank=True)
    per_day_fen = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "account"],
                                    name="corporate_scope_once"),
            models.CheckConstraint(condition=Q(per_payment_fen__isnull=True)
                                   | Q(per_payment_fen__gt=0),
                                   name="corporate_scope_payment_limit_positive"),
            models.CheckConstraint(condition=Q(per_day_fen__isnull=True) | Q(per_day_fen__gt=0),
                                   name="corporate_scope_day_limit_positive"),
        ]


class PolicyStatus(models.TextChoices):
    LIVE = "LIVE", pgettext_lazy("approval policy", "In force")
    RETIRED = "RETIRED", pgettext_lazy("approval policy", "Replaced")


class ApprovalPolicy(models.Model):
    """Who must approve a payment, by amount tier and account (FC-02). A change is a new
    version, signed by the administrator's USB-Key (the signature is kept) and audited;
    an instruction keeps the tier it was entered under."""

    service = models.ForeignKey(CorporateService, on_delete=models.PROTECT,
                                related_name="policies")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=7, choices=PolicyStatus.choices)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=40)  # the administrator, or staff at opening
    signature = models.ForeignKey("authn.Signature", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")  # None: the opening default

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "version"],
                                    name="corporate_policy_version_once"),
            models.UniqueConstraint(fields=["service"], condition=Q(status="LIVE"),
                                    name="corporate_one_live_policy"),
        ]


class ApprovalTier(models.Model):
    """Payments up to ``up_to_fen`` (None: any amount above the lower tiers) from
    ``account`` (None: any account) need ``checkers`` checks and ``authorisers``
    authorisations, each by a different operator who did not enter it."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="tiers")
    account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                null=True, blank=True, related_name="+")
    up_to_fen = models.BigIntegerField(null=True, blank=True)
    checkers = models.PositiveSmallIntegerField(default=0)
    authorisers = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(authorisers__gte=1, authorisers__lte=5,
                                               checkers__lte=5),
                                   name="corporate_tier_approvers"),
            models.CheckConstraint(condition=Q(up_to_fen__isnull=True) | Q(up_to_fen__gt=0),
                                   name="corporate_tier_bound_positive"),
            models.UniqueConstraint(fields=["policy", "account", "up_to_fen"],
                                    nulls_distinct=False, name="corporate_tier_once"),
        ]


class InstructionStatus(models.TextChoices):
    DRAFT = "DRAFT", pgettext_lazy("instruction", "Draft")
    ENTERED = "ENTERED", pgettext_lazy("instruction", "Entered, awaiting check")
    CHECKED = "CHECKED", pgettext_lazy("instruction", "Checked, awaiting authorisation")
    AUTHORISED = "AUTHORISED", pgettext_lazy("instruction", "Authorised, being paid")
    # Risk control said "review" when it was to be paid: the risk desk releases it (it is
    # paid as signed) or refuses it (``corporate.holds``).
    HELD = "HELD", pgettext_lazy("instruction", "Held for review")
    EXECUTED = "EXECUTED", pgettext_lazy("instruction", "Paid")
    FAILED = "FAILED", pgettext_lazy("instruction", "Could not be paid")
    REJECTED = "REJECTED", pgettext_lazy("instruction", "Rejected")
    EXPIRED = "EXPIRED", pgettext_lazy("instruction", "Expired")
    CANCELLED = "CANCELLED", pgettext_lazy("instruction", "Cancelled")


OPEN_STATUSES = (InstructionStatus.DRAFT, InstructionStatus.ENTERED, InstructionStatus.CHECKED)
FINAL_STATUSES = (InstructionStatus.EXECUTED, InstructionStatus.FAILED,
                  InstructionStatus.REJECTED, InstructionStatus.EXPIRED,
                  InstructionStatus.CANCELLED)


class InstructionKind(models.TextChoices):
    SINGLE = "SINGLE", _("Payment")
    BATCH = "BATCH", _("Batch payment")


class Instruction(models.Model):
    """A payment the company's operators enter and approve (FC-02). What every approver
    signs is ``canonical`` (the key data as canonical JSON; a batch: its file digest and
    totals) — ``digest`` is its SHA-256 — and execution pays only if that is still what
    every approval signed (TX-06)."""

    service = models.ForeignKey(CorporateService, on_delete=models.PROTECT,
                                related_name="instructions")
    kind = models.CharField(max_length=6, choices=InstructionKind.choices,
                            default=InstructionKind.SINGLE)
    debit_account = models.ForeignKey("customers.CustomerAccount", on_delete=models.PROTECT,
                                      related_name="+")
    payee_account = models.CharField(max_length=40, blank=True)  # a batch: its rows
    payee_name = models.CharField(max_length=60, blank=True)
    payee_bank = models.ForeignKey("payments.Bank", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")  # None: this bank
    amount_fen = models.BigIntegerField()  # a batch: its total
    currency = models.CharField(max_length=3, default="CNY")
    purpose = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=10, choices=InstructionStatus.choices)
    # The tier it was entered under (a later policy change does not move it).
    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.PROTECT, null=True,
                               blank=True, related_name="+")
    checkers_required = models.PositiveSmallIntegerField(default=0)
    authorisers_required = models.PositiveSmallIntegerField(default=1)
    canonical = models.TextField(blank=True)
    digest = models.CharField(max_length=64, blank=True)
    entered_by = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=64)  # the entering page's, once
    expires_at = models.DateTimeField(null=True, blank=True)
    hold = models.OneToOneField("ledger.Hold", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")  # "reserve on entry"
    risk_action = models.CharField(max_length=8, blank=True)
    risk_reasons = models.JSONField(default=list, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=40, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    # The payment that paid a single instruction (``corporate.execution``).
    transfer = models.OneToOneField("payments.Transfer", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+")
    # Held for review (``corporate.holds``): the risk case its decision was filed in, whose
    # closing releases or refuses it; once released, who released it and when (execution
    # then pays it without asking the engine again).
    held_case = models.ForeignKey("risk.Case", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    review_released_at = models.DateTimeField(null=True, blank=True)
    review_released_by = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "idempotency_key"],
                                    name="corporate_instruction_once_per_key"),
            # Only a paid single payment links its transfer (a batch's rows have theirs).
            models.CheckConstraint(condition=Q(transfer__isnull=True)
                                   | Q(status="EXECUTED", kind="SINGLE"),
                                   name="corporate_instruction_transfer_when_paid"),
            # A batch not yet entered may have no payable row left (all in error, or
            # removed): the file and its errors stay to be seen; entering needs a total.
            models.CheckConstraint(condition=Q(amount_fen__gt=0)
                                   | Q(kind="BATCH", amount_fen=0, entered_at__isnull=True),
                                   name="corporate_instruction_amount_positive"),
            models.CheckConstraint(condition=~Q(status="HELD") | Q(held_case__isnull=False),
                                   name="corporate_instruction_held_in_a_case"),
            models.CheckConstraint(condition=Q(status="DRAFT") | ~Q(digest=""),
                                   name="corporate_instruction_entered_has_digest"),
            models.CheckConstraint(
                condition=~Q(status__in=["EXECUTED", "FAILED", "REJECTED", "EXPIRED",
                                         "CANCELLED"]) | Q(ended_at__isnull=False),
                name="corporate_instruction_final_has_time"),
        ]
        indexes = [models.Index(fields=["service", "status", "-created_at"],
                                name="corporate_instruction_queue")]

    def __str__(self) -> str:
        return f"instruction:{self.pk}"


class Step(models.TextChoices):
    CHECK = "CHECK", _("Check")
    AUTHORISE = "AUTHORISE", _("Authorisation")


class Approval(models.Model):
    """One operator's check or authorisation: their USB-Key signature over the
    instruction's canonical data and a server random (TX-02, TX-04). Never by the operator
    who entered it, once per operator per instruction."""

    instruction = models.ForeignKey(Instruction, on_delete=models.PROTECT,
                                    related_name="approvals")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    entered_by = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    step = models.CharField(max_length=9, choices=Step.choices)
    digest = models.CharField(max_length=64)  # the instruction digest the signature covers
    signature = models.OneToOneField("authn.Signature", on_delete=models.PROTECT,
                                     related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instruction", "operator"],
                                    name="corporate_one_approval_per_operator"),
            models.CheckConstraint(condition=~Q(operator=F("entered_by")),
                                   name="corporate_never_approve_own_instruction"),
        ]


class InstructionEvent(models.Model):
    """The instruction's history: who did what and why, at each step (FC-02)."""

    instruction = models.ForeignKey(Instruction, on_delete=models.PROTECT,
                                    related_name="events")
    at = models.DateTimeField()
    actor = models.CharField(max_length=40)  # "operator:<id>", "system", "staff:<name>"
    action = models.CharField(max_length=20)  # entered, checked, authorised, rejected, …
    status = models.CharField(max_length=10, choices=InstructionStatus.choices)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "pk"]


# --- sign-in (corporate.signin) ----------------------------------------------------------


class SigninOutcome(models.TextChoices):
    PASSWORD_OK = "PASSWORD_OK", _("Password right, second step not done")
    SUCCESS = "SUCCESS", _("Signed in")
    BAD_PASSWORD = "BAD_PASSWORD", _("Wrong password")
    BAD_FACTOR = "BAD_FACTOR", _("USB-Key signature or SMS code refused")
    LOCKED = "LOCKED", _("Login locked")
    REFUSED = "REFUSED", _("Refused by risk control")


class SigninFactor(models.TextChoices):
    USBKEY = "USBKEY", _("USB-Key")
    SMS = "SMS", _("SMS code (no USB-Key yet)")


class OperatorLogin(models.Model):
    """One sign-in attempt of a known operator (AU-15); unknown service numbers and codes
    are not stored. A right password leaves a PASSWORD_OK row: the ticket the second step
    (the USB-Key's signature, or an SMS code for an operator without a key) completes
    once, from the same device, within minutes."""

    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="logins")
    outcome = models.CharField(max_length=12, choices=SigninOutcome.choices)
    factor = models.CharField(max_length=6, choices=SigninFactor.choices, blank=True)
    challenge = models.ForeignKey("authn.AuthChallenge", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    device = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["operator", "-at"], name="corporate_login_recent")]


class OperatorSession(models.Model):
    """One signed-in session of an operator, kept server-side like a customer's (SE-01…
    SE-05, AU-17): one live session per operator. ``factor`` is how it was opened: an SMS
    session (an operator without a USB-Key) can only download the key's certificate."""

    sid = models.CharField(max_length=43, unique=True)
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="sessions")
    factor = models.CharField(max_length=6, choices=SigninFactor.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    device = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=8, blank=True)  # identity.models.SessionEnd

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator"], condition=Q(ended_at__isnull=True),
                                    name="corporate_one_live_session_per_operator"),
        ]


# The parts with models of their own (each module's models use this module's by name).
from wangyin.corporate.models import batches, groups, reconciliation  # noqa: E402,F401
