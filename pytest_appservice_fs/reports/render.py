"""Rendering reports: the matrix and latency table for the terminal, and Markdown for one run
(matrix, container proof, latency, large files, concurrent appends, the story of every cell)
or several side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pytest_appservice_fs.engine.expectations import CONTAINER
from pytest_appservice_fs.measurements.latency import STATS
from pytest_appservice_fs.reports.runs import (
    Append,
    Cell,
    Drift,
    Latency,
    RunReport,
    Throughput,
    event_order,
)

PASS_MARK = "ok"  # noqa: S105 - a table mark, not a secret
FAIL_MARK = "FAIL"
TITLE = "# App Service filesystem evidence"
SKIPPED = "skipped"
THROUGHPUT_HEADER = ["path", "size MiB", "write MiB/s", "read MiB/s", "write s", "read s"]
APPEND_HEADER = ["lock", "expected", "observed", "records", "lost", "duplicated", "torn"]
APPEND_HEADER += ["instances"]


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
    if run.latency:
        header = ["path", "instance", *(f"write {s}" for s in STATS), *(f"read {s}" for s in STATS)]
        rows = [
            [row.path, row.instance[:12], *_figures(row.write_ms), *_figures(row.read_ms)]
            for row in run.latency
        ]
        size = run.latency[0]
        parts.append(
            f"latency in ms ({size.size} bytes, {size.iterations} iterations, write with fsync):"
        )
        parts.append(_text_table(header, rows))
    if run.throughput:
        rows = [[t.path, str(t.size_mib), *_rates(t)] for t in run.throughput]
        parts.append("large files (H5), fsync once per file:")
        parts.append(_text_table(THROUGHPUT_HEADER, rows))
        parts += [f"  {_skip_note(t)}" for t in run.throughput if t.skipped]
    if run.appends:
        parts.append("concurrent appends (H4), per writer (one per instance):")
        parts.append(_text_table(APPEND_HEADER, [_append_row(a) for a in run.appends]))
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
            cell = run.cell(event, CONTAINER) or next(c for c in run.cells if c.event == event)
            if cell.skipped:
                out.append(f"| {event} | - | - | skipped: {_escape(cell.explanation)} |")
                continue
            out.append(
                f"| {event} | {cell.container_before or '?'} -> {cell.container_after or '?'} | "
                f"{_short(cell.instance_before)} -> {_short(cell.instance_after)} | "
                f"{_escape(cell.proof)} |"
            )
    if run.latency:
        out += ["", "## Latency (ms)", "", *_latency_table(run.latency)]
    if run.throughput:
        out += ["", "## Large files (H5)", "", "Written in 1 MiB chunks, fsync once per file."]
        out += ["", *_markdown_table(THROUGHPUT_HEADER)]
        out += [
            f"| `{t.path}` | {t.size_mib} | " + " | ".join(_rates(t)) + " |" for t in run.throughput
        ]
        skipped = [
            f"- `{t.path}` {t.size_mib} MiB skipped: {_escape(t.skipped)}"
            for t in run.throughput
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
        for append in run.appends:
            lock, *rest = _append_row(append)
            out.append(f"| `{lock}` | " + " | ".join(_escape(text) for text in rest) + " |")
        out.append("")
        # Marked after the lock, so that the proof list of the matrix cells stays their own.
        out += [
            f"- `{a.lock}` {PASS_MARK if a.passed else FAIL_MARK}: {_escape(a.explanation)}"
            for a in run.appends
        ]
    if run.cells:
        out += ["", "## Proof per cell", ""]
        for cell in sorted(run.judged, key=lambda c: (event_order(c.event), c.path)):
            mark = PASS_MARK if cell.passed else FAIL_MARK
            out.append(f"- **{mark}** {_escape(cell.explanation or cell.proof)}")
    return out


def _side_by_side(runs: Sequence[RunReport]) -> list[str]:
    out = [
        "| run | backend | region | SKU | run id | cells as expected |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        passed = sum(cell.passed for cell in run.judged)
        out.append(
            f"| {_escape(run.label)} | {run.backend} | {run.region or '-'} | {run.sku or '-'} | "
            f"`{run.run_id}` | {passed} of {len(run.judged)} |"
        )
    keys = sorted(
        {(cell.event, cell.path) for run in runs for cell in run.cells},
        key=lambda key: (event_order(key[0]), key[1] == CONTAINER, key[1]),
    )
    if keys:
        out += ["", "## Cells side by side", ""]
        out.append(
            "| event | path | expected | " + " | ".join(_escape(r.label) for r in runs) + " |"
        )
        out.append("|---" * (len(runs) + 3) + "|")
        for event, path in keys:
            expected = next(
                (c.expected for r in runs if (c := r.cell(event, path)) is not None), "-"
            )
            marks = [_mark(run.cell(event, path)) for run in runs]
            out.append(f"| {event} | `{path}` | {expected} | " + " | ".join(marks) + " |")
    out += _throughput_side_by_side(runs)
    out += _appends_side_by_side(runs)
    paths = list(dict.fromkeys(row.path for run in runs for row in run.latency))
    if paths:
        out += ["", "## Latency side by side (median ms, write with fsync / read)", ""]
        out.append("| path | " + " | ".join(_escape(r.label) for r in runs) + " |")
        out.append("|---" * (len(runs) + 1) + "|")
        for path in paths:
            figures = []
            for run in runs:
                rows = [row for row in run.latency if row.path == path]
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
    sizes = sorted({(t.path, t.size_mib) for run in runs for t in run.throughput})
    if not sizes:
        return []
    out = ["", "## Large files side by side (MiB/s, write / read)", ""]
    out.append("| path | size MiB | " + " | ".join(_escape(r.label) for r in runs) + " |")
    out.append("|---" * (len(runs) + 2) + "|")
    for path, size in sizes:
        figures = []
        for run in runs:
            found = next((t for t in run.throughput if (t.path, t.size_mib) == (path, size)), None)
            if found is None:
                figures.append("-")
            elif found.skipped:
                figures.append(SKIPPED)
            else:
                figures.append(f"{_figure(found.write_mib_s)} / {_figure(found.read_mib_s)}")
        out.append(f"| `{path}` | {size} | " + " | ".join(figures) + " |")
    return out


def _appends_side_by_side(runs: Sequence[RunReport]) -> list[str]:
    locks = list(dict.fromkeys(a.lock for run in runs for a in run.appends))
    if not locks:
        return []
    out = ["", "## Concurrent appends side by side (H4)", ""]
    out.append("| lock | expected | " + " | ".join(_escape(r.label) for r in runs) + " |")
    out.append("|---" * (len(runs) + 2) + "|")
    for lock in locks:
        found = [next((a for a in run.appends if a.lock == lock), None) for run in runs]
        expected = next((a.expected for a in found if a is not None), "-")
        marks = [_outcome_mark(a.observed, a.expected, a.passed) if a else "-" for a in found]
        out.append(f"| `{lock}` | {expected} | " + " | ".join(marks) + " |")
    return out


def _rates(row: Throughput) -> list[str]:
    """The four figures of a size, or ``skipped`` and dashes when it did not fit."""
    if row.skipped:
        return [SKIPPED, "-", "-", "-"]
    figures = (row.write_mib_s, row.read_mib_s, row.write_seconds, row.read_seconds)
    return [_figure(value) for value in figures]


def _skip_note(row: Throughput) -> str:
    return f"{row.path} {row.size_mib} MiB skipped: {row.skipped}"


def _append_row(append: Append) -> list[str]:
    """H4's columns: lock, expected, observed, then per-writer counts joined by ' / '."""
    writers = append.writers

    def per_writer(values: list[int | None]) -> str:
        return " / ".join(_count(v) for v in values) if values else "-"

    records = per_writer([w.records_found for w in writers])
    if writers:
        records += f" (of {append.records_per_writer})"
    return [
        append.lock,
        append.expected,
        _outcome_mark(append.observed, append.expected, append.passed),
        records,
        per_writer([w.lost for w in writers]),
        per_writer([w.duplicated for w in writers]),
        _count(append.torn_lines),
        ", ".join(_short(w.instance) for w in writers) or "-",
    ]


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _markdown_table(header: Sequence[str]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]


