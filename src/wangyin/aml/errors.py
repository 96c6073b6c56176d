from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class AmlError(DomainError):
    code = "aml"
    message = _("The anti-money-laundering request could not be completed.")


class DayNotOver(AmlError):
    """A day's reports are built once the day (Beijing time) is over: a partial day would
    be reported with partial totals."""

    code = "aml_day_not_over"
    message = _("Reports for a day are generated once the day is over.")


class ReportNotFound(AmlError):
    code = "aml_not_found"
    http_status = 404
    message = _("There is no such report.")


class AlreadyReviewed(AmlError):
    code = "aml_already_reviewed"
    message = _("This report line has already been reviewed.")


class NothingToExport(AmlError):
    code = "aml_nothing_to_export"
    message = _("Nothing is ready to export: review or confirm lines first.")


class NotExportedYet(AmlError):
    code = "aml_not_exported_yet"
    message = _("Only lines already exported can be exported again; export them normally.")


class ReasonRequired(AmlError):
    code = "aml_reason_required"
    message = _("Give the reason: it is recorded with your name.")


class AlreadyAnalysed(AmlError):
    code = "aml_already_analysed"
    message = _("This alert has already been analysed.")
