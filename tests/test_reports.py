"""Reports from evidence: reading JUnit, rendering, drift, the 1 MiB cut and bad input.

The golden files in tests/data were made from two fake runs and reviewed by hand:

    pytest -m live --backend fake --region westeurope --sku B1 --run-id golden-a \\
        --junitxml=tests/data/junit/fake-westeurope-b1.xml tests_live
    pytest -m live --backend fake --region koreacentral --sku P1v3 --run-id golden-b \\
        --fake-fault home-not-persistent \\
        --junitxml=tests/data/junit/fake-koreacentral-p1v3-home-lost.xml tests_live
    appservice-fs-report tests/data/junit/fake-westeurope-b1.xml \\
        --markdown tests/data/reports/one-run.md --json tests/data/reports/one-run.json
    appservice-fs-report tests/data/junit/fake-westeurope-b1.xml \\
        tests/data/junit/fake-koreacentral-p1v3-home-lost.xml --baseline lab \\
        --markdown tests/data/reports/side-by-side.md

The H4 and H5 run (measurements only, no matrix cell) came from the live suite's two files:

    pytest -m live --backend fake --region westeurope --sku B1 --run-id golden-c \\
        --junitxml=tests/data/junit/fake-westeurope-b1-h4-h5.xml \\
        tests_live/test_h4_concurrent_appends.py tests_live/test_h5_large_files.py
    appservice-fs-report tests/data/junit/fake-westeurope-b1-h4-h5.xml \\
        --markdown tests/data/reports/h4-h5.md
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_appservice_fs.reports.cli import main
from pytest_appservice_fs.reports.junit import read_junit
from pytest_appservice_fs.reports.render import render_markdown, render_text
from pytest_appservice_fs.reports.runs import (
    STEP_SUMMARY_LIMIT,
    Case,
    ReportError,
    append_step_summary,
    cut_to,
    find_drifts,
    load_baseline,
    run_from_cases,
    to_json,
)

DATA = Path(__file__).parent / "data"
RUN_A = DATA / "junit" / "fake-westeurope-b1.xml"
RUN_B = DATA / "junit" / "fake-koreacentral-p1v3-home-lost.xml"
RUN_C = DATA / "junit" / "fake-westeurope-b1-h4-h5.xml"
#: How the reports name the runs of RUN_A and RUN_B (evidence from before configurations
#: existed reads as the lab's: code, storage on).
LABEL_A = "fake westeurope B1 (code, storage on)"
LABEL_B = "fake koreacentral P1v3 (code, storage on)"


def test_junit_reads_back_as_the_run_it_was() -> None:
    """A run's JUnit file gives its facts, 16 cells and three latency rows."""
    run = read_junit(RUN_A)
    assert (run.backend, run.region, run.sku, run.run_id) == (
        "fake",
        "westeurope",
        "B1",
        "golden-a",
    )
    assert run.label == LABEL_A
    assert len(run.cells) == 16
    assert all(cell.passed for cell in run.cells)
    latency = [path.record for path in run.latency]
    assert [path.path for path in latency] == ["/home/data", "/tmp/data", "/var/local/data"]
    assert all(path.size == 4096 and path.iterations == 10 for path in latency)
    assert all(len(path.instances) == 1 for path in latency)
    assert list(run.latency_rows())
    assert all(
        set(row.write_ms) == {"min", "median", "p95", "max"} for _, row in run.latency_rows()
    )
    stop_start = run.cell("stop_start", "/tmp/data")
    assert stop_start is not None
    assert (stop_start.record.expected, stop_start.record.observed) == ("lost", "lost")


def test_failed_cells_read_back_as_failed() -> None:
    """Cells whose testcase failed are failed in the report, with what was observed."""
    run = read_junit(RUN_B)
    failed = {(c.record.event, c.record.path) for c in run.cells if not c.passed}
    assert failed == {
        ("restart", "/home/data"),
        ("stop_start", "/home/data"),
        ("deploy", "/home/data"),
        ("scale_out", "/home/data"),
    }
    assert run.cell("restart", "/home/data").record.observed == "lost"  # type: ignore[union-attr]


def test_one_run_markdown_matches_the_reviewed_golden_file() -> None:
    """Matrix, containers per event, latency and the proof of every cell, as reviewed."""
    expected = (DATA / "reports" / "one-run.md").read_text(encoding="utf-8")
    assert render_markdown([read_junit(RUN_A)]) == expected


