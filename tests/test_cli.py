"""The appservice-fs command: its subcommands, its bad input, and the suite it runs from the
installed package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_appservice_fs import __version__, cli

#: The console script of this environment (pip installs it beside the interpreter).
COMMAND = Path(sys.executable).parent / "appservice-fs"
NO_TRACEBACK = "Traceback (most recent call last)"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (
            [],
            "appservice-fs: a command is needed; valid commands are run, report, sweep, matrix "
            "and image-context.",
        ),
        (
            ["deploy"],
            "appservice-fs: 'deploy' is not a command; valid commands are run, report, sweep, "
            "matrix and image-context (appservice-fs --help).",
        ),
    ],
)
def test_missing_or_unknown_command_exits_2_with_one_sentence(
    argv: list[str], sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No command, or one that does not exist: one sentence naming the valid ones, exit 2."""
    assert cli.main(argv) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.splitlines()[-1] == sentence


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--help lists the commands; --version names the package's one version."""
    assert cli.main(["--help"]) == 0
    assert "run      the live suite" in capsys.readouterr().out
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"appservice-fs {__version__}\n"


@pytest.mark.parametrize("command", ["report", "sweep"])
def test_report_and_sweep_bad_option_exit_2_under_their_name(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option to report or sweep is argparse's one sentence under the command's name."""
    assert cli.main([command, "--no-such-option"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"appservice-fs {command}: error: " in err
    assert NO_TRACEBACK not in err


def test_report_reads_a_junit_file(capsys: pytest.CaptureFixture[str]) -> None:
    """appservice-fs report is the report command: Markdown from a JUnit evidence file."""
    junit = Path(__file__).parent / "data" / "junit" / "fake-westeurope-b1.xml"
    assert cli.main(["report", str(junit)]) == 0
    assert "| event |" in capsys.readouterr().out


def test_report_bad_file_names_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not JUnit: one sentence under the command's name, exit 2."""
    bad = tmp_path / "bad.xml"
    bad.write_text("not xml at all", encoding="utf-8")
    assert cli.main(["report", str(bad)]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("appservice-fs report: ")


def test_run_is_pytest_on_the_packaged_suite() -> None:
    """run becomes pytest on the suite shipped in the package, live tests selected first, so
    that a later -m of the user's wins."""
    assert cli.suite_command(["--backend", "fake", "-k", "H1"]) == [
        sys.executable,
        "-m",
        "pytest",
        *cli.COLLECTION,
        "--pyargs",
        "pytest_appservice_fs.suite",
        "-m",
        "live",
        "--backend",
        "fake",
        "-k",
        "H1",
    ]


def test_run_on_the_fake_backend_from_an_empty_folder(tmp_path: Path) -> None:
    """The installed command runs the packaged suite outside any checkout: every cell of the
    chosen event passes and the JUnit evidence is written."""
    result = _run(
        "run", "--backend", "fake", "--events", "restart", "-p", "no:cacheprovider",
        "--junitxml=out.xml", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "cells as expected" in result.stdout
    assert (tmp_path / "out.xml").is_file()
    assert NO_TRACEBACK not in result.stdout + result.stderr


def test_run_bad_option_exits_4(tmp_path: Path) -> None:
    """A bad plugin option: pytest's usage error, exit 4, one sentence naming it."""
    result = _run("run", "--backend", "cloud", "-p", "no:cacheprovider", cwd=tmp_path)
    assert result.returncode == 4
    assert "ERROR: --backend got 'cloud'; valid backends are fake, local, azure." in result.stderr
    assert NO_TRACEBACK not in result.stdout + result.stderr


def test_run_unknown_pytest_option_exits_4(tmp_path: Path) -> None:
    """An option neither pytest nor the plugin knows: pytest's usage error, exit 4."""
    result = _run("run", "--no-such-option", cwd=tmp_path)
    assert result.returncode == 4
    assert "unrecognized arguments: --no-such-option" in result.stderr
    assert NO_TRACEBACK not in result.stdout + result.stderr


def test_run_ignores_the_folders_collection_rules(tmp_path: Path) -> None:
    """A project whose ini collects check_*.py still runs the whole suite."""
    (tmp_path / "pytest.ini").write_text("[pytest]\npython_files = check_*.py\n", encoding="utf-8")
    result = _run(
        "run", "--backend", "fake", "--events", "restart", "-p", "no:cacheprovider", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "cells as expected" in result.stdout


def test_run_bad_number_is_one_sentence(tmp_path: Path) -> None:
    """A superscript digit: exit 4 with one sentence, no INTERNALERROR."""
    result = _run("run", "--backend", "fake", "--latency-size", "\u00b2", cwd=tmp_path)
    assert result.returncode == 4
    assert "ERROR: --latency-size got '\u00b2'; valid is a whole number from 1 to 1048576." in (
        result.stderr
    )
    assert "INTERNALERROR" not in result.stdout + result.stderr
