"""The expectation matrix: the lab's table as data, selection by event, and overrides."""

from __future__ import annotations

import re

import pytest

from pytest_appservice_fs.engine.expectations import (
    AZURE_MATRIX,
    CONCURRENT,
    CONTAINER,
    EMULATOR_MATRIX,
    EXTRA_PATHS,
    HOME,
    LAB_EVENTS,
    LAB_MATRIX,
    LAB_PATHS,
    LIFECYCLE,
    PATHS,
    SHM,
    TMP,
    UPLOADS,
    VAR_LOCAL,
    AppendCell,
    ContainerCell,
    ExpectationError,
    Expectations,
    PathCell,
    matrix_for,
)
from pytest_appservice_fs.engine.model import AppendOutcome, ContainerOutcome, Event, Outcome

_VALID_EVENTS = (
    "restart, stop_start, deploy, scale_out, scale_in, app_setting_change, restart_soft, "
    "sku_change, plan_restart"
)

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


@pytest.mark.parametrize("event", LAB_EVENTS)
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
    assert set(path_keys) == {(e, p) for e in LAB_EVENTS for p in LAB_PATHS}
    assert [c.event for c in LAB_MATRIX.containers] == list(LAB_EVENTS)


@pytest.mark.parametrize("m", [AZURE_MATRIX, EMULATOR_MATRIX], ids=["azure", "emulator"])
def test_both_matrices_extend_the_lab_with_every_event_and_path(m: Expectations) -> None:
    """Azure's and the emulator's matrices hold the lab's cells as published, and one cell per
    event and path beyond them, each once; plus one container cell per event and two H4 cells."""
    for cell in LAB_MATRIX.paths:
        assert m.expected(cell.event, cell.path) == cell.expected
    keys = [(c.event, c.path) for c in m.paths]
    assert len(keys) == len(set(keys)) == len(Event) * (len(LAB_PATHS) + len(EXTRA_PATHS))
    assert [c.event for c in m.containers] == [
        *LAB_EVENTS,
        *(e for e in Event if e not in LAB_EVENTS),
    ]
    assert [(c.lock, c.hypothesis) for c in m.appends] == [
        ("flock", CONCURRENT),
        ("none", CONCURRENT),
    ]
    assert {c.hypothesis for c in m.paths if c.path in EXTRA_PATHS} == {PATHS}


def test_azure_observes_what_is_not_documented() -> None:
    """On Azure /home persists across every same-instance event (documented) and scale-in keeps
    it shared; what the new events do to containers and local paths, the paths beyond the lab,
    and H4, are observed."""
    for event in (Event.APP_SETTING_CHANGE, Event.RESTART_SOFT, Event.SKU_CHANGE):
        assert AZURE_MATRIX.expected(event, HOME) is Outcome.PERSISTS
        assert AZURE_MATRIX.expected(event, TMP) is Outcome.OBSERVE
        assert AZURE_MATRIX.expected(event, CONTAINER) is ContainerOutcome.OBSERVE
    assert AZURE_MATRIX.expected(Event.SCALE_IN, HOME) is Outcome.VISIBLE
    assert AZURE_MATRIX.expected(Event.SCALE_IN, VAR_LOCAL) is Outcome.NOT_VISIBLE
    assert {AZURE_MATRIX.expected(e, p) for e in Event for p in EXTRA_PATHS} == {Outcome.OBSERVE}
    assert {c.expected for c in AZURE_MATRIX.appends} == {AppendOutcome.OBSERVE}


def test_emulator_states_what_docker_does() -> None:
    """The emulator's own expectations: a deploy wipes wwwroot, /dev/shm dies with every
    process, a settings change recreates the container, flock orders the writers."""
    m = EMULATOR_MATRIX
    assert m.expected(Event.DEPLOY, UPLOADS) is Outcome.LOST
    assert m.expected(Event.RESTART, UPLOADS) is Outcome.PERSISTS
    assert m.expected(Event.RESTART, SHM) is Outcome.LOST
    assert m.expected(Event.SCALE_IN, SHM) is Outcome.NOT_VISIBLE
    assert m.expected(Event.APP_SETTING_CHANGE, TMP) is Outcome.LOST
    assert m.expected(Event.RESTART_SOFT, TMP) is Outcome.PERSISTS
    assert m.expected(Event.APP_SETTING_CHANGE, CONTAINER) is ContainerOutcome.RECREATED
    assert m.expected(Event.SCALE_IN, CONTAINER) is ContainerOutcome.KEPT
    assert m.expected(Event.SKU_CHANGE, CONTAINER) is ContainerOutcome.OBSERVE
    assert m.append_expected("flock") is AppendOutcome.INTACT
    assert m.append_expected("none") is AppendOutcome.OBSERVE
    assert matrix_for("local") == matrix_for("fake") == EMULATOR_MATRIX
    assert matrix_for("azure") == AZURE_MATRIX


def test_user_paths_are_observed_on_every_event() -> None:
    """A --path path gets one observe cell per event, after the matrix's own paths."""
    m = EMULATOR_MATRIX.with_user_paths(["/var/lib/app", HOME])
    added = [c for c in m.paths if c.path == "/var/lib/app"]
    assert [c.event for c in added] == list(Event)
    assert {(c.hypothesis, c.expected) for c in added} == {(PATHS, Outcome.OBSERVE)}
    assert m.all_paths[-1] == "/var/lib/app"
    assert len(m.paths) == len(EMULATOR_MATRIX.paths) + len(Event)  # HOME was known already
    assert m.cells(PATHS, [Event.DEPLOY])[-1] == PathCell(
        PATHS, Event.DEPLOY, "/var/lib/app", Outcome.OBSERVE
    )


def test_h4_cells_and_their_overrides() -> None:
    """H4's cells are its lock modes; 'H4 LOCK = OUTCOME' lines override them."""
    cells = EMULATOR_MATRIX.cells(CONCURRENT, [])
    assert cells == [
        AppendCell("flock", AppendOutcome.INTACT),
        AppendCell("none", AppendOutcome.OBSERVE),
    ]
    assert [c.id for c in cells] == ["lock-flock", "lock-none"]
    changed = EMULATOR_MATRIX.with_overrides(["H4 none = intact", "h4 flock = observe"])
    assert changed.append_expected("none") is AppendOutcome.INTACT
    assert changed.append_expected("flock") is AppendOutcome.OBSERVE
    for line, fragment in (
        ("H4 fcntl = intact", "is not of the form 'H4 LOCK = OUTCOME' with LOCK one of flock"),
        ("H4 none = inconclusive", "valid outcomes are intact, damaged, not_shared, observe."),
    ):
        with pytest.raises(ExpectationError) as excinfo:
            EMULATOR_MATRIX.with_overrides([line])
        _assert_one_sentence(str(excinfo.value))
        assert fragment in str(excinfo.value)


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
        f"valid events are {_VALID_EVENTS}."
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
        "are persists, lost, corrupted, write_refused, observe."
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
