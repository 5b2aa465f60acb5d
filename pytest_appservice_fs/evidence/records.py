"""Evidence records: what one live testcase recorded, as typed data that writes and reads its
own JUnit properties (DESIGN.md section 4). The run writes them; the report reads them back.

Every record starts with the properties every live testcase carries (``REQUIRED_PROPERTIES``,
in that order), then the run's facts (region, SKU, ...) sorted by name, then its own. The
names and their order are the evidence format: JUnit files of earlier runs must still read.
Numbers are written and parsed in ``values.py``, which has RecordError too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_appservice_fs.engine.expectations import CONCURRENT, LARGE_FILES, LATENCY
from pytest_appservice_fs.engine.probe_answers import FIGURES, STATS
from pytest_appservice_fs.evidence.values import (
    RecordError,
    blank,
    blank_or,
    kept,
    optional,
    read_bool,
    read_count,
    read_float,
    read_int,
    required,
    write_bool,
    write_float,
)

if TYPE_CHECKING:
    from typing_extensions import Self

#: ``observed`` of a cell whose event the backend cannot fire (the test is skipped).
SKIPPED = "skipped"

#: Properties every live testcase carries, in this order (DESIGN.md section 4).
REQUIRED_PROPERTIES = (
    "hypothesis",
    "event",
    "path",
    "expected",
    "observed",
    "checksum_valid",
    "container_before",
    "container_after",
    "container_recreated",
    "instance_before",
    "instance_after",
    "backend",
    "run_id",
)
#: What a cell may add after the facts, in this order; ``explanation`` is always last.
_MOUNT_KEYS = ("fstype", "source", "mount_point")
_CELL_NAMES = (
    "event_detail",
    *(f"mount_{key}" for key in _MOUNT_KEYS),
    "event_seconds",
    "ready_seconds",
    "process_before",
    "process_after",
    "process_restarted",
    "trigger_count",
    "proof",
    "nonce",
    "skip_reason",
    "explanation",
)

Properties = tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class Record:
    """The properties every live testcase carries, and the run's facts (region, SKU, ...):
    every property that is no other field's, values never empty."""

    #: What a testcase of this record is called in a report's error message.
    noun: ClassVar[str] = "testcase"

    hypothesis: str
    event: str
    path: str
    expected: str
    observed: str
    checksum_valid: str
    container_before: str
    container_after: str
    container_recreated: str
    instance_before: str
    instance_after: str
    backend: str
    run_id: str
    facts: Mapping[str, str] = field(default_factory=dict)
    explanation: str = ""

    def to_properties(self) -> Properties:
        """The JUnit properties, in their order: the head, then the record's own."""
        raise NotImplementedError

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> Self:
        """The record of a testcase's properties; RecordError when they are malformed."""
        raise NotImplementedError

    def head(self) -> Properties:
        """The required properties, then the facts sorted by name (empty ones left out)."""
        required = tuple((name, str(getattr(self, name))) for name in REQUIRED_PROPERTIES)
        return required + tuple((k, v) for k, v in sorted(self.facts.items()) if v)

    @classmethod
    def read_head(
        cls, props: Mapping[str, str], known: set[str], *, strict: bool
    ) -> dict[str, Any]:
        """The required properties and the facts (every name not in ``known``) as field
        values. ``strict``: RecordError naming the required properties missing; otherwise
        only ``path`` must be there and the others default to ''."""
        missing = [name for name in REQUIRED_PROPERTIES if name not in props]
        if strict and missing:
            raise RecordError(f"lacks the properties {', '.join(missing)}")
        if "path" not in props:
            raise RecordError("has malformed properties")
        values: dict[str, Any] = {name: props.get(name, "") for name in REQUIRED_PROPERTIES}
        names = known | set(REQUIRED_PROPERTIES) | {"explanation"}
        values["facts"] = {k: v for k, v in props.items() if k not in names and v}
        values["explanation"] = props.get("explanation", "")
        return values

    @property
    def region(self) -> str:
        """The region the run was in, where the backend knows it."""
        return self.facts.get("region", "")

    @property
    def sku(self) -> str:
        """The App Service plan's SKU, where the backend knows it."""
        return self.facts.get("sku", "")


