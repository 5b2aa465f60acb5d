"""Reports from the evidence: the testcases of a run (live, or read back from JUnit files),
drift against a baseline, and JSON. Rendering is in `render.py`.

A run's report is built from exactly the properties its testcases carry in JUnit, in the
run itself too: the terminal summary, `--evidence-report` and `appservice-fs-report` over the
JUnit file all show the same thing.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_appservice_fs.engine.expectations import (
    CONCURRENT,
    CONTAINER,
    LAB_MATRIX,
    LARGE_FILES,
    LATENCY,
)
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.evidence.judge import REQUIRED_PROPERTIES, SKIPPED
from pytest_appservice_fs.measurements.latency import STATS

#: GitHub refuses a job summary over 1 MiB per step.
STEP_SUMMARY_LIMIT = 1024 * 1024
#: JUnit's elements for outcomes other than a pass, and what the report calls them.
_OUTCOMES = {"failure": "failed", "error": "error", "skipped": "skipped"}


class ReportError(ValueError):
    """Input a report cannot be made from; the message is one sentence naming the file."""


@dataclass(frozen=True)
class Case:
    """One testcase as JUnit keeps it: its name, its outcome and its properties."""

    name: str
    outcome: str
    properties: Mapping[str, str]


@dataclass(frozen=True)
class Cell:
    """One judged cell of the matrix, with its proof."""

    hypothesis: str
    event: str
    path: str
    expected: str
    observed: str
    passed: bool
    proof: str = ""
    explanation: str = ""
    trigger_count: str = ""
    checksum_valid: str = ""
    container_before: str = ""
    container_after: str = ""
    instance_before: str = ""
    instance_after: str = ""

    @property
    def skipped(self) -> bool:
        """The backend could not fire the cell's event: no verdict, a reason (explanation)."""
        return self.observed == SKIPPED


@dataclass(frozen=True)
class Latency:
    """Latency of one path on one instance: write (with fsync) and read, in milliseconds."""

    path: str
    instance: str
    hostname: str
    write_ms: Mapping[str, float]
    read_ms: Mapping[str, float]
    size: int
    iterations: int
    passed: bool = True


@dataclass(frozen=True)
class Throughput:
    """H5: one size written and read on one path, in MiB/s and seconds; no figures when the
    size was skipped because it did not fit in the path's free space."""

    path: str
    instance: str
    size_mib: int
    write_mib_s: float | None
    read_mib_s: float | None
    write_seconds: float | None
    read_seconds: float | None
    passed: bool = True
    #: The probe's reason for not writing this size, or "" when it was measured.
    skipped: str = ""


@dataclass(frozen=True)
class AppendWriter:
    """H4: one writer, the instance it ran on, and how its records came out (None: unknown)."""

    name: str
    instance: str
    hostname: str
    appended: int | None
    records_found: int | None
    lost: int | None
    duplicated: int | None
    seconds: float | None


@dataclass(frozen=True)
class Append:
    """H4: instances appending to one file at once, with a lock mode or without."""

    path: str
    lock: str
    expected: str
    observed: str
    records_per_writer: int
    writers: tuple[AppendWriter, ...]
    lines: int | None
    torn_lines: int | None
    untracked_records: int | None
    overlap_seconds: float | None
    explanation: str = ""
    passed: bool = False


@dataclass(frozen=True)
class RunReport:
    """Everything one run showed."""

    source: str
    backend: str
    region: str = ""
    sku: str = ""
    run_id: str = ""
    cells: tuple[Cell, ...] = ()
    latency: tuple[Latency, ...] = ()
    throughput: tuple[Throughput, ...] = ()
    appends: tuple[Append, ...] = ()

    @property
    def label(self) -> str:
        """How the run is named in a column: backend, region and SKU (or its file)."""
        parts = [p for p in (self.backend, self.region, self.sku) if p]
        return " ".join(parts) or self.source

    @property
    def judged(self) -> tuple[Cell, ...]:
        """The cells that ran (skipped ones have no verdict)."""
        return tuple(c for c in self.cells if not c.skipped)

    def summary(self, noun: str = "") -> str:
        """'N of M' and ``noun``, then how many were skipped (their event cannot be fired
        here), if any."""
        passed = sum(c.passed for c in self.judged)
        skipped = len(self.cells) - len(self.judged)
        extra = f", {skipped} skipped: their event cannot be fired here" if skipped else ""
        return f"{passed} of {len(self.judged)}{noun}{extra}"

    def cell(self, event: str, path: str) -> Cell | None:
        """The run's cell for (event, path), if it ran."""
        return next((c for c in self.cells if (c.event, c.path) == (event, path)), None)


@dataclass(frozen=True)
class Drift:
    """A cell whose observed value differs from the baseline's."""

    run: str
    event: str
    path: str
    baseline: str
    observed: str

    def sentence(self) -> str:
        """The drift in words."""
        return (
            f"{self.run}: {self.event} {self.path}: baseline {self.baseline}, "
            f"observed {self.observed}"
        )


