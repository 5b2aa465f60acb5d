"""Scale-out and scale-in: markers written on one instance, read on another.

Sources: the Microsoft.Web REST spec's ``AppServicePlans_Update`` (``sku.capacity``) and
``WebApps_ListInstanceIdentifiers``; the platform picks which instance a scale-in removes, so
the evidence says which one went.
"""

from __future__ import annotations

import logging

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.model import Event, Identity
from pytest_appservice_fs.events.base import Trigger, describe
from pytest_appservice_fs.events.protocol import (
    App,
    Before,
    EventNotProven,
    Proof,
    Start,
    TriggerFactory,
)

log = logging.getLogger(__name__)


def ensure_instances(app: App, count: int) -> list[str]:
    """Run on at least ``count`` instances, each answering; return the first ``count``.

    Raises BackendError when the backend cannot scale, EventNotProven when a new instance
    does not answer before the scale-out deadline.
    """
    instances = app.backend.instances()
    if len(instances) < count:
        log.info("scaling to %d instances", count)
        app.backend.scale(count)
    answered: dict[str, Identity] = {}

    def look(last_seen: list[str]) -> list[str] | None:
        now = app.backend.instances()
        last_seen[0] = f"{len(now)} of {count} instance(s) listed, {len(answered)} answered"
        if len(now) < count:
            return None
        for instance_id in now[:count]:
            if instance_id not in answered:
                probe = app.backend.probe(instance_id)
                answered[instance_id] = probe.who()
        return now[:count]

    return app.poll(
        Event.SCALE_OUT,
        instances[0] if instances else "",
        f"awaited {count} instances answering",
        look,
    )


class _Scale(Trigger):
    """One instance more or fewer than when the markers were written; back after the read."""

    step = 0

    def fire(self, app: App, before: Before) -> str:
        """Scale the plan by ``step`` instances."""
        count = before.capacity
        target = count + self.step
        app.backend.scale(target)
        return f"{count} -> {target} instances"

    def restore(self, app: App) -> None:
        """Back to the run's capacity; the next event tries again should this fail."""
        try:
            app.restore()
        except BackendError as exc:
            # The next event tries again before it writes; the evidence names its instance.
            log.warning("could not scale back to %d instance(s): %s", app.capacity, exc)


class ScaleOut(_Scale):
    """One instance more: does the new instance see the writer's files?"""

    event = Event.SCALE_OUT
    awaited = "awaited a new instance answering"
    step = 1

    def proof(self, app: App, before: Before, last_seen: list[str]) -> Proof | None:
        """An instance other than the writer is listed and answers."""
        instances = app.backend.instances()
        new = [i for i in instances if i != before.identity.instance_id]
        last_seen[0] = f"{len(instances)} instance(s)"
        if not new:
            return None
        probe = app.backend.probe(new[-1])
        # The pinned client has checked that the new instance itself answered.
        identity = probe.who()
        last_seen[0] = f"new instance {new[-1][:12]}: {describe(identity)}"
        return Proof(f"new instance {new[-1][:12]} answers", identity, new[-1])


class ScaleIn(_Scale):
    """Two instances to one: does the survivor see what the removed one wrote to /home?"""

    event = Event.SCALE_IN
    awaited = "awaited one instance fewer, a remaining one answering"
    step = -1

    def prepare(self, app: App) -> Start:
        """At least two instances; the newest writes, as the newest is what the emulators
        remove (on Azure the platform chooses: the evidence says which went)."""
        try:
            instances = ensure_instances(app, max(2, app.capacity))
        except EventNotProven as exc:
            raise EventNotProven(f"the app did not run on two instances first: {exc}") from None
        return Start(tuple(instances), instances[-1], record_others=True)

    def proof(self, app: App, before: Before, last_seen: list[str]) -> Proof | None:
        """One instance fewer is listed and a remaining one answers."""
        had = [before.instance_id, *before.others]
        now = app.backend.instances()
        last_seen[0] = f"{len(now)} instance(s), {len(had)} before"
        gone = [i for i in had if i not in now]
        remaining = [i for i in now if i in had]
        if len(now) != len(had) - 1 or not gone or not remaining:
            return None
        survivor = remaining[0]
        probe = app.backend.probe(survivor)
        identity = probe.who()
        last_seen[0] = f"survivor {survivor[:12]}: {describe(identity)}"
        who = "the writer" if gone[0] == before.instance_id else "not the writer"
        return Proof(
            f"instance {gone[0][:12]} ({who}) removed, {len(had)} -> {len(now)} instances; "
            f"instance {survivor[:12]} answers",
            identity,
            survivor,
        )


TRIGGERS: dict[Event, TriggerFactory] = {Event.SCALE_OUT: ScaleOut, Event.SCALE_IN: ScaleIn}
