"""The risk control desk of the back office (RK-15: only the risk roles reach any of it):
the home page links the case queue, the rule sets, the lists and the AML reports."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_safe

from wangyin.backoffice import staff as staff_roles
from wangyin.backoffice.views import _no_store, staff_required

risk_staff = staff_required(*staff_roles.RISK_ROLES)


@require_safe
@risk_staff
def home(request):
    return _no_store(render(request, "backoffice/risk/home.html"))
