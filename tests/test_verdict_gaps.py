"""Verdicts that a mutation run found no test pinned: every branch of the event proofs, and
the H4, path and container judges at their edges, each with its right value.

The proofs run on a stub app whose probe answers what each test says, so every branch is one
look; one test fires real events on the fake backend, in the order a run fires them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend, FakeFaults
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.contract import SETTINGS_MARK
from pytest_appservice_fs.engine.controller import TriggerController
from pytest_appservice_fs.engine.expectations import (
    CONTAINER,
    HOME,
    LAB_PATHS,
    TMP,
    AppendCell,
    ContainerCell,
    PathCell,
)
from pytest_appservice_fs.engine.model import (
    AppendOutcome,
    ContainerOutcome,
    Event,
    Identity,
    MarkerRead,
    MarkerWrite,
    Observation,
    Outcome,
)
from pytest_appservice_fs.engine.probe_answers import WriterTally
from pytest_appservice_fs.engine.probe_client import ProbeUnavailable
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.events import default_registry
from pytest_appservice_fs.events.base import Trigger, answering
from pytest_appservice_fs.events.protocol import Before, EventNotProven, Proof, Start
from pytest_appservice_fs.events.recreations import AppSettingChange, Deploy, StopStart
from pytest_appservice_fs.events.restarts import PlanRestart, Restart, SoftRestart
from pytest_appservice_fs.events.scale import ScaleIn, ScaleOut, ensure_instances
from pytest_appservice_fs.evidence.judge import judge_container, judge_path, judge_skipped
from pytest_appservice_fs.measurements.appends import (
    AppendMeasurement,
    WriterResult,
    _tallied,
    judge_appends,
)

INSTANCE_A = "a" * 64
INSTANCE_B = "b" * 64
INSTANCE_C = "c" * 64
BEFORE = Identity(INSTANCE_A, "host-a", pid=10, process_start="t0", deployment_id="d1")


# --- a stub app: each instance answers what the test says --------------------------------


@dataclass
class _Probe:
    answer: Identity | None
    lab: Identity

    def identity(self) -> Identity | None:
        return self.answer

    def whoami(self) -> Identity:
        return self.lab

    def who(self) -> Identity:
        return self.identity() or self.whoami()


@dataclass
class _Backend:
    listed: list[str]
    #: Per instance: what /identity answers (None: the lab's probe, which has no /identity).
    answers: dict[str, Identity | None]
    lab: Identity = field(default_factory=lambda: Identity(INSTANCE_A, "host-a"))
    calls: list[str] = field(default_factory=list)
    scale_error: str | None = None
    #: Per instance: how many more times its probe does not answer yet.
    unavailable: dict[str, int] = field(default_factory=dict)

    def instances(self) -> list[str]:
        return list(self.listed)

    def probe(self, instance_id: str) -> _Probe:
        self.calls.append(f"probe {instance_id[:1]}")
        if self.unavailable.get(instance_id):
            self.unavailable[instance_id] -= 1
            raise ProbeUnavailable(f"{instance_id[:12]} answered HTTP 503")
        return _Probe(self.answers.get(instance_id), self.lab)

    def restart(self, *, soft: bool | None = None) -> None:
        self.calls.append(f"restart soft={soft}")

    def stop(self) -> None:
        self.calls.append("stop")

    def start(self) -> None:
        self.calls.append("start")

    def restart_plan(self) -> None:
        self.calls.append("restart_plan")

    def set_app_setting(self, name: str, value: str) -> None:
        self.calls.append(f"set {name}")

    def deploy(self, package: Any) -> None:
        self.calls.append(f"deploy {package.deployment_id}")

    def scale(self, count: int) -> None:
        self.calls.append(f"scale {count}")
        if self.scale_error:
            raise BackendError(self.scale_error)
        self.listed = [*self.listed, INSTANCE_C][:count]


@dataclass(frozen=True)
class _Package:
    deployment_id: str


@dataclass
class _App:
    backend: _Backend
    capacity: int = 1
    looks: int = 0

    def new_package(self) -> _Package:
        return _Package("d2")

    def restore(self) -> list[str]:
        if self.backend.scale_error:
            raise BackendError(self.backend.scale_error)
        return self.backend.instances()

    def poll(self, event: Event, instance_id: str, awaited: str, look: Callable[..., Any]) -> Any:
        last_seen = [""]
        for _ in range(3):
            self.looks += 1
            try:
                found = look(last_seen)
            except ProbeUnavailable as exc:
                # As the controller's poll: not answering yet is looked at again.
                last_seen[0] = str(exc)
                continue
            if found is not None:
                return found
        raise EventNotProven(f"{event}: {awaited}; last seen: {last_seen[0]}")


def _app(now: Identity | None, *, listed: Sequence[str] = (INSTANCE_A,), **kw: Any) -> _App:
    answers: dict[str, Identity | None] = {i: now for i in listed}
    return _App(_Backend(list(listed), answers, **kw))


def _before(identity: Identity = BEFORE, **changes: Any) -> Before:
    return replace(Before(INSTANCE_A, identity, {}), **changes)


def _proof(trigger: Trigger, app: _App, before: Before | None = None) -> Proof | None:
    before = before or _before()
    trigger.fire(app, before)  # type: ignore[arg-type]
    return trigger.proof(app, before, [""])  # type: ignore[arg-type]


# --- the event's own mark: a restart, a deploy, a settings change --------------------------


def test_a_restart_that_does_nothing_after_a_settings_change_is_not_proven(
    tmp_path: Path,
) -> None:
    """The probe process still carries the mark the settings change gave it: that mark is
    the settings change's proof, never the restart's (proven is False)."""
    backend = FakeBackend(
        tmp_path / "app",
        faults=FakeFaults(noop_restart=True),
        app_settings={"PROBE_PATHS": ",".join(LAB_PATHS)},
    )
    try:
        controller = TriggerController(
            backend,
            run_id="run-g",
            paths=LAB_PATHS,
            package_factory=lambda: build_package(default_probe_dir()),
            ready_timeouts={Event.RESTART: 1.0, Event.APP_SETTING_CHANGE: 30.0},
            triggers=default_registry(soft_restart_timeout=0.1),
        )
        controller.start()
        changed = controller.observe(Event.APP_SETTING_CHANGE)
        assert changed.proven is True, changed.error
        assert changed.instance_after is not None
        assert changed.instance_after.settings_mark == backend.app_settings[SETTINGS_MARK]
        restarted = controller.observe(Event.RESTART)
        assert restarted.proven is False
        assert "awaited a new probe process;" in str(restarted.error)
    finally:
        backend.teardown()


def test_the_same_process_with_a_settings_mark_proves_no_restart() -> None:
    """On the stub: the same process, marked by an earlier settings change, is no proof."""
    marked = replace(BEFORE, settings_mark="m1")
    app = _app(marked)
    assert _proof(Restart(), app, _before(marked)) is None
    assert app.backend.calls[0] == "restart soft=None"


def test_a_soft_restart_is_a_no_op_only_after_its_window() -> None:
    """The same process before the window: look again; after it: proven a no-op."""
    assert _proof(SoftRestart(no_op_after=3600), _app(BEFORE)) is None
    proof = _proof(SoftRestart(no_op_after=0), _app(BEFORE))
    assert proof is not None
    assert proof.text.startswith("the restart was a no-op: the probe process (pid 10, ")
    assert proof.text.endswith("(softRestart restarts only if necessary)")


def test_a_soft_restart_with_a_new_process_is_proven_by_it_and_not_a_no_op() -> None:
    """A new process proves the restart whatever the window."""
    proof = _proof(SoftRestart(no_op_after=0), _app(replace(BEFORE, pid=11, process_start="t1")))
    assert proof is not None
    assert proof.text == "new probe process: started t0 (pid 10) -> t1 (pid 11)"


def test_a_soft_restart_that_was_never_fired_settles_nothing() -> None:
    """Without the request's time the window cannot start: a new process is the proof."""
    assert SoftRestart(no_op_after=0).settled(BEFORE) is None


