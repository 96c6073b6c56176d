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


# --- reconciliation (corporate.reconciliation) -------------------------------------------


class StatementNotFound(CorporateError):
    code = "corporate_statement_not_found"
    http_status = 404
    message = _("No such balance statement.")


class ReconcileRoleRequired(CorporateError):
    code = "corporate_reconcile_role_required"
    http_status = 403
    message = _("Balance statements are answered by an operator who authorises payments. "
                "Your administrator assigns roles.")


class StatementAnswered(CorporateError):
    code = "corporate_statement_answered"
    http_status = 409
    message = _("This balance statement has already been answered.")


class CompanyBalanceRequired(CorporateError):
    code = "corporate_company_balance_required"
    message = _("Give the balance of the account in your company's books.")


class DifferencesRequired(CorporateError):
    code = "corporate_differences_required"
    message = _("When the balances do not agree, list the items that explain the difference "
                "(at least one, at most 20).")


class DifferenceInvalid(CorporateError):
    code = "corporate_difference_invalid"
    message = _("Each difference needs its kind, its date, a positive amount and a "
                "description of up to 100 characters.")


class DifferencesOnAgreement(CorporateError):
    code = "corporate_differences_on_agreement"
    message = _("Balances that agree have no differences: choose 'The balances do not agree' "
                "to report them.")


class StatementNotDisputed(CorporateError):
    code = "corporate_statement_not_disputed"
    http_status = 409
    message = _("Only a statement whose differences are reported and not yet resolved can be "
                "resolved.")


class NoteRequired(CorporateError):
    code = "corporate_note_required"
    message = _("Write the note (up to 500 characters).")


# --- groups (corporate.groups: group view FC-08, accounts linked online ON-05) -----------


class GroupAccountNotFound(CorporateError):
    code = "corporate_group_account_not_found"
    http_status = 404
    message = _("No company account at this bank has this number.")


class GroupOwnAccount(CorporateError):
    code = "corporate_group_own_account"
    message = _("This is the company's own account: link it to the service instead. The "
                "group view is for accounts of other companies.")


class GroupAccountClosed(CorporateError):
    code = "corporate_group_account_closed"
    message = _("A closed account cannot be granted to the group view.")


class GroupAuthorisationRequired(CorporateError):
    code = "corporate_group_authorisation_required"
    message = _("Give the reference of the subsidiary's written authorisation (up to 60 "
                "characters).")


class GroupGrantExists(CorporateError):
    code = "corporate_group_grant_exists"
    http_status = 409
    message = _("This account is already in the company's group view.")


class GroupGrantNotFound(CorporateError):
    code = "corporate_group_grant_not_found"
    http_status = 404
    message = _("No such account in the group view.")


class GroupViewRefused(CorporateError):
    code = "corporate_group_view_refused"
    http_status = 403
    message = _("Only the administrator and the operators the administrator allows see the "
                "group's accounts.")


class LinkApproverMissing(CorporateError):
    code = "corporate_link_approver_missing"
    http_status = 409
    message = _("Linking an account online needs another operator with the authorising role "
                "to approve it. Otherwise the account is linked at a bank counter.")


class LinkRequestExists(CorporateError):
    code = "corporate_link_request_exists"
    http_status = 409
    message = _("A request to link this account is already open.")


class LinkRequestNotFound(CorporateError):
    code = "corporate_link_request_not_found"
    http_status = 404
    message = _("No such request to link an account.")


class LinkRequestState(CorporateError):
    code = "corporate_link_request_state"
    http_status = 409
    message = _("The request is no longer in a state that allows this.")


class LinkRequestExpired(CorporateError):
    code = "corporate_link_request_expired"
    http_status = 409
    message = _("The request has expired. Nothing was linked; start a new request if the "
                "account is still to be linked.")


class LinkOwnRequest(CorporateError):
    code = "corporate_link_own_request"
    http_status = 403
    message = _("You asked for this linking: another operator with the authorising role must "
                "approve it.")


class LinkCodeNotYours(CorporateError):
    code = "corporate_link_code_not_yours"
    http_status = 403
    message = _("Only the administrator who asked for the linking or the operator who "
                "approved it enters the contact's confirmation code.")


class LinkCodeWrong(CorporateError):
    code = "corporate_link_code_wrong"
    message = _("The confirmation code is not right. Nothing was linked.")


class LinkCodeFailed(CorporateError):
    code = "corporate_link_code_failed"
    http_status = 409
    message = _("The confirmation code was wrong too many times, or has expired. Nothing was "
                "linked and the request has ended; start a new request.")


class LinkAuthoriserOnly(CorporateError):
    code = "corporate_link_authoriser_only"
    http_status = 403
    message = _("Only the administrator asks for linking an account, and only an operator with "
                "the authorising role approves or rejects it.")


class LinkSignaturesInvalid(CorporateError):
    code = "corporate_link_signatures_invalid"
    http_status = 409
    message = _("The request differs from what its two operators signed. Nothing was linked; "
                "please contact the bank.")


# --- batches (corporate.batches) ---------------------------------------------------------


class BatchNotFound(CorporateError):
    code = "corporate_batch_not_found"
    http_status = 404
    message = _("No such batch payment.")


class BatchFileUnreadable(CorporateError):
    code = "corporate_batch_file_unreadable"
    message = _("The file could not be read. Upload a CSV file (UTF-8 or GB18030) or an "
                "Excel .xlsx file laid out as the template.")


class BatchFileTooLarge(CorporateError):
    code = "corporate_batch_file_too_large"
    message = _("The file is larger than 10 MB. Split the payments into several files.")


class BatchFileEmpty(CorporateError):
    code = "corporate_batch_file_empty"
    message = _("The file has no payment rows under its header row.")


class BatchColumnsMissing(CorporateError):
    code = "corporate_batch_columns_missing"
    message = _("The header row must name the columns payee name, account and amount (as "
                "in the template).")


class BatchTooManyRows(CorporateError):
    code = "corporate_batch_too_many_rows"
    message = _("A batch has at most 20,000 payment rows. Split the payments into several "
                "files.")


class BatchHasErrors(CorporateError):
    code = "corporate_batch_has_errors"
    http_status = 409
    message = _("Some rows have errors. Remove them, or upload a corrected file, before "
                "submitting.")


class BatchEmpty(CorporateError):
    code = "corporate_batch_empty"
    http_status = 409
    message = _("The batch has no row left to pay.")


class BatchRowNotFound(CorporateError):
    code = "corporate_batch_row_not_found"
    http_status = 404
    message = _("The batch has no such row.")


class BatchAmountUnreadable(CorporateError):
    code = "corporate_batch_amount_unreadable"
    message = _("Enter the amount in yuan, such as 1234.56 (at most two decimals).")


class BatchAmountNotPositive(CorporateError):
    code = "corporate_batch_amount_not_positive"
    message = _("The amount must be more than zero.")


class BatchAccountAsNumber(CorporateError):
    code = "corporate_batch_account_as_number"
    message = _("Excel stored the account number as a number and lost its last digits. "
                "Format the column as text and enter the number again.")


class BatchRowNotPaid(CorporateError):
    code = "corporate_batch_row_not_paid"
    message = _("The payment could not be made for a technical reason after several "
                "attempts. Please contact the bank.")


class BatchNothingPaid(CorporateError):
    code = "corporate_batch_nothing_paid"
    message = _("No row of the batch could be paid.")
