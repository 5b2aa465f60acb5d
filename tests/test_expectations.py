"""The expectation matrix: the lab's table as data, selection by event, and overrides."""

from __future__ import annotations

import re

import pytest

from pytest_appservice_fs.expectations import (
    CONTAINER,
    HOME,
    LAB_MATRIX,
    LAB_PATHS,
    LIFECYCLE,
    TMP,
    VAR_LOCAL,
    ContainerCell,
    ExpectationError,
    PathCell,
)
from pytest_appservice_fs.model import ContainerOutcome, Event, Outcome

# DESIGN.md section 2, the lab's table, transcribed cell by cell.
_LAB_TABLE: dict[Event, dict[str, str]] = {
    Event.RESTART: {
        "/home/data": "persists",
        "/tmp/data": "persists",
        "/var/local/data": "persists",
        "container": "kept",
    },
    Event.STOP_START: {
        "/home/data": "persists",
        "/tmp/data": "lost",
        "/var/local/data": "lost",
        "container": "recreated",
    },
    Event.DEPLOY: {
        "/home/data": "persists",
        "/tmp/data": "lost",
        "/var/local/data": "lost",
        "container": "recreated",
    },
    Event.SCALE_OUT: {
        "/home/data": "visible",
        "/tmp/data": "not_visible",
        "/var/local/data": "not_visible",
        "container": "new_instance",
    },
}


def _assert_one_sentence(message: str) -> None:
    assert "\n" not in message
    assert message.endswith(".")
    assert re.search(r"\.\s+[A-Z]", message) is None, message


def test_lab_paths_are_the_three_lab_paths() -> None:
    """The lab probes /home/data, /tmp/data and /var/local/data, in that order."""
    assert LAB_PATHS == ("/home/data", "/tmp/data", "/var/local/data")
    assert (HOME, TMP, VAR_LOCAL) == LAB_PATHS


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("column", [*LAB_PATHS, CONTAINER])
def test_lab_matrix_matches_design_table(event: Event, column: str) -> None:
    """Every cell of LAB_MATRIX equals the lab table of DESIGN.md section 2."""
    expected = LAB_MATRIX.expected(event, column)
    assert expected is not None
    assert expected.value == _LAB_TABLE[event][column]


def test_lab_matrix_has_exactly_twelve_path_cells_and_four_container_cells() -> None:
    """No extra or duplicate cells: 4 events x 3 paths, and one container cell per event."""
    path_keys = [(c.event, c.path) for c in LAB_MATRIX.paths]
    assert len(path_keys) == 12
    assert set(path_keys) == {(e, p) for e in Event for p in LAB_PATHS}
    assert [c.event for c in LAB_MATRIX.containers] == list(Event)


def test_lab_matrix_hypotheses() -> None:
    """H1 is /home on restart, stop/start, deploy; H2 the local paths on those; H3 scale-out."""
    by_hypothesis: dict[str, set[tuple[Event, str]]] = {}
    for cell in LAB_MATRIX.paths:
        by_hypothesis.setdefault(cell.hypothesis, set()).add((cell.event, cell.path))
    not_scale = (Event.RESTART, Event.STOP_START, Event.DEPLOY)
    assert by_hypothesis == {
        "H1": {(e, HOME) for e in not_scale},
        "H2": {(e, p) for e in not_scale for p in (TMP, VAR_LOCAL)},
        "H3": {(Event.SCALE_OUT, p) for p in LAB_PATHS},
    }
    assert {c.hypothesis for c in LAB_MATRIX.containers} == {LIFECYCLE}


def test_expected_for_unknown_cell_is_none() -> None:
    """A path the matrix does not hold has no expectation."""
    assert LAB_MATRIX.expected(Event.RESTART, "/srv/data") is None


def test_cell_ids_are_readable() -> None:
    """Path cells are named EVENT-PATH and container cells by their event."""
    assert PathCell("H2", Event.STOP_START, TMP, Outcome.LOST).id == "stop_start-/tmp/data"
    assert ContainerCell(Event.DEPLOY, ContainerOutcome.RECREATED).id == "deploy"


def test_path_cells_filter_by_hypothesis_and_events() -> None:
    """path_cells keeps one hypothesis's cells for the selected events, in matrix order."""
    cells = LAB_MATRIX.path_cells("H2", [Event.DEPLOY, Event.RESTART])
    assert [(c.event, c.path) for c in cells] == [
        (Event.RESTART, TMP),
        (Event.RESTART, VAR_LOCAL),
        (Event.DEPLOY, TMP),
        (Event.DEPLOY, VAR_LOCAL),
    ]
    assert LAB_MATRIX.path_cells("H3", [Event.RESTART]) == []
    assert LAB_MATRIX.path_cells("H1", []) == []


def test_cells_for_a_hypothesis_are_path_cells() -> None:
    """cells() for H1 gives the /home path cells of the chosen events."""
    cells = LAB_MATRIX.cells("H1", [Event.STOP_START, Event.SCALE_OUT])
    assert cells == [PathCell("H1", Event.STOP_START, HOME, Outcome.PERSISTS)]


def test_cells_for_lifecycle_are_container_cells() -> None:
    """cells('lifecycle', ...) gives the container cells of the chosen events."""
    cells = LAB_MATRIX.cells(LIFECYCLE, [Event.SCALE_OUT, Event.RESTART])
    assert cells == [
        ContainerCell(Event.RESTART, ContainerOutcome.KEPT),
        ContainerCell(Event.SCALE_OUT, ContainerOutcome.NEW_INSTANCE),
    ]


def test_cells_accept_a_generator_of_events() -> None:
    """The events may be any iterable, consumed once."""
    cells = LAB_MATRIX.path_cells("H3", (e for e in Event if e is Event.SCALE_OUT))
    assert [c.path for c in cells] == list(LAB_PATHS)


