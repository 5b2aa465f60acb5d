"""H4 concurrent appends: measured through the fake's two instances, judged, and reported."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.engine import probe_client
from pytest_appservice_fs.engine.expectations import AppendCell
from pytest_appservice_fs.engine.model import AppendOutcome
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeUnavailable
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.measurements.appends import (
    AppendMeasurement,
    WriterResult,
    append_file,
    judge_appends,
    measure_appends,
    not_measured,
    writer_name,
)

HOME = "/home/data"
RECORDS = 200
FILE = append_file("flock", "run-1")
# The probe's rule for file names (probe/app.py, _FILE_RE).
PROBE_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")

Getter = Callable[[ProbeClient, str, Mapping[str, Any] | None], dict[str, Any]]
#: The client's own request, for the interceptors below to pass requests on.
REAL_GET: Getter = ProbeClient.get


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[FakeBackend]:
    """A fake app with the probe deployed, on two instances sharing one /home."""
    fake = FakeBackend(tmp_path / "app")
    fake.create()
    fake.deploy(build_package(default_probe_dir()))
    fake.scale(2)
    yield fake
    fake.teardown()


@pytest.fixture
def append_log(backend: FakeBackend) -> Path:
    """Where the fake keeps the file both instances append to."""
    return backend.root / "home" / "data" / FILE


@pytest.fixture
def intercept(monkeypatch: pytest.MonkeyPatch) -> Callable[[Getter], None]:
    """Route every probe request through a function that may change it or its answer."""

    def install(wrapper: Getter) -> None:
        def get(
            self: ProbeClient, endpoint: str, params: Mapping[str, Any] | None = None
        ) -> dict[str, Any]:
            return wrapper(self, endpoint, params)

        def get_unretried(
            self: ProbeClient, endpoint: str, params: Mapping[str, Any] | None = None, **_: Any
        ) -> dict[str, Any]:
            return wrapper(self, endpoint, params)

        monkeypatch.setattr(ProbeClient, "get", get)
        monkeypatch.setattr(ProbeClient, "get_unretried", get_unretried)

    return install


def flock_cell(expected: AppendOutcome = AppendOutcome.INTACT) -> AppendCell:
    """H4's cell for flock on /home/data."""
    return AppendCell("flock", expected)


def measure(backend: FakeBackend, lock: str = "flock", records: int = RECORDS) -> AppendMeasurement:
    """Both fake instances append ``records`` records to FILE at once."""
    return measure_appends(
        backend, backend.instances(), path=HOME, lock=lock, records=records, file=FILE
    )


def judge(measurement: AppendMeasurement, cell: AppendCell | None = None) -> Any:
    """The verdict, on the fake backend, run run-1."""
    return judge_appends(
        measurement, cell or flock_cell(), backend="fake", run_id="run-1", facts={"sku": "B1"}
    )


# --- measured through the fake -----------------------------------------------------------


def test_two_instances_with_flock_are_intact(backend: FakeBackend, append_log: Path) -> None:
    """Both instances append 200 records at once; every record is there once, whole."""
    measurement = measure(backend)
    verdict = judge(measurement)
    assert (verdict.observed, verdict.passed) == ("intact", True), verdict.explanation
    first, second = backend.instances()
    assert [w.instance_id for w in measurement.writers] == [first, second]
    assert [w.answered_by for w in measurement.writers] == [first, second]
    assert [w.name for w in measurement.writers] == [
        f"w0-{first[:8]}",
        f"w1-{second[:8]}",
    ]
    assert (measurement.lines, measurement.torn, measurement.untracked) == (400, 0, 0)
    assert measurement.overlap_seconds is not None
    assert measurement.overlap_seconds > 0
    assert verdict.explanation.startswith(
        "H4 lock=flock on /home/data: expected intact, observed intact: 2 writers x 200 "
        "records: 0 lost, 0 duplicated, 0 torn lines, writing at once for "
    )
    assert verdict.explanation.endswith(f"(instances {first[:12]}…, {second[:12]}…)")
    assert not append_log.exists()  # removed after the check