def _latency_table(rows: Sequence[Latency]) -> list[str]:
    first = rows[0]
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
    for row in rows:
        out.append(
            f"| `{row.path}` | {_short(row.instance)} | {row.hostname or '-'} | "
            + " | ".join(_figures(row.write_ms))
            + " | "
            + " | ".join(_figures(row.read_ms))
            + " |"
        )
    return out


def _columns(runs: Sequence[RunReport]) -> list[str]:
    paths = list(dict.fromkeys(c.path for run in runs for c in run.cells if c.path != CONTAINER))
    if any(c.path == CONTAINER for run in runs for c in run.cells):
        paths.append(CONTAINER)
    return paths


def _events(runs: Sequence[RunReport]) -> list[str]:
    return sorted({c.event for run in runs for c in run.cells}, key=event_order)


def _mark(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    if cell.skipped:
        return "skipped"
    mark = _outcome_mark(cell.observed, cell.expected, cell.passed)
    if cell.passed or cell.expected == cell.observed:
        return mark
    return f"{mark} (expected {cell.expected})"


def _outcome_mark(observed: str, expected: str, passed: bool) -> str:
    if passed and expected == "observe":
        return f"{observed} (observed)"
    return f"{observed} {PASS_MARK if passed else FAIL_MARK}"


def _fired(run: RunReport, event: str) -> str:
    if all(c.skipped for c in run.cells if c.event == event):
        return "skipped"
    counts = {c.trigger_count for c in run.cells if c.event == event and c.trigger_count}
    return f"{'/'.join(sorted(counts)) or '?'}x"


def _facts(run: RunReport) -> list[tuple[str, str]]:
    facts = [("backend", run.backend), ("run_id", run.run_id), ("region", run.region)]
    return [(name, value) for name, value in [*facts, ("sku", run.sku)] if value]


def _facts_line(run: RunReport) -> str:
    return ", ".join(f"{name} {value}" for name, value in _facts(run))


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
