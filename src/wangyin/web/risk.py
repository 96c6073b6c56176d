"""The customer's side of a risk review (RK-12, TX-08): the operations the bank held and
asks them to confirm, with "Yes, this was me" / "No, this was not me". The answer is
recorded on the case for the risk staff; it moves no money by itself. Only the case's own
customer answers, only while asked (``wangyin.risk.cases``)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.payments.alerts import payee_text
from wangyin.risk import cases
from wangyin.risk.errors import CaseNotFound
from wangyin.web.customer import client_ip, customer_required

NOTICE = "risk_confirm_notice"


@require_safe
@customer_required
def confirm_list(request):
    waiting = cases.awaiting_confirmation(person_id=request.customer.person_id)
    for item in waiting:
        for transfer in item.held:
            transfer.payee_shown = payee_text(transfer)
            transfer.tail = transfer.debit_account.number[-4:]
    return render(request, "web/risk_confirm.html", {
        "waiting": waiting, "notice": request.session.pop(NOTICE, "")})


@require_POST
@customer_required
def confirm_answer(request, case_id: int):
    answer = request.POST.get("answer")
    if answer not in ("yes", "no"):
        return redirect("risk_confirm")
    try:
        cases.confirmation_answer(case_id=case_id, person_id=request.customer.person_id,
                                  confirmed=answer == "yes", at=clock.now(),
                                  ip=client_ip(request), device=request.device_id)
    except CaseNotFound:
        raise Http404 from None
    except DomainError as exc:
        request.session[NOTICE] = str(exc.message)
    else:
        request.session[NOTICE] = answer
    return redirect("risk_confirm")
