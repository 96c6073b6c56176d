"""What risk control refuses — rule-set changes and case work — in words staff and customers
can act on."""

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class RiskError(DomainError):
    code = "risk_error"
    message = _("The risk control request could not be completed.")


class ReasonRequired(RiskError):
    code = "risk_reason_required"
    message = _("Give a reason.")


# --- rule sets (risk.rulesets) ---------------------------------------------------------


class RuleSetError(RiskError):
    code = "risk_ruleset_error"
    message = _("The rule set could not be changed.")


class NotADraft(RuleSetError):
    code = "risk_ruleset_not_a_draft"
    http_status = 409
    message = _("Only a draft can be changed.")


class NotTheMaker(RuleSetError):
    code = "risk_ruleset_not_the_maker"
    http_status = 403
    message = _("Only the staff member who made this draft can change, submit or discard it.")


class DraftAlreadyOpen(RuleSetError):
    code = "risk_ruleset_draft_open"
    http_status = 409
    message = _("Another version is already being drafted or awaits approval: finish it "
                "first.")


class RuleInvalid(RuleSetError):
    code = "risk_rule_invalid"
    message = _("The rule is not valid.")


class RuleExpressionInvalid(RuleSetError):
    """CEL's own message (position and what is wrong) follows ours."""

    code = "risk_rule_expression_invalid"
    message = _("The rule's expression cannot be used as a rule.")

    def __init__(self, detail: str = "", **kwargs) -> None:
        super().__init__(format_lazy("{} {}", self.message, detail) if detail else None,
                         **kwargs)
        self.detail = detail


class RuleNotFound(RuleSetError):
    code = "risk_rule_not_found"
    http_status = 404
    message = _("There is no such rule in this version.")


class RuleSetEmpty(RuleSetError):
    code = "risk_ruleset_empty"
    message = _("A rule set needs at least one rule.")


class NotPending(RuleSetError):
    code = "risk_ruleset_not_pending"
    http_status = 409
    message = _("Only a version awaiting approval can be approved or rejected.")


class SelfApproval(RuleSetError):
    code = "risk_ruleset_self_approval"
    http_status = 403
    message = _("You made this version: another risk manager approves or rejects it.")


class NotAnApprover(RuleSetError):
    code = "risk_ruleset_not_an_approver"
    http_status = 403
    message = _("Only a head-office risk manager approves or rejects a rule set.")


class DraftOutdated(RuleSetError):
    code = "risk_ruleset_draft_outdated"
    http_status = 409
    message = _("Another version went live after this draft was made: make a new draft from "
                "the live version.")


class BacktestPeriodInvalid(RuleSetError):
    code = "risk_backtest_period_invalid"
    message = _("Choose a period whose start is before its end, at most 92 days long.")


# --- cases (risk.cases) ----------------------------------------------------------------


class CaseError(RiskError):
    code = "risk_case_error"
    message = _("The case could not be changed.")


class CaseNotFound(CaseError):
    """No such case, or not one this desk may see (a head-office case for a branch
    officer, another customer's case for a customer): it looks like no case at all."""

    code = "risk_case_not_found"
    http_status = 404
    message = _("There is no such case.")


class CaseClosed(CaseError):
    code = "risk_case_closed"
    http_status = 409
    message = _("This case is closed: only its fraud loss and compensation can still be "
                "recorded.")


class NotAtBranch(CaseError):
    code = "risk_case_not_at_branch"
    http_status = 409
    message = _("Only a branch case can be escalated; this one is already at head office.")


class NoCustomer(CaseError):
    code = "risk_case_no_customer"
    http_status = 409
    message = _("This case names no customer (only an IP address), so there is nobody to "
                "call or to stop payments for.")


class CallbackRequired(CaseError):
    code = "risk_case_callback_required"
    http_status = 409
    message = _("Stop-payment needs a recorded call-back that reached the customer on their "
                "reserved phone number first.")


class MoneyStillHeld(CaseError):
    code = "risk_case_money_held"
    http_status = 409
    message = _("This case still holds the customer's money: close it as released, "
                "rejected, stop-payment or reported.")


class UnknownOutcome(CaseError):
    code = "risk_case_unknown_outcome"
    message = _("Choose an outcome.")


class LossInvalid(CaseError):
    code = "risk_case_loss_invalid"
    message = _("Enter the fraud loss as an amount above zero.")


class NoLossRecorded(CaseError):
    code = "risk_case_no_loss"
    http_status = 409
    message = _("Record the fraud loss before deciding on compensation.")


class CompensationDecided(CaseError):
    code = "risk_case_compensation_decided"
    http_status = 409
    message = _("The compensation decision is already recorded and cannot be changed.")


class CompensationInvalid(CaseError):
    code = "risk_case_compensation_invalid"
    message = _("Compensation by the bank or insurance is an amount above zero and at most "
                "the recorded loss; a refusal is zero.")


class SameAsLossRecorder(CaseError):
    """Maker–checker (RK-17): who recorded the loss does not decide its compensation."""

    code = "risk_case_checker_is_maker"
    http_status = 403
    message = _("You recorded this loss: another risk staff member decides the "
                "compensation.")


class NothingToConfirm(CaseError):
    code = "risk_case_nothing_to_confirm"
    http_status = 409
    message = _("There is nothing waiting for your confirmation here: it was answered "
                "already or the bank has finished reviewing it.")
