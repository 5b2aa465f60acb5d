"""Layered, overridable fixtures: settings -> backend -> app (trigger controller) -> verdict.

The engine is imported inside the fixtures: this module loads with the plugin in every pytest
run, and only live tests should pay for requests, tenacity and the backends' SDKs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_appservice_fs.keys import BACKENDS_KEY, KEPT_KEY, SETTINGS_KEY

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.config import Settings
    from pytest_appservice_fs.engine.controller import TriggerController
    from pytest_appservice_fs.engine.expectations import (
        AppendCell,
        ContainerCell,
        MeasureCell,
        PathCell,
    )
    from pytest_appservice_fs.engine.model import Event, Observation
    from pytest_appservice_fs.engine.progress import Progress
    from pytest_appservice_fs.evidence.verdict import Verdict

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def appservice_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings, resolved once from command line, ini file and environment."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def appservice_probe_dir(appservice_settings: Settings) -> Path:
    """The probe folder to deploy: --probe-dir, else the bundled probe (override at will)."""
    from pytest_appservice_fs.engine.probe_package import default_probe_dir

    return appservice_settings.probe_dir or default_probe_dir()


@pytest.fixture(scope="session")
def appservice_paths(appservice_settings: Settings) -> tuple[str, ...]:
    """The paths markers are written to: every path in the expectation matrix."""
    return appservice_settings.expectations.all_paths


@pytest.fixture(scope="session")
def appservice_azure_options() -> dict[str, Any]:
    """Azure backend options: ``credential`` and SDK ``client_options`` (override in tests)."""
    return {}


@pytest.fixture(scope="session")
def appservice_backend(
    pytestconfig: pytest.Config,
    appservice_settings: Settings,
    appservice_azure_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Backend]:
    """The backend the settings name; everything it creates is removed at the end."""
    from pytest_appservice_fs.backends import create_backend

    workdir = tmp_path_factory.mktemp("appservice-fs", numbered=True)
    backend = create_backend(appservice_settings, workdir, azure_options=appservice_azure_options)
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
            backend.teardown()


@pytest.fixture(scope="session")
def appservice_app(
    pytestconfig: pytest.Config,
    appservice_backend: Backend,
    appservice_settings: Settings,
    appservice_probe_dir: Path,
    appservice_paths: tuple[str, ...],
) -> Iterator[TriggerController]:
    """The app with the probe deployed: a trigger controller that fires each event once."""
    from pytest_appservice_fs.backends.protocol import BackendError
    from pytest_appservice_fs.engine.controller import TriggerController
    from pytest_appservice_fs.engine.probe_client import ProbeError
    from pytest_appservice_fs.engine.probe_package import build_package

    controller = TriggerController(
        appservice_backend,
        run_id=appservice_settings.run_id,
        paths=appservice_paths,
        package_factory=lambda: build_package(appservice_probe_dir),
        ready_timeouts=dict(appservice_settings.ready_timeouts),
        progress=_terminal_progress(pytestconfig),
    )
    try:
        controller.start()
    except (BackendError, ProbeError) as exc:
        pytest.fail(f"could not set up the {appservice_backend.name} app: {exc}", pytrace=False)
    yield controller
    try:
        controller.restore()
    except BackendError as exc:
        log.warning("could not restore the app's capacity: %s", exc)


@pytest.fixture
def appservice_observe(appservice_app: TriggerController) -> Callable[[Event], Observation]:
    """Observe an event: fired on first use in the run, the same observation after."""
    return appservice_app.observe


@pytest.fixture
def appservice_cell(
    request: pytest.FixtureRequest,
) -> PathCell | ContainerCell | MeasureCell | AppendCell:
    """The expectation cell under test (parametrized by ``appservice_cells``)."""
    cell: PathCell | ContainerCell | MeasureCell | AppendCell = request.param
    return cell


@pytest.fixture
def appservice_verdict(
    appservice_cell: PathCell | ContainerCell,
    appservice_app: TriggerController,
    appservice_observe: Callable[[Event], Observation],
    appservice_settings: Settings,
    request: pytest.FixtureRequest,
) -> Verdict:
    """The cell's verdict, its proof recorded as JUnit properties and for the report."""
    from pytest_appservice_fs.engine.expectations import ContainerCell
    from pytest_appservice_fs.evidence.judge import judge_container, judge_path, skipped_properties

    reason = appservice_app.backend.unsupported.get(appservice_cell.event)
    if reason:
        # Recorded, so that reports show the cell as skipped and why, not as missing.
        properties = skipped_properties(
            appservice_cell,
            backend=appservice_settings.backend,
            run_id=appservice_settings.run_id,
            reason=reason,
        )
        _record(request, properties)
        pytest.skip(properties[-1][1])
    observation = appservice_observe(appservice_cell.event)
    backend = appservice_settings.backend
    if isinstance(appservice_cell, ContainerCell):
        verdict = judge_container(observation, appservice_cell, backend=backend)
    else:
        verdict = judge_path(observation, appservice_cell, backend=backend)
    _record(request, verdict.properties)
    return verdict


