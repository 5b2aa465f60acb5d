"""H5 large-file throughput: measured through the fake, judged, and read back by the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.render import render_markdown, render_text
from pytest_appservice_fs.report import Case, run_from_cases
from pytest_appservice_fs.throughput import (
    SizeResult,
    ThroughputMeasurement,
    judge_throughput,
    measure,
)

GOOD = {"write_mib_s": 100.0, "read_mib_s": 200.0, "write_seconds": 0.01, "read_seconds": 0.005}


@pytest.fixture
def backend(tmp_path: Path) -> FakeBackend:
    """A fake app with the probe deployed."""
    fake = FakeBackend(tmp_path / "app", app_settings={"PROBE_MAX_THROUGHPUT_MIB": "2"})
    fake.create()
    fake.deploy(build_package(default_probe_dir()))
    yield fake
    fake.teardown()


def test_measured_through_the_probe_and_valid(backend: FakeBackend) -> None:
    """Two sizes on /tmp/data: both read back intact, positive rates, properties per size."""
    measurement = measure(backend, "/tmp/data", sizes=[1, 2], iterations=1)
    verdict = judge_throughput(measurement, sizes=[1, 2], backend="fake", run_id="r", facts={})
    assert verdict.valid, verdict.explanation
    props = dict(verdict.properties)
    assert (props["hypothesis"], props["event"], props["observed"]) == ("H5", "none", "measured")
    assert (props["size_mib.1"], props["size_mib.2"]) == ("1", "2")
    assert float(props["write_mib_s.2"]) > 0
    assert float(props["read_mib_s.1"]) > 0
    assert props["instance_after"] == backend.instances()[0]


def test_a_size_over_the_probe_maximum_is_missing(backend: FakeBackend) -> None:
    """The probe refuses a size over its maximum: the measurement is missing and fails."""
    measurement = measure(backend, "/tmp/data", sizes=[3], iterations=1)
    verdict = judge_throughput(measurement, sizes=[3], backend="fake", run_id="r", facts={})
    assert not verdict.valid
    assert dict(verdict.properties)["observed"] == "missing"
    assert "parameter 'sizes'" in verdict.explanation


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (SizeResult(1, GOOD, checksum_ok=False), "read back differs"),
        (SizeResult(1, {**GOOD, "read_mib_s": 0.0}, checksum_ok=True), "non-positive"),
        (SizeResult(1, {"write_mib_s": 1.0}, checksum_ok=True), "non-positive"),
    ],
)
def test_invalid_figures_fail(row: SizeResult, problem: str) -> None:
    """A checksum mismatch or a missing or zero rate makes the measurement invalid."""
    measurement = ThroughputMeasurement("/home/data", "i" * 64, "h" * 12, 1, (row,))
    verdict = judge_throughput(measurement, sizes=[1], backend="fake", run_id="r", facts={})
    assert not verdict.valid
    assert dict(verdict.properties)["observed"] == "invalid"
    assert problem in verdict.explanation


def test_a_size_without_figures_is_named() -> None:
    """Asked for 1 and 16 MiB, figures for 1 only: the 16 MiB gap is named."""
    measurement = ThroughputMeasurement("/home/data", "i", "h", 1, (SizeResult(1, GOOD, True),))
    verdict = judge_throughput(measurement, sizes=[1, 16], backend="fake", run_id="r", facts={})
    assert not verdict.valid
    assert "no figures for 16 MiB" in verdict.explanation


def test_reports_show_the_figures() -> None:
    """An H5 testcase's properties come back as rows in the terminal and Markdown reports."""
    measurement = ThroughputMeasurement(
        "/home/data", "i" * 64, "h" * 12, 1, (SizeResult(1, GOOD, True), SizeResult(16, GOOD, True))
    )
    verdict = judge_throughput(measurement, sizes=[1, 16], backend="fake", run_id="r", facts={})
    run = run_from_cases([Case("t", "passed", dict(verdict.properties))], "this run")
    assert [(t.path, t.size_mib, t.write_mib_s) for t in run.throughput] == [
        ("/home/data", 1, 100.0),
        ("/home/data", 16, 100.0),
    ]
    assert "large files (H5), fsync once per file:" in render_text(run)
    markdown = render_markdown([run])
    assert "| `/home/data` | 16 | 100.0 | 200.0 | 0.010 | 0.005 |" in markdown
