"""Rendering reports: the matrix and latency table for the terminal, and Markdown for one run
(matrix, container proof, latency, large files, concurrent appends, the story of every cell)
or several side by side. Every run is named with its configuration; side by side, each run
keeps its own column, and where runs expect different outcomes of a cell (as runs of
different configurations do), each mark says its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pytest_appservice_fs.engine.expectations import CONTAINER
from pytest_appservice_fs.engine.model import AppendOutcome
from pytest_appservice_fs.engine.probe_answers import FIGURES, STATS
from pytest_appservice_fs.evidence.records import (
    AppendRecord,
    CellRecord,
    InstanceFigures,
    LatencyRecord,
    SizeFigures,
    ThroughputRecord,
)
from pytest_appservice_fs.reports.runs import Drift, Evidence, RunReport, event_order

#: Latency on one instance, with the path's record (size, iterations).
LatencyRow = tuple[Evidence[LatencyRecord], InstanceFigures]

PASS_MARK = "ok"  # noqa: S105 - a table mark, not a secret
FAIL_MARK = "FAIL"
TITLE = "# App Service filesystem evidence"
SKIPPED = "skipped"
THROUGHPUT_HEADER = ["path", "size MiB", "write MiB/s", "read MiB/s", "write s", "read s"]
APPEND_HEADER = ["lock", "expected", "observed", "records", "lost", "duplicated", "torn"]
APPEND_HEADER += ["instances"]
#: The expected column when the runs side by side expect different outcomes of a cell.
PER_RUN = "per run"


def render_text(run: RunReport) -> str:
    """The terminal view of one run: the matrix, the latency table, a summary line."""
    parts = []
    if run.cells:
        columns = _columns([run])
        header = ["event", *columns, "fired"]
        rows = [
            [event, *(_mark(run.cell(event, c)) for c in columns), _fired(run, event)]
            for event in _events([run])
        ]
        parts.append(_text_table(header, rows))
        parts.append(f"{run.summary(' cells as expected')} ({_facts_line(run)})")
    latency = run.latency_rows()
    if latency:
        header = ["path", "instance", *(f"write {s}" for s in STATS), *(f"read {s}" for s in STATS)]
        rows = [
            [p.record.path, row.instance_id[:12], *_figures(row.write_ms), *_figures(row.read_ms)]
            for p, row in latency
        ]
        size = latency[0][0].record
        parts.append(
            f"latency in ms ({size.size} bytes, {size.iterations} iterations, write with fsync):"
        )
        parts.append(_text_table(header, rows))
    sizes = run.size_rows()
    if sizes:
        rows = [[p.record.path, str(t.size_mib), *_rates(t)] for p, t in sizes]
        parts.append("large files (H5), fsync once per file:")
        parts.append(_text_table(THROUGHPUT_HEADER, rows))
        parts += [f"  {_skip_note(p.record, t)}" for p, t in sizes if t.skipped]
    if run.appends:
        parts.append("concurrent appends (H4), per writer (one per instance):")
        parts.append(_text_table(APPEND_HEADER, [_append_row(a) for a in run.appends]))
    if not run.cells:
        # No matrix, so no summary line: the run's facts head the measurements instead.
        parts.insert(0, f"measured on {_facts_line(run)}")
    return "\n".join(parts)


def render_markdown(runs: Sequence[RunReport], drifts: Sequence[Drift] | None = None) -> str:
    """Markdown for one run in detail, or several side by side; drifts listed when given."""
    if not runs:
        return f"{TITLE}\n\nNo live cell ran.\n"
    out = [TITLE, ""]
    if len(runs) == 1:
        out += _one_run(runs[0])
    else:
        out += _side_by_side(runs)
    if drifts is not None:
        out += ["", "## Drift from the baseline", ""]
        out += [f"- {_escape(d.sentence())}" for d in drifts] or ["No cell drifted."]
    return "\n".join(out) + "\n"


def _one_run(run: RunReport) -> list[str]:
    out = [f"- **{name}**: `{value}`" for name, value in _facts(run)]
    if run.cells:
        out += [f"- **cells as expected**: {run.summary()}", ""]
        columns = _columns([run])
        out.append("| event | " + " | ".join(f"`{c}`" for c in columns) + " | fired |")
        out.append("|---" * (len(columns) + 2) + "|")
        for event in _events([run]):
            cells = [_mark(run.cell(event, c)) for c in columns]
            out.append(f"| {event} | " + " | ".join(cells) + f" | {_fired(run, event)} |")
        out += ["", "## Containers and instances per event", ""]
        out += ["| event | container before -> after | instance before -> after | proof |"]
        out += ["|---|---|---|---|"]
        for event in _events([run]):
            found = run.cell(event, CONTAINER)
            cell = found.record if found else next(c for c in _cells(run) if c.event == event)
            if cell.skipped:
                out.append(f"| {event} | - | - | skipped: {_escape(cell.explanation)} |")
                continue
            out.append(
                f"| {event} | {cell.container_before or '?'} -> {cell.container_after or '?'} | "
                f"{_short(cell.instance_before)} -> {_short(cell.instance_after)} | "
                f"{_escape(cell.proof or '')} |"
            )
    if run.latency_rows():
        out += ["", "## Latency (ms)", "", *_latency_table(run.latency_rows())]
    if run.size_rows():
        out += ["", "## Large files (H5)", "", "Written in 1 MiB chunks, fsync once per file."]
        out += ["", *_markdown_table(THROUGHPUT_HEADER)]
        out += [
            f"| `{p.record.path}` | {t.size_mib} | " + " | ".join(_rates(t)) + " |"
            for p, t in run.size_rows()
        ]
        skipped = [
            f"- `{p.record.path}` {t.size_mib} MiB skipped: {_escape(t.skipped)}"
            for p, t in run.size_rows()
            if t.skipped
        ]
        out += ["", *skipped] if skipped else []
    if run.appends:
        out += ["", "## Concurrent appends (H4)", ""]
        out += [
            "Each instance appends numbered records to one file at the same time. Per writer "
            "(one per instance, separated by /): its records found in the file (of those it "
            "appended), lost, duplicated; torn: lines that are no writer's whole record.",
            "",
            *_markdown_table(APPEND_HEADER),
        ]
        if any(a.record.observed == AppendOutcome.NOT_SHARED.value for a in run.appends):
            out[-2:-2] = [
                "Where the outcome is not_shared, the instances do not share the file: each "
                "writer is counted in the file on its own instance.",
                "",
            ]
        for append in run.appends:
            lock, *rest = _append_row(append)
            out.append(f"| `{lock}` | " + " | ".join(_escape(text) for text in rest) + " |")
        out.append("")
        # Marked after the lock, so that the proof list of the matrix cells stays their own.
        out += [
            f"- `{a.record.lock}` {PASS_MARK if a.passed else FAIL_MARK}: "
            f"{_escape(a.record.explanation)}"
            for a in run.appends
        ]
    if run.cells:
        out += ["", "## Proof per cell", ""]
        order = sorted(run.judged, key=lambda c: (event_order(c.record.event), c.record.path))
        for judged in order:
            story = judged.record.explanation or judged.record.proof or ""
            out.append(f"- **{PASS_MARK if judged.passed else FAIL_MARK}** {_escape(story)}")
    return out


def _side_by_side(runs: Sequence[RunReport]) -> list[str]:
    out = [
        "| run | backend | region | SKU | configuration | run id | cells as expected |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        passed = sum(cell.passed for cell in run.judged)
        out.append(
            f"| {_escape(run.label)} | {run.backend} | {run.region or '-'} | {run.sku or '-'} | "
            f"{_escape(run.configuration_label)} | `{run.run_id}` | "
            f"{passed} of {len(run.judged)} |"
        )
    keys = sorted(
        {(cell.event, cell.path) for run in runs for cell in _cells(run)},
        key=lambda key: (event_order(key[0]), key[1] == CONTAINER, key[1]),
    )
    if keys:
        out += ["", "## Cells side by side", ""]
        out.append(
            "| event | path | expected | " + " | ".join(_escape(r.label) for r in runs) + " |"
        )
        out.append("|---" * (len(runs) + 3) + "|")
        for event, path in keys:
            found = [run.cell(event, path) for run in runs]
            expected = _expected([c.record.expected for c in found if c is not None])
            marks = [_mark(cell, always_expected=expected == PER_RUN) for cell in found]
            out.append(f"| {event} | `{path}` | {expected} | " + " | ".join(marks) + " |")
    out += _throughput_side_by_side(runs)
    out += _appends_side_by_side(runs)
    paths = list(dict.fromkeys(p.record.path for run in runs for p, _ in run.latency_rows()))
    if paths:
        out += ["", "## Latency side by side (median ms, write with fsync / read)", ""]
        out.append("| path | " + " | ".join(_escape(r.label) for r in runs) + " |")
        out.append("|---" * (len(runs) + 1) + "|")
        for path in paths:
            figures = []
            for run in runs:
                rows = [row for p, row in run.latency_rows() if p.record.path == path]
                figures.append(
                    "<br>".join(
                        f"{_figure(r.write_ms.get('median'))} / {_figure(r.read_ms.get('median'))}"
                        for r in rows
                    )
                    or "-"
                )
            out.append(f"| `{path}` | " + " | ".join(figures) + " |")
    return out


def _throughput_side_by_side(runs: Sequence[RunReport]) -> list[str]:
    sizes = sorted({(p.record.path, t.size_mib) for run in runs for p, t in run.size_rows()})
    if not sizes:
        return []
    out = ["", "## Large files side by side (MiB/s, write / read)", ""]
    out.append("| path | size MiB | " + " | ".join(_escape(r.label) for r in runs) + " |")
    out.append("|---" * (len(runs) + 2) + "|")
    for path, size in sizes:
        figures = []
        for run in runs:
            found = next(
                (t for p, t in run.size_rows() if (p.record.path, t.size_mib) == (path, size)),
                None,
            )
            if found is None:
                figures.append("-")
            elif found.skipped:
                figures.append(SKIPPED)
            else:
                rates = (found.figures.get("write_mib_s"), found.figures.get("read_mib_s"))
                figures.append(" / ".join(_figure(rate) for rate in rates))
        out.append(f"| `{path}` | {size} | " + " | ".join(figures) + " |")
    return out


def _appends_side_by_side(runs: Sequence[RunReport]) -> list[str]:
    locks = list(dict.fromkeys(a.record.lock for run in runs for a in run.appends))
    if not locks:
        return []
    out = ["", "## Concurrent appends side by side (H4)", ""]
    out.append("| lock | expected | " + " | ".join(_escape(r.label) for r in runs) + " |")
    out.append("|---" * (len(runs) + 2) + "|")
    for lock in locks:
        found = [next((a for a in run.appends if a.record.lock == lock), None) for run in runs]
        expected = _expected([a.record.expected for a in found if a is not None])
        marks = [
            _outcome_mark(a.record.observed, a.record.expected, a.passed)
            + (f" (expected {a.record.expected})" if expected == PER_RUN else "")
            if a
            else "-"
            for a in found
        ]
        out.append(f"| `{lock}` | {expected} | " + " | ".join(marks) + " |")
    return out


def _rates(row: SizeFigures) -> list[str]:
    """The four figures of a size, or ``skipped`` and dashes when it did not fit."""
    if row.skipped:
        return [SKIPPED, "-", "-", "-"]
    return [_figure(row.figures.get(name)) for name in FIGURES]


def _skip_note(path: ThroughputRecord, row: SizeFigures) -> str:
    return f"{path.path} {row.size_mib} MiB skipped: {row.skipped}"


def _append_row(evidence: Evidence[AppendRecord]) -> list[str]:
    """H4's columns: lock, expected, observed, then per-writer counts joined by ' / '."""
    append, writers = evidence.record, evidence.record.writers

    def per_writer(values: list[int | None]) -> str:
        return " / ".join(_count(v) for v in values) if values else "-"

    records = per_writer([w.records_found for w in writers])
    if writers:
        records += f" (of {append.records_per_writer})"
    return [
        append.lock,
        append.expected,
        _outcome_mark(append.observed, append.expected, evidence.passed),
        records,
        per_writer([w.lost for w in writers]),
        per_writer([w.duplicated for w in writers]),
        _count(append.torn_lines),
        ", ".join(_short(w.instance_id) for w in writers) or "-",
    ]


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _markdown_table(header: Sequence[str]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]


