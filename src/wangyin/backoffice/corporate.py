"""Corporate internet banking at the counter (ON-04, ON-05, ON-10): tellers find a company by
its credit code, open its internet banking (the administrator's initial password shown once
for the envelope), bind and end its operators' USB-Keys (the reference code shown once),
reset the administrator's password, link and unlink accounts, cancel the service. Thin
views: forms validate, ``wangyin.corporate.counter`` decides and audits."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.audit import services as audit
from wangyin.authn import certificates
from wangyin.backoffice import staff as staff_roles
from wangyin.backoffice.forms import ReasonForm, UsbKeyEndForm, UsbKeyForm
from wangyin.backoffice.views import NOTICE, _no_store, staff_required
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.masking import mask_name, mask_phone
from wangyin.corporate import counter
from wangyin.corporate.models import CorporateService, Edition, Operator, OperatorStatus
from wangyin.customers import selectors as customers
from wangyin.customers.models import Company, CustomerAccount, IdType
from wangyin.ledger.models import AccountStatus
from wangyin.web.customer import client_ip
from wangyin.web.forms import form_errors_text

# --- forms ----------------------------------------------------------------------------------


class CompanySearchForm(forms.Form):
    uscc = forms.CharField(label=gettext_lazy("Unified social credit code"), max_length=30)


def _account_label(account: CustomerAccount) -> str:
    label = f"{account.masked_number} · {account.get_product_display()}"
    if account.ledger_account.status != AccountStatus.ACTIVE:
        label += f" · {account.ledger_account.get_status_display()}"
    return label


class CorporateOpenForm(ReasonForm):
    edition = forms.ChoiceField(label=gettext_lazy("Edition"), choices=Edition.choices)
    accounts = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Settlement accounts to link"), coerce=int,
        widget=forms.CheckboxSelectMultiple)
    admin_id_type = forms.ChoiceField(label=gettext_lazy("Administrator's identity document"),
                                      choices=IdType.choices)
    admin_id_number = forms.CharField(
        label=gettext_lazy("Administrator's ID number (the document checked at the counter)"),
        max_length=30)
    admin_code = forms.CharField(
        label=gettext_lazy("Administrator's operator code (2 to 20 letters, digits or "
                           "underscores)"), max_length=20)
    documents_checked = forms.BooleanField(
        required=True, label=gettext_lazy(
            "The application form and the business licence are checked, with the legal "
            "representative's ID (or the authorisation letter and the agent's ID)"))
    field_order = ["edition", "accounts", "admin_id_type", "admin_id_number", "admin_code",
                   "documents_checked", "reason"]

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].choices = [(a.pk, _account_label(a)) for a in accounts]


class AccountLinkForm(ReasonForm):
    account = forms.TypedChoiceField(label=gettext_lazy("Account to link"), coerce=int)
    field_order = ["account", "reason"]

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(a.pk, _account_label(a)) for a in accounts]


class CancelForm(ReasonForm):
    confirm = forms.BooleanField(required=True, label=gettext_lazy(
        "The company asked to cancel: every operator, their USB-Keys for the company and the "
        "open payment instructions end"))


# --- pages ----------------------------------------------------------------------------------


def _company_or_404(company_id: int) -> Company:
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        raise PermissionDenied
    return company


def _service_or_404(company: Company) -> CorporateService:
    service = counter.active_service_of(company.pk)
    if service is None:
        raise PermissionDenied
    return service


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required(staff_roles.TELLER)
def company_search(request):
    """Find a company by its unified social credit code (POST: kept out of URLs and logs)."""
    form = CompanySearchForm(request.POST or None)
    company, searched = None, request.method == "POST" and form.is_valid()
    if searched:
        company = customers.company_by_uscc(uscc=form.cleaned_data["uscc"])
        audit.record(actor=request.staff_actor, action="backoffice.company.searched",
                     ip=client_ip(request), details={"found": company is not None})
    return _no_store(render(request, "backoffice/corporate/search.html", {
        "form": CompanySearchForm() if searched else form, "company": company,
        "searched": searched}))


def _company_context(company: Company) -> dict:
    accounts = customers.accounts_of_company(company_id=company.pk)
    service = counter.active_service_of(company.pk)
    context = {"company": company, "accounts": accounts, "service": service,
               "legal_rep": mask_name(company.legal_rep_name),
               "contact": mask_name(company.contact_name),
               "contact_phone": mask_phone(company.contact_phone),
               "open_form": CorporateOpenForm(accounts=accounts, auto_id="open_%s")}
    if service is None:
        return context
    linked = counter.linked_accounts(service)
    unlinked = [a for a in accounts if a not in linked]
    operators = list(Operator.objects.select_related("person").filter(service=service)
                     .exclude(status=OperatorStatus.REMOVED).order_by("-is_admin", "code"))
    for operator in operators:
        operator.usb_key = certificates.usb_key_of(operator.person,
                                                   company_id=company.pk)
    return {**context, "linked": linked, "operators": operators,
            "admin": next((o for o in operators if o.is_admin), None),
            "link_form": AccountLinkForm(accounts=unlinked, auto_id="link_%s")
            if unlinked else None,
            "usb_key_form": UsbKeyForm(auto_id="usbkey_%s"),
            "operator_usb_key_form": UsbKeyForm(auto_id=False),
            "usb_key_end_form": UsbKeyEndForm(auto_id=False),
            "reason_form": ReasonForm(auto_id=False),
            "reset_form": ReasonForm(auto_id="reset_%s"),
            "cancel_form": CancelForm(auto_id="cancel_%s")}


@require_safe
@staff_required(staff_roles.TELLER)
def company_detail(request, company_id: int):
    company = _company_or_404(company_id)
    audit.record(actor=request.staff_actor, action="backoffice.company.viewed",
                 target=f"company:{company.pk}", ip=client_ip(request))
    return _no_store(render(request, "backoffice/corporate/company.html", {
        **_company_context(company), "notice": request.session.pop(NOTICE, "")}))


def _envelope(request, company, service, admin, password, title):
    """The one time the administrator's initial password is shown: for the envelope."""
    return _no_store(render(request, "backoffice/corporate/envelope.html", {
        "company": company, "service": service, "admin": admin, "password": password,
        "title": title}))


