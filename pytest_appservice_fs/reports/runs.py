"""Reports from the evidence: the testcases of a run (live, or read back from JUnit files by
`inputs.py`), drift against a baseline, and JSON. Rendering is in `render.py`.

A run's report is built from exactly the properties its testcases carry in JUnit, in the
run itself too: the terminal summary, `--evidence-report` and `appservice-fs-report` over the
JUnit file all show the same thing.

A verdict holds only for the configuration it was observed under (runtime, App Service
storage, mounts; ``engine/configuration.py``): every run is labelled with its configuration,
and drift is never sought between runs of different configurations.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from pytest_appservice_fs.engine.configuration import (
    FACT_NAMES,
    configuration_key,
    configuration_label,
)
from pytest_appservice_fs.engine.expectations import CONTAINER, LAB_MATRIX
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_answers import FIGURES
from pytest_appservice_fs.evidence.records import (
    AppendRecord,
    CellRecord,
    InstanceFigures,
    LatencyRecord,
    Record,
    SizeFigures,
    ThroughputRecord,
    record_type,
)
from pytest_appservice_fs.evidence.values import RecordError

MiB = 1024 * 1024
#: GitHub refuses a job summary over 1 MiB per step.
STEP_SUMMARY_LIMIT = MiB
#: The largest baseline read, in bytes.
MAX_BASELINE_BYTES = 16 * MiB
#: How deep a baseline may nest; a JSON report of appservice-fs-report --json nests 7 deep.
MAX_BASELINE_DEPTH = 16
#: The facts a run is labelled with, taken from the first testcase that has each.
_RUN_FACTS = ("backend", "region", "sku", "run_id")

R = TypeVar("R", bound=Record)


class ReportError(ValueError):
    """Input a report cannot be made from; the message is one sentence naming the file."""


@dataclass(frozen=True)
class Case:
    """One testcase as JUnit keeps it: its name, its outcome and its properties."""

    name: str
    outcome: str
    properties: Mapping[str, str]


@dataclass(frozen=True)
class Evidence(Generic[R]):
    """One testcase's record, read back through its properties, and whether the test passed
    (JUnit's outcome, which the report shows beside what was recorded)."""

    record: R
    passed: bool


@dataclass(frozen=True)
class RunReport:
    """Everything one run showed."""

    source: str
    backend: str
    region: str = ""
    sku: str = ""
    run_id: str = ""
    #: (runtime, app_service_storage, mounts), as ``configuration_key`` gives it.
    configuration: tuple[str, str, str] = configuration_key({})
    cells: tuple[Evidence[CellRecord], ...] = ()
    latency: tuple[Evidence[LatencyRecord], ...] = ()
    throughput: tuple[Evidence[ThroughputRecord], ...] = ()
    appends: tuple[Evidence[AppendRecord], ...] = ()

    @property
    def configuration_label(self) -> str:
        """The run's configuration in words: ``code, storage on`` and mounts, if any."""
        return configuration_label(dict(zip(FACT_NAMES, self.configuration, strict=True)))

    @property
    def label(self) -> str:
        """How the run is named in a column: backend, region and SKU (or its file), then its
        configuration in brackets."""
        parts = [p for p in (self.backend, self.region, self.sku) if p]
        return f"{' '.join(parts) or self.source} ({self.configuration_label})"

    @property
    def judged(self) -> tuple[Evidence[CellRecord], ...]:
        """The cells that ran (skipped ones have no verdict)."""
        return tuple(c for c in self.cells if not c.record.skipped)

    def summary(self, noun: str = "") -> str:
        """'N of M' and ``noun``, then how many were skipped (their event cannot be fired
        here), if any."""
        passed = sum(c.passed for c in self.judged)
        skipped = len(self.cells) - len(self.judged)
        extra = f", {skipped} skipped: their event cannot be fired here" if skipped else ""
        return f"{passed} of {len(self.judged)}{noun}{extra}"

    def cell(self, event: str, path: str) -> Evidence[CellRecord] | None:
        """The run's cell for (event, path), if it ran."""
        return next(
            (c for c in self.cells if (c.record.event, c.record.path) == (event, path)), None
        )

    def latency_rows(self) -> list[tuple[Evidence[LatencyRecord], InstanceFigures]]:
        """Every path's latency on every instance, path by path."""
        return [(path, row) for path in self.latency for row in path.record.instances]

    def size_rows(self) -> list[tuple[Evidence[ThroughputRecord], SizeFigures]]:
        """H5: every path's figures for every size, path by path."""
        return [(path, row) for path in self.throughput for row in path.record.sizes]


@dataclass(frozen=True)
class Baseline:
    """Observed values to compare runs with, by (event, path), and the configuration they
    were observed under."""

    name: str
    cells: Mapping[tuple[str, str], str]
    configuration: tuple[str, str, str] = configuration_key({})
    #: A JSON report's later runs of other configurations (the first of each), for runs of
    #: those configurations.
    others: tuple[Baseline, ...] = ()

    def of(self, configuration: tuple[str, str, str]) -> Baseline | None:
        """The baseline of ``configuration``: this one, or the first of ``others``; None."""
        return next((b for b in (self, *self.others) if b.configuration == configuration), None)

    @property
    def configuration_label(self) -> str:
        """The baseline's configuration in words."""
        return configuration_label(dict(zip(FACT_NAMES, self.configuration, strict=True)))


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


def run_from_cases(cases: Iterable[Case], source: str) -> RunReport:
    """The report of one run from its testcases; ReportError when there is no evidence, or
    when a testcase's properties are no record (one sentence naming ``source`` and it)."""
    found: list[Evidence[Record]] = []
    for case in cases:
        hypothesis = case.properties.get("hypothesis")
        if hypothesis is None:
            continue  # not a live testcase
        kind = record_type(hypothesis)
        try:
            record = kind.from_properties(case.properties)
        except RecordError as exc:
            raise ReportError(f"{source}: {kind.noun} {case.name!r} {exc}.") from None
        found.append(Evidence(record, case.outcome == "passed"))
    run = RunReport(
        source=source,
        **_run_facts(e.record for e in found),
        configuration=configuration_key(found[0].record.facts if found else {}),
        cells=_of(found, CellRecord),
        latency=_of(found, LatencyRecord),
        throughput=_of(found, ThroughputRecord),
        appends=_of(found, AppendRecord),
    )
    if not (run.cells or run.latency_rows() or run.size_rows() or run.appends):
        raise ReportError(
            f"{source} has no live testcases with evidence properties (a JUnit file of "
            "appservice-fs run, or of pytest -m live)."
        )
    return run


def load_baseline(spec: str) -> dict[tuple[str, str], str]:
    """The cells of ``read_baseline(spec)``; ReportError as it raises."""
    return dict(read_baseline(spec).cells)


def read_baseline(spec: str) -> Baseline:
    """Observed values to compare with, by (event, path), and their configuration: ``lab``
    (the lab's matrix: code, storage on, no mounts) or a JSON report file's runs, the first
    run of each configuration (a report without configurations is of the lab's); each run
    is compared with the baseline of its own configuration. ReportError in one sentence when the
    file cannot be read, is over MAX_BASELINE_BYTES, nests deeper than MAX_BASELINE_DEPTH or
    is no JSON report."""
    option = f"--baseline {spec}"
    if spec == "lab":
        baseline = {(c.event.value, c.path): c.expected.value for c in LAB_MATRIX.paths}
        baseline.update(
            {(c.event.value, CONTAINER): c.expected.value for c in LAB_MATRIX.containers}
        )
        return Baseline(option, baseline)
    no_report = (
        f"{option} is neither 'lab' nor a JSON report written by appservice-fs-report --json."
    )
    try:
        text = read_limited(Path(spec), MAX_BASELINE_BYTES, option).decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError(no_report) from None
    if not _nests_within(text, MAX_BASELINE_DEPTH):
        raise ReportError(
            f"{option} nests deeper than {MAX_BASELINE_DEPTH} levels; a JSON report written "
            "by appservice-fs-report --json nests 7."
        )
    try:
        runs = json.loads(text)["runs"]
        found = [_baseline_run(option, run) for run in runs]
    # RecursionError cannot come after _nests_within; kept so that no input ever escapes.
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
        raise ReportError(no_report) from None
    if not found or any(each is None for each in found):
        raise ReportError(no_report)
    first, *later = [each for each in found if each is not None]
    others: dict[tuple[str, str, str], Baseline] = {}
    for each in later:
        if each.configuration != first.configuration:
            others.setdefault(each.configuration, each)
    return replace(first, others=tuple(others.values()))


def _baseline_run(option: str, run: Mapping[str, Any]) -> Baseline | None:
    """One run of a JSON report as a baseline; None when its values are not all text."""
    cells = {(c["event"], c["path"]): c["observed"] for c in run["cells"]}
    configuration = configuration_key(run.get("configuration", {}))
    values = [v for key, value in cells.items() for v in (*key, value)]
    if not all(isinstance(v, str) for v in (*values, *configuration)):
        return None
    return Baseline(option, cells, configuration)


def drifts_from(runs: Sequence[RunReport], baseline: Baseline) -> list[Drift]:
    """``find_drifts`` against ``baseline``; ReportError, one sentence naming both
    configurations, when a run was observed under another configuration than the baseline
    (its cells would differ for that reason alone)."""
    drifts: list[Drift] = []
    for run in runs:
        chosen = baseline.of(run.configuration)
        if chosen is None:
            raise ReportError(
                f"{baseline.name} was observed under {_labels(baseline)} and "
                f"{run.source} under {run.configuration_label}; drift is only found between "
                "runs of one configuration."
            )
        drifts += find_drifts([run], chosen.cells)
    return drifts


def _labels(baseline: Baseline) -> str:
    labels = [b.configuration_label for b in (baseline, *baseline.others)]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def read_limited(path: Path, limit: int, name: str) -> bytes:
    """The bytes of an input file; ReportError naming it ``name`` when it cannot be read or
    holds more than ``limit`` bytes (found from its size before reading, where it has one: a
    pipe is read up to the limit)."""
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            data = b"" if size > limit else file.read(limit + 1)
    except OSError as exc:
        raise ReportError(f"{name}: cannot be read ({exc.strerror or exc}).") from None
    if size > limit or len(data) > limit:
        raise ReportError(f"{name} is larger than {limit // MiB} MiB, the most a report reads.")
    return data


#: A JSON string (whose brackets are text), anything but a bracket, and a pair of brackets
#: with nothing but other pairs gone from between them.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def _nests_within(text: str, depth: int) -> bool:
    """Whether JSON ``text`` nests at most ``depth`` arrays and objects deep, found without
    parsing it (json.loads recurses once per level): each pass drops the innermost pairs.
    Brackets that do not pair are no JSON, which json.loads says; they count as within."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(depth):
        brackets, dropped = _INNERMOST.subn("", brackets)
        if not brackets or not dropped:
            return True
    return not brackets


def find_drifts(runs: Sequence[RunReport], baseline: Mapping[tuple[str, str], str]) -> list[Drift]:
    """Every cell of every run whose observed value is not the baseline's."""
    drifts = []
    for run in runs:
        for cell in (c.record for c in run.cells):
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
                "configuration": dict(zip(FACT_NAMES, run.configuration, strict=True)),
                "cells": [_cell_json(cell) for cell in run.cells],
                "latency": [_latency_json(path, row) for path, row in run.latency_rows()],
                "throughput": [_size_json(path, row) for path, row in run.size_rows()],
                "appends": [_append_json(append) for append in run.appends],
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


def _of(found: Iterable[Evidence[Record]], kind: type[R]) -> tuple[Evidence[R], ...]:
    """The evidence whose record is a ``kind``, in the run's order."""
    return tuple(Evidence(e.record, e.passed) for e in found if isinstance(e.record, kind))


def _run_facts(records: Iterable[Record]) -> dict[str, str]:
    facts = dict.fromkeys(_RUN_FACTS, "")
    for record in records:
        values = (record.backend, record.region, record.sku, record.run_id)
        for name, value in zip(_RUN_FACTS, values, strict=True):
            facts[name] = facts[name] or value
    return facts


def _cell_json(cell: Evidence[CellRecord]) -> dict[str, Any]:
    r = cell.record
    return {
        "hypothesis": r.hypothesis,
        "event": r.event,
        "path": r.path,
        "expected": r.expected,
        "observed": r.observed,
        "passed": cell.passed,
        "proof": r.proof or "",
        "explanation": r.explanation,
        "trigger_count": "" if r.trigger_count is None else str(r.trigger_count),
        "checksum_valid": r.checksum_valid,
        "container_before": r.container_before,
        "container_after": r.container_after,
        "instance_before": r.instance_before,
        "instance_after": r.instance_after,
    }


def _latency_json(path: Evidence[LatencyRecord], row: InstanceFigures) -> dict[str, Any]:
    return {
        "path": path.record.path,
        "instance": row.instance_id,
        "hostname": row.hostname,
        "write_ms": dict(row.write_ms),
        "read_ms": dict(row.read_ms),
        "size": path.record.size,
        "iterations": path.record.iterations,
        "passed": path.passed,
    }


def _size_json(path: Evidence[ThroughputRecord], row: SizeFigures) -> dict[str, Any]:
    return {
        "path": path.record.path,
        "instance": path.record.instance_after,
        "size_mib": row.size_mib,
        **{name: row.figures.get(name) for name in FIGURES},
        "passed": path.passed,
        "skipped": row.skipped or "",
    }


def _append_json(append: Evidence[AppendRecord]) -> dict[str, Any]:
    r = append.record
    writers = [
        {
            "name": w.name,
            "instance": w.instance_id,
            "hostname": w.hostname,
            "appended": w.appended,
            "records_found": w.records_found,
            "lost": w.lost,
            "duplicated": w.duplicated,
            "seconds": w.seconds,
        }
        for w in r.writers
    ]
    return {
        "path": r.path,
        "lock": r.lock,
        "expected": r.expected,
        "observed": r.observed,
        "records_per_writer": r.records_per_writer,
        "writers": writers,
        "lines": r.lines,
        "torn_lines": r.torn_lines,
        "untracked_records": r.untracked_records,
        "overlap_seconds": r.overlap_seconds,
        "explanation": r.explanation,
        "passed": append.passed,
    }