def test_side_by_side_markdown_matches_the_reviewed_golden_file() -> None:
    """Two runs: one column each, drift from the lab listed, as reviewed."""
    runs = [read_junit(RUN_A), read_junit(RUN_B)]
    drifts = find_drifts(runs, load_baseline("lab"))
    expected = (DATA / "reports" / "side-by-side.md").read_text(encoding="utf-8")
    assert render_markdown(runs, drifts) == expected
    assert f"| event | path | expected | {LABEL_A} | {LABEL_B} |" in expected


def test_one_run_json_matches_the_golden_file() -> None:
    """The JSON report: cells, latency, and (empty here) throughput and appends."""
    expected = json.loads((DATA / "reports" / "one-run.json").read_text(encoding="utf-8"))
    written = to_json([read_junit(RUN_A)])
    written["runs"][0]["source"] = "tests/data/junit/fake-westeurope-b1.xml"
    assert written == expected
    assert (expected["runs"][0]["throughput"], expected["runs"][0]["appends"]) == ([], [])


@pytest.mark.parametrize(
    ("junit", "golden"),
    [(RUN_B, "home-lost.json"), (RUN_C, "h4-h5.json")],
    ids=["cells-latency-drifts", "h4-h5"],
)
def test_json_keeps_its_shape(junit: Path, golden: str) -> None:
    """The JSON report (which --baseline reads back) is what it was before the records: the
    same keys in the same order, the same values, for cells, latency, H5, H4 and drifts."""
    runs = [read_junit(junit)]
    written = to_json(runs, find_drifts(runs, load_baseline("lab")))
    written["runs"][0]["source"] = f"tests/data/junit/{junit.name}"
    text = (DATA / "reports" / golden).read_text(encoding="utf-8")
    assert json.dumps(written, indent=2, ensure_ascii=False) + "\n" == text


def test_h4_testcases_are_append_rows_not_cells() -> None:
    """H4 testcases read back as appends, one per lock mode, with each writer's counts."""
    run = read_junit(RUN_C)
    assert (run.cells, run.label) == ((), LABEL_A)
    assert [
        (a.record.lock, a.record.expected, a.record.observed, a.passed) for a in run.appends
    ] == [
        ("flock", "intact", "intact", True),
        ("none", "observe", "intact", True),
    ]
    flock = run.appends[0].record
    assert (flock.path, flock.records_per_writer, flock.lines, flock.torn_lines) == (
        "/home/data",
        200,
        400,
        0,
    )
    assert [(w.appended, w.records_found, w.lost, w.duplicated) for w in flock.writers] == [
        (200, 200, 0, 0),
        (200, 200, 0, 0),
    ]
    assert len({w.instance_id for w in flock.writers}) == 2
    assert all(w.name.startswith(f"w{i}-") for i, w in enumerate(flock.writers))
    assert flock.overlap_seconds is not None
    assert flock.overlap_seconds > 0
    assert flock.explanation.startswith("H4 lock=flock on /home/data: expected intact")
    assert len(run.size_rows()) == 6


def test_h4_h5_markdown_matches_the_reviewed_golden_file() -> None:
    """H5's table, then H4's, with the proof of each lock mode, as reviewed."""
    expected = (DATA / "reports" / "h4-h5.md").read_text(encoding="utf-8")
    assert render_markdown([read_junit(RUN_C)]) == expected
    assert expected.index("## Large files (H5)") < expected.index("## Concurrent appends (H4)")


def test_h4_in_json_terminal_and_side_by_side() -> None:
    """The JSON carries every writer; the terminal shows the H4 table; runs side by side
    show each lock mode's outcome per run ('-' where a run has none)."""
    run = read_junit(RUN_C)
    data = json.loads(json.dumps(to_json([run])))
    appends = data["runs"][0]["appends"]
    assert [a["lock"] for a in appends] == ["flock", "none"]
    assert appends[0]["writers"][1]["records_found"] == 200
    assert appends[0]["torn_lines"] == 0
    lines = render_text(run).splitlines()
    start = lines.index("concurrent appends (H4), per writer (one per instance):")
    assert [cell.strip() for cell in lines[start + 1].split(" | ")] == [
        "lock",
        "expected",
        "observed",
        "records",
        "lost",
        "duplicated",
        "torn",
        "instances",
    ]
    assert [cell.strip() for cell in lines[start + 3].split(" | ")][:7] == [
        "flock",
        "intact",
        "intact ok",
        "200 / 200 (of 200)",
        "0 / 0",
        "0 / 0",
        "0",
    ]
    side = render_markdown([read_junit(RUN_A), run])
    assert "## Concurrent appends side by side (H4)" in side
    assert "| `flock` | intact | - | intact ok |" in side
    assert "| `none` | observe | - | intact (observed) |" in side


