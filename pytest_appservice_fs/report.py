"""The evidence matrix (event x path, expected vs observed) as terminal text and Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_appservice_fs.evidence import Verdict
from pytest_appservice_fs.expectations import CONTAINER
from pytest_appservice_fs.model import Event

PASS_MARK = "ok"  # noqa: S105 - a table mark, not a secret
FAIL_MARK = "FAIL"


def _columns(verdicts: Sequence[Verdict]) -> list[str]:
    paths = list(dict.fromkeys(v.path for v in verdicts if v.path != CONTAINER))
    if any(v.path == CONTAINER for v in verdicts):
        paths.append(CONTAINER)
    return paths


def _rows(verdicts: Sequence[Verdict]) -> list[Event]:
    present = {v.event for v in verdicts}
    return [event for event in Event if event in present]


def _cell(verdicts: Sequence[Verdict], event: Event, column: str) -> str:
    found = [v for v in verdicts if v.event is event and v.path == column]
    if not found:
        return "-"
    verdict = found[0]
    if verdict.passed:
        return f"{verdict.observed} {PASS_MARK}"
    if verdict.expected == verdict.observed:
        return f"{verdict.observed} {FAIL_MARK}"
    return f"{verdict.observed} (expected {verdict.expected}) {FAIL_MARK}"


def _facts(verdicts: Sequence[Verdict]) -> list[tuple[str, str]]:
    props = dict(verdicts[0].properties)
    names = ("backend", "run_id", "region", "sku")
    return [(name, props[name]) for name in names if props.get(name)]


def _trigger_counts(verdicts: Sequence[Verdict]) -> dict[Event, str]:
    return {v.event: dict(v.properties).get("trigger_count", "?") for v in verdicts}


def render_text(verdicts: Sequence[Verdict]) -> str:
    """The matrix for the terminal: one row per event, one column per path."""
    if not verdicts:
        return ""
    columns = _columns(verdicts)
    counts = _trigger_counts(verdicts)
    header = ["event", *columns, "fired"]
    rows = [
        [event.value, *(_cell(verdicts, event, c) for c in columns), f"{counts[event]}x"]
        for event in _rows(verdicts)
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        " | ".join(text.ljust(w) for text, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    facts = ", ".join(f"{name} {value}" for name, value in _facts(verdicts))
    passed = sum(v.passed for v in verdicts)
    summary = f"{passed} of {len(verdicts)} cells as expected ({facts})"
    return "\n".join([*lines, summary])


def render_markdown(verdicts: Sequence[Verdict]) -> str:
    """The matrix as a Markdown document: facts, table, and the story of every cell."""
    if not verdicts:
        return "# App Service filesystem evidence\n\nNo live cell ran.\n"
    columns = _columns(verdicts)
    counts = _trigger_counts(verdicts)
    out = ["# App Service filesystem evidence", ""]
    out += [f"- **{name}**: `{value}`" for name, value in _facts(verdicts)]
    passed = sum(v.passed for v in verdicts)
    out += [f"- **cells as expected**: {passed} of {len(verdicts)}", ""]
    out.append("| event | " + " | ".join(f"`{c}`" for c in columns) + " | fired |")
    out.append("|---" * (len(columns) + 2) + "|")
    for event in _rows(verdicts):
        cells = [_cell(verdicts, event, c) for c in columns]
        out.append(f"| {event.value} | " + " | ".join(cells) + f" | {counts[event]}x |")
    out += ["", "## Proof per cell", ""]
    for verdict in sorted(verdicts, key=lambda v: (list(Event).index(v.event), v.path)):
        mark = PASS_MARK if verdict.passed else FAIL_MARK
        out.append(f"- **{mark}** {_escape(verdict.explanation)}")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
