"""The probe's answers as typed values: what ``ProbeClient`` returns for each measurement
endpoint (``/io-latency``, ``/throughput``, ``/append``, ``/append-check``, ``/append-reset``).

The probe's JSON is read here once; a field that is missing or of the wrong type becomes
None (or an empty value), never an exception, so that a measurement judges what it got. The
field names are the probe's (``pytest_appservice_fs/probe``); ``tests/test_contract.py``
holds both sides to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_appservice_fs.engine.model import Identity

#: Statistics /io-latency reports per direction, in milliseconds (p95 is the project probe's
#: addition: the lab's has none). Also the suffixes of the latency evidence's properties.
STATS = ("min", "median", "p95", "max")
#: Figures /throughput reports per size: MiB/s and seconds (medians over the iterations), in
#: the order the H5 evidence writes them.
FIGURES = ("write_mib_s", "read_mib_s", "write_seconds", "read_seconds")


@dataclass(frozen=True)
class PathLatency:
    """One path's latency on the answering instance: statistics in ms, or the probe's error."""

    write_ms: Mapping[str, float] = field(default_factory=dict)
    read_ms: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class LatencyAnswer:
    """``/io-latency``: who answered, and each path's figures."""

    identity: Identity
    paths: Mapping[str, PathLatency]


@dataclass(frozen=True)
class SizeAnswer:
    """One size through one path: figures (``FIGURES``), whether the bytes read
    back were those written, or why the size was skipped (it did not fit)."""

    size_mib: int
    figures: Mapping[str, float]
    checksum_ok: bool
    skipped: str | None = None


@dataclass(frozen=True)
class ThroughputAnswer:
    """``/throughput`` for one path: who answered, each size, or the path's error."""

    identity: Identity
    sizes: tuple[SizeAnswer, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class AppendAnswer:
    """``/append``: one writer's records appended (None: not reported), its errors, and the
    probe's clock around the writes (epoch seconds) and their duration (seconds)."""

    identity: Identity
    records: int | None
    errors: tuple[str, ...]
    seconds: float | None
    started_epoch: float | None
    finished_epoch: float | None


@dataclass(frozen=True)
class WriterTally:
    """``/append-check``'s count of one writer's records in the file: records found, gaps
    below the highest sequence number, duplicates, and that number (None: no record)."""

    records: int | None
    lost: int | None
    duplicated: int | None
    max_seq: int | None


@dataclass(frozen=True)
class AppendCheckAnswer:
    """``/append-check``: the file's lines, torn lines, records of untracked writers, and a
    tally per writer asked for (absent: the probe did not report it); or the error."""

    lines: int | None = None
    torn: int | None = None
    untracked: int | None = None
    writers: Mapping[str, WriterTally | None] = field(default_factory=dict)
    error: str | None = None


def identity_of(body: Mapping[str, Any]) -> Identity:
    """The instance and container an answer names."""
    return Identity(instance_id=body.get("instance_id"), hostname=body.get("hostname"))


def latency_answer(
    body: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]]
) -> LatencyAnswer:
    """``/io-latency``'s answer, from its body and its ``results`` object."""
    paths = {
        path: PathLatency(
            write_ms=_stats(result.get("write_ms")),
            read_ms=_stats(result.get("read_ms")),
            error=str(result["error"]) if "error" in result else None,
        )
        for path, result in results.items()
    }
    return LatencyAnswer(identity_of(body), paths)


def throughput_answer(body: Mapping[str, Any], path: str) -> ThroughputAnswer:
    """``/throughput``'s answer for ``path``."""
    results = body.get("results")
    result = results.get(path) if isinstance(results, dict) else None
    if not isinstance(result, dict):
        result = {}
    sizes = result.get("sizes")
    rows = (
        tuple(_size(row) for row in sizes if isinstance(row, dict))
        if isinstance(sizes, list)
        else ()
    )
    error = str(result["error"]) if "error" in result else None
    return ThroughputAnswer(identity_of(body), rows, error)


def append_answer(body: Mapping[str, Any]) -> AppendAnswer:
    """``/append``'s answer (an errors field that is not a list is itself an error)."""
    errors = body.get("errors")
    return AppendAnswer(
        identity=identity_of(body),
        records=as_int(body.get("records")),
        errors=tuple(str(e) for e in errors) if isinstance(errors, list) else ("no error list",),
        seconds=as_float(body.get("seconds")),
        started_epoch=as_float(body.get("started_epoch")),
        finished_epoch=as_float(body.get("finished_epoch")),
    )


def append_check_answer(body: Mapping[str, Any], writers: tuple[str, ...]) -> AppendCheckAnswer:
    """``/append-check``'s answer for the writers asked for."""
    if "error" in body:
        return AppendCheckAnswer(error=str(body["error"]))
    tallies = body.get("writers")
    if not isinstance(tallies, dict):
        tallies = {}
    return AppendCheckAnswer(
        lines=as_int(body.get("lines")),
        torn=as_int(body.get("torn")),
        untracked=as_int(body.get("untracked_records")),
        writers={name: _tally(tallies.get(name)) for name in writers},
    )


def as_int(value: object) -> int | None:
    """An integer from JSON (never a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: object) -> float | None:
    """A number from JSON (never a bool) as a float, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _stats(stats: object) -> dict[str, float]:
    if not isinstance(stats, dict):
        return {}
    numbers = {name: as_float(stats.get(name)) for name in STATS}
    return {name: value for name, value in numbers.items() if value is not None}


def _size(row: Mapping[str, Any]) -> SizeAnswer:
    size = as_int(row.get("size_mib")) or 0
    if "skipped" in row:
        return SizeAnswer(size, {}, False, str(row["skipped"]))
    numbers = {name: as_float(row.get(name)) for name in FIGURES}
    figures = {name: value for name, value in numbers.items() if value is not None}
    return SizeAnswer(size, figures, row.get("checksum_ok") is True)


def _tally(tally: object) -> WriterTally | None:
    if not isinstance(tally, dict):
        return None
    max_seq = tally.get("max_seq")
    # null: none of the writer's records is in the file. Another type makes the tally unusable.
    usable = max_seq is None or as_int(max_seq) is not None
    return WriterTally(
        records=as_int(tally.get("records")) if usable else None,
        lost=as_int(tally.get("lost")),
        duplicated=as_int(tally.get("duplicated")),
        max_seq=as_int(tally.get("max_seq")),
    )
