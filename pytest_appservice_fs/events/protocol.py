"""What the controller and an event's trigger agree on.

One trigger per lifecycle event, after the shape of pytest-xdist's scheduler protocol
(``xdist/scheduler/protocol.py``): the controller runs one loop (prepare, write the markers,
fire, poll for proof, read back, restore) and knows no event by name; everything that differs
from one event to the next is in its trigger. A trigger is made fresh for each controller, so
it may keep what it changed (a deployment id, a settings mark) to prove it later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from pytest_appservice_fs.engine.model import Event, Identity, MarkerWrite

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.engine.probe_package import ProbePackage

_T = TypeVar("_T")

#: A look at the app while waiting: what is awaited, or None to look again. It writes what it
#: saw into ``last_seen[0]``, which the deadline's message quotes.
Look = Callable[[list[str]], "_T | None"]


class EventNotProven(Exception):
    """The platform did not show, before the deadline, that the event took effect."""


@dataclass(frozen=True)
class Start:
    """Where an event begins: the instances serving the app and the one that writes."""

    instances: tuple[str, ...]
    writer: str
    #: Whether to record who else serves (a scale-in's survivor is judged against them).
    record_others: bool = False
    #: The writer as prepare last saw it answer, if it looked (saves asking again).
    writer_identity: Identity | None = None


@dataclass(frozen=True)
class Before:
    """The app before an event: the writer, who else served, and what was written."""

    instance_id: str
    identity: Identity
    written: Mapping[str, MarkerWrite]
    #: How many instances served when the markers were written.
    capacity: int = 1
    others: Mapping[str, Identity] = field(default_factory=dict)


@dataclass(frozen=True)
class Proof:
    """What the proof poll found: the proof sentence and the instance to read back on."""

    text: str
    identity: Identity
    instance_id: str


class App(Protocol):
    """What a trigger may use: the controller's view of the app under test."""

    @property
    def backend(self) -> Backend:
        """The backend that fires events and lists instances."""

    @property
    def capacity(self) -> int:
        """How many instances served the app when the run started."""

    def new_package(self) -> ProbePackage:
        """A fresh probe package, with a new deployment id."""

    def restore(self) -> list[str]:
        """Bring the app back to its capacity at start; return the instances serving it."""

    def poll(self, event: Event, instance_id: str, awaited: str, look: Look[_T]) -> _T:
        """Look until ``look`` finds what is awaited; EventNotProven at the event's deadline
        (``--ready-timeout``, else the backend's)."""


class EventTrigger(Protocol):
    """One lifecycle event: how to start it, fire it, prove it and put the app back."""

    #: The event this trigger fires (its deadline and its name in the evidence).
    event: Event
    #: What the proof poll waits for, in words: "awaited a new probe process".
    awaited: str

    def prepare(self, app: App) -> Start:
        """Bring the app to the event's starting point; raise BackendError or
        EventNotProven when it cannot get there."""

    def fire(self, app: App, before: Before) -> str:
        """Fire the event once; return what exactly changed ("B1 -> B2"), or ""."""

    def proof(self, app: App, before: Before, last_seen: list[str]) -> Proof | None:
        """One look for proof that the event took effect: the proof, or None to look again.
        Raises EventNotProven when waiting cannot help."""

    def restore(self, app: App) -> None:
        """Undo what the event changed for the events after it (never raises)."""


#: Makes a fresh trigger for one controller.
TriggerFactory = Callable[[], EventTrigger]