@dataclass(frozen=True, kw_only=True)
class CellRecord(Record):
    """One cell of the matrix (a path's marker, or the container) across one event; or a
    cell whose event the backend cannot fire (``observed`` is ``skipped``, ``skip_reason``
    says why). Optional properties are written only when set (``event_detail``: when not
    empty). Seconds are kept to the millisecond they are written with."""

    #: What exactly was changed, where an event has a choice: "B1 -> B2".
    event_detail: str = ""
    #: ``fstype``, ``source`` and ``mount_point`` of the path, as the reading instance saw them.
    mount: Mapping[str, str] = field(default_factory=dict)
    event_seconds: float | None = None
    ready_seconds: float | None = None
    #: The probe process that answered before and after ("pid 7, started 2026-...Z"), and
    #: whether they differ; None where the probe does not say (the lab's probe).
    process_before: str | None = None
    process_after: str | None = None
    process_restarted: bool | None = None
    trigger_count: int | None = None
    proof: str | None = None
    nonce: str | None = None
    skip_reason: str | None = None

    def __post_init__(self) -> None:
        mount = {key: self.mount[key] for key in _MOUNT_KEYS if key in self.mount}
        object.__setattr__(self, "mount", mount)
        for name in ("event_seconds", "ready_seconds"):
            object.__setattr__(self, name, kept(getattr(self, name), 3))

    @property
    def skipped(self) -> bool:
        """The backend could not fire the cell's event: no verdict, a reason (explanation)."""
        return self.observed == SKIPPED

    def to_properties(self) -> Properties:
        """The JUnit properties, in their order."""
        optional: list[tuple[str, str | None]] = [
            ("event_detail", self.event_detail or None),
            *((f"mount_{key}", self.mount.get(key)) for key in _MOUNT_KEYS),
            ("event_seconds", write_float(self.event_seconds, 3)),
            ("ready_seconds", write_float(self.ready_seconds, 3)),
            ("process_before", self.process_before),
            ("process_after", self.process_after),
            ("process_restarted", write_bool(self.process_restarted)),
            ("trigger_count", None if self.trigger_count is None else str(self.trigger_count)),
            ("proof", self.proof),
            ("nonce", self.nonce),
            ("skip_reason", self.skip_reason),
        ]
        own = tuple((name, value) for name, value in optional if value is not None)
        return self.head() + own + (("explanation", self.explanation),)

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> Self:
        """The record of a testcase's properties; RecordError when a required one is missing
        or a number is not one."""
        values = cls.read_head(props, set(_CELL_NAMES), strict=True)
        return cls(
            **values,
            event_detail=props.get("event_detail", ""),
            mount={key: props[f"mount_{key}"] for key in _MOUNT_KEYS if f"mount_{key}" in props},
            event_seconds=optional(props, "event_seconds", read_float),
            ready_seconds=optional(props, "ready_seconds", read_float),
            process_before=props.get("process_before"),
            process_after=props.get("process_after"),
            process_restarted=optional(props, "process_restarted", read_bool),
            trigger_count=optional(props, "trigger_count", read_int),
            proof=props.get("proof"),
            nonce=props.get("nonce"),
            skip_reason=props.get("skip_reason"),
        )


def measurement_head(
    *,
    hypothesis: str,
    path: str,
    observed: str,
    checksum_valid: str,
    instance_id: str,
    hostname: str,
    backend: str,
    run_id: str,
    facts: Mapping[str, str],
    expected: str = "measured",
) -> dict[str, Any]:
    """The head fields of a measurement's record (no event, one instance), as keywords."""
    return {
        "hypothesis": hypothesis,
        "event": "none",
        "path": path,
        "expected": expected,
        "observed": observed,
        "checksum_valid": checksum_valid,
        "container_before": hostname,
        "container_after": hostname,
        "container_recreated": "false",
        "instance_before": instance_id,
        "instance_after": instance_id,
        "backend": backend,
        "run_id": run_id,
        "facts": {key: value for key, value in facts.items() if value},
    }


# --- measurements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceFigures:
    """Latency on one instance: write (with fsync) and read, per statistic, in milliseconds,
    kept to the 4 decimals they are written with."""

    instance_id: str
    hostname: str
    write_ms: Mapping[str, float]
    read_ms: Mapping[str, float]

    def __post_init__(self) -> None:
        for name in ("write_ms", "read_ms"):
            stats = getattr(self, name)
            object.__setattr__(
                self, name, {s: float(f"{stats[s]:.4f}") for s in STATS if s in stats}
            )