@pytest.fixture
def appservice_latency(
    appservice_cell: MeasureCell,
    appservice_app: TriggerController,
    appservice_settings: Settings,
    request: pytest.FixtureRequest,
) -> Verdict:
    """The path's latency on every instance, its figures recorded as JUnit properties."""
    from pytest_appservice_fs.measurements.latency import judge_latency, measure

    backend = appservice_app.backend
    measurement = measure(
        backend,
        appservice_cell.path,
        size=appservice_settings.latency_size,
        iterations=appservice_settings.latency_iterations,
    )
    verdict = judge_latency(
        measurement, backend=backend.name, run_id=appservice_settings.run_id, facts=backend.facts
    )
    _record(request, verdict.properties)
    return verdict


@pytest.fixture
def appservice_throughput(
    appservice_cell: MeasureCell,
    appservice_app: TriggerController,
    appservice_settings: Settings,
    request: pytest.FixtureRequest,
) -> Verdict:
    """H5: the path's large-file throughput per size, recorded as JUnit properties."""
    from pytest_appservice_fs.measurements.throughput import judge_throughput
    from pytest_appservice_fs.measurements.throughput import measure as measure_throughput

    backend = appservice_app.backend
    sizes = appservice_settings.throughput_sizes or backend.timing.throughput_sizes
    measurement = measure_throughput(
        backend,
        appservice_cell.path,
        sizes=sizes,
        iterations=appservice_settings.throughput_iterations,
    )
    verdict = judge_throughput(
        measurement,
        sizes=sizes,
        backend=backend.name,
        run_id=appservice_settings.run_id,
        facts=backend.facts,
    )
    _record(request, verdict.properties)
    return verdict


@pytest.fixture
def appservice_appends(
    appservice_cell: AppendCell,
    appservice_app: TriggerController,
    appservice_settings: Settings,
    request: pytest.FixtureRequest,
) -> Verdict:
    """H4: two instances append to one /home file at once; the counts as JUnit properties."""
    from pytest_appservice_fs.backends.protocol import BackendError
    from pytest_appservice_fs.engine.controller import EventNotProven
    from pytest_appservice_fs.engine.probe_client import ProbeError
    from pytest_appservice_fs.measurements.appends import (
        append_file,
        judge_appends,
        measure_appends,
        not_measured,
    )

    backend, cell = appservice_app.backend, appservice_cell
    records = appservice_settings.append_records
    file = append_file(cell.lock, appservice_settings.run_id)
    try:
        instances = appservice_app.ensure_instances(2)
    except (BackendError, EventNotProven, ProbeError) as exc:
        # No error: the verdict is inconclusive, and its explanation carries the reason.
        measurement = not_measured(
            path=cell.path,
            lock=cell.lock,
            records=records,
            file=file,
            reason=f"could not run on two instances: {exc}",
        )
    else:
        measurement = measure_appends(
            backend, instances, path=cell.path, lock=cell.lock, records=records, file=file
        )
    finally:
        # Back to the capacity the run started with, so later tests (latency on every
        # instance, the events) see the app as they would have without H4.
        try:
            appservice_app.restore()
        except BackendError as exc:
            log.warning("could not restore the app's capacity after H4: %s", exc)
    verdict = judge_appends(
        measurement,
        cell,
        backend=backend.name,
        run_id=appservice_settings.run_id,
        facts=backend.facts,
    )
    _record(request, verdict.properties)
    return verdict


def _record(request: pytest.FixtureRequest, properties: Iterable[tuple[str, str]]) -> None:
    """Write a cell's evidence as JUnit properties (and the report's input).

    Straight to the test's ``user_properties``, which is what ``record_property`` does: every
    JUnit family writes them, and no junit_family setting is needed where the suite runs from
    the installed package (record_property warns under pytest's default, xunit2).
    """
    request.node.user_properties.extend(properties)


def _terminal_progress(config: pytest.Config) -> Progress:
    """Wait statuses on the terminal: in place on a TTY, a line every 30 s in CI logs."""
    from pytest_appservice_fs.engine.progress import NoProgress, ThrottledProgress

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
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
