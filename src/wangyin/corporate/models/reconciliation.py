"""Bank–enterprise reconciliation (银企对账, FC-07): the bank's monthly balance statements
and the company's answers (``corporate.reconciliation``)."""

from __future__ import annotations