def test_properties_carry_the_counts_per_writer_and_the_lock(backend: FakeBackend) -> None:
    """The evidence names the lock, each writer's instance, container and counts."""
    measurement = measure(backend)
    props = dict(judge(measurement).properties)
    first, second = backend.instances()
    assert {key: props[key] for key in ("hypothesis", "event", "expected", "observed")} == {
        "hypothesis": "H4",
        "event": "none",
        "expected": "intact",
        "observed": "intact",
    }
    assert (props["path"], props["checksum_valid"], props["sku"]) == (HOME, "n/a", "B1")
    assert (props["instance_before"], props["container_before"]) == (
        first,
        backend.container_of(first),
    )
    assert (props["lock"], props["records_per_writer"], props["writers"]) == ("flock", "200", "2")
    for index, instance in ((1, first), (2, second)):
        assert props[f"writer.{index}.instance"] == instance
        assert props[f"writer.{index}.hostname"] == backend.container_of(instance)
        assert props[f"writer.{index}.appended"] == "200"
        assert props[f"writer.{index}.records_found"] == "200"
        assert (props[f"writer.{index}.lost"], props[f"writer.{index}.duplicated"]) == ("0", "0")
        assert float(props[f"writer.{index}.seconds"]) > 0
    assert (props["lines"], props["torn_lines"], props["untracked_records"]) == ("400", "0", "0")
    assert float(props["overlap_seconds"]) > 0
    assert props["explanation"] == judge(measurement).explanation
    assert list(props)[-1] == "explanation"


def test_without_a_lock_the_counts_are_observed(backend: FakeBackend) -> None:
    """lock=none, expected observe: whatever the counts, a measured cell passes."""
    measurement = measure(backend, lock="none")
    verdict = judge(measurement, AppendCell("none", AppendOutcome.OBSERVE))
    assert verdict.passed, verdict.explanation
    assert dict(verdict.properties)["lock"] == "none"
    assert dict(verdict.properties)["expected"] == "observe"
    assert verdict.observed in ("intact", "damaged")


def _damage(kind: str, log: Path, writer: str) -> None:
    """Change the appended file as a failing share might have."""
    lines = log.read_bytes().splitlines(keepends=True)
    mine = [i for i, line in enumerate(lines) if f'"writer":"{writer}"'.encode() in line]
    if kind == "lost-middle":
        del lines[mine[10]]
    elif kind == "lost-last":
        del lines[mine[-1]]
    elif kind == "duplicated":
        lines.insert(mine[5], lines[mine[5]])
    elif kind == "torn":
        lines[mine[3]] = lines[mine[3]][:40] + lines[mine[4]][60:]
        del lines[mine[4]]
    log.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    ("kind", "lost", "duplicated", "torn"),
    [
        ("lost-middle", 1, 0, 0),
        ("lost-last", 1, 0, 0),  # a missing last record is lost too, not just a shorter run
        ("duplicated", 0, 1, 0),
        ("torn", 2, 0, 1),
    ],
)
def test_damage_in_the_file_is_counted_and_judged_damaged(
    backend: FakeBackend,
    append_log: Path,
    intercept: Callable[[Getter], None],
    kind: str,
    lost: int,
    duplicated: int,
    torn: int,
) -> None:
    """Records lost, repeated or torn between the appends and the check: damaged, counted."""
    first = backend.instances()[0]
    victim = writer_name(0, first)

    def damaging(probe: ProbeClient, endpoint: str, params: Any) -> dict[str, Any]:
        if endpoint == "/append-check":
            _damage(kind, append_log, victim)
        answer: dict[str, Any] = REAL_GET(probe, endpoint, params)
        return answer

    intercept(damaging)
    measurement = measure(backend)
    verdict = judge(measurement)
    assert (verdict.observed, verdict.passed) == ("damaged", False), verdict.explanation
    damaged, other = measurement.writers
    assert (damaged.lost, damaged.duplicated, measurement.torn) == (lost, duplicated, torn)
    assert (other.lost, other.duplicated, other.records_found) == (0, 0, RECORDS)
    assert f"{lost} lost, {duplicated} duplicated, {torn} torn lines" in verdict.explanation
    props = dict(verdict.properties)
    assert (props["writer.1.lost"], props["torn_lines"]) == (str(lost), str(torn))
    assert not append_log.exists()


def test_damage_expected_passes_when_seen(backend: FakeBackend, append_log: Path) -> None:
    """A cell that expects damage fails on an intact file: the verdict compares, both ways."""
    verdict = judge(measure(backend), flock_cell(AppendOutcome.DAMAGED))
    assert (verdict.observed, verdict.passed) == ("intact", False)


def test_one_instance_is_inconclusive_and_touches_nothing(
    backend: FakeBackend, append_log: Path, intercept: Callable[[Getter], None]
) -> None:
    """With one instance nothing is appended: the verdict says two are needed."""
    asked: list[str] = []

    def record(probe: ProbeClient, endpoint: str, params: Any) -> dict[str, Any]:
        asked.append(endpoint)
        raise AssertionError("no probe request expected")

    intercept(record)
    measurement = measure_appends(
        backend, backend.instances()[:1], path=HOME, lock="flock", records=RECORDS, file=FILE
    )
    verdict = judge(measurement)
    assert (verdict.observed, verdict.passed) == ("inconclusive", False)
    assert verdict.explanation == (
        "H4 lock=flock on /home/data: expected intact, observed inconclusive: H4 needs two "
        "instances; the app has 1"
    )
    assert asked == []
    assert dict(verdict.properties)["writers"] == "0"