@pytest.mark.parametrize(
    ("deployment_id", "proven"),
    [("d1", False), ("d2", True), (None, True)],
    ids=["old-id", "new-id", "not-reported"],
)
def test_a_deploy_is_proven_by_its_own_deployment_id(
    deployment_id: str | None, proven: bool
) -> None:
    """New processes answering with the old deployment id are not proven; the new id is;
    a probe that reports no id falls back to the new process."""
    now = Identity(INSTANCE_A, "host-b", pid=11, process_start="t1", deployment_id=deployment_id)
    app = _app(now)
    proof = _proof(Deploy(), app)
    assert app.backend.calls[0] == "deploy d2"
    assert (proof is not None) is proven
    if deployment_id == "d2":
        assert proof is not None
        assert proof.text == "deployment d2 answers"
    elif proof is not None:
        assert proof.text.startswith("new probe process: started t0 (pid 10) -> t1 (pid 11)")


@pytest.mark.parametrize(
    ("mark", "proven"),
    [("old", False), ("new", True), (None, True)],
    ids=["old-mark", "new-mark", "not-reported"],
)
def test_a_settings_change_is_proven_by_its_own_mark(mark: str | None, proven: bool) -> None:
    """New containers still carrying the old mark are not proven; the new mark is."""
    trigger = AppSettingChange()
    now = Identity(INSTANCE_A, "host-b", pid=11, process_start="t1", settings_mark="old")
    app = _app(now)
    detail = trigger.fire(app, _before())  # type: ignore[arg-type]
    assert detail == f"app setting {SETTINGS_MARK} set to {trigger.mark}"
    assert trigger.mark not in (None, "old")
    shown = {"old": "old", "new": trigger.mark, None: None}[mark]
    app.backend.answers[INSTANCE_A] = replace(now, settings_mark=shown)
    proof = trigger.proof(app, _before(), [""])  # type: ignore[arg-type]
    assert (proof is not None) is proven
    if mark == "new":
        assert proof is not None
        assert proof.text == (
            f"the probe process (pid 11, started t1) started with {SETTINGS_MARK}={trigger.mark}"
        )


