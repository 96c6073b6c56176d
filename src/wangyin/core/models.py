"""Shared tables of the platform itself (not of any business domain)."""

from django.db import models


class RateCounter(models.Model):
    """A fixed-window counter for rate limits, shared by every web process (SE-11)."""

    key = models.CharField(max_length=120, primary_key=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField()


class CalendarDay(models.Model):
    """A day on which the bank's business calendar differs from (or, for a weekend
    holiday, spells out) the Monday–Friday rule: a public holiday (``working`` false) or a
    make-up working day (调休上班, ``working`` true). Loaded from the State Council's
    yearly notice by ``wangyin calendar load``; read through ``wangyin.core.calendar``."""

    date = models.DateField(primary_key=True)
    working = models.BooleanField()
    name = models.CharField(max_length=40)
