from tests.payments.conftest import payee, payer  # noqa: F401 - the payments fixtures
