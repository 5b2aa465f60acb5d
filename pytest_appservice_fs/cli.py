"""appservice-fs: the experiment, its reports and its cleanup, as one command.

    appservice-fs run [pytest options]      the live suite shipped in this package
    appservice-fs report JUNIT... [options] reports from JUnit evidence files
    appservice-fs sweep [options]           delete expired resource groups of provisioned runs
    appservice-fs matrix [options]          the expectation matrix of a configuration
    appservice-fs image-context FOLDER      the probe image's build context (--image)

``run`` is ``pytest --pyargs pytest_appservice_fs.suite -m live`` with the options given:
every option of the plugin (``--backend``, ``--events``, ...) and of pytest (``-n 4``,
``--junitxml``, ``-k``) works, and the exit status is pytest's (4 for a usage error). A later
``-m`` replaces the live marker expression. ``report`` and ``sweep`` take the options of
``appservice-fs-report`` and ``python -m pytest_appservice_fs.reports.sweep``; their bad
input exits 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from pytest_appservice_fs import __version__

#: pytest's exit status for a usage error, which ``run`` shares.
EXIT_USAGE = 4
#: argparse's exit status for bad input, which ``report`` and ``sweep`` share.
EXIT_BAD_INPUT = 2
SUITE = "pytest_appservice_fs.suite"


#: The suite's own collection rules, whatever the ini file of the folder it runs in says
#: (a project's ``python_files = check_*.py`` would otherwise collect none of it).
COLLECTION = (
    "-o", "python_files=test_*.py",
    "-o", "python_classes=Test*",
    "-o", "python_functions=test_*",
)  # fmt: skip


def suite_command(argv: Sequence[str]) -> list[str]:
    """The pytest command line that ``run`` becomes."""
    return [sys.executable, "-m", "pytest", *COLLECTION, "--pyargs", SUITE, "-m", "live", *argv]


def run(argv: Sequence[str]) -> int:
    """The live suite from the installed package, with pytest's options and exit status.

    This process becomes pytest (exec): signals (Ctrl-C, SIGTERM from CI or ``timeout``) and
    the exit status are pytest's own, and pytest imports this package itself, first, so that
    its assertion rewriting covers the plugin as in a plain ``pytest`` run.
    """
    command = suite_command(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 - our own interpreter, running pytest


def report(argv: Sequence[str]) -> int:
    """``appservice-fs-report`` under this command's name."""
    from pytest_appservice_fs.reports.cli import main as report_main  # noqa: PLC0415

    return _argparse_status(lambda: report_main(argv, prog="appservice-fs report"))


def sweep(argv: Sequence[str]) -> int:
    """``python -m pytest_appservice_fs.reports.sweep`` under this command's name."""
    from pytest_appservice_fs.reports.sweep import main as sweep_main  # noqa: PLC0415

    return _argparse_status(lambda: sweep_main(argv, prog="appservice-fs sweep"))


def matrix(argv: Sequence[str]) -> int:
    """``appservice-fs matrix``: the expectation matrix of a configuration, as Markdown."""
    from pytest_appservice_fs.configuration_cli import matrix as matrix_main  # noqa: PLC0415

    return _argparse_status(lambda: matrix_main(argv))


def image_context(argv: Sequence[str]) -> int:
    """``appservice-fs image-context FOLDER``: the probe image's build context."""
    from pytest_appservice_fs.configuration_cli import image_context_command  # noqa: PLC0415

    return _argparse_status(lambda: image_context_command(argv))


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "run": run,
    "report": report,
    "sweep": sweep,
    "matrix": matrix,
    "image-context": image_context,
}

USAGE = (
    "usage: appservice-fs {run,report,sweep,matrix,image-context} [options]\n"
    "\n"
    "  run      the live suite (pytest options and plugin options; exit status as pytest's)\n"
    "  report   reports from JUnit evidence files (appservice-fs report --help)\n"
    "  sweep    delete expired resource groups of provisioned runs (appservice-fs sweep --help)\n"
    "  matrix   the expectation matrix of a configuration (appservice-fs matrix --help)\n"
    "  image-context  the probe image's build context, for --image (FOLDER)\n"
    "\n"
    "appservice-fs run --help lists every option of the suite.\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write(USAGE)
        sys.stderr.write(
            "appservice-fs: a command is needed; valid commands are run, report, sweep, matrix "
            "and image-context.\n"
        )
        return EXIT_BAD_INPUT
    command, rest = args[0], args[1:]
    if command in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0
    if command in ("-V", "--version"):
        print(f"appservice-fs {__version__}")
        return 0
    handler = COMMANDS.get(command)
    if handler is None:
        sys.stderr.write(
            f"appservice-fs: {command[:64]!r} is not a command; valid commands are run, report, "
            "sweep, matrix and image-context (appservice-fs --help).\n"
        )
        return EXIT_BAD_INPUT
    try:
        status = handler(rest)
        sys.stdout.flush()  # here, where a closed pipe can still be answered quietly
    except BrokenPipeError:
        # The reader (head, a pager) left early: nothing more to say, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


def _argparse_status(call: Callable[[], int]) -> int:
    """Run an argparse-based command; its parser's exit (usage error, --help) is a status."""
    try:
        return call()
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
