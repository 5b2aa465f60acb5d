"""The expected outcome per (event, path) as data: the lab's results, overridable."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from pytest_appservice_fs.model import ContainerOutcome, Event, Outcome

HOME = "/home/data"
TMP = "/tmp/data"  # noqa: S108 - the path under test, not a temp file of ours
VAR_LOCAL = "/var/local/data"
LAB_PATHS: tuple[str, ...] = (HOME, TMP, VAR_LOCAL)

#: The column of the matrix that holds the container's fate rather than a path's.
CONTAINER = "container"
#: The hypothesis name under which the container cells are tested.
LIFECYCLE = "lifecycle"
#: Latency is measured per path: evidence, not a hypothesis with an expected outcome.
LATENCY = "latency"
#: H5, large files: throughput measured per path and size; evidence too.
LARGE_FILES = "H5"

HYPOTHESES: dict[str, str] = {
    "H1": "files in /home persist across restart, stop/start and deploy",
    "H2": "files outside /home are lost whenever the container is recreated",
    "H3": "after scale-out the new instance sees /home files of the first one, "
    "and none of its local files",
    LIFECYCLE: "each event keeps or recreates the container as the lab observed",
    LATENCY: "write (with fsync) and read latency per path and instance, measured",
    LARGE_FILES: "large files: write (fsync at the end) and read throughput per path and size",
}


_O = TypeVar("_O", Outcome, ContainerOutcome)


class ExpectationError(ValueError):
    """An expectation override that cannot be understood."""


@dataclass(frozen=True)
class PathCell:
    """One cell of the matrix: what should happen to a marker at ``path`` on ``event``."""

    hypothesis: str
    event: Event
    path: str
    expected: Outcome

    @property
    def id(self) -> str:
        """A readable test id, such as ``stop_start-/tmp/data``."""
        return f"{self.event.value}-{self.path}"


@dataclass(frozen=True)
class ContainerCell:
    """What should happen to the container that answered before ``event``."""

    event: Event
    expected: ContainerOutcome
    hypothesis: str = LIFECYCLE

    @property
    def id(self) -> str:
        """A readable test id: the event's name."""
        return self.event.value


@dataclass(frozen=True)
class MeasureCell:
    """A path on which something is measured: latency, or large-file throughput (H5)."""

    path: str
    hypothesis: str = LATENCY

    @property
    def id(self) -> str:
        """A readable test id: the path."""
        return self.path


@dataclass(frozen=True)
class Expectations:
    """The whole matrix: path cells grouped by hypothesis, and one container cell per event."""

    paths: tuple[PathCell, ...]
    containers: tuple[ContainerCell, ...]

    def cells(
        self, hypothesis: str, events: Iterable[Event]
    ) -> list[PathCell] | list[ContainerCell] | list[MeasureCell]:
        """The cells a test of ``hypothesis`` is parametrized over (``lifecycle``: containers,
        ``latency``: every path of the matrix)."""
        if hypothesis == LIFECYCLE:
            return self.container_cells(events)
        if hypothesis in (LATENCY, LARGE_FILES):
            paths = dict.fromkeys(c.path for c in self.paths)
            return [MeasureCell(path, hypothesis) for path in paths]
        return self.path_cells(hypothesis, events)

    def path_cells(self, hypothesis: str, events: Iterable[Event]) -> list[PathCell]:
        """The cells of ``hypothesis`` for the selected events, in matrix order."""
        wanted = set(events)
        return [c for c in self.paths if c.hypothesis == hypothesis and c.event in wanted]

    def container_cells(self, events: Iterable[Event]) -> list[ContainerCell]:
        """The container cells for the selected events."""
        wanted = set(events)
        return [c for c in self.containers if c.event in wanted]

    def expected(self, event: Event, path: str) -> Outcome | ContainerOutcome | None:
        """The expected value of one cell, or None when the matrix has no such cell."""
        if path == CONTAINER:
            return next((c.expected for c in self.containers if c.event is event), None)
        return next((c.expected for c in self.paths if (c.event, c.path) == (event, path)), None)

    def with_overrides(self, lines: Sequence[str]) -> Expectations:
        """Apply ``EVENT PATH = OUTCOME`` lines (ini key ``appservice_fs_expect``)."""
        paths = list(self.paths)
        containers = list(self.containers)
        for line in lines:
            event, path, value = _parse_override(line)
            if path == CONTAINER:
                container_valid = [
                    o for o in ContainerOutcome if o is not ContainerOutcome.INCONCLUSIVE
                ]
                outcome = _outcome(line, value, container_valid)
                containers = [
                    replace(c, expected=outcome) if c.event is event else c for c in containers
                ]
                continue
            path_outcome = _outcome(line, value, possible_outcomes(event))
            index = next(
                (i for i, c in enumerate(paths) if (c.event, c.path) == (event, path)), None
            )
            if index is None:
                raise ExpectationError(
                    f"appservice_fs_expect line {line!r} names no cell of the matrix; "
                    f"valid paths are {', '.join(LAB_PATHS)} and {CONTAINER}."
                )
            paths[index] = replace(paths[index], expected=path_outcome)
        return Expectations(tuple(paths), tuple(containers))


