"""The message centre (消息中心): the customer's in-app notices, newest first, a category
filter, open one (which marks it read) and mark all read. Rules live in ``wangyin.notify``."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.core import clock
from wangyin.notify import selectors as inbox
from wangyin.notify import services as notify
from wangyin.notify.errors import NoticeNotFound
from wangyin.notify.models import Category
from wangyin.web.customer import customer_required


def _category(request) -> str:
    category = request.GET.get("category", "") or request.POST.get("category", "")
    return category if category in Category.values else ""


@require_safe
@customer_required
def message_list(request):
    category = _category(request)
    page = inbox.notice_page(person_id=request.customer.person_id, category=category,
                             cursor=request.GET.get("after", "")[:40])
    return render(request, "web/messages.html", {
        "page": page, "category": category, "categories": Category.choices,
        "first_page": not request.GET.get("after")})


@require_http_methods(["GET"])
@customer_required
def message_open(request, notice_id: int):
    """Show one notice; opening it is what marks it read."""
    try:
        notice = notify.notice_read(person_id=request.customer.person_id, notice_id=notice_id,
                                    at=clock.now())
    except NoticeNotFound as exc:
        raise Http404 from exc
    return render(request, "web/message.html", {"notice": notice})


@require_POST
@customer_required
def messages_read_all(request):
    category = _category(request)
    notify.notices_read_all(person_id=request.customer.person_id, category=category,
                            at=clock.now())
    target = reverse("messages")
    return redirect(f"{target}?category={category}" if category else target)
