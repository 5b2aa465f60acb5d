"""Events as strategies: the registry, and a throw-away trigger fired by the unchanged
controller on the fake backend."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend, FakeFaults
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine import controller as controller_module
from pytest_appservice_fs.engine.controller import TriggerController
from pytest_appservice_fs.engine.expectations import AZURE_MATRIX, LAB_PATHS, TMP
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.events import TriggerRegistry, default_registry
from pytest_appservice_fs.events.base import Trigger
from pytest_appservice_fs.events.protocol import App, Before, Proof, Start
from pytest_appservice_fs.evidence.judge import judge_container, judge_path

_T = TypeVar("_T", bound="_StopStartTwice")


class _StopStartTwice(Trigger):
    """A trigger this project does not have: stop/start twice, proven by the fake's count of
    starts rather than by the probe."""

    event = Event.RESTART
    awaited = "awaited two more starts in the fake's operations"
    calls: list[str]

    def __init__(self) -> None:
        self.calls = []
        self.starts_before = 0

    def prepare(self, app: App) -> Start:
        self.calls.append("prepare")
        return super().prepare(app)

    def fire(self, app: App, before: Before) -> str:
        self.calls.append("fire")
        backend = app.backend
        assert isinstance(backend, FakeBackend)
        self.starts_before = backend.operations.counts.get("start", 0)
        for _ in range(2):
            backend.stop()
            backend.start()
        return "stopped and started twice"

    def proof(self, app: App, before: Before, last_seen: list[str]) -> Proof | None:
        self.calls.append("proof")
        backend = app.backend
        assert isinstance(backend, FakeBackend)
        starts = backend.operations.counts.get("start", 0) - self.starts_before
        last_seen[0] = f"{starts} start(s)"
        if starts < 2:
            return None
        instance = backend.instances()[0]
        identity = backend.probe(instance).identity()
        assert identity is not None
        return Proof(f"{starts} starts counted", identity, instance)

    def restore(self, app: App) -> None:
        self.calls.append("restore")


class _NeverProven(_StopStartTwice):
    def proof(self, app: App, before: Before, last_seen: list[str]) -> Proof | None:
        last_seen[0] = "nothing changed, on purpose"
        return None


class _Refused(_StopStartTwice):
    def fire(self, app: App, before: Before) -> str:
        raise BackendError("the platform refused it (HTTP 409)")


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeBackend]:
    """A fake backend, torn down afterwards."""
    backend = FakeBackend(
        tmp_path / "app",
        faults=FakeFaults(),
        app_settings={"PROBE_PATHS": ",".join(LAB_PATHS)},
    )
    yield backend
    backend.teardown()


def _recorded(kind: type[_T], made: list[_T]) -> Callable[[], _T]:
    """A trigger factory that keeps every trigger it makes."""

    def factory() -> _T:
        made.append(kind())
        return made[-1]

    return factory


def _controller(backend: FakeBackend, registry: TriggerRegistry) -> TriggerController:
    controller = TriggerController(
        backend,
        run_id="run-e",
        paths=LAB_PATHS,
        package_factory=lambda: build_package(default_probe_dir()),
        ready_timeouts={Event.RESTART: 1.0},
        triggers=registry,
    )
    controller.start()
    return controller


def test_a_registered_trigger_is_fired_and_proven_by_the_unchanged_controller(
    fake: FakeBackend,
) -> None:
    """The controller prepares, fires, proves with the trigger's own proof, reads the markers
    back and restores: in that order, once."""
    made: list[_StopStartTwice] = []
    registry = TriggerRegistry()
    registry.register(Event.RESTART, _recorded(_StopStartTwice, made))
    controller = _controller(fake, registry)
    observation = controller.observe(Event.RESTART)
    assert observation.proven, observation.error
    assert observation.proof == "2 starts counted"
    assert observation.detail == "stopped and started twice"
    assert observation.trigger_count == 1
    (trigger,) = made
    assert trigger.calls[:2] == ["prepare", "fire"]
    assert trigger.calls[-1] == "restore"
    assert set(trigger.calls[2:-1]) == {"proof"}
    # Markers were written before and read back after: /home survived two stop/starts.
    assert observation.read["/home/data"].exists
    assert observation.read["/home/data"].nonce_matches
    # Observed once: a second look fires nothing.
    assert controller.observe(Event.RESTART) is observation
    assert len(made) == 1


def test_an_unproven_trigger_is_inconclusive_with_what_was_awaited(fake: FakeBackend) -> None:
    """No proof before the deadline: not proven, the message names the trigger's awaited
    words and what it last saw; the trigger still restores."""
    made: list[_NeverProven] = []
    registry = TriggerRegistry({Event.RESTART: _recorded(_NeverProven, made)})
    observation = _controller(fake, registry).observe(Event.RESTART)
    assert not observation.proven
    assert observation.error is not None
    assert "awaited two more starts" in observation.error
    assert "nothing changed, on purpose" in observation.error
    assert made[0].calls[-1] == "restore"


def test_a_refused_trigger_is_not_proven_and_says_why(fake: FakeBackend) -> None:
    """fire() raising BackendError: the observation says the event failed, with the reason."""
    registry = TriggerRegistry({Event.RESTART: _Refused})
    observation = _controller(fake, registry).observe(Event.RESTART)
    assert not observation.proven
    assert observation.error == "restart failed: the platform refused it (HTTP 409)"
    assert observation.written  # the markers were written before the event


def test_the_default_registry_fires_every_event_each_with_a_fresh_trigger() -> None:
    """Every Event has a trigger for that event; each create() is a new object."""
    registry = default_registry()
    assert set(registry) == set(Event)
    for event in Event:
        first, second = registry.create(event), registry.create(event)
        assert first.event is event
        assert first is not second
        assert first.awaited.startswith("awaited ")


def test_the_registry_refuses_a_second_trigger_and_names_a_missing_one() -> None:
    """register() twice for one event needs replace=True; create() of an unregistered event
    is a KeyError naming it."""
    registry = TriggerRegistry({Event.RESTART: _StopStartTwice})
    with pytest.raises(ValueError, match="restart already has a trigger"):
        registry.register(Event.RESTART, _NeverProven)
    registry.register(Event.RESTART, _NeverProven, replace=True)
    assert isinstance(registry.create(Event.RESTART), _NeverProven)
    with pytest.raises(KeyError, match="deploy"):
        registry.create(Event.DEPLOY)


def test_the_controller_names_no_event() -> None:
    """Everything that differs per event is in its trigger: the controller's source names no
    Event member."""
    source = inspect.getsource(controller_module)
    assert "Event." not in source


class _Crashing(_StopStartTwice):
    def fire(self, app: App, before: Before) -> str:
        self.calls.append("fire")
        raise ZeroDivisionError("a bug in the trigger")


def test_a_trigger_that_crashes_is_observed_once_and_not_fired_again(fake: FakeBackend) -> None:
    """An exception other than the backend's or the probe's is a bug: the event is still
    observed once (unproven, naming the exception), and a second look fires nothing."""
    made: list[_Crashing] = []
    controller = _controller(fake, TriggerRegistry({Event.RESTART: _recorded(_Crashing, made)}))
    observation = controller.observe(Event.RESTART)
    assert not observation.proven
    assert observation.error == (
        "restart could not be observed: ZeroDivisionError: a bug in the trigger"
    )
    assert controller.observe(Event.RESTART) is observation
    assert [t.calls.count("fire") for t in made] == [1]


def test_observe_before_start_is_refused(fake: FakeBackend) -> None:
    """Observing before the app exists would keep a failed observation for the whole run."""
    controller = TriggerController(
        fake,
        run_id="run-e",
        paths=LAB_PATHS,
        package_factory=lambda: build_package(default_probe_dir()),
    )
    with pytest.raises(RuntimeError, match=r"before the app is started: call start\(\)"):
        controller.observe(Event.RESTART)
    assert controller.observations == {}


class _NoOpSoftRestart(FakeBackend):
    """A fake whose soft restart finds nothing pending: the process keeps running, as
    softRestart=true may ("restarts the app only if necessary", WebApps_Restart)."""

    def restart(self, *, soft: bool | None = None) -> None:
        if soft:
            self.operations.add("restart")
            return
        super().restart(soft=soft)


def test_a_soft_restart_that_keeps_the_process_is_a_proven_no_op(tmp_path: Path) -> None:
    """After the soft-restart window the same process still answering is the result: proven,
    the proof says so, the evidence says the process was not restarted, and the cells are
    judged on it (the marker in /tmp persists, the container is kept)."""
    backend = _NoOpSoftRestart(tmp_path / "app", app_settings={"PROBE_PATHS": ",".join(LAB_PATHS)})
    try:
        registry = default_registry(soft_restart_timeout=0.5)
        controller = TriggerController(
            backend,
            run_id="run-s",
            paths=LAB_PATHS,
            package_factory=lambda: build_package(default_probe_dir()),
            ready_timeouts={Event.RESTART_SOFT: 10.0},
            triggers=registry,
        )
        controller.start()
        observation = controller.observe(Event.RESTART_SOFT)
        assert observation.proven, observation.error
        assert observation.proof.startswith("the restart was a no-op: the probe process (pid ")
        assert observation.instance_before.process_key == observation.instance_after.process_key
        (tmp_cell,) = [
            c for c in AZURE_MATRIX.paths if c.event is Event.RESTART_SOFT and c.path == TMP
        ]
        verdict = judge_path(observation, tmp_cell, backend="fake")
        assert (verdict.observed, verdict.passed) == ("persists", True)
        props = dict(verdict.properties)
        assert props["process_restarted"] == "false"
        assert props["process_before"] == props["process_after"]
        (container,) = AZURE_MATRIX.container_cells([Event.RESTART_SOFT])
        assert judge_container(observation, container, backend="fake").observed == "kept"
    finally:
        backend.teardown()


def test_a_soft_restart_that_restarts_is_proven_by_the_new_process(fake: FakeBackend) -> None:
    """The window only decides when nothing changed: a new process is the proof as ever."""
    controller = _controller(fake, default_registry(soft_restart_timeout=60))
    observation = controller.observe(Event.RESTART_SOFT)
    assert observation.proven, observation.error
    assert observation.proof.startswith("new probe process")


def test_a_platform_restart_that_does_nothing_is_never_a_no_op(tmp_path: Path) -> None:
    """Without --restart-mode soft, a restart that keeps the process is not proven."""
    backend = FakeBackend(
        tmp_path / "app",
        faults=FakeFaults(noop_restart=True),
        app_settings={"PROBE_PATHS": ",".join(LAB_PATHS)},
    )
    try:
        controller = _controller(backend, default_registry(soft_restart_timeout=0.1))
        observation = controller.observe(Event.RESTART)
        assert not observation.proven
        assert "awaited a new probe process;" in str(observation.error)
    finally:
        backend.teardown()
