"""The group view at the counter (FC-08): tellers grant a company's internet banking one
account of another company (a subsidiary) on that company's written authorisation, and end
a grant at either company's request. Thin views: the form validates,
``wangyin.corporate.groups`` decides, audits and tells both companies' contacts."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from wangyin.audit import services as audit
from wangyin.backoffice import staff as staff_roles
from wangyin.backoffice.forms import ReasonForm
from wangyin.backoffice.views import NOTICE, _no_store, staff_required
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.corporate import counter, groups
from wangyin.customers.models import Company
from wangyin.web.customer import client_ip
from wangyin.web.forms import form_errors_text


class GroupGrantForm(ReasonForm):
    account_number = forms.CharField(
        label=gettext_lazy("The subsidiary's account number"), max_length=30)
    authorisation_ref = forms.CharField(
        label=gettext_lazy("Reference of the subsidiary's written authorisation"),
        max_length=60)
    authorisation_checked = forms.BooleanField(required=True, label=gettext_lazy(
        "The subsidiary's written authorisation, with its seal, is checked and kept; it "
        "allows this company to see the account's balance and details, not to use it"))
    field_order = ["account_number", "authorisation_ref", "authorisation_checked", "reason"]


def _company(company_id: int) -> Company:
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        raise PermissionDenied
    return company


def _back(request, company: Company, notice: str):
    request.session[NOTICE] = notice
    return redirect("bo:company_group", company_id=company.pk)


@require_safe
@staff_required(staff_roles.TELLER)
def group_page(request, company_id: int):
    """The accounts of other companies this company's service sees, and this company's
    accounts other companies see; granting one and ending one."""
    company = _company(company_id)
    audit.record(actor=request.staff_actor, action="backoffice.company.group_viewed",
                 target=f"company:{company.pk}", ip=client_ip(request))
    service = counter.active_service_of(company.pk)
    return _no_store(render(request, "backoffice/corporate/group.html", {
        "company": company, "service": service, **groups.grants_of_company(company.pk),
        "grant_form": GroupGrantForm(auto_id="grant_%s") if service else None,
        "end_form": ReasonForm(auto_id=False), "notice": request.session.pop(NOTICE, "")}))


@require_POST
@staff_required(staff_roles.TELLER)
def group_grant(request, company_id: int):
    company = _company(company_id)
    service = counter.active_service_of(company.pk)
    if service is None:
        raise PermissionDenied
    form = GroupGrantForm(request.POST)
    if not form.is_valid():
        return _back(request, company, form_errors_text(form))
    data = form.cleaned_data
    try:
        groups.group_grant(service_id=service.pk, account_number=data["account_number"],
                           authorisation_ref=data["authorisation_ref"],
                           staff=request.staff_actor, at=clock.now(), reason=data["reason"])
    except DomainError as exc:
        return _back(request, company, str(exc.message))
    return _back(request, company, _("Done: the company's internet banking now shows the "
                                     "account. Both companies' contacts are told."))


@require_POST
@staff_required(staff_roles.TELLER)
def group_grant_end(request, company_id: int, grant_id: int):
    """At either company's request: the parent's, or the subsidiary withdrawing its
    authorisation."""
    company = _company(company_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _back(request, company, form_errors_text(form))
    try:
        groups.group_grant_end(grant_id=grant_id, staff=request.staff_actor,
                               reason=form.cleaned_data["reason"], at=clock.now(),
                               company_id=company.pk)
    except DomainError as exc:
        return _back(request, company, str(exc.message))
    return _back(request, company, _("Done: the account is no longer shown to the other "
                                     "company. Both companies' contacts are told."))
