"""The evidence matrix as terminal text and Markdown."""

from __future__ import annotations

from pytest_appservice_fs.evidence import Verdict, judge_container, judge_path
from pytest_appservice_fs.expectations import HOME, LAB_MATRIX, TMP, VAR_LOCAL
from pytest_appservice_fs.model import (
    Event,
    Identity,
    MarkerRead,
    MarkerWrite,
    Observation,
)
from pytest_appservice_fs.report import FAIL_MARK, PASS_MARK, render_markdown, render_text

SUM = "f" * 64


def _verdict(
    event: Event,
    path: str,
    expected: str,
    observed: str,
    *,
    trigger_count: str = "1",
    explanation: str = "because",
    facts: tuple[tuple[str, str], ...] = (),
) -> Verdict:
    properties = (
        ("backend", "fake"),
        ("run_id", "run-7"),
        *facts,
        ("trigger_count", trigger_count),
    )
    return Verdict("H", event, path, expected, observed, explanation, properties)


def _lab_verdicts(*, lost_on_restart: bool = False) -> list[Verdict]:
    """Verdicts as the plugin makes them for every cell of the lab matrix, in reverse order."""
    verdicts: list[Verdict] = []
    for event in reversed(list(Event)):
        after = Identity("b" * 64 if event is Event.SCALE_OUT else "a" * 64, "cccccccccccc")
        if event is Event.RESTART:
            after = Identity("a" * 64, "aaaaaaaaaaaa")
        reads = {}
        for path in (HOME, TMP, VAR_LOCAL):
            kept = path == HOME or (event is Event.RESTART and not lost_on_restart)
            reads[path] = (
                MarkerRead(
                    path, exists=True, checksum_valid=True, stored_checksum=SUM, actual_checksum=SUM
                )
                if kept
                else MarkerRead(path, exists=False)
            )
        observation = Observation(
            event=event,
            run_id="run-7",
            nonce="n",
            trigger_count=1,
            instance_before=Identity("a" * 64, "aaaaaaaaaaaa"),
            instance_after=after,
            written={p: MarkerWrite(p, checksum=SUM) for p in reads},
            read=reads,
            proven=True,
            proof="proof",
            facts={"region": "koreacentral", "sku": "B1"},
        )
        for hypothesis in ("H1", "H2", "H3"):
            for cell in LAB_MATRIX.path_cells(hypothesis, [event]):
                verdicts.append(judge_path(observation, cell, backend="fake"))
        for container in LAB_MATRIX.container_cells([event]):
            verdicts.append(judge_container(observation, container, backend="fake"))
    return verdicts


def _table_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    return [[cell.strip() for cell in line.split(" | ")] for line in lines if " | " in line]


def test_text_matrix_of_the_lab() -> None:
    """One row per event in Event order, one column per path plus container, all ok."""
    text = render_text(_lab_verdicts())
    rows = _table_rows(text)
    assert rows[0] == ["event", HOME, TMP, VAR_LOCAL, "container", "fired"]
    assert [row[0] for row in rows[1:]] == ["restart", "stop_start", "deploy", "scale_out"]
    assert rows[1] == ["restart", "persists ok", "persists ok", "persists ok", "kept ok", "1x"]
    assert rows[2] == ["stop_start", "persists ok", "lost ok", "lost ok", "recreated ok", "1x"]
    assert rows[4] == [
        "scale_out",
        "visible ok",
        "not_visible ok",
        "not_visible ok",
        "new_instance ok",
        "1x",
    ]
    assert FAIL_MARK not in text
    assert text.splitlines()[-1] == (
        "16 of 16 cells as expected (backend fake, run_id run-7, region koreacentral, sku B1)"
    )


def test_text_matrix_separator_matches_widths() -> None:
    """The separator line under the header is as wide as the header, column by column."""
    lines = render_text(_lab_verdicts()).splitlines()
    assert set(lines[1]) == {"-", "+"}
    assert [len(part) for part in lines[1].split("-+-")] == [
        len(part) for part in lines[0].split(" | ")
    ]


def test_text_marks_mismatches_with_fail() -> None:
    """A cell that differs from its expectation shows observed, expected and FAIL."""
    text = render_text(_lab_verdicts(lost_on_restart=True))
    restart = _table_rows(text)[1]
    assert restart[2] == f"lost (expected persists) {FAIL_MARK}"
    assert restart[3] == f"lost (expected persists) {FAIL_MARK}"
    assert restart[1] == f"persists {PASS_MARK}"
    assert text.splitlines()[-1].startswith("14 of 16 cells as expected")


def test_missing_cell_is_a_dash_and_counts_shown() -> None:
    """A column without a verdict for an event shows '-'; the fired column shows the count."""
    verdicts = [
        _verdict(Event.DEPLOY, TMP, "lost", "lost", trigger_count="2"),
        _verdict(Event.RESTART, HOME, "persists", "persists"),
    ]
    rows = _table_rows(render_text(verdicts))
    assert rows[0] == ["event", TMP, HOME, "fired"]
    assert rows[1] == ["restart", "-", "persists ok", "1x"]
    assert rows[2] == ["deploy", "lost ok", "-", "2x"]


