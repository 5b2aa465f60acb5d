"""Lifecycle events as strategies: one trigger per event, one module per family.

- ``protocol``: what the controller and a trigger agree on (``EventTrigger``, ``App``);
- ``base``: the default trigger (markers on the first instance, proof by a new process);
- ``restarts``: restart, soft restart, plan restart;
- ``recreations``: stop/start, deploy, app setting change;
- ``scale``: scale-out, scale-in;
- ``sku``: SKU change.

``TriggerRegistry`` maps each ``Event`` to the factory of its trigger. A new event is a new
``Event`` member, a module with its trigger, and one line in ``default_registry``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.events import recreations, restarts, scale, sku
from pytest_appservice_fs.events.protocol import EventTrigger, TriggerFactory


class TriggerRegistry:
    """Which trigger fires which event; a controller makes one trigger per event it fires."""

    def __init__(self, factories: Mapping[Event, TriggerFactory] | None = None) -> None:
        self._factories: dict[Event, TriggerFactory] = dict(factories or {})

    def register(self, event: Event, factory: TriggerFactory, *, replace: bool = False) -> None:
        """Fire ``event`` with triggers made by ``factory``; ValueError when ``event`` already
        has one and ``replace`` is false."""
        if event in self._factories and not replace:
            raise ValueError(f"event {event} already has a trigger; pass replace=True")
        self._factories[event] = factory

    def create(self, event: Event) -> EventTrigger:
        """A fresh trigger for ``event``; KeyError naming the event when none is registered."""
        factory = self._factories.get(event)
        if factory is None:
            raise KeyError(f"no trigger is registered for event {event}")
        return factory()

    def __contains__(self, event: object) -> bool:
        return event in self._factories

    def __iter__(self) -> Iterator[Event]:
        return iter(self._factories)


def default_registry(
    *,
    soft_restart_timeout: float = restarts.SOFT_RESTART_TIMEOUT,
    restart_is_soft: bool = False,
) -> TriggerRegistry:
    """Every event this project fires, each with its trigger.

    ``soft_restart_timeout``: seconds after which a soft restart that left the probe process
    running is a proven no-op (``--soft-restart-timeout``); ``restart_is_soft``: the plain
    restart is a soft one (``--restart-mode soft``).
    """
    restart_triggers = restarts.configured(
        soft_restart_timeout=soft_restart_timeout, restart_is_soft=restart_is_soft
    )
    registry = TriggerRegistry()
    for family in (restart_triggers, recreations.TRIGGERS, scale.TRIGGERS, sku.TRIGGERS):
        for event, factory in family.items():
            registry.register(event, factory)
    return registry