@dataclass(frozen=True, kw_only=True)
class LatencyRecord(Record):
    """Latency of one path on every instance (``size`` bytes, ``iterations`` times)."""

    noun: ClassVar[str] = "latency testcase"

    size: int
    iterations: int
    instances: tuple[InstanceFigures, ...] = ()

    def to_properties(self) -> Properties:
        """The JUnit properties, in their order."""
        own = [
            ("latency_size", str(self.size)),
            ("latency_iterations", str(self.iterations)),
            ("instance_count", str(len(self.instances))),
        ]
        for index, row in enumerate(self.instances, start=1):
            own += [(f"instance.{index}", row.instance_id), (f"hostname.{index}", row.hostname)]
            for kind, stats in (("write_ms", row.write_ms), ("read_ms", row.read_ms)):
                own += [(f"{kind}.{index}.{s}", f"{stats[s]:.4f}") for s in STATS if s in stats]
        return self.head() + tuple(own) + (("explanation", self.explanation),)

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> Self:
        """The record of a testcase's properties; RecordError when malformed."""
        count = read_count(props, "instance_count", _instance_names)
        known = {"latency_size", "latency_iterations", "instance_count"}
        rows = []
        for index in range(1, count + 1):
            names = {kind: f"{kind}.{index}" for kind in ("write_ms", "read_ms")}
            stats = {
                kind: {s: read_float(props[f"{n}.{s}"]) for s in STATS if f"{n}.{s}" in props}
                for kind, n in names.items()
            }
            known |= {f"instance.{index}", f"hostname.{index}"}
            known |= {f"{n}.{s}" for n in names.values() for s in STATS}
            rows.append(
                InstanceFigures(
                    props.get(f"instance.{index}", ""),
                    props.get(f"hostname.{index}", ""),
                    stats["write_ms"],
                    stats["read_ms"],
                )
            )
        return cls(
            **cls.read_head(props, known, strict=False),
            size=read_int(props.get("latency_size", "0")),
            iterations=read_int(props.get("latency_iterations", "0")),
            instances=tuple(rows),
        )


@dataclass(frozen=True)
class SizeFigures:
    """H5: one size's figures (MiB/s and seconds, kept to the 4 decimals they are written
    with), or why the probe did not write it (``skipped``: it did not fit)."""

    size_mib: int
    figures: Mapping[str, float] = field(default_factory=dict)
    skipped: str | None = None

    def __post_init__(self) -> None:
        figures = {n: float(f"{self.figures[n]:.4f}") for n in FIGURES if n in self.figures}
        object.__setattr__(self, "figures", figures)


@dataclass(frozen=True, kw_only=True)
class ThroughputRecord(Record):
    """H5: large files written (one fsync at the end) and read on one path, per size."""

    noun: ClassVar[str] = "H5 testcase"

    iterations: int
    sizes: tuple[SizeFigures, ...] = ()

    def to_properties(self) -> Properties:
        """The JUnit properties, in their order."""
        own = [
            ("throughput_iterations", str(self.iterations)),
            ("size_count", str(len(self.sizes))),
        ]
        for index, row in enumerate(self.sizes, start=1):
            own.append((f"size_mib.{index}", str(row.size_mib)))
            if row.skipped is not None:
                own.append((f"skipped.{index}", row.skipped))
            own += [(f"{n}.{index}", f"{row.figures[n]:.4f}") for n in FIGURES if n in row.figures]
        return self.head() + tuple(own) + (("explanation", self.explanation),)

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> Self:
        """The record of a testcase's properties; RecordError when malformed."""
        count = read_count(props, "size_count", _size_names)
        known = {"throughput_iterations", "size_count"}
        rows = []
        for index in range(1, count + 1):
            names = {n: f"{n}.{index}" for n in FIGURES}
            known |= {f"size_mib.{index}", f"skipped.{index}", *names.values()}
            figures = {n: read_float(props[name]) for n, name in names.items() if name in props}
            size = required(props, f"size_mib.{index}", read_int)
            rows.append(SizeFigures(size, figures, props.get(f"skipped.{index}")))
        return cls(
            **cls.read_head(props, known, strict=False),
            iterations=read_int(props.get("throughput_iterations", "0")),
            sizes=tuple(rows),
        )


