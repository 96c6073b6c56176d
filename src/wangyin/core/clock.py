"""The one source of the current time, so tests can freeze it and services take it as input."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
