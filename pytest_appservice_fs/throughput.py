"""H5, large files: write (one fsync at the end) and read throughput per path and size.

Like latency, a figure is evidence, not a bar: a measurement fails only when it is missing,
invalid (a non-positive rate) or when the bytes read back do not match those written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_appservice_fs.evidence import measurement_properties
from pytest_appservice_fs.expectations import LARGE_FILES
from pytest_appservice_fs.probe_client import ProbeError

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend

FIGURES = ("write_mib_s", "read_mib_s", "write_seconds", "read_seconds")


@dataclass(frozen=True)
class SizeResult:
    """One size's figures, or why there are none."""

    size_mib: int
    figures: Mapping[str, float]
    checksum_ok: bool


@dataclass(frozen=True)
class ThroughputMeasurement:
    """One path measured on the app's first instance."""

    path: str
    instance_id: str
    hostname: str
    iterations: int
    sizes: tuple[SizeResult, ...]
    error: str | None = None


@dataclass(frozen=True)
class ThroughputVerdict:
    """Whether the measurement is complete and sane, and its figures as properties."""

    valid: bool
    explanation: str
    properties: tuple[tuple[str, str], ...]


def measure(
    backend: Backend, path: str, *, sizes: Sequence[int], iterations: int
) -> ThroughputMeasurement:
    """Measure ``path`` on the first instance for every size (MiB)."""
    try:
        instances = backend.instances()
        if not instances:
            return ThroughputMeasurement(path, "", "", iterations, (), "the app has no instance")
        probe = backend.probe(instances[0])
        body = probe.get(
            "/throughput",
            {"path": [path], "sizes": ",".join(str(s) for s in sizes), "iterations": iterations},
        )
    except ProbeError as exc:
        return ThroughputMeasurement(path, "", "", iterations, (), str(exc))
    result = (body.get("results") or {}).get(path) or {}
    rows = tuple(_size(row) for row in result.get("sizes", []) if isinstance(row, dict))
    return ThroughputMeasurement(
        path=path,
        instance_id=str(body.get("instance_id") or instances[0]),
        hostname=str(body.get("hostname") or ""),
        iterations=iterations,
        sizes=rows,
        error=str(result["error"]) if "error" in result else None,
    )


def judge_throughput(
    measurement: ThroughputMeasurement,
    *,
    sizes: Sequence[int],
    backend: str,
    run_id: str,
    facts: Mapping[str, str],
) -> ThroughputVerdict:
    """Valid when every size asked for has positive rates and matching checksums."""
    problems = [measurement.error] if measurement.error else []
    measured = {row.size_mib for row in measurement.sizes}
    problems += [f"no figures for {size} MiB" for size in sizes if size not in measured]
    for row in measurement.sizes:
        if not row.checksum_ok:
            problems.append(f"{row.size_mib} MiB read back differs from what was written")
        if any(row.figures.get(name, 0) <= 0 for name in FIGURES):
            problems.append(f"{row.size_mib} MiB has a missing or non-positive figure")
    observed = "measured" if not problems else ("missing" if not measurement.sizes else "invalid")
    properties = measurement_properties(
        hypothesis=LARGE_FILES,
        path=measurement.path,
        observed=observed,
        checksum_valid="true" if all(r.checksum_ok for r in measurement.sizes) else "false",
        instance_id=measurement.instance_id,
        hostname=measurement.hostname,
        backend=backend,
        run_id=run_id,
        facts=facts,
    )
    properties += [
        ("throughput_iterations", str(measurement.iterations)),
        ("size_count", str(len(measurement.sizes))),
    ]
    for index, row in enumerate(measurement.sizes, start=1):
        properties.append((f"size_mib.{index}", str(row.size_mib)))
        properties += [
            (f"{name}.{index}", f"{row.figures[name]:.4f}")
            for name in FIGURES
            if name in row.figures
        ]
    if problems:
        explanation = f"H5 {measurement.path}: {observed}: " + "; ".join(problems)
    else:
        rates = ", ".join(
            f"{row.size_mib} MiB write {row.figures['write_mib_s']:.1f} MiB/s, "
            f"read {row.figures['read_mib_s']:.1f} MiB/s"
            for row in measurement.sizes
        )
        explanation = f"H5 {measurement.path}: {rates}"
    properties.append(("explanation", explanation))
    return ThroughputVerdict(not problems, explanation, tuple(properties))


def _size(row: Mapping[str, Any]) -> SizeResult:
    figures = {}
    for name in FIGURES:
        value = row.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            figures[name] = float(value)
    return SizeResult(int(row.get("size_mib", 0)), figures, row.get("checksum_ok") is True)
