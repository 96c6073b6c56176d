"""Group view (FC-08) and accounts linked online with dual approval (ON-05)
(``corporate.groups``)."""

from __future__ import annotations
