"""Batch payments and payroll (FC-04): an uploaded file's rows, approved as one
instruction and paid row by row (``corporate.batches``)."""

from __future__ import annotations
