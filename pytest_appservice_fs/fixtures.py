"""Layered, overridable fixtures: settings -> backend -> app (an experiment) -> verdict.

The engine is imported inside the fixtures: this module loads with the plugin in every pytest
run, and only live tests should pay for requests, tenacity and the backends' SDKs. The
fixtures only wire pytest to the engine's facade (``engine.experiment``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from pytest_appservice_fs.keys import BACKENDS_KEY, KEPT_KEY, SETTINGS_KEY

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.config import Settings
    from pytest_appservice_fs.engine.experiment import Cell, Experiment
    from pytest_appservice_fs.engine.model import Event, Observation
    from pytest_appservice_fs.events import TriggerRegistry
    from pytest_appservice_fs.evidence.verdict import Verdict

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@pytest.fixture(scope="session")
def appservice_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings, resolved once from command line, ini file and environment."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def appservice_probe_dir(appservice_settings: Settings) -> Path | None:
    """The probe folder to deploy: ``--probe-dir``, else None for the bundled probe
    (override at will)."""
    return appservice_settings.probe_dir


@pytest.fixture(scope="session")
def appservice_paths(appservice_settings: Settings) -> tuple[str, ...]:
    """The paths markers are written to: every path in the expectation matrix."""
    return appservice_settings.expectations.all_paths


@pytest.fixture(scope="session")
def appservice_azure_options() -> dict[str, Any]:
    """Azure backend options: ``credential`` and SDK ``client_options`` (override in tests)."""
    return {}


@pytest.fixture(scope="session")
def appservice_triggers() -> TriggerRegistry | None:
    """Which trigger fires which event: None for every event's own (``events``); override
    with a ``TriggerRegistry`` (``events.default_registry()`` with a trigger replaced)."""
    return None


@pytest.fixture(scope="session")
def appservice_backend(
    pytestconfig: pytest.Config,
    appservice_settings: Settings,
    appservice_azure_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Backend]:
    """The backend ``pytest_appservice_fs_make_backend`` makes (by default the one the
    settings name); everything it creates is removed at the end."""
    from pytest_appservice_fs.engine.experiment import ExperimentError, made_backend

    workdir = tmp_path_factory.mktemp("appservice-fs", numbered=True)
    made = pytestconfig.hook.pytest_appservice_fs_make_backend(
        settings=appservice_settings, workdir=workdir, azure_options=appservice_azure_options
    )
    backend = _or_fail(
        lambda: made_backend(made, "pytest_appservice_fs_make_backend"), ExperimentError
    )
    created = pytestconfig.stash[BACKENDS_KEY]
    created.append(backend)
    try:
        yield backend
    finally:
        created.remove(backend)
        if appservice_settings.keep_resources:
            # Shown in the terminal summary: output here is captured as the last test's.
            message = backend.kept_resources()
            pytestconfig.stash[KEPT_KEY].append(message)
            log.warning("%s", message)
        else:
            from pytest_appservice_fs.signals import shielded_teardown

            with shielded_teardown(f"run {appservice_settings.run_id}"):
                backend.teardown()


@pytest.fixture(scope="session")
def appservice_app(  # noqa: PLR0917 - pytest passes fixtures by name
    pytestconfig: pytest.Config,
    appservice_backend: Backend,
    appservice_settings: Settings,
    appservice_probe_dir: Path | None,
    appservice_paths: tuple[str, ...],
    appservice_triggers: TriggerRegistry | None,
) -> Iterator[Experiment]:
    """The app with the probe deployed: an experiment that fires each event once."""
    from pytest_appservice_fs.engine.experiment import Experiment, ExperimentError
    from pytest_appservice_fs.engine.progress import terminal_progress

    experiment = Experiment(
        appservice_backend,
        appservice_settings,
        paths=appservice_paths,
        probe_dir=appservice_probe_dir,
        progress=terminal_progress(
            pytestconfig.pluginmanager.get_plugin("terminalreporter"),
            pytestconfig.pluginmanager.get_plugin("capturemanager"),
        ),
        triggers=appservice_triggers,
    )
    _or_fail(experiment.start, ExperimentError)
    yield experiment
    # The backend's fixture tears it down (or keeps it, with --keep-resources).
    experiment.close(teardown=False)


@pytest.fixture
def appservice_observe(appservice_app: Experiment) -> Callable[[Event], Observation]:
    """Observe an event: fired on first use in the run, the same observation after."""
    return appservice_app.observe


@pytest.fixture
def appservice_cell(request: pytest.FixtureRequest) -> Cell:
    """The expectation cell under test (parametrized by ``appservice_cells``)."""
    cell: Cell = request.param
    return cell


@pytest.fixture
def appservice_verdict(
    appservice_cell: Cell, appservice_app: Experiment, request: pytest.FixtureRequest
) -> Verdict:
    """The cell's verdict, its proof recorded as JUnit properties and for the report; a cell
    whose event the backend cannot fire is recorded, then skipped with the reason."""
    return _judged(request, appservice_app, appservice_cell)


@pytest.fixture
def appservice_latency(
    appservice_cell: Cell, appservice_app: Experiment, request: pytest.FixtureRequest
) -> Verdict:
    """The path's latency on every instance, its figures recorded as JUnit properties."""
    return _judged(request, appservice_app, appservice_cell)


@pytest.fixture
def appservice_throughput(
    appservice_cell: Cell, appservice_app: Experiment, request: pytest.FixtureRequest
) -> Verdict:
    """H5: the path's large-file throughput per size, recorded as JUnit properties."""
    return _judged(request, appservice_app, appservice_cell)


@pytest.fixture
def appservice_appends(
    appservice_cell: Cell, appservice_app: Experiment, request: pytest.FixtureRequest
) -> Verdict:
    """H4: two instances append to one /home file at once; the counts as JUnit properties."""
    return _judged(request, appservice_app, appservice_cell)


def _or_fail(action: Callable[[], _T], error: type[Exception]) -> _T:
    """``action()``, or the test fails with ``error``'s message as its one sentence (raised
    outside the except block, so that no "During handling" chain is printed with it)."""
    try:
        return action()
    except error as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)


def _judged(request: pytest.FixtureRequest, experiment: Experiment, cell: Cell) -> Verdict:
    """The cell's verdict, its evidence written as JUnit properties (and the report's input).

    Straight to the test's ``user_properties``, which is what ``record_property`` does: every
    JUnit family writes them, and no junit_family setting is needed where the suite runs from
    the installed package (record_property warns under pytest's default, xunit2).
    """
    verdict = experiment.verdict(cell)
    request.node.user_properties.extend(verdict.properties)
    if verdict.skipped:
        pytest.skip(verdict.explanation)
    return verdict
