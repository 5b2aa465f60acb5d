"""The trigger controller: fire each event once, wait for proof, read the markers back."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.model import Event, Identity, MarkerWrite, Observation
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeError, ProbeUnavailable
from pytest_appservice_fs.engine.progress import NoProgress, Progress, WaitStatus

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.engine.probe_package import ProbePackage

log = logging.getLogger(__name__)

#: Builds a fresh probe package (with a new deployment id) for each deploy.
PackageFactory = Callable[[], "ProbePackage"]
#: The app setting the app_setting_change event changes; the probe reports its value.
SETTINGS_MARK = "PROBE_SETTINGS_MARK"
#: Events after which the app may answer from other instances than before (new workers).
_MAY_MOVE = (Event.SKU_CHANGE, Event.PLAN_RESTART)

_T = TypeVar("_T")


class EventNotProven(Exception):
    """The platform did not show, before the deadline, that the event took effect."""


@dataclass
class _Proof:
    """What the readiness poll found: the proof sentence and who answered."""

    text: str
    identity: Identity
    instance_id: str


@dataclass
class _Before:
    """The app before an event: the writer, who else served, and what was written."""

    instance_id: str
    identity: Identity
    written: dict[str, MarkerWrite]
    #: How many instances served when the markers were written.
    capacity: int = 1
    others: dict[str, Identity] = field(default_factory=dict)


class TriggerController:
    """Fires each lifecycle event at most once per run and keeps what was observed."""

    def __init__(
        self,
        backend: Backend,
        *,
        run_id: str,
        paths: Sequence[str],
        package_factory: PackageFactory,
        ready_timeouts: dict[Event, float] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.paths = tuple(paths)
        self.trigger_counts: dict[Event, int] = {}
        self.observations: dict[Event, Observation] = {}
        self._package_factory = package_factory
        self._ready_timeouts = dict(ready_timeouts or {})
        self._capacity = 1
        self._deployment_id: str | None = None
        self._settings_mark: str | None = None
        self._progress: Progress = progress or NoProgress()

    def start(self) -> None:
        """Create the app and deploy the probe; raise with the reason when it cannot."""
        self.backend.create()
        package = self._package_factory()
        self.backend.deploy(package)
        self._deployment_id = package.deployment_id
        instances = self.backend.instances()
        if not instances:
            raise BackendError("the app has no running instance after the probe was deployed")
        self._capacity = len(instances)
        # The probe must answer (with the harness's token) before any event is fired.
        try:
            first = _Before(instances[0], Identity(None, None), {}, len(instances))
            self._await_proof(Event.DEPLOY, first)
        except EventNotProven as exc:
            raise BackendError(f"the probe did not come up: {exc}") from None

    def observe(self, event: Event) -> Observation:
        """The observation of ``event``, firing it on first use only."""
        if event not in self.observations:
            self.observations[event] = self._observe(event)
        return self.observations[event]

    def restore(self) -> list[str]:
        """Bring the app back to its capacity at start (after a scale-out or H4); return the
        instances serving it then."""
        instances = self.backend.instances()
        if len(instances) != self._capacity:
            self.backend.scale(self._capacity)
            instances = self.backend.instances()
        return instances

    def ensure_instances(self, count: int) -> list[str]:
        """Run on at least ``count`` instances, each answering; return the first ``count``.

        Raises BackendError when the backend cannot scale, EventNotProven when a new instance
        does not answer before the scale-out deadline.
        """
        instances = self.backend.instances()
        if len(instances) < count:
            log.info("scaling to %d instances (run %s)", count, self.run_id)
            self.backend.scale(count)
        answered: dict[str, Identity] = {}

        def look(last_seen: list[str]) -> list[str] | None:
            now = self.backend.instances()
            last_seen[0] = f"{len(now)} of {count} instance(s) listed, {len(answered)} answered"
            if len(now) < count:
                return None
            for instance_id in now[:count]:
                if instance_id not in answered:
                    probe = self.backend.probe(instance_id)
                    answered[instance_id] = probe.identity() or probe.whoami()
            return now[:count]

        return self._poll(
            Event.SCALE_OUT,
            instances[0] if instances else "",
            f"awaited {count} instances answering",
            look,
        )

    def ready_timeout(self, event: Event) -> float:
        """The deadline for proof that ``event`` took effect."""
        return self._ready_timeouts.get(event, self.backend.timing.ready_timeout(event))

    def _observe(self, event: Event) -> Observation:
        nonce = secrets.token_hex(12)
        try:
            before = self._prepare(event, nonce)
        except (ProbeError, BackendError, EventNotProven) as exc:
            return self._failed(event, nonce, f"could not write markers before {event}: {exc}")
        try:
            return self._fire_and_read(event, nonce, before)
        finally:
            if event.across_instances:
                self._restore_capacity()
            if event is Event.SKU_CHANGE:
                self._restore_sku()

    def _prepare(self, event: Event, nonce: str) -> _Before:
        """Bring the app to the event's starting point and write the markers."""
        if event is Event.SCALE_IN:
            # Scale-in needs two instances; the newest writes, as the newest is what the
            # emulators remove (on Azure the platform chooses: the evidence says which went).
            try:
                instances = self.ensure_instances(max(2, self._capacity))
            except EventNotProven as exc:
                raise EventNotProven(f"the app did not run on two instances first: {exc}") from None
            writer = instances[-1]
        else:
            # H4 or a failed restore may have left extra instances.
            instances = self.restore()
            if not instances:
                raise BackendError("the app has no running instance")
            writer = instances[0]
        probe = self.backend.probe(writer)
        identity = probe.identity()
        seen, written = probe.write(nonce, self.paths)
        others: dict[str, Identity] = {}
        if event is Event.SCALE_IN:
            # Who serves besides the writer: the survivor's container is judged against this.
            for other in (i for i in instances if i != writer):
                other_probe = self.backend.probe(other)
                others[other] = other_probe.identity() or other_probe.whoami()
        return _Before(writer, _merge(identity, seen), written, len(instances), others)

    def _fire_and_read(self, event: Event, nonce: str, prepared: _Before) -> Observation:
        before, written = prepared.identity, prepared.written
        fired = time.monotonic()
        try:
            detail = self._fire(event, prepared)
        except BackendError as exc:
            return self._failed(
                event, nonce, f"{event} failed: {exc}", before=before, written=written
            )
        event_seconds = time.monotonic() - fired
        try:
            proof = self._await_proof(event, prepared)
            ready_seconds = time.monotonic() - fired
            reader_probe = self.backend.probe(proof.instance_id)
            reader, read = reader_probe.read(nonce, self.paths)
        except (EventNotProven, ProbeError) as exc:
            reason = str(exc) if isinstance(exc, EventNotProven) else f"read failed: {exc}"
            return self._failed(
                event, nonce, reason, before=before, written=written, event_seconds=event_seconds
            )
        survivor = prepared.others.get(proof.instance_id) if event is Event.SCALE_IN else None
        if event is Event.SCALE_IN and proof.instance_id == prepared.instance_id:
            survivor = before
        return Observation(
            event=event,
            run_id=self.run_id,
            nonce=nonce,
            trigger_count=self.trigger_counts.get(event, 0),
            instance_before=before,
            instance_after=_merge(proof.identity, reader),
            written=written,
            read=read,
            proven=True,
            proof=proof.text,
            event_seconds=event_seconds,
            ready_seconds=ready_seconds,
            facts=dict(self.backend.facts),
            mounts=_mount_facts(reader_probe, self.paths),
            survivor_before=survivor,
            detail=detail,
        )

    def _fire(self, event: Event, prepared: _Before) -> str:
        """Fire ``event``; return what exactly changed, where the event has a choice."""
        self.trigger_counts[event] = self.trigger_counts.get(event, 0) + 1
        log.info("firing %s (run %s)", event, self.run_id)
        if event in (Event.RESTART, Event.RESTART_SOFT):
            self.backend.restart(soft=True if event is Event.RESTART_SOFT else None)
        elif event is Event.STOP_START:
            self.backend.stop()
            self.backend.start()
        elif event is Event.DEPLOY:
            package = self._package_factory()
            self._deployment_id = package.deployment_id
            self.backend.deploy(package)
        elif event.across_instances:
            count = prepared.capacity
            target = count + 1 if event is Event.SCALE_OUT else count - 1
            self.backend.scale(target)
            return f"{count} -> {target} instances"
        elif event is Event.APP_SETTING_CHANGE:
            # A fresh random value: the probe reports it back, never a user's setting.
            self._settings_mark = secrets.token_hex(8)
            self.backend.set_app_setting(SETTINGS_MARK, self._settings_mark)
            return f"app setting {SETTINGS_MARK} set to {self._settings_mark}"
        elif event is Event.SKU_CHANGE:
            return f"plan SKU {self.backend.change_sku()}"
        elif event is Event.PLAN_RESTART:
            self.backend.restart_plan()
        else:  # pragma: no cover - exhaustive over Event
            raise BackendError(f"no trigger for {event}")
        return ""

    def _await_proof(self, event: Event, prepared: _Before) -> _Proof:
        """Poll until the platform shows the event took effect; raise at the deadline."""
        return self._poll(
            event,
            prepared.instance_id,
            _awaited(event),
            lambda last_seen: self._proof(event, prepared, last_seen),
        )

    def _poll(
        self,
        event: Event,
        instance_id: str,
        awaited: str,
        look: Callable[[list[str]], _T | None],
    ) -> _T:
        """Look until ``look`` finds what is awaited; EventNotProven at the event's deadline."""
        deadline = self.ready_timeout(event)
        last_seen = ["nothing yet"]
        started = time.monotonic()

        # Each look may itself retry a transient probe failure for up to the probe's retry
        # deadline, so the wait is bounded by the ready timeout plus one probe deadline.
        def attempt() -> _T | None:
            try:
                return look(last_seen)
            except ProbeUnavailable as exc:
                # Not answering yet is what an app looks like while an event settles.
                last_seen[0] = str(exc)
                return None
            except ProbeError as exc:
                # A refused token or a malformed answer will not get better by waiting.
                raise EventNotProven(f"{event} cannot be proven: {exc}") from None
            finally:
                status = WaitStatus(
                    event, instance_id, awaited, time.monotonic() - started, deadline, last_seen[0]
                )
                self._progress(status)

        retrying = Retrying(
            stop=stop_after_delay(deadline),
            wait=wait_fixed(self.backend.timing.poll_interval),
            retry=retry_if_result(lambda found: found is None),
        )
        try:
            found = retrying(attempt)
        except RetryError:
            found = None
        finally:
            self._progress.done()
        if found is None:
            raise EventNotProven(
                f"{event} not proven within {deadline:g} s: {awaited}; last seen: {last_seen[0]}"
            )
        return found

    def _proof(self, event: Event, prepared: _Before, last_seen: list[str]) -> _Proof | None:
        before, instance_id = prepared.identity, prepared.instance_id
        if event is Event.SCALE_OUT:
            return self._new_instance_proof(before, last_seen)
        if event is Event.SCALE_IN:
            return self._removed_instance_proof(prepared, last_seen)
        if event in _MAY_MOVE:
            instances = self.backend.instances()
            if instances and instance_id not in instances:
                # The app moved to other workers: whoever answers now is the one to read on.
                instance_id = instances[0]
        probe = self.backend.probe(instance_id)
        now = probe.identity()
        if now is None:
            return self._lab_probe_proof(event, probe.whoami(), instance_id, before, last_seen)
        last_seen[0] = _describe(now)
        if event is Event.DEPLOY and now.deployment_id is not None:
            if now.deployment_id != self._deployment_id:
                return None
            return _Proof(f"deployment {now.deployment_id} answers", now, instance_id)
        if event is Event.APP_SETTING_CHANGE and now.settings_mark is not None:
            if now.settings_mark != self._settings_mark:
                return None
            return _Proof(
                f"the probe process (pid {now.pid}, started {now.process_start}) started with "
                f"{SETTINGS_MARK}={now.settings_mark}",
                now,
                instance_id,
            )
        if instance_id != prepared.instance_id:
            return _Proof(
                f"the app moved: instance {prepared.instance_id[:12]} -> {instance_id[:12]} "
                f"answers ({_describe(now)})",
                now,
                instance_id,
            )
        if now.process_key is None or now.process_key == before.process_key:
            return None
        return _Proof(
            f"new probe process: started {before.process_start} (pid {before.pid}) -> "
            f"{now.process_start} (pid {now.pid})",
            now,
            instance_id,
        )

    def _removed_instance_proof(self, prepared: _Before, last_seen: list[str]) -> _Proof | None:
        """Scale-in took effect: one instance fewer is listed and a remaining one answers."""
        had = [prepared.instance_id, *prepared.others]
        now = self.backend.instances()
        last_seen[0] = f"{len(now)} instance(s), {len(had)} before"
        gone = [i for i in had if i not in now]
        remaining = [i for i in now if i in had]
        if len(now) != len(had) - 1 or not gone or not remaining:
            return None
        survivor = remaining[0]
        probe = self.backend.probe(survivor)
        identity = probe.identity() or probe.whoami()
        last_seen[0] = f"survivor {survivor[:12]}: {_describe(identity)}"
        who = "the writer" if gone[0] == prepared.instance_id else "not the writer"
        return _Proof(
            f"instance {gone[0][:12]} ({who}) removed, {len(had)} -> {len(now)} instances; "
            f"instance {survivor[:12]} answers",
            identity,
            survivor,
        )

    def _new_instance_proof(self, before: Identity, last_seen: list[str]) -> _Proof | None:
        instances = self.backend.instances()
        new = [i for i in instances if i != before.instance_id]
        last_seen[0] = f"{len(instances)} instance(s)"
        if not new:
            return None
        probe = self.backend.probe(new[-1])
        # The pinned client has checked that the new instance itself answered.
        identity = probe.identity() or probe.whoami()
        last_seen[0] = f"new instance {new[-1][:12]}: {_describe(identity)}"
        return _Proof(f"new instance {new[-1][:12]} answers", identity, new[-1])

    def _lab_probe_proof(
        self, event: Event, now: Identity, instance_id: str, before: Identity, last_seen: list[str]
    ) -> _Proof | None:
        """Proof from a probe without /identity: only a new container can be seen."""
        last_seen[0] = _describe(now)
        if now.hostname and now.hostname != before.hostname:
            return _Proof(
                f"new container {before.hostname} -> {now.hostname} (the probe has no /identity "
                "endpoint: a new container is the only proof it can give)",
                now,
                instance_id,
            )
        if event in (Event.RESTART, Event.RESTART_SOFT):
            # A restart keeps the container; without the process start time nothing shows it.
            raise EventNotProven(
                f"{event} cannot be proven with this probe: it has no /identity endpoint, so a "
                "new process in the same container cannot be told apart"
            )
        return None

    def _restore_capacity(self) -> None:
        try:
            self.restore()
        except BackendError as exc:
            # The next event tries again before it writes; the evidence names its instance.
            log.warning("could not scale back to %d instance(s): %s", self._capacity, exc)

    def _restore_sku(self) -> None:
        try:
            self.backend.restore_sku()
            # The app moves back: wait until it answers again, so the next event starts clean.
            self._poll(
                Event.SKU_CHANGE, "", "awaited the app answering on its first SKU", self._answers
            )
        except (BackendError, EventNotProven) as exc:
            log.warning("could not put the plan back on its SKU: %s", exc)

    def _answers(self, last_seen: list[str]) -> Identity | None:
        instances = self.backend.instances()
        last_seen[0] = f"{len(instances)} instance(s)"
        if not instances:
            return None
        probe = self.backend.probe(instances[0])
        return probe.identity() or probe.whoami()

    def _failed(
        self,
        event: Event,
        nonce: str,
        error: str,
        *,
        before: Identity | None = None,
        written: dict[str, MarkerWrite] | None = None,
        event_seconds: float | None = None,
    ) -> Observation:
        log.warning("%s", error)
        return Observation(
            event=event,
            run_id=self.run_id,
            nonce=nonce,
            trigger_count=self.trigger_counts.get(event, 0),
            instance_before=before or Identity(instance_id=None, hostname=None),
            instance_after=None,
            written=written or {},
            read={},
            proven=False,
            proof="",
            event_seconds=event_seconds,
            error=error,
            facts=dict(self.backend.facts),
        )


