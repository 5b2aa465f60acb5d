"""The trigger controller on the fake backend: fire once, prove it, read the markers back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend, FakeFaults
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.controller import EventNotProven, TriggerController
from pytest_appservice_fs.engine.expectations import (
    DEFAULT_PATHS,
    EMULATOR_MATRIX,
    HOME,
    LAB_EVENTS,
    LAB_MATRIX,
    LAB_PATHS,
    SHM,
    TMP,
    UPLOADS,
    VAR_LOCAL,
)
from pytest_appservice_fs.engine.model import ContainerOutcome, Event, Observation
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeError
from pytest_appservice_fs.engine.probe_package import ProbePackage, build_package, default_probe_dir
from pytest_appservice_fs.events.scale import ensure_instances
from pytest_appservice_fs.evidence.judge import judge_container, judge_path

MakeController = Callable[..., TriggerController]
#: The events the fake can fire (it has no plan: no SKU change, no plan restart).
FIRED = [e for e in Event if e not in FakeBackend.unsupported]


class _RefusingRestart(FakeBackend):
    """A fake whose platform refuses to restart."""

    def restart(self, *, soft: bool | None = None) -> None:
        """Count the request, then refuse it."""
        self.operations.add("restart")
        raise BackendError("the platform refused the restart (HTTP 409)")


class _RefusingScaleIn(FakeBackend):
    """A fake that can scale out but not back in."""

    def scale(self, count: int) -> None:
        """Refuse to scale to fewer instances than running."""
        if count < len(self.instances()):
            raise BackendError("scale-in refused")
        super().scale(count)


@pytest.fixture
def make_controller(tmp_path: Path) -> Iterator[MakeController]:
    """Build started controllers on fresh fake backends; tear the backends down afterwards."""
    backends: list[FakeBackend] = []

    def make(
        *,
        backend_class: type[FakeBackend] = FakeBackend,
        faults: FakeFaults | None = None,
        ready_timeouts: dict[Event, float] | None = None,
        packages: list[ProbePackage] | None = None,
        paths: tuple[str, ...] = LAB_PATHS,
    ) -> TriggerController:
        backend = backend_class(
            tmp_path / f"app{len(backends)}",
            faults=faults or FakeFaults(),
            app_settings={"PROBE_PATHS": ",".join(paths)},
        )
        backends.append(backend)

        def package_factory() -> ProbePackage:
            package = build_package(default_probe_dir())
            if packages is not None:
                packages.append(package)
            return package

        controller = TriggerController(
            backend,
            run_id="run-1",
            paths=paths,
            package_factory=package_factory,
            ready_timeouts=ready_timeouts,
        )
        controller.start()
        return controller

    yield make
    for backend in backends:
        backend.teardown()


def _fake(controller: TriggerController) -> FakeBackend:
    backend = controller.backend
    assert isinstance(backend, FakeBackend)
    return backend


def _survivors(observation: Observation) -> set[str]:
    return {
        path
        for path, read in observation.read.items()
        if read.exists and read.checksum_valid and read.nonce_matches
    }


def _observed(observation: Observation) -> dict[str, str]:
    """What the evidence module makes of each cell of this observation's event, for the paths
    that were written (and the container)."""
    written = set(observation.written)
    cells = [c for c in EMULATOR_MATRIX.paths if c.event is observation.event and c.path in written]
    observed = {c.path: judge_path(observation, c, backend="fake").observed for c in cells}
    container = EMULATOR_MATRIX.container_cells([observation.event])[0]
    observed["container"] = judge_container(observation, container, backend="fake").observed
    return observed


# --- every event, proven -----------------------------------------------------------------


def test_start_creates_and_deploys(make_controller: MakeController) -> None:
    """start() creates the app and deploys the probe once: one instance answers."""
    controller = make_controller()
    backend = _fake(controller)
    assert backend.operations.counts == {"create": 1, "deploy": 1}
    assert len(backend.instances()) == 1
    assert controller.trigger_counts == {}


@pytest.mark.parametrize("event", FIRED)
def test_each_event_is_proven_once(make_controller: MakeController, event: Event) -> None:
    """observe(event) fires the event once and returns a proven observation with timings."""
    controller = make_controller()
    observation = controller.observe(event)
    assert observation.proven is True, observation.error
    assert observation.error is None
    assert observation.trigger_count == 1
    assert controller.trigger_counts == {event: 1}
    assert observation.event is event
    assert observation.run_id == "run-1"
    assert set(observation.written) == set(LAB_PATHS)
    assert all(w.checksum for w in observation.written.values())
    assert set(observation.read) == set(LAB_PATHS)
    assert observation.event_seconds is not None
    assert observation.ready_seconds is not None
    assert observation.ready_seconds >= observation.event_seconds
    assert observation.instance_after is not None
    assert observation.proof


def test_all_events_reproduce_the_lab_matrix(make_controller: MakeController) -> None:
    """Observing every event in turn on one app gives the lab's outcome in every cell."""
    controller = make_controller()
    for event in LAB_EVENTS:
        observation = controller.observe(event)
        observed = _observed(observation)
        expected = {path: str(LAB_MATRIX.expected(event, path)) for path in observed}
        assert observed == expected, event
    assert controller.trigger_counts == dict.fromkeys(LAB_EVENTS, 1)
    assert _fake(controller).operations.counts == {
        "create": 1,
        "deploy": 2,
        "restart": 1,
        "stop": 1,
        "start": 1,
        "scale_to_2": 1,
        "scale_to_1": 1,
    }