def test_an_inconclusive_h4_case_without_writers_reads_and_renders() -> None:
    """H4 that never got two instances: no writers, no counts, the reason in the proof."""
    reason = "H4 lock=flock on /home/data: expected intact, observed inconclusive: no scale-out"
    props = {
        "hypothesis": "H4",
        "path": "/home/data",
        "expected": "intact",
        "observed": "inconclusive",
        "lock": "flock",
        "records_per_writer": "200",
        "writers": "0",
        "lines": "",
        "torn_lines": "",
        "untracked_records": "",
        "overlap_seconds": "",
        "explanation": reason,
    }
    run = run_from_cases([Case("t", "failed", props)], "this run")
    (append,) = run.appends
    assert (append.record.writers, append.record.lines, append.passed) == ((), None, False)
    markdown = render_markdown([run])
    assert "| `flock` | intact | inconclusive FAIL | - | - | - | - | - |" in markdown
    assert f"- `flock` FAIL: {reason}" in markdown


def test_malformed_h4_properties_are_one_sentence() -> None:
    """An H4 testcase whose counts are not numbers is refused, naming the testcase."""
    props = {"hypothesis": "H4", "path": "/home/data", "lock": "flock", "expected": "intact"}
    props |= {"observed": "intact", "writers": "1", "writer.1.lost": "many"}
    with pytest.raises(ReportError, match=r"this run: H4 testcase 't' has malformed properties\."):
        run_from_cases([Case("t", "passed", props)], "this run")


def test_terminal_text_has_matrix_and_latency() -> None:
    """The terminal view: one row per event, the summary line, then the latency table."""
    lines = render_text(read_junit(RUN_B)).splitlines()
    assert lines[0].split(" | ")[0].strip() == "event"
    assert [part.strip() for part in lines[2].split(" | ")][:2] == [
        "restart",
        "lost FAIL (expected persists)",
    ]
    assert lines[6] == (
        "12 of 16 cells as expected (backend fake, run_id golden-b, region koreacentral, sku P1v3; "
        "configuration code, storage on)"
    )
    assert lines[7] == "latency in ms (4096 bytes, 10 iterations, write with fsync):"
    assert lines[8].startswith("path ")
    assert len(lines) == 13


def test_drift_against_the_lab_names_each_cell() -> None:
    """Against the lab's matrix, only the four /home cells of the broken run drift."""
    drifts = find_drifts([read_junit(RUN_A), read_junit(RUN_B)], load_baseline("lab"))
    assert [d.sentence() for d in drifts] == [
        f"{LABEL_B}: restart /home/data: baseline persists, observed lost",
        f"{LABEL_B}: stop_start /home/data: baseline persists, observed lost",
        f"{LABEL_B}: deploy /home/data: baseline persists, observed lost",
        f"{LABEL_B}: scale_out /home/data: baseline visible, observed not_visible",
    ]


def test_a_json_report_is_a_baseline(tmp_path: Path) -> None:
    """A JSON report written earlier is read back as a baseline of its first run."""
    baseline_file = tmp_path / "baseline.json"
    baseline_file.write_text(json.dumps(to_json([read_junit(RUN_B)])))
    baseline = load_baseline(str(baseline_file))
    assert baseline[("stop_start", "/home/data")] == "lost"
    drifts = find_drifts([read_junit(RUN_A)], baseline)
    assert {(d.event, d.path) for d in drifts} == {
        ("restart", "/home/data"),
        ("stop_start", "/home/data"),
        ("deploy", "/home/data"),
        ("scale_out", "/home/data"),
    }


