"""The bank's WSGI application with the risk engine replaced by an always-allow stub, for the
transfer benchmark's ``--risk-compare`` baseline only.

The web server the benchmark starts in that mode serves ``bench_norisk:application`` (this
directory on its ``PYTHONPATH``): every ``risk.evaluate`` answers "allow" without reading or
writing anything, and ``risk.payment_made`` counts nothing. The bank itself has no such
switch — risk control cannot be turned off in the product; this module exists only here.
"""

from __future__ import annotations

from wangyin.wsgi import application  # sets Django up before the risk models load


def _stub_the_risk_engine() -> None:
    from wangyin.risk import services as risk

    def allow(event):
        return risk.Decision(risk.ALLOW)

    def not_counted(event, *, credited_person_id=None):
        return None

    # Callers look these up on the module at call time (``risk.evaluate(...)``).
    risk.evaluate = allow
    risk.payment_made = not_counted


_stub_the_risk_engine()

__all__ = ["application"]