def test_restart_proof_is_a_new_process(make_controller: MakeController) -> None:
    """The restart is proven by a new pid in the same container; all markers survive."""
    observation = make_controller().observe(Event.RESTART)
    before, after = observation.instance_before, observation.instance_after
    assert after is not None
    assert after.hostname == before.hostname
    assert after.pid != before.pid
    assert observation.proof.startswith("new probe process: started ")
    assert f"(pid {before.pid}) -> " in observation.proof
    assert _survivors(observation) == set(LAB_PATHS)


def test_stop_start_keeps_only_home(make_controller: MakeController) -> None:
    """After stop+start the container is new on the same instance and only /home survives."""
    observation = make_controller().observe(Event.STOP_START)
    after = observation.instance_after
    assert after is not None
    assert after.instance_id == observation.instance_before.instance_id
    assert after.hostname != observation.instance_before.hostname
    assert _survivors(observation) == {HOME}
    assert not observation.read[TMP].exists
    assert not observation.read[VAR_LOCAL].exists


def test_deploy_proof_is_the_new_deployment(make_controller: MakeController) -> None:
    """The deploy ships a fresh package and is proven by its deployment id answering."""
    packages: list[ProbePackage] = []
    controller = make_controller(packages=packages)
    observation = controller.observe(Event.DEPLOY)
    assert len(packages) == 2
    assert observation.instance_before.deployment_id == packages[0].deployment_id
    assert observation.instance_after is not None
    assert observation.instance_after.deployment_id == packages[1].deployment_id
    assert observation.proof == f"deployment {packages[1].deployment_id} answers"
    assert _survivors(observation) == {HOME}


def test_scale_out_reads_on_the_new_instance_then_scales_back(
    make_controller: MakeController,
) -> None:
    """Scale-out reads on the new instance (only /home visible), then returns to 1 instance."""
    controller = make_controller()
    backend = _fake(controller)
    first = backend.instances()[0]
    observation = controller.observe(Event.SCALE_OUT)
    after = observation.instance_after
    assert after is not None
    assert after.instance_id != first
    assert observation.instance_before.instance_id == first
    assert observation.proof == f"new instance {str(after.instance_id)[:12]} answers"
    assert _survivors(observation) == {HOME}
    assert backend.instances() == [first]
    assert backend.operations.counts["scale_to_2"] == 1
    assert backend.operations.counts["scale_to_1"] == 1


def test_failed_scale_in_is_logged_and_observation_kept(
    make_controller: MakeController, caplog: pytest.LogCaptureFixture
) -> None:
    """If scaling back fails, the scale-out observation still stands and a warning says why."""
    caplog.set_level(logging.WARNING, logger="pytest_appservice_fs.engine.controller")
    controller = make_controller(backend_class=_RefusingScaleIn)
    observation = controller.observe(Event.SCALE_OUT)
    assert observation.proven is True
    assert len(controller.backend.instances()) == 2
    assert "could not scale back to 1 instance(s): scale-in refused" in caplog.text


# --- at most once ------------------------------------------------------------------------


def test_same_event_twice_fires_once(make_controller: MakeController) -> None:
    """A second observe() of one event returns the same observation without firing again."""
    controller = make_controller()
    first = controller.observe(Event.RESTART)
    second = controller.observe(Event.RESTART)
    assert second is first
    assert controller.trigger_counts == {Event.RESTART: 1}
    assert _fake(controller).operations.counts["restart"] == 1


