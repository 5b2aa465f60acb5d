"""The default trigger: markers written on the first instance, proof by a new probe process.

Most events keep the app on its instances and are proven by the probe's process changing
(its start time and pid from ``/identity``). A trigger subclass says only what differs: how it
fires, and, where the probe reports the event's own mark (a deployment id, an app setting),
when that mark shows.
"""

from __future__ import annotations

import logging

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.model import Event, Identity
from pytest_appservice_fs.events.protocol import App, Before, EventNotProven, Proof, Start

log = logging.getLogger(__name__)


class Trigger:
    """A lifecycle event fired once; subclasses set ``event`` and implement ``fire``."""

    event: Event
    awaited = "awaited a new probe process"
    #: The app may answer from other instances afterwards (new workers): read where it answers.
    may_move = False
    #: The event keeps the container: without ``/identity`` (the lab's probe) it cannot be
    #: proven, as a new process in the same container cannot be told apart.
    keeps_container = False

    def prepare(self, app: App) -> Start:
        """Back to the run's capacity (H4 or a failed restore may have left more); the first
        instance writes, once it answers: the event before may still be settling (the app
        answers 503 while it moves back to its SKU, for example). EventNotProven when it does
        not answer before this event's deadline."""
        instances = app.restore()
        if not instances:
            raise BackendError("the app has no running instance")
        writer = instances[0]

        def answers(last_seen: list[str]) -> Identity | None:
            probe = app.backend.probe(writer)
            identity = probe.who()
            last_seen[0] = describe(identity)
            return identity

        identity = app.poll(
            self.event, writer, "awaited the app answering before the event", answers
        )
        return Start(tuple(instances), writer, writer_identity=identity)

    def fire(self, app: App, before: Before) -> str:  # pragma: no cover - abstract
        """Fire the event once; return what exactly changed, or ""."""
        raise NotImplementedError

    def settled(self, now: Identity) -> bool | None:
        """Whether ``now`` shows the event's own mark; None when the probe does not report
        one (then a new process is the proof)."""
        return None

    def settled_proof(self, now: Identity) -> str:
        """The proof sentence when ``settled`` is true."""
        return ""

    def proof(self, app: App, before: Before, last_seen: list[str]) -> Proof | None:
        """The event's own mark if the probe reports it, else a new probe process, or the app
        answering from another instance where it may move."""
        instance_id = before.instance_id
        if self.may_move:
            instances = app.backend.instances()
            if instances and instance_id not in instances:
                # The app moved to other workers: whoever answers now is the one to read on.
                instance_id = instances[0]
        probe = app.backend.probe(instance_id)
        now = probe.identity()
        if now is None:
            return self._lab_probe_proof(probe.whoami(), instance_id, before.identity, last_seen)
        last_seen[0] = describe(now)
        settled = self.settled(now)
        if settled is not None:
            return Proof(self.settled_proof(now), now, instance_id) if settled else None
        if instance_id != before.instance_id:
            return Proof(
                f"the app moved: instance {before.instance_id[:12]} -> {instance_id[:12]} "
                f"answers ({describe(now)})",
                now,
                instance_id,
            )
        if now.process_key is None or now.process_key == before.identity.process_key:
            return None
        return Proof(
            f"new probe process: started {before.identity.process_start} "
            f"(pid {before.identity.pid}) -> {now.process_start} (pid {now.pid})",
            now,
            instance_id,
        )

    def restore(self, app: App) -> None:
        """Nothing to undo."""

    def _lab_probe_proof(
        self, now: Identity, instance_id: str, before: Identity, last_seen: list[str]
    ) -> Proof | None:
        """Proof from a probe without /identity: only a new container can be seen."""
        last_seen[0] = describe(now)
        if now.hostname and now.hostname != before.hostname:
            return Proof(
                f"new container {before.hostname} -> {now.hostname} (the probe has no /identity "
                "endpoint: a new container is the only proof it can give)",
                now,
                instance_id,
            )
        if self.keeps_container:
            raise EventNotProven(
                f"{self.event} cannot be proven with this probe: it has no /identity endpoint, "
                "so a new process in the same container cannot be told apart"
            )
        return None


def answering(app: App, last_seen: list[str]) -> Identity | None:
    """Who answers on the app's first instance, or None while nobody does."""
    instances = app.backend.instances()
    last_seen[0] = f"{len(instances)} instance(s)"
    if not instances:
        return None
    probe = app.backend.probe(instances[0])
    return probe.who()


def describe(identity: Identity) -> str:
    """An identity in one line, for proofs and wait messages."""
    return (
        f"instance {str(identity.instance_id)[:12]}, container {identity.hostname}, "
        f"pid {identity.pid}, started {identity.process_start}, "
        f"deployment {identity.deployment_id}"
    )
