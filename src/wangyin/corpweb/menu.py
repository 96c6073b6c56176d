"""What the corporate navigation offers an operator: only the functions their roles allow
(entering payments, approving them; the company's instruction list for every operator of a
standard edition)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from wangyin.corporate import groups
from wangyin.corporate.models import Edition, Role, SigninFactor

PAYMENT_ROLES = (Role.ENTER,)
APPROVAL_ROLES = (Role.CHECK, Role.AUTHORISE)


@dataclass(frozen=True)
class Entry:
    name: str  # the URL name in the corpweb namespace
    label: str

    @property
    def url(self) -> str:
        return reverse(f"corpweb:{self.name}")


def menu_of(operator, session) -> list[Entry]:
    if session is None or operator is None:
        return []
    if session.factor != SigninFactor.USBKEY:
        return [Entry("certificate", _("USB-Key certificate"))]
    entries = [Entry("home", _("Accounts"))]
    standard = operator.service.edition == Edition.STANDARD
    if standard and set(PAYMENT_ROLES) & set(operator.roles):
        entries.append(Entry("payments", _("Payments")))
        entries.append(Entry("batches", _("Batch payments")))
    if standard and set(APPROVAL_ROLES) & set(operator.roles):
        entries.append(Entry("approvals", _("Approvals")))
    if standard:
        entries.append(Entry("instructions", _("Instructions")))
        entries.append(Entry("reconciliation", _("Reconciliation")))
    if standard and operator.is_admin:
        entries.append(Entry("operators", _("Operators")))
        entries.append(Entry("admin_policy", _("Approval policy")))
    if groups.may_view_group(operator):
        entries.append(Entry("group", _("Group accounts")))
    if groups.may_link(operator):
        entries.append(Entry("links", _("Link an account")))
    entries.append(Entry("security", _("Security")))
    return entries
