"""H5 large-file throughput: measured through the fake, judged, and read back by the report."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.engine.probe_answers import SizeAnswer
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.measurements.throughput import (
    ThroughputMeasurement,
    judge_throughput,
    measure,
)
from pytest_appservice_fs.reports.render import render_markdown, render_text
from pytest_appservice_fs.reports.runs import Case, run_from_cases

GOOD = {"write_mib_s": 100.0, "read_mib_s": 200.0, "write_seconds": 0.01, "read_seconds": 0.005}


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[FakeBackend]:
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
    assert verdict.passed, verdict.explanation
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
    assert not verdict.passed
    assert dict(verdict.properties)["observed"] == "missing"
    assert "parameter 'sizes'" in verdict.explanation


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (SizeAnswer(1, GOOD, checksum_ok=False), "read back differs"),
        (SizeAnswer(1, {**GOOD, "read_mib_s": 0.0}, checksum_ok=True), "non-positive"),
        (SizeAnswer(1, {"write_mib_s": 1.0}, checksum_ok=True), "non-positive"),
    ],
)
def test_invalid_figures_fail(row: SizeAnswer, problem: str) -> None:
    """A checksum mismatch or a missing or zero rate makes the measurement invalid."""
    measurement = ThroughputMeasurement("/home/data", "i" * 64, "h" * 12, 1, (row,))
    verdict = judge_throughput(measurement, sizes=[1], backend="fake", run_id="r", facts={})
    assert not verdict.passed
    assert dict(verdict.properties)["observed"] == "invalid"
    assert problem in verdict.explanation


def test_a_size_without_figures_is_named() -> None:
    """Asked for 1 and 16 MiB, figures for 1 only: the 16 MiB gap is named."""
    measurement = ThroughputMeasurement("/home/data", "i", "h", 1, (SizeAnswer(1, GOOD, True),))
    verdict = judge_throughput(measurement, sizes=[1, 16], backend="fake", run_id="r", facts={})
    assert not verdict.passed
    assert "no figures for 16 MiB" in verdict.explanation


def test_reports_show_the_figures() -> None:
    """An H5 testcase's properties come back as rows in the terminal and Markdown reports."""
    measurement = ThroughputMeasurement(
        "/home/data", "i" * 64, "h" * 12, 1, (SizeAnswer(1, GOOD, True), SizeAnswer(16, GOOD, True))
    )
    verdict = judge_throughput(measurement, sizes=[1, 16], backend="fake", run_id="r", facts={})
    run = run_from_cases([Case("t", "passed", dict(verdict.properties))], "this run")
    assert [(p.record.path, t.size_mib, t.figures["write_mib_s"]) for p, t in run.size_rows()] == [
        ("/home/data", 1, 100.0),
        ("/home/data", 16, 100.0),
    ]
    assert "large files (H5), fsync once per file:" in render_text(run)
    markdown = render_markdown([run])
    assert "| `/home/data` | 16 | 100.0 | 200.0 | 0.010 | 0.005 |" in markdown


SKIP_REASON = "128 MiB plus 16 MiB headroom needed, 63 MiB free"


def test_a_size_that_does_not_fit_is_evidence_not_a_problem(
    backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a 64 MiB tmpfs with 17 MiB free, 2 MiB is skipped and 1 MiB still measured: valid."""
    usage = os.statvfs_result((4096, 4096, 64 * 256, 17 * 256, 17 * 256, 0, 0, 0, 0, 255))
    monkeypatch.setattr(os, "fstatvfs", lambda fd: usage)
    measurement = measure(backend, "/tmp/data", sizes=[2, 1], iterations=1)
    assert [(row.size_mib, row.skipped) for row in measurement.sizes] == [
        (2, "2 MiB plus 16 MiB headroom needed, 17 MiB free"),
        (1, None),
    ]
    verdict = judge_throughput(measurement, sizes=[2, 1], backend="fake", run_id="r", facts={})
    assert verdict.passed, verdict.explanation
    props = dict(verdict.properties)
    assert (props["observed"], props["checksum_valid"], props["size_count"]) == (
        "measured",
        "true",
        "2",
    )
    assert (props["size_mib.1"], props["skipped.1"]) == ("2", measurement.sizes[0].skipped)
    assert "write_mib_s.1" not in props
    assert "skipped.2" not in props
    assert float(props["write_mib_s.2"]) > 0
    assert verdict.explanation.endswith(
        "; 2 MiB skipped: 2 MiB plus 16 MiB headroom needed, 17 MiB free"
    )


def test_when_no_size_fits_the_path_is_skipped_and_valid() -> None:
    """Every size skipped: observed 'skipped', valid, and the explanation says why."""
    row = SizeAnswer(128, {}, checksum_ok=False, skipped=SKIP_REASON)
    measurement = ThroughputMeasurement("/dev/shm", "i" * 64, "h" * 12, 1, (row,))
    verdict = judge_throughput(measurement, sizes=[128], backend="fake", run_id="r", facts={})
    assert verdict.passed
    props = dict(verdict.properties)
    assert (props["observed"], props["checksum_valid"]) == ("skipped", "n/a")
    assert verdict.explanation == (
        f"H5 /dev/shm: no size fits in the free space: 128 MiB skipped: {SKIP_REASON}"
    )


def test_a_skipped_size_beside_a_bad_one_is_still_invalid() -> None:
    """A skip excuses its own size only: a checksum mismatch elsewhere still fails."""
    rows = (
        SizeAnswer(1, GOOD, checksum_ok=False),
        SizeAnswer(128, {}, checksum_ok=False, skipped=SKIP_REASON),
    )
    measurement = ThroughputMeasurement("/dev/shm", "i", "h", 1, rows)
    verdict = judge_throughput(measurement, sizes=[1, 128], backend="fake", run_id="r", facts={})
    assert not verdict.passed
    assert dict(verdict.properties)["observed"] == "invalid"
    assert "128 MiB" not in verdict.explanation.split(": ", 2)[2]


def test_reports_show_a_skipped_size_with_its_reason() -> None:
    """Terminal and Markdown show 'skipped' instead of figures, and the probe's reason."""
    rows = (SizeAnswer(1, GOOD, True), SizeAnswer(128, {}, checksum_ok=False, skipped=SKIP_REASON))
    measurement = ThroughputMeasurement("/dev/shm", "i" * 64, "h" * 12, 1, rows)
    verdict = judge_throughput(measurement, sizes=[1, 128], backend="fake", run_id="r", facts={})
    run = run_from_cases([Case("t", "passed", dict(verdict.properties))], "this run")
    assert [(t.size_mib, t.figures.get("write_mib_s"), t.skipped) for _, t in run.size_rows()] == [
        (1, 100.0, None),
        (128, None, SKIP_REASON),
    ]
    text = render_text(run).splitlines()
    cells = [cell.strip() for cell in text[-2].split(" | ")]
    assert cells == ["/dev/shm", "128", "skipped", "-", "-", "-"]
    assert text[-1] == f"  /dev/shm 128 MiB skipped: {SKIP_REASON}"
    markdown = render_markdown([run])
    assert "| `/dev/shm` | 128 | skipped | - | - | - |" in markdown
    assert f"- `/dev/shm` 128 MiB skipped: {SKIP_REASON}" in markdown
    other = run_from_cases([Case("t", "passed", dict(verdict.properties))], "other")
    side = render_markdown([run, other])
    assert "| `/dev/shm` | 128 | skipped | skipped |" in side
    assert "| `/dev/shm` | 1 | 100.0 / 200.0 | 100.0 / 200.0 |" in side