# --- the default proof: a new process, a move, the lab's probe --------------------------


@pytest.mark.parametrize(
    "now",
    [BEFORE, Identity(INSTANCE_A, "host-a")],
    ids=["same-process", "no-process-reported"],
)
def test_no_new_process_is_no_proof(now: Identity) -> None:
    """The same process, or a probe that hides its process: look again."""
    assert _proof(StopStart(), _app(now)) is None


def test_a_plan_restart_that_moved_the_app_is_proven_on_the_new_instance() -> None:
    """The writer is no longer listed: whoever answers now proves the move, and is read."""
    now = Identity(INSTANCE_B, "host-b", pid=10, process_start="t0")
    app = _app(now, listed=(INSTANCE_B,))
    proof = _proof(PlanRestart(), app)
    assert app.backend.calls[0] == "restart_plan"
    assert proof is not None
    assert proof.instance_id == INSTANCE_B
    assert proof.text.startswith("the app moved: instance aaaaaaaaaaaa -> bbbbbbbbbbbb answers")


@pytest.mark.parametrize("listed", [(INSTANCE_A, INSTANCE_B), ()], ids=["still-listed", "none"])
def test_a_plan_restart_that_did_not_move_reads_the_writer(listed: tuple[str, ...]) -> None:
    """The writer still listed, or nothing listed yet: the writer is asked, as ever."""
    app = _app(BEFORE, listed=listed)
    app.backend.answers[INSTANCE_A] = replace(BEFORE, pid=11)
    proof = _proof(PlanRestart(), app)
    assert proof is not None
    assert (proof.instance_id, proof.text) == (
        INSTANCE_A,
        "new probe process: started t0 (pid 10) -> t0 (pid 11)",
    )