def test_failed_event_is_not_fired_again(make_controller: MakeController) -> None:
    """An unproven observation is kept too: the event is still fired only once."""
    controller = make_controller(
        faults=FakeFaults(noop_restart=True), ready_timeouts={Event.RESTART: 0.05}
    )
    first = controller.observe(Event.RESTART)
    assert controller.observe(Event.RESTART) is first
    assert _fake(controller).operations.counts["restart"] == 1


# --- not proven --------------------------------------------------------------------------


def test_noop_restart_is_not_proven(make_controller: MakeController) -> None:
    """A restart that changes nothing is not proven: the error says what was awaited and seen."""
    controller = make_controller(
        faults=FakeFaults(noop_restart=True), ready_timeouts={Event.RESTART: 0.3}
    )
    assert controller.ready_timeout(Event.RESTART) == 0.3
    observation = controller.observe(Event.RESTART)
    assert observation.proven is False
    assert observation.trigger_count == 1
    assert observation.instance_after is None
    assert observation.read == {}
    assert observation.error is not None
    pid = observation.instance_before.pid
    assert observation.error.startswith(
        "restart not proven within 0.3 s: awaited a new probe process; last seen: instance "
    )
    assert f"pid {pid}," in observation.error
    assert str(observation.instance_before.hostname) in observation.error
    assert observation.event_seconds is not None
    observed = _observed(observation)
    assert set(observed.values()) == {"inconclusive"}


def test_default_ready_timeout_comes_from_the_backend(make_controller: MakeController) -> None:
    """Without an override, the deadline is the backend's default for the event."""
    controller = make_controller(ready_timeouts={Event.DEPLOY: 9.0})
    assert controller.ready_timeout(Event.DEPLOY) == 9.0
    assert controller.ready_timeout(Event.RESTART) == _fake(controller).timing.ready_timeout(
        Event.RESTART
    )


def test_transient_503s_still_prove_every_event(make_controller: MakeController) -> None:
    """503s after each event are retried through: every event is still proven."""
    controller = make_controller(faults=FakeFaults(transient_503s=3))
    for event in FIRED:
        observation = controller.observe(event)
        assert observation.proven is True, observation.error
        assert observation.trigger_count == 1


def test_backend_error_on_fire_is_unproven(make_controller: MakeController) -> None:
    """A restart the backend refuses gives an unproven observation with the reason."""
    controller = make_controller(backend_class=_RefusingRestart)
    observation = controller.observe(Event.RESTART)
    assert observation.proven is False
    assert observation.error == "restart failed: the platform refused the restart (HTTP 409)"
    assert observation.trigger_count == 1
    assert observation.instance_before.hostname is not None
    assert set(observation.written) == set(LAB_PATHS)
    assert observation.read == {}
    assert observation.event_seconds is None