def test_cli_writes_one_column_per_run(tmp_path: Path) -> None:
    """Two runs with other regions and SKUs: a Markdown table with a column for each."""
    out = tmp_path / "report.md"
    assert main([str(RUN_A), str(RUN_B), "--markdown", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| event | path |"))
    assert header == f"| event | path | expected | {LABEL_A} | {LABEL_B} |"


def test_cli_fails_on_drift_and_names_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A baseline that differs in one cell: exit 1, and the cell is named."""
    baseline = to_json([read_junit(RUN_A)])
    for cell in baseline["runs"][0]["cells"]:
        if (cell["event"], cell["path"]) == ("deploy", "/tmp/data"):
            cell["observed"] = "persists"
    baseline_file = tmp_path / "baseline.json"
    baseline_file.write_text(json.dumps(baseline))
    code = main(
        [
            str(RUN_A),
            "--baseline",
            str(baseline_file),
            "--fail-on-drift",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert err.strip() == (f"drift: {LABEL_A}: deploy /tmp/data: baseline persists, observed lost")
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["drifts"] == [
        {
            "run": LABEL_A,
            "event": "deploy",
            "path": "/tmp/data",
            "baseline": "persists",
            "observed": "lost",
        }
    ]


def test_cli_without_drift_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """The lab baseline on a run that matches it: exit 0 and 'No cell drifted.'"""
    assert main([str(RUN_A), "--baseline", "lab", "--fail-on-drift"]) == 0
    assert "No cell drifted." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not xml at all", "is not XML"),
        ("<html><body/></html>", "is not a JUnit file (its root is <html>)."),
        (
            '<testsuite><testcase classname="t" name="plain"/></testsuite>',
            "has no live testcases with evidence properties (a JUnit file of "
            "appservice-fs run, or of pytest -m live).",
        ),
        (
            '<testsuite><testcase classname="t" name="thin"><properties>'
            '<property name="hypothesis" value="H1"/><property name="event" value="restart"/>'
            "</properties></testcase></testsuite>",
            "testcase 't.thin' lacks the properties path, expected, observed",
        ),
    ],
    ids=["not-xml", "not-junit", "no-live", "missing-properties"],
)
def test_bad_input_is_one_sentence_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    """Bad input: exit 2 and one line per bad file naming it; the good file is still reported."""
    bad = tmp_path / "bad.xml"
    bad.write_text(content)
    missing = tmp_path / "missing.xml"
    out = tmp_path / "report.md"
    code = main([str(bad), str(RUN_A), str(missing), "--markdown", str(out)])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"appservice-fs-report: {bad}")
    assert message in lines[0]
    assert (
        lines[1] == f"appservice-fs-report: {missing}: cannot be read (No such file or directory)."
    )
    assert "- **run_id**: `golden-a`" in out.read_text()


def test_only_bad_input_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With no readable run at all: exit 2, the sentence, and no report file."""
    bad = tmp_path / "bad.xml"
    bad.write_text("<html/>")
    out = tmp_path / "report.md"
    assert main([str(bad), "--markdown", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_baseline_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A baseline that is neither 'lab' nor a JSON report: exit 2 and one sentence."""
    baseline = tmp_path / "b.json"
    baseline.write_text('{"something": "else"}')
    assert main([str(RUN_A), "--baseline", str(baseline)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"appservice-fs-report: --baseline {baseline} is neither 'lab' nor a JSON report "
        "written by appservice-fs-report --json."
    )


def test_cases_without_evidence_are_refused() -> None:
    """Cases of a run that recorded nothing are no report."""
    with pytest.raises(ReportError, match="has no live testcases"):
        run_from_cases([Case("t", "passed", {})], "this run")


# --- the 1 MiB job summary ------------------------------------------------------------------


def test_cut_keeps_whole_lines_within_the_limit() -> None:
    """A long report is cut at a line boundary, under the limit, with the note last."""
    text = "".join(f"| line {i} | ünïcödé |\n" for i in range(100_000))
    assert len(text.encode()) > STEP_SUMMARY_LIMIT
    cut = cut_to(text, STEP_SUMMARY_LIMIT, "_cut_")
    assert len(cut.encode("utf-8")) <= STEP_SUMMARY_LIMIT
    assert cut.endswith("\n_cut_\n")
    body = cut[: -len("\n_cut_\n")]
    assert body.endswith("|\n")
    assert text.startswith(body)


def test_short_text_is_not_cut() -> None:
    """A report within the limit is written as it is."""
    assert cut_to("short\n", 100, "_cut_") == "short\n"


def test_step_summary_counts_what_the_step_wrote_already(tmp_path: Path) -> None:
    """Appending keeps the whole summary file within GitHub's 1 MiB, with a note when cut."""
    summary = tmp_path / "summary.md"
    summary.write_text("x" * (STEP_SUMMARY_LIMIT - 1000) + "\n")
    markdown = "".join(f"row {i}\n" for i in range(1000))
    append_step_summary(str(summary), markdown, full_copy="the JUnit file")
    size = summary.stat().st_size
    assert size <= STEP_SUMMARY_LIMIT
    assert summary.read_text().endswith(
        "_The report was cut to fit GitHub's 1 MiB job summary; the JUnit file has it all._\n"
    )


def test_cli_summary_appends_to_the_job_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--summary appends the Markdown to $GITHUB_STEP_SUMMARY."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main([str(RUN_A), str(RUN_B), "--summary", "--markdown", str(tmp_path / "r.md")]) == 0
    text = summary.read_text()
    assert text.startswith("earlier step output\n# App Service filesystem evidence")
    assert f"| {LABEL_A} | {LABEL_B} |" in text


# --- configurations ----------------------------------------------------------------------

STORAGE_OFF = {"runtime": "container", "app_service_storage": "off", "mounts": "/mnt/ro=blob"}


def _under(tmp_path: Path, source: Path, facts: dict[str, str], name: str) -> Path:
    """A copy of a JUnit file whose testcases carry ``facts`` (a configuration)."""
    props = "".join(f'<property name="{k}" value="{v}" />' for k, v in facts.items())
    copy = tmp_path / name
    copy.write_text(source.read_text().replace("<properties>", f"<properties>{props}"))
    return copy


def test_every_report_names_the_configuration(tmp_path: Path) -> None:
    """Terminal, Markdown, JSON and side by side: each run named with its configuration;
    runs of two configurations keep a column each, each mark with its own expectation."""
    other = read_junit(_under(tmp_path, RUN_A, STORAGE_OFF, "off.xml"))
    label = "container, storage off, /mnt/ro=blob"
    assert other.label == f"fake westeurope B1 ({label})"
    summary = next(line for line in render_text(other).splitlines() if "as expected" in line)
    assert summary.endswith(f"; configuration {label})")
    assert f"- **configuration**: `{label}`" in render_markdown([other])
    assert to_json([other])["runs"][0]["configuration"] == STORAGE_OFF
    side = render_markdown([read_junit(RUN_B), other]).splitlines()
    assert side[5].endswith("| `golden-a` | 16 of 16 |")
    assert side[5].startswith(f"| {other.label} | fake | westeurope | B1 | {label} |")
    row = next(line for line in side if line.startswith("| stop_start | `/home/data` |"))
    assert row == (
        "| stop_start | `/home/data` | persists | lost FAIL (expected persists) | persists ok |"
    )
    cell = '"restart" /><property name="path" value="/tmp/data" /><property name="expected" '
    changed = _under(tmp_path, RUN_A, STORAGE_OFF, "x.xml")
    changed.write_text(
        changed.read_text().replace(cell + 'value="persists"', cell + 'value="lost"')
    )
    changed_run = read_junit(changed)
    mixed = render_markdown([read_junit(RUN_A), changed_run]).splitlines()
    row = next(line for line in mixed if line.startswith("| restart | `/tmp/data` |"))
    assert row == (
        "| restart | `/tmp/data` | per run | persists ok (expected persists) | "
        "persists ok (expected lost) |"
    )


@pytest.mark.parametrize("observed", ["write_refused", "not_shared"])
def test_new_outcomes_render_as_the_others(tmp_path: Path, observed: str) -> None:
    """write_refused (a path cell) and not_shared (H4) show as observed, marked ok or FAIL."""
    source = RUN_A if observed == "write_refused" else RUN_C
    text = source.read_text().replace(
        '"observed" value="persists"', f'"observed" value="{observed}"'
    )
    text = text.replace('"observed" value="intact"', f'"observed" value="{observed}"')
    copy = tmp_path / "new.xml"
    copy.write_text(text)
    run = read_junit(copy)
    assert f"{observed} ok" in render_markdown([run])
    assert f"{observed} ok" in render_text(run)
