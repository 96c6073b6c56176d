"""The compliance matrix (seed of ORG-03): catalogue in sync, tests mapped, results counted."""

import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from wangyin.ops import compliance

pytestmark = pytest.mark.req("ORG-03")

SHARED = Path(os.environ.get("WANGYIN_SHARED_CATALOGUE",
                             Path(__file__).resolve().parents[3] / "shared" / "REQUIREMENTS.md"))


def test_catalogue_matches_the_shared_requirements():
    if not SHARED.exists():
        pytest.skip(f"shared catalogue not available at {SHARED}")
    shared = compliance.shared_catalogue_ids(SHARED)
    areas, ours = compliance.catalogue()
    assert len(shared) > 100
    missing = sorted(set(shared) - {r.id for r in ours})
    extra = sorted({r.id for r in ours} - set(shared))
    assert (missing, extra) == ([], []), "requirements.toml drifted from REQUIREMENTS.md"
    assert [r.id for r in ours] == shared
    assert set(areas) == {r.area for r in ours}


def test_every_title_is_short_and_present():
    _, ours = compliance.catalogue()
    assert all(0 < len(r.title) <= 70 and not r.title.endswith(".") for r in ours)
    assert len({r.id for r in ours}) == len(ours)


def _results():
    return {"finished_at": "2026-11-22T10:00:00+00:00", "tests": {
        "tests/a.py::test_one": {"reqs": ["AU-04", "TX-06"], "outcome": "passed"},
        "tests/a.py::test_two": {"reqs": ["AU-04"], "outcome": "failed"},
        "tests/b.py::test_three": {"reqs": ["TX-06"], "outcome": "skipped"},
        "tests/b.py::test_four": {"reqs": ["ZZ-99"], "outcome": "passed"},
        "tests/b.py::test_plain": {"reqs": [], "outcome": "passed"},
    }}


def test_matrix_counts_each_test_under_each_requirement():
    matrix = compliance.build(_results())
    data = matrix.as_json()
    assert data["AU-04"] == {"tests": ["tests/a.py::test_one", "tests/a.py::test_two"],
                             "passed": 1, "failed": 1}
    assert data["TX-06"]["passed"] == 1 and data["TX-06"]["failed"] == 0
    assert data["CH-01"] == {"tests": [], "passed": 0, "failed": 0}
    assert matrix.evidence["AU-04"].status == "failing"
    assert matrix.evidence["TX-06"].status == "partly skipped"
    assert matrix.evidence["CH-01"].status == "no tests"
    assert matrix.unknown == {"ZZ-99": ["tests/b.py::test_four"]}
    markdown = compliance.render_markdown(matrix)
    assert "| AU-04 |" in markdown and "failing" in markdown and "2026-11-22" in markdown


def test_command_prints_json_and_writes_the_markdown(tmp_path, monkeypatch, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_results()))
    monkeypatch.setenv("WANGYIN_TEST_RESULTS", str(results))
    output = tmp_path / "compliance.md"
    call_command("compliance", "--json", "--output", str(output))
    data = json.loads(capsys.readouterr().out)
    _, ours = compliance.catalogue()
    assert list(data) == [r.id for r in ours]
    assert data["AU-04"]["failed"] == 1
    assert output.read_text().startswith("# Compliance matrix")
    call_command("compliance", "--output", str(output))
    text = capsys.readouterr().out
    assert "AU-04" in text and "tests/a.py::test_one" in text and "ZZ-99" in text