@dataclass(frozen=True)
class WriterRecord:
    """H4: one writer, the instance it ran on, and how its records came out (None: unknown)."""

    name: str
    instance_id: str
    hostname: str
    appended: int | None
    records_found: int | None
    lost: int | None
    duplicated: int | None
    seconds: float | None

    #: Each writer's properties are ``writer.N.<name>``, in this order.
    NAMES: ClassVar[tuple[str, ...]] = (
        "name",
        "instance",
        "hostname",
        "appended",
        "records_found",
        "lost",
        "duplicated",
        "seconds",
    )


@dataclass(frozen=True, kw_only=True)
class AppendRecord(Record):
    """H4: instances appending to one file at once, with a lock mode or without."""

    noun: ClassVar[str] = "H4 testcase"

    lock: str
    append_file: str
    records_per_writer: int
    writers: tuple[WriterRecord, ...] = ()
    lines: int | None = None
    torn_lines: int | None = None
    untracked_records: int | None = None
    #: Longest time every writer was writing at once, in seconds.
    overlap_seconds: float | None = None

    def to_properties(self) -> Properties:
        """The JUnit properties, in their order."""
        own = [
            ("lock", self.lock),
            ("append_file", self.append_file),
            ("records_per_writer", str(self.records_per_writer)),
            ("writers", str(len(self.writers))),
        ]
        for index, w in enumerate(self.writers, start=1):
            counts = (w.appended, w.records_found, w.lost, w.duplicated, w.seconds)
            values = (w.name, w.instance_id, w.hostname, *(blank(c) for c in counts))
            own += [
                (f"writer.{index}.{name}", value)
                for name, value in zip(WriterRecord.NAMES, values, strict=True)
            ]
        own += [
            ("lines", blank(self.lines)),
            ("torn_lines", blank(self.torn_lines)),
            ("untracked_records", blank(self.untracked_records)),
            ("overlap_seconds", blank(self.overlap_seconds)),
        ]
        return self.head() + tuple(own) + (("explanation", self.explanation),)

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> Self:
        """The record of a testcase's properties; RecordError when malformed (``lock``,
        ``expected`` and ``observed`` must be there)."""
        for name in ("lock", "expected", "observed"):
            required(props, name, str)
        count = read_count(props, "writers", _writer_names)
        known = {"lock", "append_file", "records_per_writer", "writers", "lines", "torn_lines"}
        known |= {"untracked_records", "overlap_seconds"}
        writers = []
        for index in range(1, count + 1):
            names = [f"writer.{index}.{name}" for name in WriterRecord.NAMES]
            known |= set(names)
            counts = [blank_or(props, name, read_int) for name in names[3:7]]
            writers.append(
                WriterRecord(
                    name=props.get(names[0], ""),
                    instance_id=props.get(names[1], ""),
                    hostname=props.get(names[2], ""),
                    appended=counts[0],
                    records_found=counts[1],
                    lost=counts[2],
                    duplicated=counts[3],
                    seconds=blank_or(props, names[7], read_float),
                )
            )
        return cls(
            **cls.read_head(props, known, strict=False),
            lock=props["lock"],
            append_file=props.get("append_file", ""),
            records_per_writer=read_int(props.get("records_per_writer", "0")),
            writers=tuple(writers),
            lines=blank_or(props, "lines", read_int),
            torn_lines=blank_or(props, "torn_lines", read_int),
            untracked_records=blank_or(props, "untracked_records", read_int),
            overlap_seconds=blank_or(props, "overlap_seconds", read_float),
        )


def _instance_names(index: int) -> list[str]:
    """The properties of a latency record's instance ``index``."""
    stats = [f"{kind}.{index}.{s}" for kind in ("write_ms", "read_ms") for s in STATS]
    return [f"instance.{index}", f"hostname.{index}", *stats]


def _size_names(index: int) -> list[str]:
    """The properties of an H5 record's size ``index``."""
    return [f"size_mib.{index}", f"skipped.{index}", *(f"{n}.{index}" for n in FIGURES)]


def _writer_names(index: int) -> list[str]:
    """The properties of an H4 record's writer ``index``."""
    return [f"writer.{index}.{name}" for name in WriterRecord.NAMES]


#: The record of a testcase whose ``hypothesis`` is a measurement; any other is a matrix cell.
_MEASURED: dict[str, type[Record]] = {
    LATENCY: LatencyRecord,
    LARGE_FILES: ThroughputRecord,
    CONCURRENT: AppendRecord,
}


def record_type(hypothesis: str) -> type[Record]:
    """The record class for a testcase of ``hypothesis``."""
    return _MEASURED.get(hypothesis, CellRecord)
