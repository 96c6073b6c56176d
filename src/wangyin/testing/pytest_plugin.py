"""pytest plugin: the ``req`` marker and the record of the last run for the compliance matrix.

Every test may carry ``@pytest.mark.req("AU-04", ...)``. At the end of a run the outcome
of every test, with its requirement IDs, is written to ``var/test-results.json`` (or
``WANGYIN_TEST_RESULTS``), which ``wangyin compliance`` reads.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

_ID = re.compile(r"^[A-Z]{2,3}-\d{2}$")


def _results_path(config: pytest.Config) -> Path:
    configured = os.environ.get("WANGYIN_TEST_RESULTS")
    if configured:
        return Path(configured)
    return Path(config.rootpath) / "var" / "test-results.json"


def pytest_configure(config: pytest.Config) -> None:
    config._wangyin_results = {}  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for mark in item.iter_markers("req"):
            for req_id in mark.args:
                if not isinstance(req_id, str) or not _ID.match(req_id):
                    raise pytest.UsageError(f"{item.nodeid}: bad requirement id {req_id!r}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    results = item.config._wangyin_results  # type: ignore[attr-defined]
    reqs = sorted({r for m in item.iter_markers("req") for r in m.args})
    entry = results.setdefault(item.nodeid, {"reqs": reqs, "outcome": "passed"})
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] != "failed":
        entry["outcome"] = "skipped"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    results = session.config._wangyin_results  # type: ignore[attr-defined]
    if not results or hasattr(session.config, "workerinput"):
        return
    path = _results_path(session.config)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous: dict = {}
    # A partial run (-k, one file) updates the tests it ran and keeps the rest.
    if path.exists() and session.config.args != ["tests"]:
        try:
            previous = json.loads(path.read_text()).get("tests", {})
        except (ValueError, OSError):
            previous = {}
    previous.update(results)
    payload = {"finished_at": datetime.now(UTC).isoformat(), "tests": previous}
    path.write_text(json.dumps(payload, indent=1, sort_keys=True, ensure_ascii=False))