def _latency_table(rows: Sequence[LatencyRow]) -> list[str]:
    first = rows[0][0].record
    out = [
        f"{first.size} bytes, {first.iterations} iterations; write includes fsync.",
        "",
        "| path | instance | container | "
        + " | ".join(f"write {s}" for s in STATS)
        + " | "
        + " | ".join(f"read {s}" for s in STATS)
        + " |",
        "|---" * (3 + 2 * len(STATS)) + "|",
    ]
    for path, row in rows:
        out.append(
            f"| `{path.record.path}` | {_short(row.instance_id)} | {row.hostname or '-'} | "
            + " | ".join(_figures(row.write_ms))
            + " | "
            + " | ".join(_figures(row.read_ms))
            + " |"
        )
    return out


def _cells(run: RunReport) -> list[CellRecord]:
    return [cell.record for cell in run.cells]


def _columns(runs: Sequence[RunReport]) -> list[str]:
    cells = [cell for run in runs for cell in _cells(run)]
    paths = list(dict.fromkeys(c.path for c in cells if c.path != CONTAINER))
    if any(c.path == CONTAINER for c in cells):
        paths.append(CONTAINER)
    return paths


def _events(runs: Sequence[RunReport]) -> list[str]:
    return sorted({c.event for run in runs for c in _cells(run)}, key=event_order)


