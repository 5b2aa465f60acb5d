"""The experiment's vocabulary: events, outcomes, identities and observations."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Event(str, enum.Enum):
    """A lifecycle event the harness fires once per run."""

    RESTART = "restart"
    STOP_START = "stop_start"
    DEPLOY = "deploy"
    SCALE_OUT = "scale_out"
    #: 2 -> 1 instances: the survivor must still see what the removed instance wrote to /home.
    SCALE_IN = "scale_in"
    #: One app setting changed as users change it; is the container recreated?
    APP_SETTING_CHANGE = "app_setting_change"
    #: The ARM restart with softRestart=true.
    RESTART_SOFT = "restart_soft"
    #: The plan's SKU one size up (B1 -> B2) and back after the read.
    SKU_CHANGE = "sku_change"
    #: Every app of the plan restarted (ARM restartSites on the plan).
    PLAN_RESTART = "plan_restart"

    @property
    def across_instances(self) -> bool:
        """Whether the marker is read on another instance than the one that wrote it."""
        return self in (Event.SCALE_OUT, Event.SCALE_IN)

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str) -> Event:
        """Return the event named ``text`` (``stop-start`` and ``stop_start`` both work)."""
        return cls(text.strip().lower().replace("-", "_"))


class Outcome(str, enum.Enum):
    """What happened to a marker file, as recorded in the ``observed`` property."""

    PERSISTS = "persists"
    LOST = "lost"
    CORRUPTED = "corrupted"
    VISIBLE = "visible"
    NOT_VISIBLE = "not_visible"
    #: The probe could not write the marker before the event: the file system refused it
    #: (EROFS, EACCES or EPERM; the error is the evidence). Neither lost nor a probe failure.
    WRITE_REFUSED = "write_refused"
    INCONCLUSIVE = "inconclusive"
    #: An expectation only: record what is seen as evidence, with no verdict on the cell.
    OBSERVE = "observe"

    def __str__(self) -> str:
        return self.value


class ContainerOutcome(str, enum.Enum):
    """What happened to the container that served the probe before the event."""

    KEPT = "kept"
    RECREATED = "recreated"
    NEW_INSTANCE = "new_instance"
    INCONCLUSIVE = "inconclusive"
    #: An expectation only: record what is seen as evidence, with no verdict on the cell.
    OBSERVE = "observe"

    def __str__(self) -> str:
        return self.value


class AppendOutcome(str, enum.Enum):
    """H4: what two instances' concurrent appends to one file came to."""

    #: Every record of every writer is there once, whole.
    INTACT = "intact"
    #: Records were lost, duplicated or torn (the counts are in the evidence).
    DAMAGED = "damaged"
    #: The writers do not share the file: each writer's records are found only on its own
    #: instance (/home is not shared, App Service storage off). Nothing was damaged.
    NOT_SHARED = "not_shared"
    INCONCLUSIVE = "inconclusive"
    #: An expectation only: record the counts as evidence, with no verdict on the cell.
    OBSERVE = "observe"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Identity:
    """Who answered a probe request: the instance, the container and the process."""

    instance_id: str | None
    hostname: str | None
    pid: int | None = None
    process_start: str | None = None
    deployment_id: str | None = None
    #: The PROBE_SETTINGS_MARK app setting the answering process started with.
    settings_mark: str | None = None

    @property
    def process_key(self) -> tuple[str | None, int | None] | None:
        """What tells one probe process from the next, or None when the probe hides it."""
        if self.process_start is None and self.pid is None:
            return None
        return (self.process_start, self.pid)


#: The errno names with which a file system refuses a write, as opposed to failing it.
REFUSING_ERRNOS = frozenset({"EROFS", "EACCES", "EPERM"})


class MarkerMatch(str, enum.Enum):
    """Whether a marker read back is the one written, intact or damaged, or another one."""

    INTACT = "intact"
    DAMAGED = "damaged"
    FOREIGN = "foreign"


@dataclass(frozen=True)
class MarkerWrite:
    """The harness's record of one marker it wrote (or failed to write)."""

    path: str
    checksum: str | None = None
    error: str | None = None
    #: The errno name of a failed write (``EROFS``), where the probe reports it.
    errno: str | None = None

    @property
    def refused(self) -> bool:
        """Whether the file system refused the write (read-only, or no permission)."""
        return self.checksum is None and self.errno in REFUSING_ERRNOS


@dataclass(frozen=True)
class MarkerRead:
    """What the probe found at one path when the harness read it back."""

    path: str
    exists: bool = False
    checksum_valid: bool | None = None
    stored_checksum: str | None = None
    actual_checksum: str | None = None
    nonce_matches: bool | None = None
    error: str | None = None

    def compare(self, written: MarkerWrite) -> MarkerMatch:
        """How the files found relate to the marker written before the event."""
        # The write-time checksum covers the payload's random marker and timestamp, so files
        # from an earlier write cannot match it even when the probe cannot check nonces.
        ours = written.checksum
        if ours is None or ours not in (self.stored_checksum, self.actual_checksum):
            return MarkerMatch.FOREIGN
        if self.stored_checksum == self.actual_checksum == ours:
            # Identical bytes carry the nonce written; a probe saying otherwise is not believed.
            return MarkerMatch.FOREIGN if self.nonce_matches is False else MarkerMatch.INTACT
        # One of the two files is ours and the other changed: the marker was damaged.
        return MarkerMatch.DAMAGED


@dataclass(frozen=True)
class Observation:
    """Everything seen around one firing of one event: the evidence every verdict draws on."""

    event: Event
    run_id: str
    nonce: str
    trigger_count: int
    instance_before: Identity
    instance_after: Identity | None
    written: Mapping[str, MarkerWrite]
    read: Mapping[str, MarkerRead]
    proven: bool
    proof: str
    event_seconds: float | None = None
    ready_seconds: float | None = None
    error: str | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    #: Per path: ``fstype``, ``source`` and ``mount_point`` as the reading instance saw them.
    mounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Scale-in: the instance that remained, as it was before the event.
    survivor_before: Identity | None = None
    #: What exactly was changed, where an event has a choice: "B1 -> B2", "2 -> 1 instances".
    detail: str = ""
