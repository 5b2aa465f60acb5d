"""appservice-fs report: reports from JUnit evidence files, one run or several side by side.

    appservice-fs report reports/*.xml [--markdown OUT.md] [--json OUT.json]
        [--baseline lab|REPORT.json] [--fail-on-drift] [--summary]

Writes Markdown to standard output unless --markdown is given. --baseline compares every
observed cell with the lab's matrix (``lab``) or with the first run of an earlier JSON report,
and lists every drift; --fail-on-drift makes a drift exit 1. --summary appends the Markdown
to $GITHUB_STEP_SUMMARY within GitHub's 1 MiB limit. A bad file gets one sentence on
standard error and the exit status 2, never a traceback; the good files are still reported
(a matrix with one cell killed mid-write still shows the others).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_appservice_fs.reports.render import render_markdown
from pytest_appservice_fs.reports.runs import (
    Drift,
    ReportError,
    RunReport,
    append_step_summary,
    find_drifts,
    load_baseline,
    read_junit,
    to_json,
)

EXIT_DRIFT = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None, *, prog: str = "appservice-fs-report") -> int:
    """The command line; returns the exit status. ``prog`` names it in messages."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Reports from pytest-appservice-fs JUnit evidence files.",
    )
    parser.add_argument("junit", nargs="+", type=Path, help="JUnit XML files of live runs")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--baseline", help="'lab' or a JSON report to compare observed cells with")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 1 when any cell drifted")
    parser.add_argument(
        "--summary", action="store_true", help="append the Markdown to $GITHUB_STEP_SUMMARY"
    )
    args = parser.parse_args(argv)
    if args.fail_on_drift and not args.baseline:
        parser.error("--fail-on-drift needs --baseline (lab or a JSON report)")

    runs, drifts, problems = _read(args.junit, args.baseline)
    for problem in problems:
        print(f"{prog}: {problem}", file=sys.stderr)
    if not runs or (args.baseline and drifts is None):
        return EXIT_BAD_INPUT

    markdown = render_markdown(runs, drifts)
    if args.markdown:
        _write(args.markdown, markdown)
    else:
        sys.stdout.write(markdown)
    if args.json:
        _write(args.json, json.dumps(to_json(runs, drifts or []), indent=2) + "\n")
    if args.summary:
        _summarize(markdown, prog)
    for drift in drifts or []:
        print(f"drift: {drift.sentence()}", file=sys.stderr)
    if problems:
        return EXIT_BAD_INPUT
    if drifts and args.fail_on_drift:
        return EXIT_DRIFT
    return 0


def _read(
    paths: Sequence[Path], baseline: str | None
) -> tuple[list[RunReport], list[Drift] | None, list[str]]:
    """The runs, the drifts (None without a baseline), and one sentence per bad input."""
    runs: list[RunReport] = []
    problems: list[str] = []
    for path in paths:
        try:
            runs.append(read_junit(path))
        except ReportError as exc:
            problems.append(str(exc))
    drifts: list[Drift] | None = None
    if baseline:
        try:
            drifts = find_drifts(runs, load_baseline(baseline))
        except ReportError as exc:
            problems.append(str(exc))
    return runs, drifts, problems


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _summarize(markdown: str, prog: str) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        print(f"{prog}: --summary: GITHUB_STEP_SUMMARY is not set", file=sys.stderr)
        return
    append_step_summary(target, markdown, full_copy="the JSON report")


if __name__ == "__main__":
    raise SystemExit(main())