def test_the_lab_probe_proves_a_new_container_only() -> None:
    """No /identity: a new hostname is proof; the same one is not (look again), and an
    event that keeps the container cannot be proven at all."""
    moved = _app(None, lab=Identity(INSTANCE_A, "host-b"))
    proof = _proof(StopStart(), moved)
    assert proof is not None
    assert proof.text.startswith("new container host-a -> host-b (the probe has no /identity")
    assert _proof(StopStart(), _app(None, lab=Identity(INSTANCE_A, "host-a"))) is None
    assert _proof(StopStart(), _app(None, lab=Identity(INSTANCE_A, None))) is None
    with pytest.raises(EventNotProven, match="restart cannot be proven with this probe"):
        _proof(Restart(), _app(None, lab=Identity(INSTANCE_A, "host-a")))


def test_answering_asks_the_first_instance_or_nobody() -> None:
    """None while no instance is listed; else /identity, or /whoami from the lab's probe."""
    last_seen = [""]
    assert answering(_app(BEFORE, listed=()), last_seen) is None  # type: ignore[arg-type]
    assert last_seen == ["0 instance(s)"]
    assert answering(_app(BEFORE), last_seen) == BEFORE  # type: ignore[arg-type]
    lab = Identity(INSTANCE_A, "host-lab")
    assert answering(_app(None, lab=lab), last_seen) == lab  # type: ignore[arg-type]


def test_the_default_trigger_has_no_mark_of_its_own() -> None:
    """Without a mark of its own, a new process is the proof (and there is no mark sentence)."""
    assert (StopStart().settled(BEFORE), StopStart().settled_proof(BEFORE)) == (None, "")


def test_prepare_refuses_an_app_with_no_instance() -> None:
    """Nothing running: the event cannot start."""
    with pytest.raises(BackendError, match="the app has no running instance"):
        StopStart().prepare(_app(BEFORE, listed=()))  # type: ignore[arg-type]


# --- scale -------------------------------------------------------------------------------


def test_a_scale_out_is_proven_by_a_new_instance_only() -> None:
    """Only the writer listed: look again; a new instance answering: proven, read there."""
    app = _app(BEFORE, listed=(INSTANCE_A,))
    before = _before(capacity=1)
    assert ScaleOut().fire(app, before) == "1 -> 2 instances"  # type: ignore[arg-type]
    assert app.backend.calls == ["scale 2"]
    app.backend.listed = [INSTANCE_A]
    assert ScaleOut().proof(app, before, [""]) is None  # type: ignore[arg-type]
    app.backend.listed = [INSTANCE_A, INSTANCE_C]
    app.backend.answers[INSTANCE_C] = None
    app.backend.lab = Identity(INSTANCE_C, "host-c")
    proof = ScaleOut().proof(app, before, [""])  # type: ignore[arg-type]
    assert proof is not None
    assert (proof.text, proof.instance_id) == ("new instance cccccccccccc answers", INSTANCE_C)
    assert proof.identity.hostname == "host-c"


@pytest.mark.parametrize(
    ("listed", "removed", "survivor"),
    [
        ((INSTANCE_A, INSTANCE_B), None, None),
        ((INSTANCE_C,), None, None),
        ((INSTANCE_B,), "the writer", INSTANCE_B),
        ((INSTANCE_A,), "not the writer", INSTANCE_A),
    ],
    ids=["none-removed", "replaced", "writer-removed", "other-removed"],
)
def test_a_scale_in_is_proven_by_one_instance_fewer_and_a_survivor(
    listed: tuple[str, ...], removed: str | None, survivor: str | None
) -> None:
    """Proven only when one of the instances before is gone and another answers; the proof
    says whether the writer was the one removed."""
    app = _app(BEFORE, listed=listed)
    before = _before(capacity=2, others={INSTANCE_B: replace(BEFORE, instance_id=INSTANCE_B)})
    proof = ScaleIn().proof(app, before, [""])  # type: ignore[arg-type]
    if survivor is None:
        assert proof is None
        return
    assert proof is not None
    assert proof.instance_id == survivor
    assert f"({removed}) removed, 2 -> 1 instances; instance {survivor[:12]} answers" in (
        proof.text
    )


