"""Logs are JSON and never carry secrets or clear identifiers."""

import io
import json
import logging
import logging.config

import pytest
import structlog

from wangyin.core.logging import logging_config


@pytest.fixture
def log_lines():
    """Attach a handler with the project's JSON formatter; yield a reader of its lines."""
    formatter_spec = dict(logging_config("INFO")["formatters"]["json"])
    factory = formatter_spec.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**formatter_spec))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(x) for x in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.mark.req("AD-03")
def test_structlog_lines_are_masked(log_lines):
    structlog.get_logger("wangyin.test").warning(
        "login.failed", password="Secret123", sms_code="654321",
        id_number="110101199003071234", phone="13812345678")
    data = log_lines()[-1]
    text = json.dumps(data, ensure_ascii=False)
    assert data["event"] == "login.failed" and data["level"] == "warning"
    for secret in ("Secret123", "654321", "110101199003071234", "13812345678"):
        assert secret not in text
    assert data["phone"] == "138****5678" and data["password"] == "[REDACTED]"


@pytest.mark.req("AD-03")
def test_standard_logging_extras_are_masked_too(log_lines):
    logging.getLogger("some.library").warning("retrying", extra={"token": "abc.def.ghi"})
    data = log_lines()[-1]
    assert data["event"] == "retrying" and data["token"] == "[REDACTED]"
