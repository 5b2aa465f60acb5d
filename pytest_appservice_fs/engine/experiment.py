"""One experiment against one app: start it, a verdict for any cell, close it.

The facade the pytest fixtures use, and that a script can use without pytest (the engine
never imports pytest). Which trigger fires an event is the controller's business
(``events``); how a cell is measured and judged is here, one line per kind of cell.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_appservice_fs.backends.protocol import BackendError, backend_problem
from pytest_appservice_fs.engine.controller import EventNotProven, TriggerController
from pytest_appservice_fs.engine.expectations import (
    LARGE_FILES,
    LATENCY,
    AppendCell,
    ContainerCell,
    MeasureCell,
    PathCell,
)
from pytest_appservice_fs.engine.probe_client import ProbeError
from pytest_appservice_fs.engine.probe_package import (
    ProbePackageError,
    build_package,
    default_probe_dir,
    image_build_id,
)
from pytest_appservice_fs.events import default_registry
from pytest_appservice_fs.events.scale import ensure_instances
from pytest_appservice_fs.evidence.judge import judge_container, judge_path, judge_skipped
from pytest_appservice_fs.evidence.verdict import Verdict
from pytest_appservice_fs.measurements import latency, throughput
from pytest_appservice_fs.measurements.appends import (
    append_file,
    judge_appends,
    measure_appends,
    not_measured,
)

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.config import Settings
    from pytest_appservice_fs.engine.model import Event, Observation
    from pytest_appservice_fs.engine.progress import Progress
    from pytest_appservice_fs.events import TriggerRegistry

log = logging.getLogger(__name__)

#: Any cell of the matrix: an event's path or container cell, a measured path, an H4 lock.
Cell = PathCell | ContainerCell | MeasureCell | AppendCell


class ExperimentError(Exception):
    """The app could not be set up; the message is one sentence with the reason."""


def made_backend(candidate: object, made_by: str) -> Backend:
    """``candidate`` as a Backend; ExperimentError naming ``made_by`` and the members it lacks
    when it is not one (``backends.protocol.BACKEND_MEMBERS``)."""
    problem = backend_problem(candidate)
    if problem is not None:
        raise ExperimentError(
            f"{made_by} returned no Backend ({problem}); return an object that implements "
            "pytest_appservice_fs.backends.protocol.Backend, or None for the default."
        )
    return candidate  # type: ignore[return-value]


class Experiment:
    """The app under test with the probe deployed, each event fired at most once.

    ``settings`` gives the run id, deadlines and measurement sizes; ``paths`` the paths
    markers are written to (default: every path of the settings' matrix); ``probe_dir`` the
    probe to deploy (default: ``--probe-dir``, else the bundled probe).
    """

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        *,
        paths: Sequence[str] | None = None,
        probe_dir: Path | None = None,
        progress: Progress | None = None,
        triggers: TriggerRegistry | None = None,
    ) -> None:
        self.settings = settings
        folder = probe_dir or settings.probe_dir or default_probe_dir()
        self.controller = TriggerController(
            backend,
            run_id=settings.run_id,
            paths=paths if paths is not None else settings.expectations.all_paths,
            # Attach mode's --image runs a build of its own: the probe must report its id.
            package_factory=lambda: build_package(
                folder, image_build_id(settings.image) if settings.image else None
            ),
            ready_timeouts=dict(settings.ready_timeouts),
            progress=progress,
            triggers=triggers
            or default_registry(
                soft_restart_timeout=settings.soft_restart_timeout,
                restart_is_soft=settings.restart_mode == "soft",
            ),
            run_facts=settings.configuration.facts(),
        )

    @property
    def backend(self) -> Backend:
        """The backend the app runs on."""
        return self.controller.backend

    def start(self) -> None:
        """Create the app and deploy the probe; ExperimentError (one sentence) when it
        cannot."""
        try:
            self.controller.start()
        except (BackendError, ProbeError, ProbePackageError) as exc:
            raise ExperimentError(f"could not set up the {self.backend.name} app: {exc}") from None

    def __enter__(self) -> Experiment:
        """``with Experiment(...) as experiment``: started, and closed at the end."""
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def observe(self, event: Event) -> Observation:
        """What ``event`` did, fired on first use only (``Observation``, proven or not)."""
        return self.controller.observe(event)

    def verdict(self, cell: Cell) -> Verdict:
        """The cell's verdict with its evidence (``Verdict.properties``, JUnit's properties).

        A cell whose event this backend cannot fire gets a verdict observed ``skipped``, with
        the backend's reason; nothing is fired for it.
        """
        if isinstance(cell, (PathCell, ContainerCell)):
            return self._event_cell(cell)
        if isinstance(cell, AppendCell):
            return self._appends(cell)
        if isinstance(cell, MeasureCell) and cell.hypothesis == LARGE_FILES:
            return self._throughput(cell)
        if isinstance(cell, MeasureCell) and cell.hypothesis == LATENCY:
            return self._latency(cell)
        raise TypeError(
            f"{cell!r} is not a cell of the matrix (PathCell, ContainerCell, AppendCell, or a "
            f"MeasureCell of {LATENCY} or {LARGE_FILES})"
        )

    def close(self, *, teardown: bool = True) -> None:
        """Bring the app back to its capacity at start, then (``teardown``) remove everything
        the backend created. Logs, never raises, when the capacity cannot be restored."""
        try:
            self.controller.restore()
        except BackendError as exc:
            log.warning("could not restore the app's capacity: %s", exc)
        if teardown:
            self.backend.teardown()

    def _event_cell(self, cell: PathCell | ContainerCell) -> Verdict:
        name = self.backend.name
        reason = self.backend.unsupported.get(cell.event)
        if reason:
            return judge_skipped(
                cell,
                backend=name,
                run_id=self.settings.run_id,
                reason=reason,
                facts=self.controller.facts,
            )
        observation = self.observe(cell.event)
        if isinstance(cell, ContainerCell):
            return judge_container(observation, cell, backend=name)
        return judge_path(observation, cell, backend=name)

    def _latency(self, cell: MeasureCell) -> Verdict:
        measurement = latency.measure(
            self.backend,
            cell.path,
            size=self.settings.latency_size,
            iterations=self.settings.latency_iterations,
        )
        return latency.judge_latency(
            measurement,
            backend=self.backend.name,
            run_id=self.settings.run_id,
            facts=self.controller.facts,
        )

    def _throughput(self, cell: MeasureCell) -> Verdict:
        sizes = self.settings.throughput_sizes or self.backend.timing.throughput_sizes
        measurement = throughput.measure(
            self.backend, cell.path, sizes=sizes, iterations=self.settings.throughput_iterations
        )
        return throughput.judge_throughput(
            measurement,
            sizes=sizes,
            backend=self.backend.name,
            run_id=self.settings.run_id,
            facts=self.controller.facts,
        )

    def _appends(self, cell: AppendCell) -> Verdict:
        records = self.settings.append_records
        file = append_file(cell.lock, self.settings.run_id)
        try:
            instances = ensure_instances(self.controller, 2)
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
                self.backend, instances, path=cell.path, lock=cell.lock, records=records, file=file
            )
        finally:
            # Back to the capacity the run started with, so later tests (latency on every
            # instance, the events) see the app as they would have without H4.
            try:
                self.controller.restore()
            except BackendError as exc:
                log.warning("could not restore the app's capacity after H4: %s", exc)
        return judge_appends(
            measurement,
            cell,
            backend=self.backend.name,
            run_id=self.settings.run_id,
            facts=self.controller.facts,
        )
