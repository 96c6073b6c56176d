"""What corporate banking refuses, in words the company's operators and the bank's staff can
act on. Sections per module (counter, operators, sign-in, approvals): add yours under your
module's heading."""

from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class CorporateError(DomainError):
    code = "corporate_error"
    message = _("The corporate banking request could not be completed.")


# --- the counter (corporate.counter) -----------------------------------------------------


class ServiceNotFound(CorporateError):
    code = "corporate_service_not_found"
    http_status = 404
    message = _("The company has no corporate internet banking in use.")


class ServiceExists(CorporateError):
    code = "corporate_service_exists"
    http_status = 409
    message = _("This company already has corporate internet banking.")


class InvalidEdition(CorporateError):
    code = "corporate_invalid_edition"
    message = _("Choose the query edition or the standard edition.")


class NoAccountToLink(CorporateError):
    code = "corporate_no_account"
    message = _("Link at least one account of the company.")


class AccountNotLinkable(CorporateError):
    code = "corporate_account_not_linkable"
    message = _("Only the company's own accounts in normal use can be linked.")


class AccountAlreadyLinked(CorporateError):
    code = "corporate_account_already_linked"
    http_status = 409
    message = _("The account is already linked to the service.")


class AccountNotLinked(CorporateError):
    code = "corporate_account_not_linked"
    http_status = 404
    message = _("The account is not linked to the service.")


class LastAccount(CorporateError):
    code = "corporate_last_account"
    http_status = 409
    message = _("The service needs at least one linked account; cancel the service instead.")


class InvalidOperatorCode(CorporateError):
    code = "corporate_invalid_operator_code"
    message = _("An operator code is 2 to 20 letters, digits or underscores.")


class OperatorCodeTaken(CorporateError):
    code = "corporate_operator_code_taken"
    http_status = 409
    message = _("This operator code is already used in the company's service.")


class OperatorNotFound(CorporateError):
    code = "corporate_operator_not_found"
    http_status = 404
    message = _("No such operator.")


class QueryEditionNoPayments(CorporateError):
    code = "corporate_query_edition"
    http_status = 403
    message = _("The query edition has one operator, the administrator, and makes no "
                "payments.")


class PaymentsNotReady(CorporateError):
    code = "corporate_payments_not_ready"
    http_status = 409
    message = _("Payments need an active operator who enters them and another who "
                "authorises them. The administrator assigns these roles.")


# --- operators (corporate.operators) -----------------------------------------------------


class NotAdministrator(CorporateError):
    code = "corporate_not_administrator"
    http_status = 403
    message = _("Only the company's administrator manages operators.")


class ChangePasswordFirst(CorporateError):
    code = "corporate_change_password_first"
    http_status = 403
    message = _("Change your initial password first.")


class NotOnYourself(CorporateError):
    code = "corporate_not_on_yourself"
    http_status = 403
    message = _("The administrator cannot do this to their own login. It is done at a bank "
                "counter.")


class AdministratorHoldsNoRoles(CorporateError):
    code = "corporate_administrator_no_roles"
    http_status = 403
    message = _("The administrator cannot enter, check or authorise payments.")


class InvalidRole(CorporateError):
    code = "corporate_invalid_role"
    message = _("Choose roles among entering, checking and authorising.")


class OperatorExists(CorporateError):
    code = "corporate_operator_exists"
    http_status = 409
    message = _("This person is already an operator of the company.")


class OperatorNameMismatch(CorporateError):
    code = "corporate_operator_name_mismatch"
    message = _("The name does not match the identity document the bank holds.")


class OperatorMobileMismatch(CorporateError):
    code = "corporate_operator_mobile_mismatch"
    message = _("The mobile number differs from the one the bank holds for this person. "
                "The person can change it at a bank counter with their ID.")


class BirthDateRequired(CorporateError):
    code = "corporate_birth_date_required"
    message = _("Give the birth date for this kind of identity document.")


class OperatorStateRefused(CorporateError):
    code = "corporate_operator_state"
    http_status = 409
    message = _("This cannot be done while the operator is in this state.")


class ScopeNotLinked(CorporateError):
    code = "corporate_scope_not_linked"
    message = _("An operator can only be given accounts linked to the service.")


class InvalidScope(CorporateError):
    code = "corporate_invalid_scope"
    message = _("Give each account once; limits are positive amounts and the daily limit "
                "is not below the per-payment limit.")


# --- sign-in (corporate.signin) ----------------------------------------------------------


class SigninFailed(CorporateError):
    """Every refused sign-in whatever the reason — unknown service number or operator code,
    wrong password, a disabled or removed operator, a cancelled service (AU-09); the
    operator's login history and the audit say which."""

    code = "corporate_signin_failed"
    http_status = 401
    message = _("The service number, operator code or password is incorrect, or sign-in is "
                "not available. Please try again or contact your administrator.")


class SigninInterrupted(CorporateError):
    """The second step of a sign-in without its first, from another device, or too late."""

    code = "corporate_signin_interrupted"
    http_status = 401
    message = _("The sign-in was interrupted or took too long. Please start again.")


class SigninFactorFailed(CorporateError):
    code = "corporate_signin_factor_failed"
    http_status = 401
    message = _("The USB-Key signature or the SMS code was not accepted. Please try again.")


class UsbKeyRequired(CorporateError):
    """An operator signed in with an SMS code (no USB-Key yet) may only download the key's
    certificate (SE-09)."""

    code = "corporate_usb_key_required"
    http_status = 403
    message = _("Sign in with your USB-Key to use corporate internet banking.")


