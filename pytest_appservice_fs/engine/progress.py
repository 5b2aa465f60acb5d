"""Progress while an event settles: which event, where, what is awaited, for how long, and
what was last seen. On a terminal it is one line rewritten in place; elsewhere (CI logs) a
line at most every 30 seconds, so that minutes of waiting neither look like a hang nor flood
the log."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_appservice_fs.engine.model import Event

TERMINAL_INTERVAL = 2.0
LOG_INTERVAL = 30.0
MAX_LINE = 160


@dataclass(frozen=True)
class WaitStatus:
    """One look at an event that is settling."""

    event: Event
    instance_id: str | None
    awaited: str
    elapsed: float
    deadline: float
    last_seen: str

    def line(self) -> str:
        """The status as one line of at most MAX_LINE characters."""
        where = f" on {self.instance_id[:12]}" if self.instance_id else ""
        text = (
            f"{self.event}{where}: {self.awaited}, {self.elapsed:.0f}/{self.deadline:.0f} s; "
            f"last seen: {self.last_seen}"
        )
        return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


class Progress(Protocol):
    """Where wait statuses go: shown, throttled, or dropped."""

    def __call__(self, status: WaitStatus) -> None:
        """Take one look's status."""
        ...

    def done(self) -> None:
        """The wait is over."""
        ...


class NoProgress:
    """Drops every status: for scripts and tests that want quiet."""

    def __call__(self, status: WaitStatus) -> None:
        """Drop it."""

    def done(self) -> None:
        """Nothing to close."""


class ThrottledProgress:
    """Writes wait statuses, no more often than the medium allows."""

    def __init__(
        self,
        rewrite: Callable[[str], None],
        write_line: Callable[[str], None],
        *,
        in_place: bool,
        new_line: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rewrite = rewrite
        self._write_line = write_line
        self._in_place = in_place
        self._interval = TERMINAL_INTERVAL if in_place else LOG_INTERVAL
        self._clock = clock
        self._new_line = new_line
        self._last: float | None = None
        self._showing = False

    def __call__(self, status: WaitStatus) -> None:
        """Show ``status`` if enough time has passed since the last line."""
        now = self._clock()
        if self._last is not None and now - self._last < self._interval:
            return
        # The first look comes right after firing: nothing to report before the interval.
        if self._last is None and status.elapsed < self._interval:
            return
        self._last = now
        if self._in_place:
            if not self._showing:
                self._new_line()  # never write over the line pytest is in the middle of
            self._rewrite(status.line())
            self._showing = True
        else:
            self._write_line(status.line())

    def done(self) -> None:
        """End the current wait: erase the in-place line, so output goes on where it was."""
        if self._showing:
            self._rewrite("")
        self._last = None
        self._showing = False


def terminal_progress(reporter: Any, capture: Any) -> Progress:
    """Wait statuses on pytest's terminal: in place on a TTY, a line every 30 s in CI logs.

    ``reporter`` is pytest's ``terminalreporter`` plugin (None: no progress) and ``capture``
    its ``capturemanager`` (None: output is not captured); duck-typed, so that the engine
    does not import pytest.
    """
    if reporter is None:
        return NoProgress()

    def uncaptured(write: Callable[[str], None]) -> Callable[[str], None]:
        # Waits happen inside fixtures, whose output pytest captures; progress must show.
        def call(text: str) -> None:
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                write(text)

        return call

    in_place = bool(reporter.isatty) and not os.environ.get("CI")
    return ThrottledProgress(
        uncaptured(lambda text: reporter.rewrite(text, erase=True)),
        uncaptured(reporter.write_line),
        in_place=in_place,
        new_line=lambda: uncaptured(reporter.write)("\n"),
    )
