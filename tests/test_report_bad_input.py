"""The report command reads artifacts of other CI jobs: untrusted files. Every bad file or
option is one sentence naming it, its value and what is valid, exit 2, no traceback and
nothing written; every count, size and depth it reads is bounded (issue 14)."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_appservice_fs.cli import main
from pytest_appservice_fs.evidence.records import REQUIRED_PROPERTIES
from pytest_appservice_fs.reports.junit import read_junit
from pytest_appservice_fs.reports.render import TITLE, render_markdown, render_text
from pytest_appservice_fs.reports.runs import ReportError, to_json

RUN = Path(__file__).parent / "data" / "junit" / "fake-westeurope-b1.xml"
MiB = 1024 * 1024


def junit(*cases: Mapping[str, str], prologue: str = "") -> str:
    """A JUnit file of testcases with these properties."""
    body = ""
    for index, props in enumerate(cases):
        items = "".join(
            f"<property name={quoteattr(n)} value={quoteattr(v)} />" for n, v in props.items()
        )
        body += (
            f'<testcase classname="t" name="c{index}"><properties>{items}</properties></testcase>'
        )
    return f"{prologue}<testsuite>{body}</testsuite>"


LATENCY = {"hypothesis": "latency", "path": "/home/data", "instance_count": "1"}
LATENCY |= {"instance.1": "i", "hostname.1": "h"}
H5 = {"hypothesis": "H5", "path": "/home/data", "size_count": "1", "size_mib.1": "1"}
H4 = {"hypothesis": "H4", "path": "/home/data", "lock": "flock", "expected": "intact"}
H4 |= {"observed": "intact", "writers": "2", "writer.1.name": "w0", "writer.2.name": "w1"}

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)).replace(
        "&lol0;", "&lol;"
    )
    + "]>"
)

#: A case builds its files under the folder given and returns the command's arguments (after
#: ``report``), and the environment it needs.
Setup = Callable[[Path], tuple[list[str], dict[str, str]]]


def _file(name: str, text: str, *args: str) -> Setup:
    def setup(tmp: Path) -> tuple[list[str], dict[str, str]]:
        (tmp / name).write_text(text, encoding="utf-8")
        return [a.replace("TMP", str(tmp)) for a in args or [f"TMP/{name}"]], {}

    return setup


def _sparse(name: str, size: int, *args: str) -> Setup:
    def setup(tmp: Path) -> tuple[list[str], dict[str, str]]:
        with (tmp / name).open("wb") as file:
            file.truncate(size)
        return [a.replace("TMP", str(tmp)) for a in args], {}

    return setup


def _args(*args: str, env: Mapping[str, str] | None = None, folders: tuple[str, ...] = ()) -> Setup:
    def setup(tmp: Path) -> tuple[list[str], dict[str, str]]:
        for folder in folders:
            (tmp / folder).mkdir()
        return [a.replace("TMP", str(tmp)) for a in args], {
            k: v.replace("TMP", str(tmp)) for k, v in (env or {}).items()
        }

    return setup


def _under_a_file(tmp: Path) -> tuple[list[str], dict[str, str]]:
    (tmp / "notes.txt").write_text("a file, not a folder")
    return [str(RUN), "--markdown", str(tmp / "notes.txt" / "out" / "report.md")], {}


def _unwritable(tmp: Path) -> tuple[list[str], dict[str, str]]:
    (tmp / "locked").mkdir(mode=0o555)
    return [str(RUN), "--json", str(tmp / "locked" / "report.json")], {}


BAD_INPUT = [
    pytest.param(
        _file("j.xml", junit(LATENCY | {"instance_count": "999999999"})),
        ["TMP/j.xml", "latency testcase 't.c0'", "instance_count 999999999", "0 to 1000"],
        id="instance-count-huge",
    ),
    pytest.param(
        _file("j.xml", junit(H5 | {"size_count": "999999999"})),
        ["TMP/j.xml", "H5 testcase", "size_count 999999999", "0 to 1000"],
        id="size-count-huge",
    ),
    pytest.param(
        _file("j.xml", junit(H4 | {"writers": "999999999"})),
        ["TMP/j.xml", "H4 testcase", "writers 999999999", "0 to 1000"],
        id="writers-huge",
    ),
    pytest.param(
        _file("j.xml", junit(H4 | {"writers": "-1"})),
        ["TMP/j.xml", "writers -1", "0 to 1000"],
        id="writers-negative",
    ),
    pytest.param(
        _file("j.xml", junit(H4 | {"writers": "3"})),
        ["TMP/j.xml", "writers 3", "writer.3.name", "entries"],
        id="writers-beyond-their-entries",
    ),
    pytest.param(
        _file("j.xml", junit(LATENCY | {"instance_count": "2"})),
        ["TMP/j.xml", "instance_count 2", "instance.2", "entries"],
        id="instances-beyond-their-entries",
    ),
    pytest.param(
        _sparse("big.xml", 64 * MiB + 1, "TMP/big.xml"),
        ["TMP/big.xml", "larger than 64 MiB"],
        id="junit-over-64-mib",
    ),
    pytest.param(
        _file("lol.xml", junit(LATENCY, prologue=BILLION_LAUGHS)),
        ["TMP/lol.xml", "DOCTYPE", "a JUnit file has none"],
        id="junit-billion-laughs",
    ),
    pytest.param(
        _file("many.xml", junit(LATENCY | {f"fact{i}": "x" for i in range(10_001)})),
        ["TMP/many.xml", "10001 properties", "at most 10000"],
        id="junit-too-many-properties",
    ),
    pytest.param(
        _args("TMP/folder", folders=("folder",)),
        ["TMP/folder", "cannot be read", "Is a directory"],
        id="junit-is-a-folder",
    ),
    pytest.param(
        _file("page.xml", "<html><body/></html>"),
        ["TMP/page.xml", "is not a JUnit file", "<html>"],
        id="junit-root-html",
    ),
    pytest.param(
        _file("deep.json", "[" * 100_000 + "]" * 100_000, str(RUN), "--baseline", "TMP/deep.json"),
        ["--baseline TMP/deep.json", "deeper than 16 levels", "appservice-fs-report --json"],
        id="baseline-nested-deep",
    ),
    pytest.param(
        _sparse("big.json", 16 * MiB + 1, str(RUN), "--baseline", "TMP/big.json"),
        ["--baseline TMP/big.json", "larger than 16 MiB"],
        id="baseline-over-16-mib",
    ),
    pytest.param(
        _file(
            "cells.json",
            json.dumps({"runs": [{"cells": [{"event": "restart", "path": "/p", "observed": []}]}]}),
            str(RUN),
            "--baseline",
            "TMP/cells.json",
        ),
        ["--baseline TMP/cells.json", "neither 'lab' nor a JSON report"],
        id="baseline-observed-not-text",
    ),
    pytest.param(
        _file(
            "off.xml",
            junit(H4 | {"app_service_storage": "off"}),
            "TMP/off.xml",
            "--baseline",
            "lab",
        ),
        [
            "--baseline lab was observed under code, storage on and TMP/off.xml under code, "
            "storage off; drift is only found between runs of one configuration."
        ],
        id="drift-against-another-configuration",
    ),
    pytest.param(
        _file(
            "container.json",
            json.dumps({"runs": [{"cells": [], "configuration": {"runtime": "container"}}]}),
            str(RUN),
            "--baseline",
            "TMP/container.json",
        ),
        [
            "--baseline TMP/container.json was observed under container, storage on and "
            f"{RUN} under code, storage on;"
        ],
        id="drift-against-a-report-of-another-configuration",
    ),
    pytest.param(
        _file(
            "facts.json",
            json.dumps({"runs": [{"cells": [], "configuration": ["container"]}]}),
            str(RUN),
            "--baseline",
            "TMP/facts.json",
        ),
        ["--baseline TMP/facts.json", "neither 'lab' nor a JSON report"],
        id="baseline-configuration-not-an-object",
    ),
    pytest.param(
        _args(str(RUN), "--baseline", "TMP/folder", folders=("folder",)),
        ["--baseline TMP/folder", "cannot be read"],
        id="baseline-is-a-folder",
    ),
    pytest.param(
        _args(str(RUN), "--markdown", "TMP/folder", folders=("folder",)),
        ["--markdown TMP/folder", "is a folder", "a file"],
        id="markdown-is-a-folder",
    ),
    pytest.param(
        _args(str(RUN), "--json", "TMP/folder", folders=("folder",)),
        ["--json TMP/folder", "is a folder", "a file"],
        id="json-is-a-folder",
    ),
    pytest.param(
        _under_a_file,
        ["--markdown TMP/notes.txt/out/report.md", "TMP/notes.txt is a file"],
        id="markdown-under-a-file",
    ),
    pytest.param(
        _args(str(RUN), "--json", str(RUN)),
        [f"--json {RUN}", "is also an input", "another file"],
        id="json-overwrites-an-input",
    ),
    pytest.param(
        _args(str(RUN), "--markdown", "TMP/r.out", "--json", "TMP/r.out"),
        ["--json TMP/r.out", "--markdown", "another file"],
        id="markdown-and-json-one-file",
    ),
    pytest.param(
        _args(
            str(RUN), "--summary", env={"GITHUB_STEP_SUMMARY": "TMP/folder"}, folders=("folder",)
        ),
        ["--summary", "GITHUB_STEP_SUMMARY TMP/folder", "is a folder"],
        id="summary-is-a-folder",
    ),
    pytest.param(
        _unwritable,
        ["--json TMP/locked/report.json", "TMP/locked is not writable"],
        id="json-in-an-unwritable-folder",
        marks=pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder"),
    ),
    pytest.param(
        _args(str(RUN), "--fail-on-drift"),
        ["--fail-on-drift needs --baseline", "lab or a JSON report"],
        id="fail-on-drift-without-baseline",
    ),
]


@pytest.mark.parametrize(("setup", "expected"), BAD_INPUT)
def test_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: Setup,
    expected: list[str],
) -> None:
    """Exit 2; the last line of standard error names the file or option, its value and what
    is valid; no traceback; nothing written (the Markdown of a refused command either)."""
    argv, env = setup(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = sorted(tmp_path.rglob("*"))
    assert main(["report", *argv]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    for fragment in expected:
        assert fragment.replace("TMP", str(tmp_path)) in lines[-1]
    if not expected[0].startswith("--fail-on-drift"):  # argparse prints its usage first
        assert len(lines) == 1
        assert lines[0].startswith("appservice-fs report: ")
        assert lines[0].endswith(".")
    assert TITLE not in out
    assert sorted(tmp_path.rglob("*")) == before


def test_a_failed_write_is_one_sentence_after_what_could_be_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The disk fills up as the JSON is written: the Markdown still goes to standard output,
    then one sentence says the JSON was not written, exit 2, and no partial file stays."""
    target = tmp_path / "r.json"
    write_text = Path.write_text

    def full_disk(self: Path, *args: object, **kwargs: object) -> int:
        if self == target:
            self.write_bytes(b"{")  # a partial file, as a full disk leaves it
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full_disk)
    assert main(["report", str(RUN), "--json", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(TITLE)
    assert err.strip() == (
        f"appservice-fs report: --json {target} could not be written (No space left on device)."
    )
    assert not target.exists()


def test_an_output_in_a_new_folder_is_still_written(tmp_path: Path) -> None:
    """Checking outputs up front refuses only what cannot work: new folders are made."""
    target = tmp_path / "new" / "deeper" / "report.md"
    assert main(["report", str(RUN), "--markdown", str(target)]) == 0
    assert target.read_text(encoding="utf-8").startswith(TITLE)


# --- random properties through the JUnit reader ---------------------------------------------

_NAMES = [
    *REQUIRED_PROPERTIES,
    *("lock", "explanation", "instance_count", "size_count", "writers", "latency_size"),
    *("latency_iterations", "throughput_iterations", "records_per_writer", "lines"),
    *("torn_lines", "overlap_seconds", "trigger_count", "event_seconds", "process_restarted"),
    *(f"{kind}.{i}" for kind in ("instance", "hostname", "size_mib", "skipped") for i in (1, 2)),
    *("write_ms.1.median", "read_ms.2.max", "write_mib_s.1", "read_seconds.2"),
    *(f"writer.{i}.{n}" for i in (1, 2) for n in ("name", "appended", "lost", "seconds")),
]
_VALUES = st.sampled_from(
    ["latency", "H1", "H4", "H5", "", "0", "1", "2", "-1", "999999999", "9" * 5000, "1e309"]
) | st.sampled_from(["nan", "inf", "true", "false", "x", "\u00b2", "/home/data", "intact"])
#: Text XML 1.0 can carry: no control characters (a file with them is no JUnit pytest wrote).
_TEXT = st.characters(blacklist_categories=("Cs", "Cc"))
_VALUES |= st.text(_TEXT, max_size=12)
#: Each record's count, a loop bound, with values around and far beyond its bounds.
_KIND = st.sampled_from(
    [("latency", "instance_count"), ("H5", "size_count"), ("H4", "writers"), ("H1", "x")]
)
_COUNT = st.sampled_from(["0", "1", "2", "3", "-1", "1000", "1001", "999999999", "9" * 30])
_COUNT |= st.integers().map(str)
#: A testcase: a hypothesis and its record's count, what a record needs, any other properties.
_CASE = st.builds(
    lambda kind, count, head, rest: {**rest, **head, "hypothesis": kind[0], kind[1]: count},
    _KIND,
    _COUNT,
    st.fixed_dictionaries({n: _VALUES for n in ("path", "lock", "expected", "observed")}),
    st.dictionaries(st.sampled_from(_NAMES) | st.text(_TEXT, max_size=8), _VALUES, max_size=30),
)


@settings(max_examples=150, deadline=timedelta(seconds=5))
@given(cases=st.lists(_CASE, min_size=1, max_size=3))
def test_random_properties_read_or_are_one_report_error(
    tmp_path_factory: pytest.TempPathFactory, cases: list[dict[str, str]]
) -> None:
    """Whatever properties a JUnit file carries, the reader gives a run that renders, or the
    one ReportError; never another exception, never more than a few seconds (deadline)."""
    path = tmp_path_factory.getbasetemp() / "random.xml"
    path.write_text(junit(*cases), encoding="utf-8")
    try:
        run = read_junit(path)
    except ReportError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith(str(path))
        assert "\n" not in message
        return
    render_markdown([run])
    render_text(run)
    json.dumps(to_json([run]))
