"""Latency: judged from hand-built measurements (every label and its reason), and measured
through a stub backend whose instances answer, fail or are not listed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from pytest_appservice_fs.engine.model import Identity
from pytest_appservice_fs.engine.probe_answers import LatencyAnswer, PathLatency
from pytest_appservice_fs.engine.probe_client import ProbeError
from pytest_appservice_fs.evidence.verdict import Verdict
from pytest_appservice_fs.measurements.latency import (
    InstanceLatency,
    LatencyMeasurement,
    judge_latency,
    measure,
)

PATH = "/home/site/latency"
INSTANCE_A = "a" * 64
INSTANCE_B = "b" * 64
GOOD = {"min": 1.0, "median": 2.0, "p95": 3.0, "max": 4.0}


def _row(instance_id: str = INSTANCE_A, **changes: Any) -> InstanceLatency:
    row = InstanceLatency(instance_id, f"host-{instance_id[:1]}", dict(GOOD), dict(GOOD))
    return replace(row, **changes)


def _measurement(*rows: InstanceLatency, error: str | None = None) -> LatencyMeasurement:
    return LatencyMeasurement(PATH, 4096, 5, rows, error)


def judge(measurement: LatencyMeasurement) -> Verdict:
    return judge_latency(measurement, backend="fake", run_id="run-l", facts={"sku": "B1"})


# --- judged ------------------------------------------------------------------------------


def test_every_statistic_in_order_is_measured_and_passes() -> None:
    """The baseline: two instances, every figure: measured, the medians in the sentence,
    the first instance in the head and every instance's figures in the properties."""
    verdict = judge(_measurement(_row(), _row(INSTANCE_B, write_ms={**GOOD, "median": 2.5})))
    assert (verdict.observed, verdict.passed) == ("measured", True)
    assert verdict.explanation == (
        f"latency {PATH}: median aaaaaaaaaaaa write 2.000 ms, read 2.000 ms, "
        "bbbbbbbbbbbb write 2.500 ms, read 2.000 ms"
    )
    props = dict(verdict.properties)
    assert (props["instance_before"], props["container_before"]) == (INSTANCE_A, "host-a")
    assert (props["instance_count"], props["instance.2"]) == ("2", INSTANCE_B)
    assert props["write_ms.2.median"] == "2.5000"
    assert (props["latency_size"], props["latency_iterations"]) == ("4096", "5")
    assert props["sku"] == "B1"


def test_no_instance_and_no_error_is_missing_and_fails() -> None:
    """Nothing to measure is no pass: missing, and the sentence says why."""
    verdict = judge(_measurement())
    assert (verdict.observed, verdict.passed) == ("missing", False)
    assert verdict.explanation == f"latency {PATH}: missing: the app had no instance to measure"
    props = dict(verdict.properties)
    assert (props["instance_before"], props["container_before"]) == ("", "")
    assert props["instance_count"] == "0"


def test_the_measurement_error_is_named_once() -> None:
    """A listing that failed: missing, with the backend's reason and no invented one."""
    verdict = judge(_measurement(error="no instances listed: HTTP 502"))
    assert (verdict.observed, verdict.passed) == ("missing", False)
    assert verdict.explanation == f"latency {PATH}: missing: no instances listed: HTTP 502"


def test_an_instance_error_without_figures_is_missing() -> None:
    """The probe could not measure: missing, the instance named with its error."""
    row = _row(write_ms={}, read_ms={}, error="disk full")
    verdict = judge(_measurement(row))
    assert (verdict.observed, verdict.passed) == ("missing", False)
    assert verdict.explanation == f"latency {PATH}: missing: instance aaaaaaaaaaaa: disk full"


def test_an_instance_error_beside_another_instance_s_figures_is_invalid() -> None:
    """Some figures came back: the failure is invalid, not missing."""
    failed = _row(INSTANCE_B, write_ms={}, read_ms={}, error="timed out")
    verdict = judge(_measurement(_row(), failed))
    assert (verdict.observed, verdict.passed) == ("invalid", False)
    assert "instance bbbbbbbbbbbb: timed out" in verdict.explanation


def test_missing_and_out_of_order_are_two_labels() -> None:
    """An error with no figures is missing; min above median is invalid: not the same."""
    missing = judge(_measurement(_row(write_ms={}, read_ms={}, error="refused")))
    disordered = judge(_measurement(_row(read_ms={**GOOD, "min": 2.5})))
    assert (missing.observed, disordered.observed) == ("missing", "invalid")
    assert (missing.passed, disordered.passed) == (False, False)
    assert disordered.explanation == (
        f"latency {PATH}: invalid: instance aaaaaaaaaaaa: read figures are out of order "
        "(min 2.5, median 2, p95 3, max 4)"
    )


@pytest.mark.parametrize(
    ("write_ms", "problem"),
    [
        ({"min": 1.0, "p95": 3.0}, "write lacks median, max"),
        ({**GOOD, "min": -0.001}, "write has a negative or non-finite figure"),
        ({**GOOD, "max": float("inf")}, "write has a negative or non-finite figure"),
        ({**GOOD, "median": float("nan")}, "write has a negative or non-finite figure"),
        ({**GOOD, "p95": 5.0}, "write figures are out of order (min 1, median 2, p95 5, max 4)"),
        ({**GOOD, "median": 1.5, "min": 1.6}, "write figures are out of order"),
    ],
    ids=["absent", "negative", "infinite", "nan", "p95-above-max", "min-above-median"],
)
def test_a_bad_write_figure_is_invalid(write_ms: Mapping[str, float], problem: str) -> None:
    """Each bad figure is named, and the read figures beside it are still judged."""
    verdict = judge(_measurement(_row(write_ms=write_ms)))
    assert (verdict.observed, verdict.passed) == ("invalid", False)
    assert f"instance aaaaaaaaaaaa: {problem}" in verdict.explanation
    assert "read" not in verdict.explanation.split(": invalid: ")[1]


