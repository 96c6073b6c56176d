"""Shared tables of the platform itself (not of any business domain)."""

from django.db import models


class RateCounter(models.Model):
    """A fixed-window counter for rate limits, shared by every web process (SE-11)."""

    key = models.CharField(max_length=120, primary_key=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField()
