"""H4, concurrent appends: two instances append numbered records to one /home file at once.

Each instance runs one probe ``/append`` (pinned to it); the requests leave together, and the
probe reports when each wrote, so the overlap is proven rather than assumed. ``/append-check``
then counts every writer's records in the file: lost, duplicated, and lines torn by writes
that interleaved. App Service mounts /home over CIFS with ``nobrl``: ``flock`` is granted
locally, so whether it orders two instances is what is measured.

When the file the first instance holds shows damage, the file is also read on each writer's
own instance: if each writer's records are all there and only there, the instances do not
share /home (App Service storage off) and the outcome is ``not_shared``, never ``damaged``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_appservice_fs.contract import FILE_NAME_MAX, NAME_CHARACTERS
from pytest_appservice_fs.engine.model import AppendOutcome
from pytest_appservice_fs.engine.probe_client import ProbeError
from pytest_appservice_fs.evidence.records import AppendRecord, WriterRecord, measurement_head
from pytest_appservice_fs.evidence.verdict import Verdict, as_expected

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.engine.expectations import AppendCell
    from pytest_appservice_fs.engine.probe_answers import (
        AppendAnswer,
        AppendCheckAnswer,
        WriterTally,
    )
    from pytest_appservice_fs.engine.probe_client import ProbeClient

#: How long a writer waits for the others before its request leaves anyway.
START_TIMEOUT = 60.0
#: Time allowed per record on top of the client's request timeout: one write and one fsync,
#: 60-150 ms on Azure's /home share (the lab's latency), with room to spare.
SECONDS_PER_RECORD = 0.5
#: Whatever the probe's names may not hold, removed from the parts of a file or writer name.
_UNSAFE = re.compile(f"[^{NAME_CHARACTERS}]")


@dataclass(frozen=True)
class WriterResult:
    """One writer: its instance, what its ``/append`` answered, and its tally in the file."""

    name: str
    instance_id: str
    hostname: str = ""
    #: The instance id in the answer (the pinned client retries until it is the asked one).
    answered_by: str = ""
    appended: int | None = None
    errors: tuple[str, ...] = ()
    seconds: float | None = None
    #: Wall clock of the request as the harness saw it.
    request_seconds: float | None = None
    started_epoch: float | None = None
    finished_epoch: float | None = None
    #: Why the request gave no answer.
    failure: str | None = None
    records_found: int | None = None
    #: Sequence numbers from 0 to records - 1 that are not in the file.
    lost: int | None = None
    duplicated: int | None = None
    #: Sequence numbers at or past the records asked for (never written by this writer).
    beyond: int | None = None


@dataclass(frozen=True)
class AppendMeasurement:
    """Two or more writers' appends to one file, and the file's count afterwards."""

    path: str
    file: str
    lock: str
    records: int
    writers: tuple[WriterResult, ...] = ()
    lines: int | None = None
    torn: int | None = None
    untracked: int | None = None
    #: Longest time every writer was writing at once, from the probes' clocks.
    overlap_seconds: float | None = None
    #: Why nothing (or not everything) could be measured.
    error: str | None = None
    #: Each writer's records were found whole in the file on its own instance and on no
    #: other (the counts above are then each writer's on its own instance).
    not_shared: bool = False


def append_file(lock: str, run_id: str) -> str:
    """The file H4 appends to, one per lock mode and run (a name the probe accepts)."""
    return f"h4-{_UNSAFE.sub('', lock)}-{_UNSAFE.sub('', run_id)}.log"[:FILE_NAME_MAX]


def writer_name(index: int, instance_id: str) -> str:
    """A writer's name: its position and the start of its instance id, as ``w0-1a2b3c4d``."""
    return f"w{index}-{_UNSAFE.sub('', instance_id)[:8]}"


def not_measured(
    *, path: str, lock: str, records: int, file: str, reason: str
) -> AppendMeasurement:
    """A measurement that could not start, such as when a second instance never answered."""
    return AppendMeasurement(path, file, lock, records, error=reason)


def measure_appends(
    backend: Backend,
    instances: Sequence[str],
    *,
    path: str,
    lock: str,
    records: int,
    file: str,
) -> AppendMeasurement:
    """Append ``records`` records from every instance at once, count them, remove the file."""
    instances = list(dict.fromkeys(instances))
    if len(instances) < 2:
        reason = f"H4 needs two instances; the app has {len(instances)}"
        return not_measured(path=path, lock=lock, records=records, file=file, reason=reason)
    base = AppendMeasurement(path, file, lock, records)
    names = [writer_name(index, instance) for index, instance in enumerate(instances)]
    # One client pinned to each writer's instance: where /home is not shared, each instance
    # has a file of its own to reset, check and remove.
    probes = [backend.probe(instance) for instance in instances]
    try:
        for probe in probes:
            problem = probe.append_reset(path=path, file=file)
            if problem is not None:
                return replace(base, error=f"the file could not be reset: {problem}")
        writers = _append_at_once(probes, names, path=path, lock=lock, records=records, file=file)
        measured = replace(base, writers=writers, overlap_seconds=_overlap(writers))
        return _count(probes, measured)
    except ProbeError as exc:
        return replace(base, error=str(exc))
    finally:
        # Always, so a failed run leaves no file that a later one could count.
        for probe in probes:
            with contextlib.suppress(ProbeError):
                probe.append_reset(path=path, file=file)