def test_a_writer_error_is_inconclusive(
    backend: FakeBackend, append_log: Path, intercept: Callable[[Getter], None]
) -> None:
    """A writer that reports errors appended fewer records: no verdict on the file."""
    second = backend.instances()[1]

    def failing_writer(probe: ProbeClient, endpoint: str, params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = REAL_GET(probe, endpoint, params)
        if endpoint == "/append" and probe.instance_id == second:
            answer.update(records=RECORDS - 1, errors=["record 7: OSError: Input/output error"])
        return answer

    intercept(failing_writer)
    verdict = judge(measure(backend))
    assert (verdict.observed, verdict.passed) == ("inconclusive", False)
    assert (
        f"writer {writer_name(1, second)} reported 1 errors: record 7: OSError: Input/output error"
        in verdict.explanation
    )
    assert not append_log.exists()


def test_a_failed_request_is_inconclusive_and_the_file_is_removed(
    backend: FakeBackend, append_log: Path, intercept: Callable[[Getter], None]
) -> None:
    """A writer whose request never got an answer: inconclusive, and no file is left."""
    second = backend.instances()[1]

    def unavailable(probe: ProbeClient, endpoint: str, params: Any) -> dict[str, Any]:
        if endpoint == "/append" and probe.instance_id == second:
            raise ProbeUnavailable("GET /append gave up after 3.0 s: HTTP 503")
        answer: dict[str, Any] = REAL_GET(probe, endpoint, params)
        return answer

    intercept(unavailable)
    verdict = judge(measure(backend))
    assert verdict.observed == "inconclusive"
    assert "got no answer: GET /append gave up after 3.0 s: HTTP 503" in verdict.explanation
    assert not append_log.exists()


def test_writes_that_did_not_overlap_are_inconclusive(
    backend: FakeBackend, intercept: Callable[[Getter], None]
) -> None:
    """Intact counts prove nothing about concurrency when one writer finished first."""
    second = backend.instances()[1]

    def sequential(probe: ProbeClient, endpoint: str, params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = REAL_GET(probe, endpoint, params)
        if endpoint == "/append" and probe.instance_id == second:
            answer.update(started_epoch=answer["finished_epoch"] + 2.0)
            answer.update(finished_epoch=answer["started_epoch"] + 1.0)
        return answer

    intercept(sequential)
    measurement = measure(backend)
    verdict = judge(measurement)
    assert verdict.observed == "inconclusive"
    assert "0 lost, 0 duplicated, 0 torn lines, but the writes did not overlap" in (
        verdict.explanation
    )
    assert measurement.overlap_seconds is not None
    assert measurement.overlap_seconds < 0


def test_the_reset_error_is_inconclusive(
    backend: FakeBackend, intercept: Callable[[Getter], None]
) -> None:
    """A file that cannot be reset first is not measured."""

    def refusing(probe: ProbeClient, endpoint: str, params: Any) -> dict[str, Any]:
        assert endpoint == "/append-reset"
        return {"path": HOME, "file": FILE, "error": "PermissionError: Permission denied"}

    intercept(refusing)
    verdict = judge(measure(backend))
    assert verdict.observed == "inconclusive"
    assert "the file could not be reset: PermissionError: Permission denied" in (
        verdict.explanation
    )


# --- judged from measurements ------------------------------------------------------------


def _intact(**changes: Any) -> AppendMeasurement:
    writers = tuple(
        WriterResult(
            name=f"w{i}-{instance[:8]}",
            instance_id=instance,
            hostname=f"host{i}",
            answered_by=instance,
            appended=10,
            seconds=1.0,
            request_seconds=1.1,
            started_epoch=100.0 + i,
            finished_epoch=101.0 + i,
            records_found=10,
            lost=0,
            duplicated=0,
            beyond=0,
        )
        for i, instance in enumerate(("a" * 64, "b" * 64))
    )
    base = AppendMeasurement(HOME, FILE, "flock", 10, writers, 20, 0, 0, overlap_seconds=0.0)
    return replace(base, overlap_seconds=0.5, **changes)


def test_a_measurement_built_by_hand_is_intact() -> None:
    """The baseline for the cases below: every count right, the writes overlapping."""
    assert judge(_intact()).observed == "intact"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda m: replace(
                m, writers=tuple(replace(w, answered_by="a" * 64) for w in m.writers)
            ),
            "the writers were answered by instances aaaaaaaaaaaa…, aaaaaaaaaaaa…",
        ),
        (lambda m: replace(m, untracked=3), "3 records of other writers were in the file"),
        (lambda m: replace(m, overlap_seconds=None), "the probe did not report when it wrote"),
        (
            lambda m: replace(m, writers=(replace(m.writers[0], records_found=None), m.writers[1])),
            "the check did not report every writer's counts",
        ),
    ],
    ids=["same-instance", "foreign-records", "no-timing", "no-count"],
)
def test_what_cannot_be_trusted_is_inconclusive(
    change: Callable[[AppendMeasurement], AppendMeasurement], reason: str
) -> None:
    """Two writers on one instance, foreign records, missing facts."""
    verdict = judge(change(_intact()))
    assert (verdict.observed, verdict.passed) == ("inconclusive", False)
    assert reason in verdict.explanation