def test_ensure_instances_scales_up_and_waits_for_each_to_answer() -> None:
    """Fewer listed than asked: scale, then every instance answers once."""
    app = _app(BEFORE, listed=(INSTANCE_A,))
    app.backend.answers[INSTANCE_C] = BEFORE
    assert ensure_instances(app, 2) == [INSTANCE_A, INSTANCE_C]  # type: ignore[arg-type]
    assert app.backend.calls == ["scale 2", "probe a", "probe c"]


def test_ensure_instances_asks_each_instance_until_it_answers_once() -> None:
    """Enough listed: no scale; an instance that does not answer yet is asked again, and
    one that answered is not."""
    app = _app(BEFORE, listed=(INSTANCE_A, INSTANCE_C), unavailable={INSTANCE_C: 1})
    assert ensure_instances(app, 2) == [INSTANCE_A, INSTANCE_C]  # type: ignore[arg-type]
    assert app.backend.calls == ["probe a", "probe c", "probe c"]


def test_a_scale_in_starts_on_two_instances_and_the_newest_writes() -> None:
    """The writer is the newest instance, and who else serves is recorded."""
    app = _app(BEFORE, listed=(INSTANCE_A, INSTANCE_C))
    start = ScaleIn().prepare(app)  # type: ignore[arg-type]
    assert start == Start((INSTANCE_A, INSTANCE_C), INSTANCE_C, record_others=True)


def test_ensure_instances_keeps_looking_until_enough_are_listed() -> None:
    """A scale that has not taken effect yet is looked at again, up to the deadline."""
    app = _app(BEFORE, listed=(INSTANCE_A,))
    app.backend.scale = lambda count: None  # type: ignore[method-assign]
    with pytest.raises(EventNotProven, match="awaited 2 instances answering; last seen: 1 of 2"):
        ensure_instances(app, 2)  # type: ignore[arg-type]
    assert app.looks == 3


def test_a_scale_in_that_cannot_reach_two_instances_says_so() -> None:
    """The scale-out before the scale-in is not proven: the event names that."""
    app = _app(BEFORE, listed=(INSTANCE_A,))
    app.backend.scale = lambda count: None  # type: ignore[method-assign]
    with pytest.raises(EventNotProven, match=r"^the app did not run on two instances first: "):
        ScaleIn().prepare(app)  # type: ignore[arg-type]


def test_scaling_back_that_fails_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """Restore never raises: the next event tries again."""
    app = _app(BEFORE, scale_error="HTTP 409 Conflict")
    ScaleOut().restore(app)  # type: ignore[arg-type]
    assert "could not scale back to 1 instance(s): HTTP 409 Conflict" in caplog.text


# --- the path judge where nothing answered after the event ------------------------------


def test_a_proven_event_with_no_reader_identity_is_still_judged() -> None:
    """A proof without who read: the marker is judged, with no container named."""
    observation = Observation(
        event=Event.RESTART,
        run_id="run-g",
        nonce="n",
        trigger_count=1,
        instance_before=BEFORE,
        instance_after=None,
        written={TMP: MarkerWrite(TMP, checksum="1" * 64)},
        read={TMP: MarkerRead(TMP, exists=False)},
        proven=True,
        proof="proof",
    )
    verdict = judge_path(observation, PathCell("H2", Event.RESTART, TMP, Outcome.LOST), backend="x")
    assert (verdict.observed, verdict.passed) == ("lost", True)
    assert f"no marker at {TMP} ; sha256 111111111111… was written" in verdict.explanation