def test_write_failure_does_not_fire(
    make_controller: MakeController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the markers cannot be written, the event is not fired and the reason is recorded."""
    controller = make_controller()

    def refuse(self: ProbeClient, nonce: str, paths: Any) -> Any:
        raise ProbeError("disk full")

    monkeypatch.setattr(ProbeClient, "write", refuse)
    observation = controller.observe(Event.RESTART)
    assert observation.proven is False
    assert observation.error == "could not write markers before restart: disk full"
    assert observation.trigger_count == 0
    assert controller.trigger_counts == {}
    assert "restart" not in _fake(controller).operations.counts
    assert observation.written == {}


def test_no_running_instance_does_not_fire(make_controller: MakeController) -> None:
    """With the app stopped there is nowhere to write: the event is not fired."""
    controller = make_controller()
    backend = _fake(controller)
    backend.stop()
    observation = controller.observe(Event.DEPLOY)
    assert observation.proven is False
    assert observation.error == (
        "could not write markers before deploy: the app has no running instance"
    )
    assert backend.operations.counts["deploy"] == 1  # the one from start()


# --- faults seen through the evidence ----------------------------------------------------


def test_stale_marker_is_judged_lost(make_controller: MakeController) -> None:
    """A leftover marker in a recreated container never counts as a survivor."""
    controller = make_controller(faults=FakeFaults(stale_marker=True))
    observation = controller.observe(Event.STOP_START)
    assert observation.read[TMP].exists is True
    assert observation.read[TMP].nonce_matches is False
    assert _observed(observation)[TMP] == "lost"
    assert _observed(observation)[VAR_LOCAL] == "lost"


def test_home_not_persistent_is_judged_lost(make_controller: MakeController) -> None:
    """A /home that is not the shared mount loses its marker on restart: H1 fails."""
    controller = make_controller(faults=FakeFaults(home_not_persistent=True))
    observation = controller.observe(Event.RESTART)
    assert observation.proven is True
    assert _observed(observation)[HOME] == "lost"
    cell = LAB_MATRIX.path_cells("H1", [Event.RESTART])[0]
    assert judge_path(observation, cell, backend="fake").passed is False


def test_observations_carry_backend_facts(make_controller: MakeController) -> None:
    """Each observation copies the backend's facts (none for the fake)."""
    observation = make_controller().observe(Event.RESTART)
    assert dict(observation.facts) == {}
    assert observation.trigger_count == 1
    assert observation.proven is True


# --- events beyond the lab ---------------------------------------------------------------


def test_every_fired_event_reproduces_the_emulator_matrix(make_controller: MakeController) -> None:
    """All events the fake can fire, in turn on one app, over all six default paths: every
    path and container cell comes out as the emulator's matrix states (observe cells aside)."""
    controller = make_controller(paths=DEFAULT_PATHS)
    for event in FIRED:
        observation = controller.observe(event)
        assert observation.proven, observation.error
        for path in DEFAULT_PATHS:
            cell = next(c for c in EMULATOR_MATRIX.paths if (c.event, c.path) == (event, path))
            assert judge_path(observation, cell, backend="fake").passed, (event, path)
        box = next(c for c in EMULATOR_MATRIX.containers if c.event is event)
        assert judge_container(observation, box, backend="fake").passed, event
    assert controller.trigger_counts == dict.fromkeys(FIRED, 1)


def test_scale_in_writes_on_the_removed_instance_and_reads_on_the_survivor(
    make_controller: MakeController,
) -> None:
    """Scale-in first brings the app to two instances (not the event), writes on the newest,
    removes it, and reads on the survivor, whose container is the one it had before."""
    controller = make_controller()
    first = controller.backend.instances()[0]
    observation = controller.observe(Event.SCALE_IN)
    assert observation.proven, observation.error
    assert observation.trigger_count == 1
    assert observation.instance_before.instance_id != first
    assert observation.instance_after is not None
    assert observation.instance_after.instance_id == first
    assert observation.survivor_before is not None
    assert observation.survivor_before.hostname == observation.instance_after.hostname
    assert observation.detail == "2 -> 1 instances"
    assert "(the writer) removed" in observation.proof
    assert _observed(observation) == {
        HOME: "visible",
        TMP: "not_visible",
        VAR_LOCAL: "not_visible",
        "container": "kept",
    }
    cell = next(c for c in EMULATOR_MATRIX.containers if c.event is Event.SCALE_IN)
    verdict = judge_container(observation, cell, backend="fake")
    assert verdict.observed == ContainerOutcome.KEPT.value
    assert controller.backend.instances() == [first]
    assert _fake(controller).operations.counts["scale_to_2"] == 1
    assert _fake(controller).operations.counts["scale_to_1"] == 1


def test_scale_in_where_the_writer_survives_is_inconclusive(
    make_controller: MakeController,
) -> None:
    """When the platform removes the other instance, the writer reads its own files: that
    proves nothing about a removed instance's files, so the path cells are inconclusive."""

    class _RemovesTheOldest(FakeBackend):
        def scale(self, count: int) -> None:
            if count < len(self._instances):
                oldest = self._instances.pop(0)
                self._remove_container(oldest)
                self.operations.add(f"scale_to_{count}")
                return
            super().scale(count)

    controller = make_controller(backend_class=_RemovesTheOldest)
    observation = controller.observe(Event.SCALE_IN)
    assert observation.proven, observation.error
    assert "(not the writer) removed" in observation.proof
    cell = next(c for c in EMULATOR_MATRIX.paths if (c.event, c.path) == (Event.SCALE_IN, HOME))
    verdict = judge_path(observation, cell, backend="fake")
    assert verdict.observed == "inconclusive"
    assert not verdict.passed
    assert "read on the instance that wrote it" in verdict.explanation


def test_app_setting_change_is_proven_by_the_mark_the_probe_reports(
    make_controller: MakeController,
) -> None:
    """The event sets PROBE_SETTINGS_MARK to a fresh value; the proof is a probe process that
    started with it. The emulator recreates the container to apply it."""
    controller = make_controller()
    observation = controller.observe(Event.APP_SETTING_CHANGE)
    assert observation.proven, observation.error
    mark = _fake(controller).app_settings["PROBE_SETTINGS_MARK"]
    assert observation.instance_after is not None
    assert observation.instance_after.settings_mark == mark
    assert f"started with PROBE_SETTINGS_MARK={mark}" in observation.proof
    assert observation.detail == f"app setting PROBE_SETTINGS_MARK set to {mark}"
    assert observation.instance_after.hostname != observation.instance_before.hostname
    assert _observed(observation) == {
        HOME: "persists",
        TMP: "lost",
        VAR_LOCAL: "lost",
        "container": "recreated",
    }


def test_soft_restart_asks_the_backend_for_a_soft_restart(make_controller: MakeController) -> None:
    """restart_soft fires restart(soft=True): the fake counts it apart from a restart."""
    controller = make_controller()
    observation = controller.observe(Event.RESTART_SOFT)
    assert observation.proven, observation.error
    counts = _fake(controller).operations.counts
    assert counts.get("restart_soft") == 1
    assert "restart" not in counts


@pytest.mark.parametrize("event", [Event.SKU_CHANGE, Event.PLAN_RESTART])
def test_events_the_fake_cannot_fire_are_unproven_with_the_reason(
    make_controller: MakeController, event: Event
) -> None:
    """Fired anyway (the plugin skips them), a plan event fails with the backend's reason."""
    controller = make_controller()
    observation = controller.observe(event)
    assert observation.proven is False
    assert observation.error == f"{event} failed: {FakeBackend.unsupported[event]}."


def test_dev_shm_is_emptied_by_a_restart(make_controller: MakeController) -> None:
    """/dev/shm is a tmpfs of the container's process: a restart empties it, /tmp stays."""
    controller = make_controller(paths=(TMP, SHM, UPLOADS))
    observation = controller.observe(Event.RESTART)
    assert _observed(observation) == {
        TMP: "persists",
        SHM: "lost",
        UPLOADS: "persists",
        "container": "kept",
    }


def test_ensure_instances_scales_and_waits_and_the_next_event_restores(
    make_controller: MakeController,
) -> None:
    """ensure_instances(2) brings a second instance that answers; the next event first puts
    the app back on its starting capacity, so it fires on one instance as always."""
    controller = make_controller()
    instances = ensure_instances(controller, 2)
    assert len(instances) == 2
    assert ensure_instances(controller, 2) == instances  # already there: no scaling
    assert _fake(controller).operations.counts["scale_to_2"] == 1
    observation = controller.observe(Event.RESTART)
    assert observation.proven, observation.error
    assert controller.backend.instances() == instances[:1]


def test_ensure_instances_raises_when_the_new_instance_never_answers(
    make_controller: MakeController,
) -> None:
    """A second instance that never answers: EventNotProven at the scale-out deadline."""

    class _SilentNewInstances(FakeBackend):
        def _ensure_containers(self) -> None:
            if self._containers:
                return  # new instances are listed but never get a container
            super()._ensure_containers()

    controller = make_controller(
        backend_class=_SilentNewInstances, ready_timeouts={Event.SCALE_OUT: 0.3}
    )
    with pytest.raises(EventNotProven, match=r"scale_out not proven within 0\.3 s: awaited 2"):
        ensure_instances(controller, 2)


def test_scale_in_without_a_second_instance_is_not_fired(make_controller: MakeController) -> None:
    """Scale-in needs two instances first; when the second never answers, nothing is fired
    and the observation says why."""

    class _SilentNewInstances(FakeBackend):
        def _ensure_containers(self) -> None:
            if not self._containers:
                super()._ensure_containers()

    controller = make_controller(
        backend_class=_SilentNewInstances, ready_timeouts={Event.SCALE_OUT: 0.3}
    )
    observation = controller.observe(Event.SCALE_IN)
    assert observation.proven is False
    assert observation.trigger_count == 0
    assert observation.error is not None
    assert observation.error.startswith(
        "could not write markers before scale_in: the app did not run on two instances first: "
        "scale_out not proven within 0.3 s"
    )


@pytest.mark.parametrize("event", [Event.RESTART, Event.RESTART_SOFT])
def test_a_restart_cannot_be_proven_without_identity(
    make_controller: MakeController, monkeypatch: pytest.MonkeyPatch, event: Event
) -> None:
    """A probe without /identity (the lab's) shows no new process in the same container: both
    restarts fail at once with the reason, instead of waiting out the deadline."""
    controller = make_controller(ready_timeouts={event: 30.0})
    monkeypatch.setattr(ProbeClient, "identity", lambda self: None)
    started = time.monotonic()
    observation = controller.observe(event)
    assert time.monotonic() - started < 30.0
    assert observation.proven is False
    assert observation.error == (
        f"{event} cannot be proven with this probe: it has no /identity endpoint, so a new "
        "process in the same container cannot be told apart"
    )