def test_override_a_path_cell() -> None:
    """An override changes exactly one path cell and leaves LAB_MATRIX untouched."""
    changed = LAB_MATRIX.with_overrides(["restart /tmp/data = lost"])
    assert changed.expected(Event.RESTART, TMP) is Outcome.LOST
    assert LAB_MATRIX.expected(Event.RESTART, TMP) is Outcome.PERSISTS
    differing = [
        (new.event, new.path)
        for old, new in zip(LAB_MATRIX.paths, changed.paths, strict=True)
        if old != new
    ]
    assert differing == [(Event.RESTART, TMP)]
    assert changed.containers == LAB_MATRIX.containers


def test_override_keeps_hypothesis_and_order() -> None:
    """An overridden cell stays in its hypothesis and its place."""
    changed = LAB_MATRIX.with_overrides(["stop-start  /home/data=lost"])
    index = [(c.event, c.path) for c in LAB_MATRIX.paths].index((Event.STOP_START, HOME))
    assert changed.paths[index] == PathCell("H1", Event.STOP_START, HOME, Outcome.LOST)


def test_override_the_container_column() -> None:
    """'EVENT container = OUTCOME' changes that event's container cell only."""
    changed = LAB_MATRIX.with_overrides(["restart container = recreated"])
    assert changed.expected(Event.RESTART, CONTAINER) is ContainerOutcome.RECREATED
    assert changed.expected(Event.DEPLOY, CONTAINER) is ContainerOutcome.RECREATED
    assert changed.expected(Event.STOP_START, CONTAINER) is ContainerOutcome.RECREATED
    assert changed.paths == LAB_MATRIX.paths


def test_later_override_wins() -> None:
    """Two lines for one cell: the later one is the result."""
    changed = LAB_MATRIX.with_overrides(["deploy /tmp/data = persists", "deploy /tmp/data = lost"])
    assert changed.expected(Event.DEPLOY, TMP) is Outcome.LOST


def test_no_overrides_give_an_equal_matrix() -> None:
    """No lines: the same matrix."""
    assert LAB_MATRIX.with_overrides([]) == LAB_MATRIX


@pytest.mark.parametrize(
    "line",
    [
        "restart /tmp/data lost",
        "restart = lost",
        "restart /tmp/data =",
        "restart /tmp/data =   ",
        "restart /tmp/data extra = lost",
        "",
    ],
)
def test_badly_shaped_line_is_refused(line: str) -> None:
    """A line not of the form EVENT PATH = OUTCOME fails with one sentence and an example."""
    with pytest.raises(ExpectationError) as excinfo:
        LAB_MATRIX.with_overrides([line])
    message = str(excinfo.value)
    _assert_one_sentence(message)
    assert message == (
        f"appservice_fs_expect line {line!r} is not of the form 'EVENT PATH = OUTCOME', "
        "for example 'restart /tmp/data = lost'."
    )


def test_unknown_event_in_line_is_refused() -> None:
    """An unknown event fails with one sentence listing the valid events."""
    with pytest.raises(ExpectationError) as excinfo:
        LAB_MATRIX.with_overrides(["reboot /tmp/data = lost"])
    message = str(excinfo.value)
    _assert_one_sentence(message)
    assert message == (
        "appservice_fs_expect line 'reboot /tmp/data = lost' names an unknown event; "
        "valid events are restart, stop_start, deploy, scale_out."
    )


def test_unknown_cell_is_refused() -> None:
    """A path the matrix does not hold fails with one sentence listing the valid paths."""
    with pytest.raises(ExpectationError) as excinfo:
        LAB_MATRIX.with_overrides(["restart /srv/data = lost"])
    message = str(excinfo.value)
    _assert_one_sentence(message)
    assert message == (
        "appservice_fs_expect line 'restart /srv/data = lost' names no cell of the matrix; "
        "valid paths are /home/data, /tmp/data, /var/local/data and container."
    )


def test_bad_path_outcome_is_refused() -> None:
    """A path outcome outside the vocabulary fails with one sentence listing the valid ones."""
    with pytest.raises(ExpectationError) as excinfo:
        LAB_MATRIX.with_overrides(["restart /tmp/data = gone"])
    message = str(excinfo.value)
    _assert_one_sentence(message)
    assert message == (
        "appservice_fs_expect line 'restart /tmp/data = gone' expects 'gone'; valid outcomes "
        "are persists, lost, corrupted, observe."
    )


def test_bad_container_outcome_is_refused() -> None:
    """A path outcome on the container column fails, listing the container outcomes."""
    with pytest.raises(ExpectationError) as excinfo:
        LAB_MATRIX.with_overrides(["deploy container = lost"])
    message = str(excinfo.value)
    _assert_one_sentence(message)
    assert message == (
        "appservice_fs_expect line 'deploy container = lost' expects 'lost'; valid outcomes "
        "are kept, recreated, new_instance, observe."
    )


@pytest.mark.parametrize(
    "line", ["restart /tmp/data = inconclusive", "deploy container = inconclusive"]
)
def test_inconclusive_is_not_a_valid_expectation(line: str) -> None:
    """'inconclusive' is never an expectation: a cell expecting it could never pass."""
    with pytest.raises(ExpectationError, match="valid outcomes are"):
        LAB_MATRIX.with_overrides([line])


@pytest.mark.parametrize("line", ["restart /tmp/data = visible", "scale_out /home/data = persists"])
def test_outcome_must_fit_the_event(line: str) -> None:
    """A scale-out cell is visible/not_visible, any other persists/lost: a mix-up is refused."""
    with pytest.raises(ExpectationError, match="valid outcomes are"):
        LAB_MATRIX.with_overrides([line])
