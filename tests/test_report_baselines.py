"""A JSON report of several configurations as a baseline: each run is compared with the
baseline run of its own configuration, and refused only when the report has none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_appservice_fs.reports.cli import main
from pytest_appservice_fs.reports.junit import read_junit
from pytest_appservice_fs.reports.runs import ReportError, drifts_from, read_baseline, to_json

RUN_A = Path(__file__).parent / "data" / "junit" / "fake-westeurope-b1.xml"
OFF = {"runtime": "code", "app_service_storage": "off", "mounts": "none"}
CONTAINER = {"runtime": "container", "app_service_storage": "on", "mounts": "none"}


def _under(tmp_path: Path, facts: dict[str, str], name: str) -> Path:
    """A copy of RUN_A whose testcases carry ``facts`` (a configuration)."""
    props = "".join(f'<property name="{k}" value="{v}" />' for k, v in facts.items())
    copy = tmp_path / name
    copy.write_text(RUN_A.read_text().replace("<properties>", f"<properties>{props}"))
    return copy


def _baseline(tmp_path: Path, *junit: Path) -> Path:
    report = tmp_path / "baseline.json"
    report.write_text(json.dumps(to_json([read_junit(path) for path in junit])))
    return report


def test_each_run_meets_the_baseline_of_its_configuration(tmp_path: Path) -> None:
    off = _under(tmp_path, OFF, "off.xml")
    spec = str(_baseline(tmp_path, RUN_A, off))
    baseline = read_baseline(spec)
    assert len(baseline.others) == 1
    assert drifts_from([read_junit(off), read_junit(RUN_A)], baseline) == []


def test_a_changed_cell_drifts_against_its_own_configuration(tmp_path: Path) -> None:
    off = _under(tmp_path, OFF, "off.xml")
    spec = str(_baseline(tmp_path, RUN_A, off))
    cell = '"restart" /><property name="path" value="/tmp/data" />'
    changed = off.read_text().replace(
        cell + '<property name="expected" value="persists" /><property name="observed" '
        'value="persists"',
        cell + '<property name="expected" value="persists" /><property name="observed" '
        'value="lost"',
    )
    assert changed != off.read_text()
    later = tmp_path / "later.xml"
    later.write_text(changed)
    drifts = drifts_from([read_junit(later)], read_baseline(spec))
    assert [(d.event, d.path, d.baseline, d.observed) for d in drifts] == [
        ("restart", "/tmp/data", "persists", "lost")
    ]


def test_a_configuration_the_baseline_lacks_is_refused_naming_its_configurations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = str(_baseline(tmp_path, RUN_A, _under(tmp_path, OFF, "off.xml")))
    other = _under(tmp_path, CONTAINER, "container.xml")
    with pytest.raises(ReportError) as excinfo:
        drifts_from([read_junit(other)], read_baseline(spec))
    message = str(excinfo.value)
    assert "under code, storage on and code, storage off and " in message
    assert "under container, storage on;" in message
    assert main([str(other), "--baseline", spec, "--fail-on-drift"]) == 2
    assert "drift is only found between runs of one configuration" in capsys.readouterr().err
