"""How a live session ends: SIGTERM as Ctrl-C, a shielded teardown, and what every xdist
worker kept or swept, told in the controller's terminal.

SIGTERM is what ``timeout``, ``docker stop`` and CI cancellation send; by default it ends the
process at once and leaves the app's containers and volume behind. A live session turns it
into a KeyboardInterrupt in the main thread, so it ends as Ctrl-C does: through the fixtures'
teardown. A second Ctrl-C (or GitHub Actions' SIGTERM 7.5 s after its SIGINT) during that
teardown is noted, not obeyed, until a deadline; one that comes later hands what is left to
the next run's sweep, in one line and without a traceback.

Loaded with the plugin at every pytest start: standard library only, and nothing is installed
until a live test is collected (or an xdist controller resolved its settings).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from pytest_appservice_fs.keys import KEPT_KEY, SETTINGS_KEY

#: How long a teardown is shielded from further SIGINT and SIGTERM, in seconds.
SHIELD_SECONDS = 30.0
#: The exit status of a process that gave up on its teardown (128 + SIGINT, as a shell says).
ABANDONED_EXIT = 130
#: The logger whose records name a dead run's leftovers the sweep removed.
SWEEP_LOGGER = "pytest_appservice_fs.sweep"
#: The keys under which an xdist worker hands its kept and swept lines to the controller.
KEPT_OUTPUT = "appservice_fs_kept"
SWEPT_OUTPUT = "appservice_fs_swept"
PLUGIN_NAME = "appservice-fs-signals"


def install(config: pytest.Config) -> None:
    """Register the plugin object that guards this session's ending (called at configure)."""
    config.pluginmanager.register(SessionEnding(config), PLUGIN_NAME)


class SessionEnding:
    """Installs the SIGTERM handler for a live session and restores it at unconfigure; hands
    what workers kept and swept to the controller, and shows it in the terminal summary."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._previous: Any = None
        self._installed = False
        self.swept: list[str] = []
        self._sweep_handler = _ListHandler(self.swept)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A session that collected a live test ends on SIGTERM as on Ctrl-C."""
        from pytest_appservice_fs.plugin import _uses_plugin  # noqa: PLC0415 - a cycle

        if any(_uses_plugin(item) for item in session.items):
            self._install()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """An xdist controller collects nothing itself: its settings say a live run is on."""
        if session.config.getoption("numprocesses", None) and SETTINGS_KEY in self._config.stash:
            self._install()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """An xdist worker hands the controller what it kept and swept (after its teardown)."""
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            kept: list[str] = session.config.stash[KEPT_KEY]
            workeroutput[KEPT_OUTPUT] = [*kept]
            workeroutput[SWEPT_OUTPUT] = list(self.swept)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: gather each worker's kept and swept lines for the summary."""
        output = getattr(node, "workeroutput", {})
        self._config.stash.setdefault(KEPT_KEY, []).extend(output.get(KEPT_OUTPUT, []))
        self.swept.extend(output.get(SWEPT_OUTPUT, []))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """One line per dead run whose leftovers a sweep removed."""
        for line in dict.fromkeys(self.swept):  # workers may sweep the same run: once each
            terminalreporter.write_line(line)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Give SIGTERM back its handler from before the session."""
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)
            logging.getLogger(SWEEP_LOGGER).removeHandler(self._sweep_handler)
            self._installed = False

    def _install(self) -> None:
        if self._installed or threading.current_thread() is not threading.main_thread():
            return
        self._previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
        logging.getLogger(SWEEP_LOGGER).addHandler(self._sweep_handler)
        self._installed = True


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


class _ListHandler(logging.Handler):
    """Keeps each record's message, for the terminal summary."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(f"appservice-fs: {record.getMessage()}")


@contextlib.contextmanager
def shielded_teardown(what: str, seconds: float = SHIELD_SECONDS) -> Iterator[None]:
    """Run the block with SIGINT and SIGTERM noted rather than obeyed for ``seconds``.

    A signal within the deadline writes one line and the teardown goes on; one after it writes
    one line saying the next run's sweep removes ``what`` is left, and ends the process with
    status 130 (no traceback: an exception here would end pytest in one). Outside the main
    thread, where handlers cannot be set, the block runs unshielded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    deadline = time.monotonic() + seconds

    def note(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if time.monotonic() < deadline:
            _say(f"{name} during teardown: still removing {what} (at most {seconds:g} s)")
            return
        _say(f"{name}: teardown abandoned; the next run's sweep removes what is left of {what}")
        os._exit(ABANDONED_EXIT)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _say(line: str) -> None:
    with contextlib.suppress(OSError):
        sys.stderr.write(f"\nappservice-fs: {line}\n")
        sys.stderr.flush()