def _mount_facts(probe: ProbeClient, paths: Sequence[str]) -> dict[str, dict[str, str]]:
    """What each path is mounted on, as the reading instance sees it; evidence, not proof."""
    try:
        return probe.mounts(paths)
    except ProbeError as exc:
        log.info("no mount facts: %s", exc)
        return {}


def _merge(identity: Identity | None, seen: Identity) -> Identity:
    """Complete an identity from /identity with what a write or read answer showed."""
    if identity is None:
        return seen
    return replace(
        identity,
        instance_id=identity.instance_id or seen.instance_id,
        hostname=identity.hostname or seen.hostname,
    )


def _describe(identity: Identity) -> str:
    return (
        f"instance {str(identity.instance_id)[:12]}, container {identity.hostname}, "
        f"pid {identity.pid}, started {identity.process_start}, "
        f"deployment {identity.deployment_id}"
    )


def _awaited(event: Event) -> str:
    if event is Event.SCALE_OUT:
        return "awaited a new instance answering"
    if event is Event.SCALE_IN:
        return "awaited one instance fewer, a remaining one answering"
    if event is Event.DEPLOY:
        return "awaited the new deployment answering"
    if event is Event.APP_SETTING_CHANGE:
        return f"awaited a probe process started with the new {SETTINGS_MARK}"
    if event in _MAY_MOVE:
        return "awaited a new probe process or instance"
    return "awaited a new probe process"