def _observation(event: Event, **changes: Any) -> Observation:
    observation = Observation(
        event=event,
        run_id="run-g",
        nonce="n",
        trigger_count=1,
        instance_before=BEFORE,
        instance_after=Identity(INSTANCE_B, "host-b", pid=11, process_start="t1"),
        written={HOME: MarkerWrite(HOME, checksum="1" * 64)},
        read={HOME: MarkerRead(HOME, exists=False)},
        proven=True,
        proof="proof",
    )
    return replace(observation, **changes)


def test_a_marker_read_by_its_writer_after_a_scale_in_is_inconclusive() -> None:
    """The platform removed the other instance: nothing shows another instance's view."""
    observation = _observation(Event.SCALE_IN, instance_after=BEFORE)
    cell = PathCell("H3", Event.SCALE_IN, HOME, Outcome.VISIBLE)
    verdict = judge_path(observation, cell, backend="fake")
    assert (verdict.observed, verdict.passed) == ("inconclusive", False)
    assert "the marker was read on the instance that wrote it (aaaaaaaaaaaa…)" in (
        verdict.explanation
    )


@pytest.mark.parametrize(
    ("survivor", "observed"),
    [
        (Identity(INSTANCE_B, "host-b", pid=11, process_start="t1"), "kept"),
        (Identity(INSTANCE_B, "host-old", pid=9, process_start="t-1"), "recreated"),
        (None, "inconclusive"),
    ],
    ids=["survivor-kept", "survivor-recreated", "survivor-unknown"],
)
def test_a_scale_in_container_cell_is_about_the_survivor(
    survivor: Identity | None, observed: str
) -> None:
    """Judged against the survivor as it was before, not the removed writer."""
    observation = _observation(Event.SCALE_IN, survivor_before=survivor)
    cell = ContainerCell(Event.SCALE_IN, ContainerOutcome.KEPT)
    verdict = judge_container(observation, cell, backend="fake")
    assert verdict.observed == observed
    assert dict(verdict.properties)["instance_before"] == (survivor.instance_id if survivor else "")


def test_an_unproven_scale_in_container_is_judged_on_the_writer() -> None:
    """Unproven: nothing is swapped, the writer stays in the evidence."""
    observation = _observation(Event.SCALE_IN, proven=False, error="no", survivor_before=None)
    cell = ContainerCell(Event.SCALE_IN, ContainerOutcome.KEPT)
    verdict = judge_container(observation, cell, backend="fake")
    assert verdict.observed == "inconclusive"
    assert dict(verdict.properties)["instance_before"] == INSTANCE_A


@pytest.mark.parametrize(
    ("cell", "path"),
    [
        (PathCell("H2", Event.SKU_CHANGE, TMP, Outcome.PERSISTS), TMP),
        (ContainerCell(Event.SKU_CHANGE, ContainerOutcome.NEW_INSTANCE), CONTAINER),
    ],
    ids=["path", "container"],
)
def test_a_skipped_cell_is_recorded_and_never_passes(cell: Any, path: str) -> None:
    """An event the backend cannot fire: skipped with its reason, not passed."""
    verdict = judge_skipped(cell, backend="local", run_id="run-g", reason="no plan to resize")
    assert (verdict.observed, verdict.passed, verdict.skipped) == ("skipped", False, True)
    props = dict(verdict.properties)
    assert (props["path"], props["skip_reason"], props["run_id"]) == (
        path,
        "no plan to resize",
        "run-g",
    )
    assert verdict.explanation == (
        "sku_change cannot be fired on the local backend: no plan to resize"
    )


# --- H4 ----------------------------------------------------------------------------------


