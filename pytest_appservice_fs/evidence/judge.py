"""Verdicts per matrix cell (a path's marker, the container), with the proof that backs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from pytest_appservice_fs.engine.expectations import CONTAINER, ContainerCell, PathCell
from pytest_appservice_fs.engine.model import (
    ContainerOutcome,
    Event,
    Identity,
    MarkerMatch,
    Observation,
    Outcome,
)
from pytest_appservice_fs.evidence.records import SKIPPED, CellRecord
from pytest_appservice_fs.evidence.verdict import Verdict, as_expected


def judge_path(observation: Observation, cell: PathCell, *, backend: str) -> Verdict:
    """What happened to the marker at ``cell.path``, and why we believe it."""
    observed, checksum_valid, story = _path_outcome(observation, cell.path)
    explanation = (
        f"{cell.hypothesis} {cell.event} {cell.path}: expected {cell.expected.value}, "
        f"observed {observed.value}: {story}"
    )
    return _verdict(
        observation,
        hypothesis=cell.hypothesis,
        path=cell.path,
        expected=cell.expected.value,
        observed=observed.value,
        checksum_valid=checksum_valid,
        explanation=explanation,
        backend=backend,
    )


def judge_container(observation: Observation, cell: ContainerCell, *, backend: str) -> Verdict:
    """What happened to the container that answered before the event (after a scale-in: to
    the surviving instance's container)."""
    if observation.event is Event.SCALE_IN and observation.proven:
        # The cell is about the survivor; the removed instance is in the proof.
        survivor = observation.survivor_before or Identity(None, None)
        observation = replace(observation, instance_before=survivor)
    observed, story = _container_outcome(observation)
    explanation = (
        f"{cell.event} container: expected {cell.expected.value}, observed {observed.value}: "
        f"{story}"
    )
    return _verdict(
        observation,
        hypothesis=cell.hypothesis,
        path=CONTAINER,
        expected=cell.expected.value,
        observed=observed.value,
        checksum_valid="n/a",
        explanation=explanation,
        backend=backend,
    )


def _path_outcome(observation: Observation, path: str) -> tuple[Outcome, str, str]:
    if not observation.proven:
        return Outcome.INCONCLUSIVE, "n/a", f"no proof that the event happened: {observation.error}"
    written = observation.written.get(path)
    if written is not None and written.refused:
        # Not lost and not a probe failure: the path takes no marker (a read-only mount).
        return (
            Outcome.WRITE_REFUSED,
            "n/a",
            f"the file system refused the marker's write at {path}: {written.error} "
            f"({written.errno})",
        )
    if written is None or written.error or written.checksum is None:
        reason = written.error if written else "the probe did not report it"
        return Outcome.INCONCLUSIVE, "n/a", f"no marker was written before the event: {reason}"
    read = observation.read.get(path)
    if read is None or read.error:
        reason = read.error if read else "the probe did not report it"
        return Outcome.INCONCLUSIVE, "n/a", f"the marker could not be read back: {reason}"
    across = observation.event.across_instances
    found, missing = (
        (Outcome.VISIBLE, Outcome.NOT_VISIBLE) if across else (Outcome.PERSISTS, Outcome.LOST)
    )
    writer, reader = observation.instance_before, observation.instance_after
    if across and reader is not None and reader.instance_id == writer.instance_id:
        return (
            Outcome.INCONCLUSIVE,
            "n/a",
            f"the marker was read on the instance that wrote it ({_short(writer.instance_id)}): "
            "the platform removed the other one, so nothing shows another instance's view",
        )
    where = _where(observation.instance_after)
    written_sum = written.checksum[:12]
    if not read.exists:
        return missing, "n/a", f"no marker at {path} {where}; sha256 {written_sum}… was written"
    checksum_valid = "true" if read.checksum_valid else "false"
    match = read.compare(written)
    if match is MarkerMatch.FOREIGN:
        return (
            missing,
            checksum_valid,
            f"the marker at {path} {where} is a leftover, not the one written for this event "
            f"(stored sha256 {str(read.stored_checksum)[:12]}…, written {written_sum}…, "
            f"nonce matches: {read.nonce_matches})",
        )
    if match is MarkerMatch.DAMAGED:
        return (
            Outcome.CORRUPTED,
            checksum_valid,
            f"the marker at {path} {where} was damaged: written sha256 {written_sum}…, "
            f"content now {str(read.actual_checksum)[:12]}…, "
            f"stored checksum now {str(read.stored_checksum)[:12]}…",
        )
    return found, checksum_valid, f"the marker sha256 {written_sum}… was read back intact {where}"


def judge_skipped(
    cell: PathCell | ContainerCell,
    *,
    backend: str,
    run_id: str,
    reason: str,
    facts: Mapping[str, str] | None = None,
) -> Verdict:
    """The verdict of a cell whose event this backend cannot fire: no evidence, a reason (the
    explanation, last); ``skipped``, never passed. Recorded, so that reports show the cell as
    skipped and why, not as missing."""
    record = CellRecord(
        hypothesis=cell.hypothesis,
        event=cell.event.value,
        path=cell.path if isinstance(cell, PathCell) else CONTAINER,
        expected=cell.expected.value,
        observed=SKIPPED,
        checksum_valid="n/a",
        container_before="",
        container_after="",
        container_recreated="unknown",
        instance_before="",
        instance_after="",
        backend=backend,
        run_id=run_id,
        facts={key: value for key, value in (facts or {}).items() if value},
        skip_reason=reason,
        explanation=f"{cell.event} cannot be fired on the {backend} backend: {reason}",
    )
    return Verdict(record, passed=False)


def _container_outcome(observation: Observation) -> tuple[ContainerOutcome, str]:
    before, after = observation.instance_before, observation.instance_after
    if not observation.proven or after is None:
        return (
            ContainerOutcome.INCONCLUSIVE,
            f"no proof that the event happened: {observation.error}",
        )
    if before.hostname is None or after.hostname is None:
        return ContainerOutcome.INCONCLUSIVE, "the probe did not report its container hostname"
    move = f"container {before.hostname} -> {after.hostname}"
    if before.instance_id != after.instance_id:
        return ContainerOutcome.NEW_INSTANCE, (
            f"instance {_short(before.instance_id)} -> {_short(after.instance_id)}, {move}; "
            f"{observation.proof}"
        )
    if before.hostname != after.hostname:
        return ContainerOutcome.RECREATED, f"{move} on the same instance; {observation.proof}"
    return ContainerOutcome.KEPT, f"{move} (same container); {observation.proof}"


def _verdict(
    observation: Observation,
    *,
    hypothesis: str,
    path: str,
    expected: str,
    observed: str,
    checksum_valid: str,
    explanation: str,
    backend: str,
) -> Verdict:
    before, after = observation.instance_before, observation.instance_after
    record = CellRecord(
        hypothesis=hypothesis,
        event=observation.event.value,
        path=path,
        expected=expected,
        observed=observed,
        checksum_valid=checksum_valid,
        container_before=before.hostname or "",
        container_after=after.hostname or "" if after else "",
        container_recreated=_recreated(before, after),
        instance_before=before.instance_id or "",
        instance_after=after.instance_id or "" if after else "",
        backend=backend,
        run_id=observation.run_id,
        facts={key: value for key, value in observation.facts.items() if value},
        event_detail=observation.detail,
        mount=observation.mounts.get(path, {}),
        event_seconds=observation.event_seconds,
        ready_seconds=observation.ready_seconds,
        process_before=_process(before),
        process_after=_process(after),
        process_restarted=_restarted(before, after),
        trigger_count=observation.trigger_count,
        proof=observation.proof or f"not proven: {observation.error}",
        nonce=observation.nonce,
        explanation=explanation,
    )
    return Verdict(record, passed=as_expected(record))


def _process(identity: Identity | None) -> str | None:
    """The probe process as evidence, or None where the probe does not report it."""
    if identity is None or identity.process_key is None:
        return None
    return f"pid {identity.pid}, started {identity.process_start}"


def _restarted(before: Identity, after: Identity | None) -> bool | None:
    """Whether another probe process answered after the event; None when unknown."""
    if after is None or before.process_key is None or after.process_key is None:
        return None
    return before.process_key != after.process_key


def _recreated(before: Identity, after: Identity | None) -> str:
    if after is None or before.hostname is None or after.hostname is None:
        return "unknown"
    return "true" if before.hostname != after.hostname else "false"


def _where(identity: Identity | None) -> str:
    if identity is None:
        return ""
    return f"in container {identity.hostname} (instance {_short(identity.instance_id)})"


def _short(instance_id: str | None) -> str:
    return f"{instance_id[:12]}…" if instance_id else "unknown"