def _codes_page(request, company, operator, key, reference):
    """The one time the certificate's reference code is shown; the authorisation code
    went to the operator's reserved mobile number (ON-10)."""
    return _no_store(render(request, "backoffice/corporate/usbkey_codes.html", {
        "company": company, "operator": operator, "key": key, "reference": reference,
        "hours": int(certificates.CODE_LIFETIME.total_seconds() // 3600)}))


@require_POST
@staff_required(staff_roles.TELLER)
def corporate_open(request, company_id: int):
    company = _company_or_404(company_id)
    accounts = customers.accounts_of_company(company_id=company.pk)
    form = CorporateOpenForm(request.POST, accounts=accounts, auto_id="open_%s")
    if form.is_valid():
        data = form.cleaned_data
        person = customers.person_by_id_number(id_type=data["admin_id_type"],
                                               id_number=data["admin_id_number"])
        if person is None:
            form.add_error("admin_id_number", _(
                "No customer holds this identity document. Register the person first."))
        else:
            try:
                service, admin, password = counter.service_open(
                    company_id=company.pk, edition=data["edition"],
                    account_ids=data["accounts"], admin_person_id=person.pk,
                    admin_code=data["admin_code"], staff=request.staff_actor, at=clock.now(),
                    reason=data["reason"])
            except DomainError as exc:
                form.add_error(None, str(exc.message))
            else:
                return _envelope(request, company, service, admin, password,
                                 _("Corporate internet banking opened"))
    return _no_store(render(request, "backoffice/corporate/company.html", {
        **_company_context(company), "open_form": form}, status=400))


def _counter_action(request, company_id: int, action, form_class=ReasonForm):
    """Run a counter action on the company's service — a service called with the service,
    the form's fields, the staff member and the time — and show the outcome once on the
    company page, unless the action returns a page of its own (an envelope, the codes)."""
    company = _company_or_404(company_id)
    service = _service_or_404(company)
    form = form_class(request.POST)
    if not form.is_valid():
        request.session[NOTICE] = form_errors_text(form)
        return redirect("bo:company", company_id=company.pk)
    try:
        page = action(company=company, service=service, staff=request.staff_actor,
                      at=clock.now(), **form.cleaned_data)
    except DomainError as exc:
        request.session[NOTICE] = str(exc.message)
        return redirect("bo:company", company_id=company.pk)
    if page is not None:
        return page
    request.session[NOTICE] = _("Done.")
    return redirect("bo:company", company_id=company.pk)


@require_POST
@staff_required(staff_roles.TELLER)
def admin_usb_key_bind(request, company_id: int):
    def bind(*, company, service, **counter_fields):
        key, reference = counter.admin_usb_key_bind(service_id=service.pk, **counter_fields)
        admin = Operator.objects.select_related("person").get(
            service=service, is_admin=True, status=OperatorStatus.ACTIVE)
        return _codes_page(request, company, admin, key, reference)
    return _counter_action(request, company_id, bind, UsbKeyForm)


@require_POST
@staff_required(staff_roles.TELLER)
def operator_usb_key_bind(request, company_id: int, operator_id: int):
    """An operator who came to the counter with their ID gets a USB-Key for the company."""
    def bind(*, company, service, **counter_fields):
        key, reference = counter.usb_key_bind(service_id=service.pk, operator_id=operator_id,
                                              **counter_fields)
        operator = Operator.objects.select_related("person").get(pk=operator_id)
        return _codes_page(request, company, operator, key, reference)
    return _counter_action(request, company_id, bind, UsbKeyForm)


@require_POST
@staff_required(staff_roles.TELLER)
def operator_usb_key_codes(request, company_id: int, operator_id: int):
    def renew(*, company, service, **counter_fields):
        reference = counter.usb_key_codes_renew(service_id=service.pk, operator_id=operator_id,
                                                **counter_fields)
        operator = Operator.objects.select_related("person").get(pk=operator_id)
        return _codes_page(request, company, operator,
                           certificates.usb_key_of(operator.person, company_id=company.pk),
                           reference)
    return _counter_action(request, company_id, renew)


@require_POST
@staff_required(staff_roles.TELLER)
def operator_usb_key_end(request, company_id: int, operator_id: int):
    def end(*, company, service, **counter_fields):
        counter.usb_key_end(service_id=service.pk, operator_id=operator_id, **counter_fields)
    return _counter_action(request, company_id, end, UsbKeyEndForm)


@require_POST
@staff_required(staff_roles.TELLER)
def admin_password_reset(request, company_id: int):
    def reset(*, company, service, **counter_fields):
        admin, password = counter.admin_password_reset(service_id=service.pk, **counter_fields)
        return _envelope(request, company, service, admin, password,
                         _("Administrator's password reset"))
    return _counter_action(request, company_id, reset)


@require_POST
@staff_required(staff_roles.TELLER)
def account_link(request, company_id: int):
    company = _company_or_404(company_id)
    accounts = customers.accounts_of_company(company_id=company.pk)

    def form_class(data):
        return AccountLinkForm(data, accounts=accounts)

    def link(*, company, service, account, **counter_fields):
        counter.account_link(service_id=service.pk, account_id=account, **counter_fields)
    return _counter_action(request, company_id, link, form_class)


@require_POST
@staff_required(staff_roles.TELLER)
def account_unlink(request, company_id: int, account_id: int):
    def unlink(*, company, service, **counter_fields):
        counter.account_unlink(service_id=service.pk, account_id=account_id, **counter_fields)
    return _counter_action(request, company_id, unlink)


@require_POST
@staff_required(staff_roles.TELLER)
def corporate_cancel(request, company_id: int):
    def cancel(*, company, service, confirm, **counter_fields):
        counter.service_cancel(service_id=service.pk, **counter_fields)
    return _counter_action(request, company_id, cancel, CancelForm)