def _expected(values: Sequence[str]) -> str:
    """The expected column side by side: the runs' one expectation, or PER_RUN."""
    distinct = set(values)
    if len(distinct) > 1:
        return PER_RUN
    return distinct.pop() if distinct else "-"


def _mark(evidence: Evidence[CellRecord] | None, *, always_expected: bool = False) -> str:
    if evidence is None:
        return "-"
    cell, passed = evidence.record, evidence.passed
    if cell.skipped:
        return "skipped"
    mark = _outcome_mark(cell.observed, cell.expected, passed)
    if not always_expected and (passed or cell.expected == cell.observed):
        return mark
    return f"{mark} (expected {cell.expected})"


def _outcome_mark(observed: str, expected: str, passed: bool) -> str:
    if passed and expected == "observe":
        return f"{observed} (observed)"
    return f"{observed} {PASS_MARK if passed else FAIL_MARK}"


def _fired(run: RunReport, event: str) -> str:
    cells = [c for c in _cells(run) if c.event == event]
    if all(c.skipped for c in cells):
        return "skipped"
    counts = {str(c.trigger_count) for c in cells if c.trigger_count is not None}
    return f"{'/'.join(sorted(counts)) or '?'}x"


def _facts(run: RunReport) -> list[tuple[str, str]]:
    facts = [("backend", run.backend), ("run_id", run.run_id), ("region", run.region)]
    facts = [(name, value) for name, value in [*facts, ("sku", run.sku)] if value]
    return [*facts, ("configuration", run.configuration_label)]


def _facts_line(run: RunReport) -> str:
    # The configuration last and after a semicolon: its own words hold commas.
    *facts, (_, configuration) = _facts(run)
    named = ", ".join(f"{name} {value}" for name, value in facts)
    return f"{named}; configuration {configuration}"


def _figures(stats: Mapping[str, float]) -> list[str]:
    return [_figure(stats.get(s)) for s in STATS]


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        " | ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _short(instance_id: str) -> str:
    return f"{instance_id[:12]}…" if len(instance_id) > 12 else (instance_id or "?")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