def _parse_override(line: str) -> tuple[Event, str, str]:
    left, sep, value = line.partition("=")
    words = left.split()
    if not sep or len(words) != 2 or not value.strip():
        raise ExpectationError(
            f"appservice_fs_expect line {line!r} is not of the form 'EVENT PATH = OUTCOME', "
            "for example 'restart /tmp/data = lost'."
        )
    try:
        event = Event.parse(words[0])
    except ValueError:
        valid = ", ".join(e.value for e in Event)
        raise ExpectationError(
            f"appservice_fs_expect line {line!r} names an unknown event; valid events are {valid}."
        ) from None
    return event, words[1], value.strip()


def possible_outcomes(event: Event) -> list[Outcome]:
    """What a path cell of ``event`` can be expected to be: what it can be judged, or
    ``observe`` (``inconclusive`` is never expected)."""
    if event is Event.SCALE_OUT:
        return [Outcome.VISIBLE, Outcome.NOT_VISIBLE, Outcome.CORRUPTED, Outcome.OBSERVE]
    return [Outcome.PERSISTS, Outcome.LOST, Outcome.CORRUPTED, Outcome.OBSERVE]


def _outcome(line: str, value: str, valid: Sequence[_O]) -> _O:
    # A cell expecting an outcome its event can never produce could never pass.
    for outcome in valid:
        if outcome.value == value:
            return outcome
    names = ", ".join(o.value for o in valid)
    raise ExpectationError(
        f"appservice_fs_expect line {line!r} expects {value!r}; valid outcomes are {names}."
    )


def _lab_matrix() -> Expectations:
    # Observed on B1 Linux, Python 3.11, koreacentral (2026-04-10); DESIGN.md section 2.
    recreating = (Event.STOP_START, Event.DEPLOY)
    paths = [
        PathCell("H1", event, HOME, Outcome.PERSISTS) for event in (Event.RESTART, *recreating)
    ]
    paths += [
        PathCell("H2", event, path, Outcome.PERSISTS if event is Event.RESTART else Outcome.LOST)
        for event in (Event.RESTART, *recreating)
        for path in (TMP, VAR_LOCAL)
    ]
    paths += [
        PathCell("H3", Event.SCALE_OUT, HOME, Outcome.VISIBLE),
        PathCell("H3", Event.SCALE_OUT, TMP, Outcome.NOT_VISIBLE),
        PathCell("H3", Event.SCALE_OUT, VAR_LOCAL, Outcome.NOT_VISIBLE),
    ]
    containers = (
        ContainerCell(Event.RESTART, ContainerOutcome.KEPT),
        ContainerCell(Event.STOP_START, ContainerOutcome.RECREATED),
        ContainerCell(Event.DEPLOY, ContainerOutcome.RECREATED),
        ContainerCell(Event.SCALE_OUT, ContainerOutcome.NEW_INSTANCE),
    )
    return Expectations(tuple(paths), containers)


#: The lab's published matrix: the default expectations.
LAB_MATRIX = _lab_matrix()
