"""Progress while an event settles: throttled, in place on a terminal, a line in CI logs."""

from __future__ import annotations

from pathlib import Path

from pytest_appservice_fs.backends.fake import FakeBackend, FakeFaults
from pytest_appservice_fs.engine.controller import TriggerController
from pytest_appservice_fs.engine.expectations import LAB_PATHS
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.engine.progress import MAX_LINE, ThrottledProgress, WaitStatus


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Screen:
    """Records what the progress writes, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def rewrite(self, text: str) -> None:
        self.calls.append(("rewrite", text))

    def write_line(self, text: str) -> None:
        self.calls.append(("line", text))

    def new_line(self) -> None:
        self.calls.append(("newline", ""))


def _status(elapsed: float, seen: str = "pid 7") -> WaitStatus:
    return WaitStatus(Event.RESTART, "a" * 64, "awaited a new probe process", elapsed, 600, seen)


def test_status_line_names_event_instance_wait_and_last_seen() -> None:
    """One line says which event, on which instance, what is awaited, how long, what was seen."""
    line = _status(42.4).line()
    assert line == (
        "restart on aaaaaaaaaaaa: awaited a new probe process, 42/600 s; last seen: pid 7"
    )


def test_status_line_is_bounded() -> None:
    """A long last-seen text is cut, so the line fits a terminal."""
    line = _status(1, seen="x" * 500).line()
    assert len(line) == MAX_LINE
    assert line.endswith("…")


def test_terminal_rewrites_in_place_every_two_seconds() -> None:
    """On a terminal: a fresh line once, then rewrites at most every 2 s, erased at the end."""
    clock, screen = Clock(), Screen()
    progress = ThrottledProgress(
        screen.rewrite, screen.write_line, in_place=True, new_line=screen.new_line, clock=clock
    )
    progress(_status(0.1))  # right after firing: nothing yet
    clock.now += 2.5
    progress(_status(2.6))
    clock.now += 1.0
    progress(_status(3.6))  # within 2 s of the last: dropped
    clock.now += 1.5
    progress(_status(5.1, seen="pid 9"))
    progress.done()
    assert screen.calls == [
        ("newline", ""),
        ("rewrite", _status(2.6).line()),
        ("rewrite", _status(5.1, seen="pid 9").line()),
        ("rewrite", ""),
    ]


def test_logs_get_a_line_at_most_every_30_seconds() -> None:
    """Off a terminal (CI): whole lines, 30 s apart at the least, nothing to erase."""
    clock, screen = Clock(), Screen()
    progress = ThrottledProgress(screen.rewrite, screen.write_line, in_place=False, clock=clock)
    for step in range(1, 13):  # two minutes of looks every 10 s
        clock.now += 10
        progress(_status(step * 10.0))
    progress.done()
    assert [kind for kind, _ in screen.calls] == ["line", "line", "line", "line"]
    assert [text for _, text in screen.calls] == [
        _status(30.0).line(),
        _status(60.0).line(),
        _status(90.0).line(),
        _status(120.0).line(),
    ]


def test_controller_reports_progress_while_waiting(tmp_path: Path) -> None:
    """A restart that never shows gives progress statuses until its deadline, then an end."""
    seen: list[WaitStatus] = []
    ended: list[bool] = []

    class Recorder:
        def __call__(self, status: WaitStatus) -> None:
            seen.append(status)

        def done(self) -> None:
            ended.append(True)

    backend = FakeBackend(tmp_path / "app", faults=FakeFaults(noop_restart=True))
    try:
        controller = TriggerController(
            backend,
            run_id="run",
            paths=LAB_PATHS,
            package_factory=lambda: build_package(default_probe_dir()),
            ready_timeouts={Event.RESTART: 0.3},
            progress=Recorder(),
        )
        controller.start()
        ended.clear()
        observation = controller.observe(Event.RESTART)
    finally:
        backend.teardown()
    assert observation.proven is False
    # First the app answering before the event (at once here), then the proof awaited.
    before, *restart = [s for s in seen if s.event is Event.RESTART]
    assert before.awaited == "awaited the app answering before the event"
    assert len(restart) >= 2
    assert all(s.awaited == "awaited a new probe process" for s in restart)
    assert restart[-1].elapsed >= 0.29
    assert restart[-1].deadline == 0.3
    assert "pid" in restart[-1].last_seen
    assert ended == [True, True]
