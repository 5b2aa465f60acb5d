"""The trigger controller: fire each event once, wait for proof, read the markers back."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.model import Event, Identity, MarkerWrite, Observation
from pytest_appservice_fs.probe_client import ProbeClient, ProbeError, ProbeUnavailable
from pytest_appservice_fs.progress import NoProgress, Progress, WaitStatus

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.probe_package import ProbePackage

log = logging.getLogger(__name__)

#: Builds a fresh probe package (with a new deployment id) for each deploy.
PackageFactory = Callable[[], "ProbePackage"]


class EventNotProven(Exception):
    """The platform did not show, before the deadline, that the event took effect."""


@dataclass
class _Proof:
    """What the readiness poll found: the proof sentence and who answered."""

    text: str
    identity: Identity
    instance_id: str


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
            self._await_proof(Event.DEPLOY, instances[0], Identity(None, None))
        except EventNotProven as exc:
            raise BackendError(f"the probe did not come up: {exc}") from None

    def observe(self, event: Event) -> Observation:
        """The observation of ``event``, firing it on first use only."""
        if event not in self.observations:
            self.observations[event] = self._observe(event)
        return self.observations[event]

    def restore(self) -> None:
        """Bring the app back to its capacity at start (after a scale-out)."""
        if len(self.backend.instances()) != self._capacity:
            self.backend.scale(self._capacity)

    def ready_timeout(self, event: Event) -> float:
        """The deadline for proof that ``event`` took effect."""
        return self._ready_timeouts.get(event, self.backend.timing.ready_timeout(event))

    def _observe(self, event: Event) -> Observation:
        nonce = secrets.token_hex(12)
        try:
            instance_id, before, written = self._write_markers(nonce)
        except (ProbeError, BackendError) as exc:
            return self._failed(event, nonce, f"could not write markers before {event}: {exc}")
        try:
            return self._fire_and_read(event, nonce, instance_id, before, written)
        finally:
            if event is Event.SCALE_OUT:
                self._restore_after_scale_out()

    def _fire_and_read(
        self,
        event: Event,
        nonce: str,
        instance_id: str,
        before: Identity,
        written: dict[str, MarkerWrite],
    ) -> Observation:
        fired = time.monotonic()
        try:
            self._fire(event)
        except BackendError as exc:
            return self._failed(
                event, nonce, f"{event} failed: {exc}", before=before, written=written
            )
        event_seconds = time.monotonic() - fired
        try:
            proof = self._await_proof(event, instance_id, before)
            ready_seconds = time.monotonic() - fired
            reader_probe = self.backend.probe(proof.instance_id)
            reader, read = reader_probe.read(nonce, self.paths)
        except (EventNotProven, ProbeError) as exc:
            reason = str(exc) if isinstance(exc, EventNotProven) else f"read failed: {exc}"
            return self._failed(
                event, nonce, reason, before=before, written=written, event_seconds=event_seconds
            )
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
        )

    def _write_markers(self, nonce: str) -> tuple[str, Identity, dict[str, MarkerWrite]]:
        instances = self.backend.instances()
        if not instances:
            raise BackendError("the app has no running instance")
        instance_id = instances[0]
        probe = self.backend.probe(instance_id)
        identity = probe.identity()
        writer, written = probe.write(nonce, self.paths)
        return instance_id, _merge(identity, writer), written

    def _fire(self, event: Event) -> None:
        self.trigger_counts[event] = self.trigger_counts.get(event, 0) + 1
        log.info("firing %s (run %s)", event, self.run_id)
        if event is Event.RESTART:
            self.backend.restart()
        elif event is Event.STOP_START:
            self.backend.stop()
            self.backend.start()
        elif event is Event.DEPLOY:
            package = self._package_factory()
            self._deployment_id = package.deployment_id
            self.backend.deploy(package)
        elif event is Event.SCALE_OUT:
            self.backend.scale(len(self.backend.instances()) + 1)
        else:  # pragma: no cover - exhaustive over Event
            raise BackendError(f"no trigger for {event}")

    def _await_proof(self, event: Event, instance_id: str, before: Identity) -> _Proof:
        """Poll until the platform shows the event took effect; raise at the deadline."""
        deadline = self.ready_timeout(event)
        last_seen = ["nothing yet"]
        started = time.monotonic()

        # Each look may itself retry a transient probe failure for up to the probe's retry
        # deadline, so the wait is bounded by the ready timeout plus one probe deadline.
        def attempt() -> _Proof | None:
            try:
                return self._proof(event, instance_id, before, last_seen)
            except ProbeUnavailable as exc:
                # Not answering yet is what an app looks like while an event settles.
                last_seen[0] = str(exc)
                return None
            except ProbeError as exc:
                # A refused token or a malformed answer will not get better by waiting.
                raise EventNotProven(f"{event} cannot be proven: {exc}") from None
            finally:
                status = WaitStatus(
                    event,
                    instance_id,
                    _awaited(event),
                    time.monotonic() - started,
                    deadline,
                    last_seen[0],
                )
                self._progress(status)

        retrying = Retrying(
            stop=stop_after_delay(deadline),
            wait=wait_fixed(self.backend.timing.poll_interval),
            retry=retry_if_result(lambda proof: proof is None),
        )
        try:
            proof = retrying(attempt)
        except RetryError:
            proof = None
        finally:
            self._progress.done()
        if proof is None:
            raise EventNotProven(
                f"{event} not proven within {deadline:g} s: {_awaited(event)}; "
                f"last seen: {last_seen[0]}"
            )
        return proof

    def _proof(
        self, event: Event, instance_id: str, before: Identity, last_seen: list[str]
    ) -> _Proof | None:
        if event is Event.SCALE_OUT:
            return self._new_instance_proof(before, last_seen)
        probe = self.backend.probe(instance_id)
        now = probe.identity()
        if now is None:
            return self._lab_probe_proof(event, probe.whoami(), instance_id, before, last_seen)
        last_seen[0] = _describe(now)
        if event is Event.DEPLOY and now.deployment_id is not None:
            if now.deployment_id != self._deployment_id:
                return None
            return _Proof(f"deployment {now.deployment_id} answers", now, instance_id)
        if now.process_key is None or now.process_key == before.process_key:
            return None
        return _Proof(
            f"new probe process: started {before.process_start} (pid {before.pid}) -> "
            f"{now.process_start} (pid {now.pid})",
            now,
            instance_id,
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
        if event is Event.RESTART:
            # A restart keeps the container; without the process start time nothing shows it.
            raise EventNotProven(
                "restart cannot be proven with this probe: it has no /identity endpoint, so a "
                "new process in the same container cannot be told apart"
            )
        return None

    def _restore_after_scale_out(self) -> None:
        try:
            self.restore()
        except BackendError as exc:
            # The next event still runs on the first instance; the evidence names it.
            log.warning("could not scale back to %d instance(s): %s", self._capacity, exc)

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
    if event is Event.DEPLOY:
        return "awaited the new deployment answering"
    return "awaited a new probe process"
