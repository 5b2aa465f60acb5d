"""appservice-fs report: reports from JUnit evidence files, one run or several side by side.

    appservice-fs report reports/*.xml [--markdown OUT.md] [--json OUT.json]
        [--baseline lab|REPORT.json] [--fail-on-drift] [--summary]

Writes Markdown to standard output unless --markdown is given. --baseline compares every
observed cell with the lab's matrix (``lab``) or with the first run of an earlier JSON report,
and lists every drift; --fail-on-drift makes a drift exit 1. A run of another configuration
(runtime, App Service storage, mounts) than the baseline's is refused as bad input: its cells
differ for that reason alone. --summary appends the Markdown
to $GITHUB_STEP_SUMMARY within GitHub's 1 MiB limit. A bad file gets one sentence on
standard error and the exit status 2, never a traceback; the good files are still reported
(a matrix with one cell killed mid-write still shows the others). Outputs that cannot be
written (a folder, a file in the way of a folder, a place not writable, an input) are refused
before any file is read; a write that fails all the same is one sentence and exit 2, after
everything else was written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_appservice_fs.reports.junit import read_junit
from pytest_appservice_fs.reports.render import render_markdown
from pytest_appservice_fs.reports.runs import (
    Drift,
    ReportError,
    RunReport,
    append_step_summary,
    drifts_from,
    read_baseline,
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
    outputs = _outputs(args)
    refused = _refused_outputs(outputs, [*args.junit, *_baseline_file(args.baseline)])
    for sentence in refused:
        print(f"{prog}: {sentence}", file=sys.stderr)
    if refused:
        return EXIT_BAD_INPUT

    runs, drifts, problems = _read(args.junit, args.baseline)
    for problem in problems:
        print(f"{prog}: {problem}", file=sys.stderr)
    if not runs or (args.baseline and drifts is None):
        return EXIT_BAD_INPUT

    failed = _write_reports(args, runs, drifts, prog)
    for drift in drifts or []:
        print(f"drift: {drift.sentence()}", file=sys.stderr)
    for sentence in failed:
        print(f"{prog}: {sentence}", file=sys.stderr)
    if problems or failed:
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
            drifts = drifts_from(runs, read_baseline(baseline))
        except ReportError as exc:
            problems.append(str(exc))
    return runs, drifts, problems


def _write_reports(
    args: argparse.Namespace, runs: list[RunReport], drifts: list[Drift] | None, prog: str
) -> list[str]:
    """Write the Markdown (or print it), the JSON and the job summary, each that can be; one
    sentence per write that failed."""
    markdown = render_markdown(runs, drifts)
    failed = []
    if args.markdown:
        failed.append(_write("--markdown", args.markdown, markdown))
    else:
        sys.stdout.write(markdown)
    if args.json:
        text = json.dumps(to_json(runs, drifts or []), indent=2) + "\n"
        failed.append(_write("--json", args.json, text))
    if args.summary:
        failed.append(_summarize(markdown, prog))
    return [sentence for sentence in failed if sentence]


def _outputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """The files the command will write, each with the option that names it."""
    outputs = [
        (option, path)
        for option, path in (("--markdown", args.markdown), ("--json", args.json))
        if path is not None
    ]
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.summary and summary:
        outputs.append(("--summary: GITHUB_STEP_SUMMARY", Path(summary)))
    return outputs


def _baseline_file(baseline: str | None) -> list[Path]:
    return [Path(baseline)] if baseline and baseline != "lab" else []


def _refused_outputs(outputs: Sequence[tuple[str, Path]], inputs: Sequence[Path]) -> list[str]:
    """One sentence per output that cannot be written, found before anything is read."""
    refused = []
    claimed: dict[Path, str] = {path.resolve(): "an input" for path in inputs}
    for option, path in outputs:
        owner = claimed.setdefault(path.resolve(), option)
        if owner != option:
            refused.append(
                f"{option} {path} is also {owner}, which it would overwrite; give another file."
            )
        elif why := _unwritable(path):
            refused.append(f"{option} {path} {why}.")
    return refused


def _unwritable(path: Path) -> str | None:
    """Why no report can be written to ``path`` (the end of a sentence), or None. Folders
    missing on the way are made when the report is written; nothing is made here."""
    try:
        if path.is_dir():
            return "is a folder; give a file to write the report to"
        if path.exists():
            return (
                None if os.access(path, os.W_OK) else "is not writable; give a file you may write"
            )
        folder = path.absolute().parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            return f"cannot be made: {folder} is a file, not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"cannot be made: {folder} is not writable; give a folder you may write"
    except OSError as exc:
        return f"cannot be checked ({exc.strerror or exc}); give a file you may write"
    return None


def _write(option: str, path: Path, text: str) -> str | None:
    """Write a report; one sentence when that fails (and no partial file is left), else None."""
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        if not existed:
            path.unlink(missing_ok=True)
        return f"{option} {path} could not be written ({exc.strerror or exc})."
    return None


def _summarize(markdown: str, prog: str) -> str | None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        print(f"{prog}: --summary: GITHUB_STEP_SUMMARY is not set", file=sys.stderr)
        return None
    try:
        append_step_summary(target, markdown, full_copy="the JSON report")
    except OSError as exc:
        return (
            f"--summary: GITHUB_STEP_SUMMARY {target} could not be written ({exc.strerror or exc})."
        )
    return None


if __name__ == "__main__":
    raise SystemExit(main())