# --- approvals (corporate.approvals) -----------------------------------------------------


class NoPolicy(CorporateError):
    code = "corporate_no_policy"
    http_status = 409
    message = _("The company has no approval policy in force. Please contact the bank.")


class PolicyAdministratorOnly(CorporateError):
    code = "corporate_policy_admin_only"
    http_status = 403
    message = _("Only the company's administrator changes the approval policy.")


class InvalidPolicy(CorporateError):
    code = "corporate_invalid_policy"
    message = _("The approval policy is not valid.")


class PolicyNoCatchAll(InvalidPolicy):
    code = "corporate_policy_no_catch_all"
    message = _("The policy needs a tier for any account and any amount, so that every "
                "payment has one.")


class PolicyTierInvalid(InvalidPolicy):
    code = "corporate_policy_tier_invalid"
    message = _("Each tier needs 0 to 5 checks and 1 to 5 authorisations; its upper amount, "
                "if any, is a positive amount.")


class PolicyTierDuplicate(InvalidPolicy):
    code = "corporate_policy_tier_duplicate"
    message = _("Two tiers have the same account and the same upper amount.")


class PolicyTierAccount(InvalidPolicy):
    code = "corporate_policy_tier_account"
    message = _("A tier can only name an account linked to the service.")


class PolicyTierOrder(InvalidPolicy):
    code = "corporate_policy_tier_order"
    message = _("A larger amount cannot need fewer checks or authorisations than a smaller "
                "amount from the same account.")


class PolicyTooManyTiers(InvalidPolicy):
    code = "corporate_policy_too_many_tiers"
    message = _("A policy has at most 20 tiers.")


class OperatorNotActive(CorporateError):
    code = "corporate_operator_not_active"
    http_status = 403
    message = _("Your operator login is not in use. Please contact your administrator.")


class EnterRoleRequired(CorporateError):
    code = "corporate_enter_role_required"
    http_status = 403
    message = _("Entering payments needs the entering role. Your administrator assigns "
                "roles.")


class CheckRoleRequired(CorporateError):
    code = "corporate_check_role_required"
    http_status = 403
    message = _("This instruction awaits a check, and your roles do not include checking.")


class AuthoriseRoleRequired(CorporateError):
    code = "corporate_authorise_role_required"
    http_status = 403
    message = _("This instruction awaits authorisation, and your roles do not include "
                "authorising.")


class ApproverRoleRequired(CorporateError):
    code = "corporate_approver_role_required"
    http_status = 403
    message = _("Only an operator who checks or authorises payments can reject one.")


class ChecksFirst(CorporateError):
    code = "corporate_checks_first"
    http_status = 409
    message = _("This instruction must be checked before it can be authorised.")


class AccountNotInScope(CorporateError):
    code = "corporate_account_not_in_scope"
    http_status = 403
    message = _("This account is not among the accounts you may use.")


class OperatorPaymentLimit(CorporateError):
    code = "corporate_operator_payment_limit"
    http_status = 403
    message = _("The amount is above your own limit for one payment from this account.")


class OperatorDailyLimit(CorporateError):
    code = "corporate_operator_daily_limit"
    http_status = 403
    message = _("The amount is above what is left of your own daily limit for this "
                "account.")


class AmountAboveMaximum(CorporateError):
    code = "corporate_amount_above_maximum"
    message = _("The amount is above the largest single payment the bank makes online.")


class PurposeRequired(CorporateError):
    code = "corporate_purpose_required"
    message = _("Enter what the payment is for (up to 60 characters).")


class PayeeNameTooLong(CorporateError):
    code = "corporate_payee_name_too_long"
    message = _("The payee's name is at most 60 characters.")


class InstructionNotFound(CorporateError):
    code = "corporate_instruction_not_found"
    http_status = 404
    message = _("No such payment instruction.")


class InstructionKeyReused(CorporateError):
    code = "corporate_instruction_key_reused"
    http_status = 409
    message = _("This form was already used for a different payment. Start a new payment.")


class InstructionStateRefused(CorporateError):
    code = "corporate_instruction_state"
    http_status = 409
    message = _("The instruction is no longer in a state that allows this.")


class NotYourInstruction(CorporateError):
    code = "corporate_not_your_instruction"
    http_status = 403
    message = _("Only the operator who entered the instruction can do this.")


class OwnInstruction(CorporateError):
    code = "corporate_own_instruction"
    http_status = 403
    message = _("You entered this instruction: another operator must check or authorise "
                "it.")


class AlreadyApproved(CorporateError):
    code = "corporate_already_approved"
    http_status = 409
    message = _("You have already approved this instruction; the next approval must come "
                "from another operator.")


class ReasonRequired(CorporateError):
    code = "corporate_reason_required"
    message = _("Give the reason (up to 200 characters).")


class ApprovalKeyRefused(CorporateError):
    code = "corporate_approval_key_refused"
    http_status = 403
    message = _("The signature was not made with your USB-Key for this company.")


class InstructionAltered(CorporateError):
    code = "corporate_instruction_altered"
    http_status = 409
    message = _("The instruction differs from what its approvers signed. It will not be "
                "paid; please contact the bank.")


class InstructionNotAuthorised(CorporateError):
    code = "corporate_instruction_not_authorised"
    http_status = 409
    message = _("The instruction has not been fully authorised and cannot be paid.")
