"""The trigger controller: fire each event once, wait for proof, read the markers back.

One loop for every event (prepare, write, fire, poll for proof, read, restore); what differs
per event is its trigger (``pytest_appservice_fs.events``). The controller names no event.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.model import Event, Identity, Observation
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeError, ProbeUnavailable
from pytest_appservice_fs.engine.progress import NoProgress, Progress, WaitStatus
from pytest_appservice_fs.events import TriggerRegistry, default_registry
from pytest_appservice_fs.events.protocol import Before, EventNotProven, EventTrigger, Proof
from pytest_appservice_fs.events.recreations import Deploy

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.engine.probe_package import ProbePackage

log = logging.getLogger(__name__)

#: Builds a fresh probe package (with a new deployment id) for each deploy.
PackageFactory = Callable[[], "ProbePackage"]

_T = TypeVar("_T")

__all__ = ["EventNotProven", "PackageFactory", "TriggerController"]


class TriggerController:
    """Fires each lifecycle event at most once per run and keeps what was observed.

    ``triggers`` says which trigger fires which event (``events.default_registry()`` unless
    given). It is also the ``App`` the triggers see (``events.protocol.App``).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        run_id: str,
        paths: Sequence[str],
        package_factory: PackageFactory,
        ready_timeouts: dict[Event, float] | None = None,
        progress: Progress | None = None,
        triggers: TriggerRegistry | None = None,
        run_facts: Mapping[str, str] | None = None,
    ) -> None:
        self._backend = backend
        self._run_facts = dict(run_facts or {})
        self.run_id = run_id
        self.paths = tuple(paths)
        self.trigger_counts: dict[Event, int] = {}
        self.observations: dict[Event, Observation] = {}
        self._package_factory = package_factory
        self._ready_timeouts = dict(ready_timeouts or {})
        self._capacity = 1
        self._progress: Progress = progress or NoProgress()
        self._triggers = triggers or default_registry()
        self._started = False

    @property
    def backend(self) -> Backend:
        """The backend the app runs on."""
        return self._backend

    @property
    def facts(self) -> dict[str, str]:
        """The facts every testcase carries: the run's (its configuration), then the
        backend's (region, SKU; what the backend learned of the app wins)."""
        return {**self._run_facts, **self.backend.facts}

    @property
    def capacity(self) -> int:
        """How many instances served the app when the probe was first deployed."""
        return self._capacity

    def new_package(self) -> ProbePackage:
        """A fresh probe package, with a new deployment id."""
        return self._package_factory()

    def start(self) -> None:
        """Create the app and deploy the probe; BackendError with the reason when it cannot.

        The probe must answer (with the harness's token) before any event is fired: the
        first deployment is proven as a deploy is.
        """
        self._started = True
        self.backend.create()
        first = Deploy()
        first.fire(self, Before("", Identity(None, None), {}))
        instances = self.backend.instances()
        if not instances:
            raise BackendError("the app has no running instance after the probe was deployed")
        self._capacity = len(instances)
        try:
            self._prove(first, Before(instances[0], Identity(None, None), {}, len(instances)))
        except EventNotProven as exc:
            raise BackendError(f"the probe did not come up: {exc}") from None

    def observe(self, event: Event) -> Observation:
        """The observation of ``event``, firing it on first use only.

        Whatever happens, the event is observed once: a trigger that raises something other
        than the backend's and probe's errors (a bug) gives an unproven observation naming
        the exception, kept like any other. RuntimeError before ``start()``.
        """
        if not self._started:
            raise RuntimeError(f"cannot observe {event} before the app is started: call start()")
        if event not in self.observations:
            trigger = self._triggers.create(event)
            try:
                observation = self._observe(trigger)
            except Exception as exc:
                log.exception("the %s trigger failed", event)
                observation = self._failed(
                    event, "", f"{event} could not be observed: {type(exc).__name__}: {exc}"
                )
            self.observations[event] = observation
        return self.observations[event]

    def restore(self) -> list[str]:
        """Bring the app back to its capacity at start (after a scale-out or H4); return the
        instances serving it then."""
        instances = self.backend.instances()
        if len(instances) != self._capacity:
            self.backend.scale(self._capacity)
            instances = self.backend.instances()
        return instances

    def ready_timeout(self, event: Event) -> float:
        """The deadline for proof that ``event`` took effect, in seconds."""
        return self._ready_timeouts.get(event, self.backend.timing.ready_timeout(event))

    def poll(
        self, event: Event, instance_id: str, awaited: str, look: Callable[[list[str]], _T | None]
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

    def _observe(self, trigger: EventTrigger) -> Observation:
        nonce = secrets.token_hex(12)
        try:
            before = self._prepare(trigger, nonce)
        except (ProbeError, BackendError, EventNotProven) as exc:
            return self._failed(
                trigger.event, nonce, f"could not write markers before {trigger.event}: {exc}"
            )
        try:
            return self._fire_and_read(trigger, nonce, before)
        finally:
            trigger.restore(self)

    def _prepare(self, trigger: EventTrigger, nonce: str) -> Before:
        """Bring the app to the event's starting point and write the markers."""
        start = trigger.prepare(self)
        probe = self.backend.probe(start.writer)
        identity = start.writer_identity or probe.identity()
        seen, written = probe.write(nonce, self.paths)
        others: dict[str, Identity] = {}
        if start.record_others:
            for other in (i for i in start.instances if i != start.writer):
                other_probe = self.backend.probe(other)
                others[other] = other_probe.who()
        return Before(start.writer, _merge(identity, seen), written, len(start.instances), others)

    def _fire_and_read(self, trigger: EventTrigger, nonce: str, before: Before) -> Observation:
        event = trigger.event
        fired = time.monotonic()
        self.trigger_counts[event] = self.trigger_counts.get(event, 0) + 1
        log.info("firing %s (run %s)", event, self.run_id)
        try:
            detail = trigger.fire(self, before)
        except BackendError as exc:
            return self._failed(event, nonce, f"{event} failed: {exc}", before=before)
        event_seconds = time.monotonic() - fired
        try:
            proof = self._prove(trigger, before)
            ready_seconds = time.monotonic() - fired
            reader_probe = self.backend.probe(proof.instance_id)
            reader, read = reader_probe.read(nonce, self.paths)
        except (EventNotProven, ProbeError) as exc:
            reason = str(exc) if isinstance(exc, EventNotProven) else f"read failed: {exc}"
            return self._failed(event, nonce, reason, before=before, event_seconds=event_seconds)
        # Who read, as it was before the event: the writer, or another instance that served.
        survivor = before.others.get(proof.instance_id)
        if before.others and proof.instance_id == before.instance_id:
            survivor = before.identity
        return Observation(
            event=event,
            run_id=self.run_id,
            nonce=nonce,
            trigger_count=self.trigger_counts[event],
            instance_before=before.identity,
            instance_after=_merge(proof.identity, reader),
            written=dict(before.written),
            read=read,
            proven=True,
            proof=proof.text,
            event_seconds=event_seconds,
            ready_seconds=ready_seconds,
            facts=self.facts,
            mounts=_mount_facts(reader_probe, self.paths),
            survivor_before=survivor,
            detail=detail,
        )

    def _prove(self, trigger: EventTrigger, before: Before) -> Proof:
        """Poll until the platform shows the event took effect; raise at the deadline."""
        return self.poll(
            trigger.event,
            before.instance_id,
            trigger.awaited,
            lambda last_seen: trigger.proof(self, before, last_seen),
        )

    def _failed(
        self,
        event: Event,
        nonce: str,
        error: str,
        *,
        before: Before | None = None,
        event_seconds: float | None = None,
    ) -> Observation:
        log.warning("%s", error)
        return Observation(
            event=event,
            run_id=self.run_id,
            nonce=nonce,
            trigger_count=self.trigger_counts.get(event, 0),
            instance_before=before.identity if before else Identity(None, None),
            instance_after=None,
            written=dict(before.written) if before else {},
            read={},
            proven=False,
            proof="",
            event_seconds=event_seconds,
            error=error,
            facts=self.facts,
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
