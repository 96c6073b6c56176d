"""The one base class for business errors: stable code, HTTP status, translatable message."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A rule of the bank said no. Subclasses live next to the code that raises them.

    ``code`` is stable (clients and tests rely on it); ``message`` is shown to people in
    their language; ``extra`` carries detail for logs and audit, never for customers.
    """

    code: ClassVar[str] = "domain_error"
    http_status: ClassVar[int] = 400
    message: ClassVar[Any] = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, extra: dict[str, Any] | None = None) -> None:
        if message is not None:
            self.message = message
        self.extra = extra or {}
        super().__init__(f"{self.code}: {self.extra}" if self.extra else self.code)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message)}