@dataclass
class _Run:
    facts: dict[str, str] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)
    latency: list[Latency] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)
    appends: list[Append] = field(default_factory=list)


def run_from_cases(cases: Iterable[Case], source: str) -> RunReport:
    """The report of one run from its testcases; ReportError when there is no evidence."""
    run = _Run()
    for case in cases:
        props = case.properties
        if "hypothesis" not in props:
            continue  # not a live testcase
        if props["hypothesis"] == LATENCY:
            run.latency.extend(_latency(case, source))
            _facts(run.facts, props)
            continue
        if props["hypothesis"] == LARGE_FILES:
            run.throughput.extend(_throughput(case, source))
            _facts(run.facts, props)
            continue
        if props["hypothesis"] == CONCURRENT:
            run.appends.append(_append(case, source))
            _facts(run.facts, props)
            continue
        missing = [name for name in REQUIRED_PROPERTIES if name not in props]
        if missing:
            raise ReportError(
                f"{source}: testcase {case.name!r} lacks the properties {', '.join(missing)}."
            )
        _facts(run.facts, props)
        texts = {
            name: props.get(name, "") for name in Cell.__dataclass_fields__ if name != "passed"
        }
        run.cells.append(Cell(**texts, passed=case.outcome == "passed"))
    if not (run.cells or run.latency or run.throughput or run.appends):
        raise ReportError(
            f"{source} has no live testcases with evidence properties (a JUnit file of "
            "appservice-fs run, or of pytest -m live)."
        )
    return RunReport(
        source=source,
        backend=run.facts.get("backend", ""),
        region=run.facts.get("region", ""),
        sku=run.facts.get("sku", ""),
        run_id=run.facts.get("run_id", ""),
        cells=tuple(run.cells),
        latency=tuple(run.latency),
        throughput=tuple(run.throughput),
        appends=tuple(run.appends),
    )