def test_both_kinds_are_judged_even_when_write_lacks_a_statistic() -> None:
    """A missing write statistic does not hide an out-of-order read."""
    row = _row(write_ms={"min": 1.0}, read_ms={**GOOD, "median": 9.0})
    verdict = judge(_measurement(row))
    assert "write lacks median, max" in verdict.explanation
    assert "read figures are out of order" in verdict.explanation


def test_zero_milliseconds_is_a_valid_figure() -> None:
    """A figure of 0.0 ms (a cached read, a coarse clock) is valid; only negatives are not."""
    zeros = {"min": 0.0, "median": 0.0, "p95": 0.0, "max": 0.0}
    verdict = judge(_measurement(_row(read_ms=zeros)))
    assert (verdict.observed, verdict.passed) == ("measured", True)


def test_equal_figures_are_in_order_and_p95_is_optional() -> None:
    """min = median = max is in order; the lab's probe reports no p95."""
    flat = {"min": 3.0, "median": 3.0, "max": 3.0}
    verdict = judge(_measurement(_row(write_ms=flat, read_ms=flat)))
    assert (verdict.observed, verdict.passed) == ("measured", True)


# --- measured ----------------------------------------------------------------------------


class _Probe:
    def __init__(self, instance_id: str, answers: Mapping[str, PathLatency | Exception]) -> None:
        self.instance_id = instance_id
        self.answer = answers[instance_id]
        self.asked: list[tuple[list[str], int, int]] = []

    def io_latency(self, paths: Sequence[str], *, size: int, iterations: int) -> LatencyAnswer:
        self.asked.append((list(paths), size, iterations))
        if isinstance(self.answer, Exception):
            raise self.answer
        identity = Identity(self.instance_id, f"host-{self.instance_id[:1]}")
        return LatencyAnswer(identity, {PATH: self.answer} if self.answer.write_ms else {})


class _Backend:
    def __init__(self, answers: Mapping[str, PathLatency | Exception], listing: Any = None):
        self.answers = answers
        self.listing = listing
        self.probes: list[_Probe] = []

    def instances(self) -> list[str]:
        if isinstance(self.listing, Exception):
            raise self.listing
        return list(self.answers)

    def probe(self, instance_id: str) -> _Probe:
        self.probes.append(_Probe(instance_id, self.answers))
        return self.probes[-1]


def test_measure_pins_each_instance_and_keeps_its_figures_or_error() -> None:
    """One request per instance, pinned; an instance that refused keeps its error; a path
    the answer does not name has no figures."""
    backend = _Backend(
        {
            INSTANCE_A: PathLatency(dict(GOOD), dict(GOOD)),
            INSTANCE_B: ProbeError("HTTP 500 from /io-latency"),
            "c" * 64: PathLatency(),
        }
    )
    measurement = measure(backend, PATH, size=512, iterations=3)  # type: ignore[arg-type]
    assert measurement.error is None
    assert [p.instance_id for p in backend.probes] == [INSTANCE_A, INSTANCE_B, "c" * 64]
    assert [p.asked for p in backend.probes] == [[([PATH], 512, 3)]] * 3
    first, refused, silent = measurement.instances
    assert (first.hostname, first.write_ms, first.error) == ("host-a", GOOD, None)
    assert (refused.hostname, refused.write_ms, refused.error) == (
        "",
        {},
        "HTTP 500 from /io-latency",
    )
    assert (silent.hostname, silent.write_ms, silent.read_ms) == ("host-c", {}, {})
    assert (measurement.size, measurement.iterations) == (512, 3)


def test_measure_without_an_instance_list_is_an_error() -> None:
    """A listing that fails is the measurement's error, with no instance."""
    backend = _Backend({}, listing=RuntimeError("HTTP 502"))
    measurement = measure(backend, PATH, size=512, iterations=3)  # type: ignore[arg-type]
    assert (measurement.instances, measurement.error) == ((), "no instances listed: HTTP 502")
    assert judge(measurement).observed == "missing"


def test_an_answer_without_a_hostname_is_recorded_empty() -> None:
    """A probe that names no container: the hostname is empty, never invented."""

    class _Nameless(_Probe):
        def io_latency(self, paths: Sequence[str], *, size: int, iterations: int) -> LatencyAnswer:
            answer = super().io_latency(paths, size=size, iterations=iterations)
            return LatencyAnswer(Identity(self.instance_id, None), answer.paths)

    class _NamelessBackend(_Backend):
        def probe(self, instance_id: str) -> _Probe:
            self.probes.append(_Nameless(instance_id, self.answers))
            return self.probes[-1]

    backend = _NamelessBackend({INSTANCE_A: PathLatency(dict(GOOD), dict(GOOD))})
    measurement = measure(backend, PATH, size=512, iterations=3)  # type: ignore[arg-type]
    assert measurement.instances[0].hostname == ""


def test_a_measurement_is_evidence_that_cannot_change() -> None:
    """Measurements are frozen: what was measured is what is judged and recorded."""
    row = _row()
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.hostname = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        _measurement(row).error = "other"  # type: ignore[misc]


def test_latency_evidence_has_no_checksum_to_check() -> None:
    """Latency writes and reads scratch bytes: its checksum_valid is n/a, not a verdict."""
    assert dict(judge(_measurement(_row())).properties)["checksum_valid"] == "n/a"