def _h4(**changes: Any) -> AppendMeasurement:
    writers = tuple(
        WriterResult(
            name=f"w{i}",
            instance_id=instance,
            answered_by=instance,
            appended=10,
            started_epoch=100.0,
            finished_epoch=101.0,
            records_found=10,
            lost=0,
            duplicated=0,
            beyond=0,
        )
        for i, instance in enumerate((INSTANCE_A, INSTANCE_B))
    )
    base = AppendMeasurement(HOME, "h4.log", "flock", 10, writers, 20, 0, 0, overlap_seconds=1.0)
    return replace(base, **changes)


def _judge_h4(measurement: AppendMeasurement) -> Any:
    cell = AppendCell("flock", AppendOutcome.INTACT)
    return judge_appends(measurement, cell, backend="fake", run_id="run-g", facts={})


@pytest.fixture
def intact() -> AppendMeasurement:
    """Every count right and the writes overlapping: intact (checked, so the cases below
    differ from it by one thing only)."""
    measurement = _h4()
    assert (_judge_h4(measurement).observed, _judge_h4(measurement).passed) == ("intact", True)
    return measurement


def test_h4_writes_that_touch_but_never_overlap_are_inconclusive(
    intact: AppendMeasurement,
) -> None:
    """Every count intact but ``overlap_seconds == 0``: the writers never wrote at once."""
    verdict = _judge_h4(replace(intact, overlap_seconds=0.0))
    assert (verdict.observed, verdict.passed) == ("inconclusive", False)
    assert "but the writes did not overlap in time (one ended 0.000 s before" in (
        verdict.explanation
    )


def test_h4_writers_answered_by_each_other_s_instance_are_inconclusive(
    intact: AppendMeasurement,
) -> None:
    """Two distinct instances answered, but each writer by the other's: not each by its own."""
    first, second = intact.writers
    swapped = (replace(first, answered_by=INSTANCE_B), replace(second, answered_by=INSTANCE_A))
    verdict = _judge_h4(replace(intact, writers=swapped))
    assert (verdict.observed, verdict.passed) == ("inconclusive", False)
    assert "answered by instances bbbbbbbbbbbb…, aaaaaaaaaaaa…, not each by its own" in (
        verdict.explanation
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"appended": 9}, "writer w0 appended 9 of 10 records"),
        ({"appended": None}, "writer w0 appended None of 10 records"),
        ({"failure": "timed out"}, "writer w0 got no answer: timed out"),
        ({"errors": ("e1", "e2", "e3", "e4")}, "writer w0 reported 4 errors: e1; e2; e3"),
    ],
    ids=["short", "no-count", "no-answer", "errors"],
)
def test_h4_a_writer_that_did_not_append_all_is_inconclusive(
    intact: AppendMeasurement, change: dict[str, Any], reason: str
) -> None:
    """What the first writer reported rules the counts out, whatever the file holds."""
    writers = (replace(intact.writers[0], **change), intact.writers[1])
    verdict = _judge_h4(replace(intact, writers=writers))
    assert (verdict.observed, verdict.passed) == ("inconclusive", False)
    assert verdict.explanation.split("observed inconclusive: ")[1].startswith(reason)
    assert "e4" not in verdict.explanation


@pytest.mark.parametrize(
    "change", [{"lines": None}, {"torn": None}], ids=["no-lines", "no-torn-count"]
)
def test_h4_a_check_without_its_file_counts_is_inconclusive(
    intact: AppendMeasurement, change: dict[str, Any]
) -> None:
    """The file's own counts are part of the evidence."""
    verdict = _judge_h4(replace(intact, **change))
    assert verdict.observed == "inconclusive"
    assert "the check did not report every writer's counts" in verdict.explanation


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (lambda m: replace(m, torn=1), "0 lost, 0 duplicated, 1 torn lines"),
        (lambda m: _first(m, lost=1), "1 lost, 0 duplicated, 0 torn lines"),
        (lambda m: _first(m, duplicated=1), "0 lost, 1 duplicated, 0 torn lines"),
    ],
    ids=["torn", "lost", "duplicated"],
)
def test_h4_each_kind_of_damage_is_damaged(
    intact: AppendMeasurement,
    change: Callable[[AppendMeasurement], AppendMeasurement],
    shown: str,
) -> None:
    """Any one count above zero is damage, and the counts are in the sentence."""
    verdict = _judge_h4(change(intact))
    assert (verdict.observed, verdict.passed) == ("damaged", False)
    assert f"observed damaged: 2 writers x 10 records: {shown} (instances" in verdict.explanation