def test_container_column_comes_last() -> None:
    """The container column follows the path columns, whatever order the verdicts come in."""
    verdicts = [
        _verdict(Event.RESTART, "container", "kept", "kept"),
        _verdict(Event.RESTART, HOME, "persists", "persists"),
    ]
    assert _table_rows(render_text(verdicts))[0] == ["event", HOME, "container", "fired"]


def test_empty_text_is_empty() -> None:
    """No verdicts: no terminal matrix at all."""
    assert render_text([]) == ""


def test_empty_markdown_says_no_cell_ran() -> None:
    """No verdicts: a Markdown document that says no live cell ran."""
    assert render_markdown([]) == "# App Service filesystem evidence\n\nNo live cell ran.\n"


def test_markdown_matrix_of_the_lab() -> None:
    """The Markdown has the facts, a table in Event order, and one proof line per cell."""
    markdown = render_markdown(_lab_verdicts(lost_on_restart=True))
    lines = markdown.splitlines()
    assert lines[0] == "# App Service filesystem evidence"
    assert "- **backend**: `fake`" in lines
    assert "- **region**: `koreacentral`" in lines
    assert "- **sku**: `B1`" in lines
    assert "- **cells as expected**: 14 of 16" in lines
    header = lines.index(
        "| event | `/home/data` | `/tmp/data` | `/var/local/data` | `container` | fired |"
    )
    assert lines[header + 1] == "|---|---|---|---|---|---|"
    table = lines[header + 2 : header + 6]
    assert [row.split(" | ")[0] for row in table] == [
        "| restart",
        "| stop_start",
        "| deploy",
        "| scale_out",
    ]
    assert table[0] == (
        f"| restart | persists {PASS_MARK} | lost (expected persists) {FAIL_MARK} | "
        f"lost (expected persists) {FAIL_MARK} | kept {PASS_MARK} | 1x |"
    )
    proofs = [line for line in lines if line.startswith("- **ok**") or line.startswith("- **FAIL")]
    assert len(proofs) == 16
    assert sum(line.startswith(f"- **{FAIL_MARK}**") for line in proofs) == 2
    assert markdown.endswith("\n")


def test_markdown_proofs_are_in_event_order() -> None:
    """Proof lines follow the Event order, whatever order the verdicts come in."""
    verdicts = [
        _verdict(Event.SCALE_OUT, HOME, "visible", "visible", explanation="third"),
        _verdict(Event.RESTART, HOME, "persists", "persists", explanation="first"),
        _verdict(Event.DEPLOY, TMP, "lost", "persists", explanation="second"),
    ]
    proofs = [line for line in render_markdown(verdicts).splitlines() if line.startswith("- **")]
    proofs = [line for line in proofs if "cells as expected" not in line and "`" not in line]
    assert proofs == ["- **ok** first", f"- **{FAIL_MARK}** second", "- **ok** third"]


def test_markdown_escapes_pipes_and_newlines_in_explanations() -> None:
    """A '|' or newline in an explanation cannot break the Markdown."""
    verdict = _verdict(Event.RESTART, TMP, "persists", "lost", explanation="a | b\nc")
    markdown = render_markdown([verdict])
    assert f"- **{FAIL_MARK}** a \\| b c" in markdown.splitlines()
    assert "a | b" not in markdown


def test_markdown_table_rows_have_one_cell_per_column() -> None:
    """Every table row has as many cells as the header."""
    markdown = render_markdown(_lab_verdicts())
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(rows) == 6
    assert {row.count("|") for row in rows} == {7}


def test_trigger_count_column_shows_each_events_count() -> None:
    """The fired column shows each event's own trigger count."""
    verdicts = [
        _verdict(Event.RESTART, TMP, "persists", "persists", trigger_count="1"),
        _verdict(Event.STOP_START, TMP, "lost", "lost", trigger_count="3"),
    ]
    markdown = render_markdown(verdicts)
    assert f"| restart | persists {PASS_MARK} | 1x |" in markdown
    assert f"| stop_start | lost {PASS_MARK} | 3x |" in markdown


def test_inconclusive_mismatch_is_marked_fail() -> None:
    """An inconclusive cell where an outcome was expected is marked FAIL."""
    verdict = _verdict(Event.RESTART, TMP, "persists", "inconclusive")
    row = _table_rows(render_text([verdict]))[1]
    assert row[1] == f"inconclusive (expected persists) {FAIL_MARK}"


def test_every_failed_cell_is_marked_fail() -> None:
    """A verdict that did not pass shows FAIL in the table, even when observed == expected."""
    verdict = _verdict(Event.RESTART, TMP, "inconclusive", "inconclusive")
    assert verdict.passed is False
    assert _table_rows(render_text([verdict]))[1][1].endswith(FAIL_MARK)