def judge_appends(
    measurement: AppendMeasurement,
    cell: AppendCell,
    *,
    backend: str,
    run_id: str,
    facts: Mapping[str, str],
) -> Verdict:
    """Intact, damaged or inconclusive, with the counts; passed when proven and as expected
    (an ``observe`` cell: whenever it was measured)."""
    observed, story = _outcome(measurement)
    where = f"H4 lock={measurement.lock} on {measurement.path}"
    explanation = (
        f"{where}: expected {cell.expected.value}, observed {observed.value}: {story}"
        f"{_instances(measurement)}"
    )
    head = measurement.writers[0] if measurement.writers else WriterResult("", "")
    record = AppendRecord(
        **measurement_head(
            hypothesis=cell.hypothesis,
            path=measurement.path,
            observed=observed.value,
            checksum_valid="n/a",
            instance_id=head.instance_id,
            hostname=head.hostname,
            backend=backend,
            run_id=run_id,
            facts=facts,
            expected=cell.expected.value,
        ),
        lock=measurement.lock,
        append_file=measurement.file,
        records_per_writer=measurement.records,
        writers=tuple(
            WriterRecord(
                name=w.name,
                instance_id=w.instance_id,
                hostname=w.hostname,
                appended=w.appended,
                records_found=w.records_found,
                lost=w.lost,
                duplicated=w.duplicated,
                seconds=w.seconds,
            )
            for w in measurement.writers
        ),
        lines=measurement.lines,
        torn_lines=measurement.torn,
        untracked_records=measurement.untracked,
        overlap_seconds=measurement.overlap_seconds,
        explanation=explanation,
    )
    return Verdict(record, passed=as_expected(record))


def _append_at_once(
    probes: Sequence[ProbeClient],
    names: Sequence[str],
    *,
    path: str,
    lock: str,
    records: int,
    file: str,
) -> tuple[WriterResult, ...]:
    # A barrier, so that no request leaves before every thread is ready to send its own.
    start = threading.Barrier(len(probes))

    def run(index: int) -> WriterResult:
        probe, name = probes[index], names[index]
        instance = probe.instance_id or ""
        # Should another writer never get here, this one still runs: the overlap will tell.
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=START_TIMEOUT)
        sent = time.monotonic()
        try:
            # Never retried: a repeated append would append the records twice. The deadline
            # grows with the records (an fsync per record: 60-150 ms each on Azure's share).
            answer = probe.append(
                path=path,
                file=file,
                writer=name,
                records=records,
                lock=lock,
                timeout=probe.request_timeout + records * SECONDS_PER_RECORD,
            )
        except ProbeError as exc:
            return WriterResult(name, instance, failure=str(exc))
        return _writer(name, instance, answer, time.monotonic() - sent)

    with ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="h4-writer") as pool:
        return tuple(pool.map(run, range(len(probes))))


def _writer(name: str, instance: str, answer: AppendAnswer, elapsed: float) -> WriterResult:
    return WriterResult(
        name=name,
        instance_id=instance,
        hostname=answer.identity.hostname or "",
        answered_by=answer.identity.instance_id or "",
        appended=answer.records,
        errors=answer.errors,
        seconds=answer.seconds,
        request_seconds=round(elapsed, 6),
        started_epoch=answer.started_epoch,
        finished_epoch=answer.finished_epoch,
    )


def _overlap(writers: Sequence[WriterResult]) -> float | None:
    starts = [w.started_epoch for w in writers]
    ends = [w.finished_epoch for w in writers]
    if not writers or None in starts or None in ends:
        return None
    return round(min(e for e in ends if e is not None) - max(s for s in starts if s is not None), 6)


def _count(probes: Sequence[ProbeClient], measurement: AppendMeasurement) -> AppendMeasurement:
    """Add /append-check's tallies, from the first writer's instance, to every writer that
    answered; where they show damage, the file on each writer's own instance tells whether
    the instances share it at all."""
    if any(w.failure for w in measurement.writers):
        return measurement  # judged inconclusive whatever the file holds
    names = [w.name for w in measurement.writers]
    check = probes[0].append_check(path=measurement.path, file=measurement.file, writers=names)
    if check.error is not None:
        return replace(measurement, error=f"the file could not be checked: {check.error}")
    counted = _with_tallies(measurement, check)
    if not _damaged(counted):
        return counted
    own = [check] + [
        probe.append_check(path=measurement.path, file=measurement.file, writers=names)
        for probe in probes[1:]
    ]
    return _each_on_its_own(measurement, own) or counted


def _with_tallies(measurement: AppendMeasurement, check: AppendCheckAnswer) -> AppendMeasurement:
    writers = tuple(
        _tallied(w, check.writers.get(w.name), measurement.records) for w in measurement.writers
    )
    return replace(
        measurement, writers=writers, lines=check.lines, torn=check.torn, untracked=check.untracked
    )


