"""Latency per path and instance, through the probe: a figure is evidence, not a pass/fail bar.

A measurement fails only when it is missing (the probe could not measure) or invalid (a
statistic absent, negative, or out of order, such as a median above the maximum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_appservice_fs.engine.expectations import LATENCY
from pytest_appservice_fs.engine.probe_answers import STATS, PathLatency
from pytest_appservice_fs.engine.probe_client import ProbeError
from pytest_appservice_fs.evidence.records import (
    InstanceFigures,
    LatencyRecord,
    measurement_head,
)
from pytest_appservice_fs.evidence.verdict import Verdict

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend

#: What every probe reports; p95 is the project probe's addition (the lab's has no p95).
REQUIRED_STATS = ("min", "median", "max")


@dataclass(frozen=True)
class InstanceLatency:
    """One instance's figures for one path, or why there are none."""

    instance_id: str
    hostname: str
    write_ms: Mapping[str, float]
    read_ms: Mapping[str, float]
    error: str | None = None


@dataclass(frozen=True)
class LatencyMeasurement:
    """One path measured on every instance of the app."""

    path: str
    size: int
    iterations: int
    instances: tuple[InstanceLatency, ...]
    error: str | None = None


def measure(backend: Backend, path: str, *, size: int, iterations: int) -> LatencyMeasurement:
    """Measure ``path`` on every instance, each request pinned to its instance."""
    rows = []
    try:
        instances = backend.instances()
    except Exception as exc:  # noqa: BLE001 - any backend failure is a missing measurement
        return LatencyMeasurement(path, size, iterations, (), f"no instances listed: {exc}")
    for instance_id in instances:
        try:
            answer = backend.probe(instance_id).io_latency([path], size=size, iterations=iterations)
        except ProbeError as exc:
            rows.append(InstanceLatency(instance_id, "", {}, {}, str(exc)))
            continue
        result = answer.paths.get(path, PathLatency())
        rows.append(
            InstanceLatency(
                instance_id=instance_id,
                hostname=answer.identity.hostname or "",
                write_ms=result.write_ms,
                read_ms=result.read_ms,
                error=result.error,
            )
        )
    return LatencyMeasurement(path, size, iterations, tuple(rows))


def judge_latency(
    measurement: LatencyMeasurement, *, backend: str, run_id: str, facts: Mapping[str, str]
) -> Verdict:
    """Passed when every instance has every statistic, in order; the figures either way."""
    problems = [measurement.error] if measurement.error else []
    if not measurement.instances and not problems:
        problems.append("the app had no instance to measure")
    for row in measurement.instances:
        problems += [f"instance {row.instance_id[:12]}: {p}" for p in _problems(row)]
    first = measurement.instances[0] if measurement.instances else None
    observed = (
        "measured" if not problems else ("missing" if not _any_figure(measurement) else "invalid")
    )
    if problems:
        explanation = f"latency {measurement.path}: {observed}: " + "; ".join(problems)
    else:
        medians = ", ".join(
            f"{row.instance_id[:12]} write {row.write_ms['median']:.3f} ms, "
            f"read {row.read_ms['median']:.3f} ms"
            for row in measurement.instances
        )
        explanation = f"latency {measurement.path}: median {medians}"
    record = LatencyRecord(
        **measurement_head(
            hypothesis=LATENCY,
            path=measurement.path,
            observed=observed,
            checksum_valid="n/a",
            instance_id=first.instance_id if first else "",
            hostname=first.hostname if first else "",
            backend=backend,
            run_id=run_id,
            facts=facts,
        ),
        size=measurement.size,
        iterations=measurement.iterations,
        instances=tuple(
            InstanceFigures(row.instance_id, row.hostname, row.write_ms, row.read_ms)
            for row in measurement.instances
        ),
        explanation=explanation,
    )
    return Verdict(record, passed=not problems)


def _problems(row: InstanceLatency) -> list[str]:
    if row.error:
        return [row.error]
    problems = []
    for kind, stats in (("write", row.write_ms), ("read", row.read_ms)):
        missing = [s for s in REQUIRED_STATS if s not in stats]
        if missing:
            problems.append(f"{kind} lacks {', '.join(missing)}")
            continue
        ordered = [stats[s] for s in STATS if s in stats]
        if any(not math.isfinite(v) or v < 0 for v in ordered):
            problems.append(f"{kind} has a negative or non-finite figure")
        elif ordered != sorted(ordered):
            problems.append(f"{kind} figures are out of order ({_show(stats)})")
    return problems


def _any_figure(measurement: LatencyMeasurement) -> bool:
    return any(row.write_ms or row.read_ms for row in measurement.instances)


def _show(stats: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {stats[name]:g}" for name in STATS if name in stats)
