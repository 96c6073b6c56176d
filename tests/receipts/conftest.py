"""Fixtures borrowed for receipt tests: the payments ones (a funded payer, a payee at this
bank) and the web ones (a customer past the first password change)."""

from tests.payments.conftest import payee, payer  # noqa: F401
from tests.web.conftest import customer, ready_customer  # noqa: F401