def _each_on_its_own(
    measurement: AppendMeasurement, checks: Sequence[AppendCheckAnswer]
) -> AppendMeasurement | None:
    """The measurement with each writer counted on its own instance, marked ``not_shared``,
    when every writer's records are all in the file on its own instance, whole, and in no
    other instance's file; else None (the records are split some other way: damage)."""
    writers = []
    for index, (writer, check) in enumerate(zip(measurement.writers, checks, strict=True)):
        if check.error is not None or check.torn or check.untracked:
            return None
        tallies = [check.writers.get(w.name) for w in measurement.writers]
        if any(t and t.records for i, t in enumerate(tallies) if i != index):
            return None  # another writer's records are here too: the file is shared
        own = _tallied(writer, tallies[index], measurement.records)
        if own.records_found != measurement.records or _damaged_writer(own):
            return None
        writers.append(own)
    return replace(
        measurement,
        writers=tuple(writers),
        lines=sum(check.lines or 0 for check in checks),
        torn=0,
        untracked=0,
        not_shared=True,
    )


def _damaged(m: AppendMeasurement) -> bool:
    return bool(m.torn) or any(_damaged_writer(w) for w in m.writers)


def _damaged_writer(writer: WriterResult) -> bool:
    return bool(writer.lost or writer.duplicated or writer.beyond)


def _tallied(writer: WriterResult, tally: WriterTally | None, records: int) -> WriterResult:
    if tally is None:
        return replace(writer, records_found=0, lost=records, duplicated=0, beyond=0)
    found, gaps = tally.records, tally.lost
    # No max_seq: none of the writer's records is in the file.
    top = -1 if tally.max_seq is None else tally.max_seq
    if found is None or gaps is None:
        return writer
    # The probe counts gaps below the highest number seen; records missing at the end (a
    # writer whose last appends vanished) are gaps too, up to the records asked for.
    distinct = top + 1 - gaps
    return replace(
        writer,
        records_found=found,
        lost=max(0, records - distinct) if top < records else gaps,
        duplicated=tally.duplicated,
        beyond=max(0, top + 1 - records),
    )


def _outcome(m: AppendMeasurement) -> tuple[AppendOutcome, str]:
    inconclusive = AppendOutcome.INCONCLUSIVE
    if m.error:
        return inconclusive, m.error
    problem = _unmeasured(m)
    if problem:
        return inconclusive, problem
    if m.untracked:
        return inconclusive, (
            f"{m.untracked} records of other writers were in the file, so it was not this "
            "test's alone"
        )
    if m.not_shared:
        return AppendOutcome.NOT_SHARED, (
            f"{len(m.writers)} writers x {m.records} records, each writer's records found "
            "whole in the file on its own instance and in no other: the instances do not "
            "share /home, so nothing was damaged"
        )
    counts = _counts(m)
    if _damaged(m):
        return AppendOutcome.DAMAGED, counts
    # Damage shows whenever it happened; intact means something only if the writes overlapped.
    if m.overlap_seconds is None:
        return inconclusive, f"{counts}, but the probe did not report when it wrote"
    if m.overlap_seconds <= 0:
        return inconclusive, (
            f"{counts}, but the writes did not overlap in time (one ended "
            f"{abs(m.overlap_seconds):.3f} s before the other began)"
        )
    return AppendOutcome.INTACT, f"{counts}, writing at once for {m.overlap_seconds:.3f} s"


def _unmeasured(m: AppendMeasurement) -> str | None:
    """Why the counts cannot be trusted, or None."""
    for writer in m.writers:
        if writer.failure:
            return f"writer {writer.name} got no answer: {writer.failure}"
        if writer.errors:
            shown = "; ".join(writer.errors[:3])
            return f"writer {writer.name} reported {len(writer.errors)} errors: {shown}"
        if writer.appended != m.records:
            return f"writer {writer.name} appended {writer.appended} of {m.records} records"
    answered = [w.answered_by for w in m.writers]
    if len(set(answered)) < len(answered) or answered != [w.instance_id for w in m.writers]:
        shown = ", ".join(_short(a) for a in answered)
        return f"the writers were answered by instances {shown}, not each by its own"
    if any(w.records_found is None for w in m.writers) or m.lines is None or m.torn is None:
        return "the check did not report every writer's counts"
    return None


def _counts(m: AppendMeasurement) -> str:
    lost = sum(w.lost or 0 for w in m.writers)
    duplicated = sum(w.duplicated or 0 for w in m.writers)
    text = (
        f"{len(m.writers)} writers x {m.records} records: {lost} lost, {duplicated} duplicated, "
        f"{m.torn} torn lines"
    )
    beyond = sum(w.beyond or 0 for w in m.writers)
    return text + (f", {beyond} numbered past {m.records - 1}" if beyond else "")


def _instances(m: AppendMeasurement) -> str:
    if not m.writers:
        return ""
    return " (instances " + ", ".join(_short(w.instance_id) for w in m.writers) + ")"


def _short(instance_id: str) -> str:
    return f"{instance_id[:12]}…" if len(instance_id) > 12 else (instance_id or "?")
