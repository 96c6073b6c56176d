"""Errors of the message centre, shown to customers."""

from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class NoticeNotFound(DomainError):
    code = "notice_not_found"
    http_status = 404
    message = _("This message was not found.")