def _first(measurement: AppendMeasurement, **changes: Any) -> AppendMeasurement:
    first, *others = measurement.writers
    return replace(measurement, writers=(replace(first, **changes), *others))


@pytest.mark.parametrize(
    ("tally", "counts"),
    [
        # 3 records asked, sequence numbers 0, 1 and 3 in the file: 2 lost, 3 past the end.
        (WriterTally(records=3, lost=1, duplicated=0, max_seq=3), (3, 1, 0, 1)),
        # 0 and 1 only: the last record (2) vanished.
        (WriterTally(records=2, lost=0, duplicated=0, max_seq=1), (2, 1, 0, 0)),
        # 0, 1, 2 and 2 again.
        (WriterTally(records=4, lost=0, duplicated=1, max_seq=2), (4, 0, 1, 0)),
        # None of the writer's records is in the file.
        (WriterTally(records=0, lost=0, duplicated=0, max_seq=None), (0, 3, 0, 0)),
        # The probe did not report the writer at all.
        (None, (0, 3, 0, 0)),
    ],
    ids=["gap-and-beyond", "last-missing", "duplicate", "no-record", "not-reported"],
)
def test_h4_counts_are_exact(tally: WriterTally | None, counts: tuple[int, ...]) -> None:
    """records_found, lost, duplicated and beyond, for 3 records asked."""
    writer = _tallied(WriterResult("w0", INSTANCE_A), tally, 3)
    assert (writer.records_found, writer.lost, writer.duplicated, writer.beyond) == counts


def test_h4_a_tally_without_counts_leaves_the_writer_unmeasured() -> None:
    """A tally that lacks the records or the gaps adds nothing: the judge sees no count."""
    writer = WriterResult("w0", INSTANCE_A)
    for tally in (WriterTally(None, 0, 0, 2), WriterTally(3, None, 0, 2)):
        assert _tallied(writer, tally, 3) == writer


# --- the explanation is the failure message: pinned whole, not by a fragment -------------


def test_path_and_container_explanations_are_exact() -> None:
    """Each sentence whole, so that nothing can be added before or after it unnoticed."""
    cell = PathCell("H2", Event.RESTART, TMP, Outcome.PERSISTS)
    unproven = _observation(Event.RESTART, proven=False, error="timed out")
    assert judge_path(unproven, cell, backend="x").explanation == (
        f"H2 restart {TMP}: expected persists, observed inconclusive: "
        "no proof that the event happened: timed out"
    )
    unwritten = _observation(Event.RESTART, written={}, read={})
    assert judge_path(unwritten, cell, backend="x").explanation == (
        f"H2 restart {TMP}: expected persists, observed inconclusive: "
        "no marker was written before the event: the probe did not report it"
    )
    refused = _observation(Event.RESTART, written={TMP: MarkerWrite(TMP, error="EROFS")})
    verdict = judge_path(refused, cell, backend="x")
    assert verdict.explanation.endswith("no marker was written before the event: EROFS")
    assert dict(verdict.properties)["checksum_valid"] == "n/a"
    container = ContainerCell(Event.RESTART, ContainerOutcome.NEW_INSTANCE)
    assert judge_container(_observation(Event.RESTART), container, backend="x").explanation == (
        "restart container: expected new_instance, observed new_instance: instance "
        "aaaaaaaaaaaa… -> bbbbbbbbbbbb…, container host-a -> host-b; proof"
    )
