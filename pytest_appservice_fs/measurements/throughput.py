"""H5, large files: write (one fsync at the end) and read throughput per path and size.

Like latency, a figure is evidence, not a bar: a measurement fails only when it is missing,
invalid (a non-positive rate) or when the bytes read back do not match those written. A size
the probe skipped because it does not fit in the path's free space (Docker's 64 MiB /dev/shm
and 128 MiB) is recorded with the probe's reason, and is no failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_appservice_fs.engine.expectations import LARGE_FILES
from pytest_appservice_fs.engine.probe_answers import FIGURES, SizeAnswer
from pytest_appservice_fs.engine.probe_client import ProbeError
from pytest_appservice_fs.evidence.records import (
    SizeFigures,
    ThroughputRecord,
    measurement_head,
)
from pytest_appservice_fs.evidence.verdict import Verdict

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend


@dataclass(frozen=True)
class ThroughputMeasurement:
    """One path measured on the app's first instance."""

    path: str
    instance_id: str
    hostname: str
    iterations: int
    sizes: tuple[SizeAnswer, ...]
    error: str | None = None


def measure(
    backend: Backend, path: str, *, sizes: Sequence[int], iterations: int
) -> ThroughputMeasurement:
    """Measure ``path`` on the first instance for every size (MiB)."""
    try:
        instances = backend.instances()
        if not instances:
            return ThroughputMeasurement(path, "", "", iterations, (), "the app has no instance")
        answer = backend.probe(instances[0]).throughput(path, sizes=sizes, iterations=iterations)
    except ProbeError as exc:
        return ThroughputMeasurement(path, "", "", iterations, (), str(exc))
    return ThroughputMeasurement(
        path=path,
        instance_id=str(answer.identity.instance_id or instances[0]),
        hostname=str(answer.identity.hostname or ""),
        iterations=iterations,
        sizes=answer.sizes,
        error=answer.error,
    )


def judge_throughput(
    measurement: ThroughputMeasurement,
    *,
    sizes: Sequence[int],
    backend: str,
    run_id: str,
    facts: Mapping[str, str],
) -> Verdict:
    """Passed when every size asked for has positive rates and matching checksums."""
    problems = [measurement.error] if measurement.error else []
    answered = {row.size_mib for row in measurement.sizes}
    problems += [f"no figures for {size} MiB" for size in sizes if size not in answered]
    measured = [row for row in measurement.sizes if row.skipped is None]
    skipped = [row for row in measurement.sizes if row.skipped is not None]
    for row in measured:
        if not row.checksum_ok:
            problems.append(f"{row.size_mib} MiB read back differs from what was written")
        if any(row.figures.get(name, 0) <= 0 for name in FIGURES):
            problems.append(f"{row.size_mib} MiB has a missing or non-positive figure")
    observed = _observed(problems, measured=measured, answered=measurement.sizes)
    checksum_valid = "n/a" if not measured else str(all(r.checksum_ok for r in measured)).lower()
    skips = "; ".join(f"{row.size_mib} MiB skipped: {row.skipped}" for row in skipped)
    if problems:
        explanation = f"H5 {measurement.path}: {observed}: " + "; ".join(problems)
    elif not measured:
        explanation = f"H5 {measurement.path}: no size fits in the free space: {skips}"
    else:
        rates = ", ".join(
            f"{row.size_mib} MiB write {row.figures['write_mib_s']:.1f} MiB/s, "
            f"read {row.figures['read_mib_s']:.1f} MiB/s"
            for row in measured
        )
        explanation = f"H5 {measurement.path}: {rates}" + (f"; {skips}" if skips else "")
    record = ThroughputRecord(
        **measurement_head(
            hypothesis=LARGE_FILES,
            path=measurement.path,
            observed=observed,
            checksum_valid=checksum_valid,
            instance_id=measurement.instance_id,
            hostname=measurement.hostname,
            backend=backend,
            run_id=run_id,
            facts=facts,
        ),
        iterations=measurement.iterations,
        sizes=tuple(SizeFigures(r.size_mib, r.figures, r.skipped) for r in measurement.sizes),
        explanation=explanation,
    )
    return Verdict(record, passed=not problems)


def _observed(
    problems: Sequence[str], *, measured: Sequence[SizeAnswer], answered: Sequence[SizeAnswer]
) -> str:
    """``measured``; ``skipped`` when no size fitted (still valid); else what went wrong."""
    if problems:
        return "invalid" if answered else "missing"
    return "measured" if measured else "skipped"