def read_junit(path: Path) -> RunReport:
    """The report of the run a JUnit file describes; ReportError in one sentence when bad."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - our own test reports
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    except ET.ParseError as exc:
        raise ReportError(f"{path} is not XML ({exc}).") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise ReportError(f"{path} is not a JUnit file (its root is <{root.tag}>).")
    cases = []
    for element in root.iter("testcase"):
        outcome = next(
            (_OUTCOMES[child.tag] for child in element if child.tag in _OUTCOMES), "passed"
        )
        properties = {
            prop.get("name", ""): prop.get("value", "") for prop in element.iter("property")
        }
        name = f"{element.get('classname', '')}.{element.get('name', '')}".strip(".")
        cases.append(Case(name, outcome, properties))
    return run_from_cases(cases, str(path))


def load_baseline(spec: str) -> dict[tuple[str, str], str]:
    """Observed values to compare with: ``lab`` (the lab's matrix) or a JSON report file."""
    if spec == "lab":
        baseline = {(c.event.value, c.path): c.expected.value for c in LAB_MATRIX.paths}
        baseline.update(
            {(c.event.value, CONTAINER): c.expected.value for c in LAB_MATRIX.containers}
        )
        return baseline
    path = Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        runs = data["runs"]
        first = runs[0]
        return {(c["event"], c["path"]): c["observed"] for c in first["cells"]}
    except OSError as exc:
        raise ReportError(f"--baseline {spec}: cannot be read ({exc.strerror or exc}).") from None
    except (ValueError, KeyError, IndexError, TypeError):
        raise ReportError(
            f"--baseline {spec} is neither 'lab' nor a JSON report written by "
            "appservice-fs-report --json."
        ) from None


def find_drifts(runs: Sequence[RunReport], baseline: Mapping[tuple[str, str], str]) -> list[Drift]:
    """Every cell of every run whose observed value is not the baseline's."""
    drifts = []
    for run in runs:
        for cell in run.cells:
            expected = baseline.get((cell.event, cell.path))
            # An 'observe' cell of the lab's matrix has no value to drift from; a skipped cell
            # observed nothing.
            if cell.skipped:
                continue
            if expected not in (None, "observe") and expected != cell.observed:
                drifts.append(Drift(run.label, cell.event, cell.path, expected, cell.observed))
    return drifts


def to_json(runs: Sequence[RunReport], drifts: Sequence[Drift] = ()) -> dict[str, Any]:
    """The runs and drifts as JSON data (also what --baseline reads back)."""
    return {
        "runs": [
            {
                "label": run.label,
                "source": run.source,
                "backend": run.backend,
                "region": run.region,
                "sku": run.sku,
                "run_id": run.run_id,
                "cells": [asdict(cell) for cell in run.cells],
                "latency": [
                    {**asdict(row), "write_ms": dict(row.write_ms), "read_ms": dict(row.read_ms)}
                    for row in run.latency
                ],
                "throughput": [asdict(row) for row in run.throughput],
                "appends": [asdict(row) for row in run.appends],
            }
            for run in runs
        ],
        "drifts": [asdict(drift) for drift in drifts],
    }


def cut_to(text: str, limit: int, note: str) -> str:
    """``text`` within ``limit`` bytes of UTF-8, cut at a line, ``note`` saying so."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = max(0, limit - len(note.encode("utf-8")) - 2)
    head = data[:room].decode("utf-8", "ignore")
    head = head[: head.rfind("\n") + 1] if "\n" in head else ""
    return f"{head}\n{note}\n"


def append_step_summary(path: str, markdown: str, *, full_copy: str) -> None:
    """Append to a GitHub job summary file, cut to what is left of its 1 MiB."""
    try:
        used = Path(path).stat().st_size
    except OSError:
        used = 0
    note = f"_The report was cut to fit GitHub's 1 MiB job summary; {full_copy} has it all._"
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(cut_to(markdown, max(0, STEP_SUMMARY_LIMIT - used), note))


def event_order(event: str) -> int:
    """Where an event's row goes: the lab's order, then any others."""
    names = [e.value for e in Event]
    return names.index(event) if event in names else len(names)


def _facts(facts: dict[str, str], props: Mapping[str, str]) -> None:
    for name in ("backend", "region", "sku", "run_id"):
        if props.get(name) and name not in facts:
            facts[name] = props[name]


def _latency(case: Case, source: str) -> list[Latency]:
    props = case.properties
    rows = []
    try:
        count = int(props.get("instance_count", "0"))
        for index in range(1, count + 1):
            rows.append(
                Latency(
                    path=props["path"],
                    instance=props.get(f"instance.{index}", ""),
                    hostname=props.get(f"hostname.{index}", ""),
                    write_ms=_stats(props, f"write_ms.{index}"),
                    read_ms=_stats(props, f"read_ms.{index}"),
                    size=int(props.get("latency_size", "0")),
                    iterations=int(props.get("latency_iterations", "0")),
                    passed=case.outcome == "passed",
                )
            )
    except (KeyError, ValueError):
        raise ReportError(
            f"{source}: latency testcase {case.name!r} has malformed properties."
        ) from None
    return rows


def _throughput(case: Case, source: str) -> list[Throughput]:
    props = case.properties
    try:
        return [_size(case, index) for index in range(1, int(props.get("size_count", "0")) + 1)]
    except (KeyError, ValueError):
        raise ReportError(
            f"{source}: H5 testcase {case.name!r} has malformed properties."
        ) from None


def _size(case: Case, index: int) -> Throughput:
    props = case.properties
    skipped = props.get(f"skipped.{index}", "")

    def figure(name: str) -> float | None:
        return None if skipped else float(props[f"{name}.{index}"])

    return Throughput(
        path=props["path"],
        instance=props.get("instance_after", ""),
        size_mib=int(props[f"size_mib.{index}"]),
        write_mib_s=figure("write_mib_s"),
        read_mib_s=figure("read_mib_s"),
        write_seconds=figure("write_seconds"),
        read_seconds=figure("read_seconds"),
        passed=case.outcome == "passed",
        skipped=skipped,
    )


def _append(case: Case, source: str) -> Append:
    props = case.properties
    try:
        writers = tuple(
            AppendWriter(
                name=props.get(f"writer.{index}.name", ""),
                instance=props.get(f"writer.{index}.instance", ""),
                hostname=props.get(f"writer.{index}.hostname", ""),
                appended=_count(props, f"writer.{index}.appended"),
                records_found=_count(props, f"writer.{index}.records_found"),
                lost=_count(props, f"writer.{index}.lost"),
                duplicated=_count(props, f"writer.{index}.duplicated"),
                seconds=_seconds(props, f"writer.{index}.seconds"),
            )
            for index in range(1, int(props.get("writers", "0")) + 1)
        )
        return Append(
            path=props["path"],
            lock=props["lock"],
            expected=props["expected"],
            observed=props["observed"],
            records_per_writer=int(props.get("records_per_writer", "0")),
            writers=writers,
            lines=_count(props, "lines"),
            torn_lines=_count(props, "torn_lines"),
            untracked_records=_count(props, "untracked_records"),
            overlap_seconds=_seconds(props, "overlap_seconds"),
            explanation=props.get("explanation", ""),
            passed=case.outcome == "passed",
        )
    except (KeyError, ValueError):
        raise ReportError(
            f"{source}: H4 testcase {case.name!r} has malformed properties."
        ) from None


def _count(props: Mapping[str, str], name: str) -> int | None:
    """An integer property; None when the evidence has none (it could not be counted)."""
    value = props.get(name, "")
    return int(value) if value else None


def _seconds(props: Mapping[str, str], name: str) -> float | None:
    value = props.get(name, "")
    return float(value) if value else None


def _stats(props: Mapping[str, str], prefix: str) -> dict[str, float]:
    return {s: float(props[f"{prefix}.{s}"]) for s in STATS if f"{prefix}.{s}" in props}