def test_records_numbered_past_those_asked_are_damage() -> None:
    """A sequence number past the records asked for cannot come from the writer: damaged."""
    writers = (replace(_intact().writers[0], beyond=1), _intact().writers[1])
    verdict = judge(_intact(writers=writers))
    assert verdict.observed == "damaged"
    assert "1 numbered past 9" in verdict.explanation


def test_records_each_on_its_own_instance_are_not_shared_and_need_no_overlap() -> None:
    """A measurement marked not_shared is judged so, before the overlap is looked at; the
    mark does not hide what makes a measurement untrustworthy."""
    unclocked = replace(_intact(not_shared=True), overlap_seconds=None)
    verdict = judge(unclocked, flock_cell(AppendOutcome.NOT_SHARED))
    assert (verdict.observed, verdict.passed) == ("not_shared", True)
    assert "the instances do not share /home" in verdict.explanation
    assert judge(_intact(not_shared=True, untracked=1)).observed == "inconclusive"


@pytest.mark.parametrize(
    ("expected", "observed", "passed"),
    [
        (AppendOutcome.INTACT, "intact", True),
        (AppendOutcome.OBSERVE, "intact", True),
        (AppendOutcome.DAMAGED, "intact", False),
        (AppendOutcome.OBSERVE, "inconclusive", False),
    ],
)
def test_passed_needs_a_measurement_and_the_expected_outcome(
    expected: AppendOutcome, observed: str, passed: bool
) -> None:
    """Inconclusive never passes, observe passes whatever was measured."""
    measurement = _intact() if observed == "intact" else _intact(error="no instance answered")
    verdict = judge(measurement, flock_cell(expected))
    assert (verdict.observed, verdict.passed) == (observed, passed)


def test_not_measured_carries_the_reason() -> None:
    """When two instances never answered, the fixture's reason is the explanation."""
    measurement = not_measured(
        path=HOME, lock="none", records=5, file=FILE, reason="scale-out was not proven in 60 s"
    )
    verdict = judge(measurement, AppendCell("none", AppendOutcome.OBSERVE))
    assert verdict.observed == "inconclusive"
    assert verdict.explanation.endswith("observed inconclusive: scale-out was not proven in 60 s")
    props = dict(verdict.properties)
    assert (props["records_per_writer"], props["writers"], props["lines"]) == ("5", "0", "")


def test_file_and_writer_names_follow_the_probe_rules() -> None:
    """One file per lock and run, and writer names the probe accepts."""
    assert append_file("flock", "run-1") == "h4-flock-run-1.log"
    assert append_file("none", "run-1") != append_file("flock", "run-1")
    assert PROBE_FILE_NAME.fullmatch(append_file("none", "x" * 40))
    assert writer_name(1, "0123456789abcdef") == "w1-01234567"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", writer_name(31, "?/" + "f" * 64))


def test_an_append_that_times_out_is_never_sent_again(
    backend: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/append is not safe to repeat: a writer whose request fails (here a 503) is not retried
    (a second attempt would append its records twice) and the cell is inconclusive."""
    sent: list[str] = []
    original = ProbeClient._get_once

    def flaky(self: ProbeClient, endpoint: str, params: Any, **kwargs: Any) -> Any:
        if endpoint == "/append":
            sent.append(self.instance_id or "")
            if len(sent) == 1:
                raise probe_client._Transient("HTTP 503")
        return original(self, endpoint, params, **kwargs)

    monkeypatch.setattr(ProbeClient, "_get_once", flaky)
    measurement = measure(backend, records=5)
    assert len(sent) == 2  # one request per writer, none repeated
    verdict = judge(measurement)
    assert verdict.observed == "inconclusive"
    assert "was not retried (it is not safe to repeat): HTTP 503" in verdict.explanation
