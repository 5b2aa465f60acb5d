"""Verdicts from hand-built observations: every outcome, and the proof as JUnit properties."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pytest_appservice_fs.engine.expectations import (
    HOME,
    LAB_MATRIX,
    LIFECYCLE,
    TMP,
    ContainerCell,
    PathCell,
)
from pytest_appservice_fs.engine.model import (
    ContainerOutcome,
    Event,
    Identity,
    MarkerRead,
    MarkerWrite,
    Observation,
    Outcome,
)
from pytest_appservice_fs.evidence.judge import judge_container, judge_path
from pytest_appservice_fs.evidence.records import REQUIRED_PROPERTIES

INSTANCE_A = "a" * 64
INSTANCE_B = "b" * 64
WRITTEN_SUM = "1" * 64
OTHER_SUM = "2" * 64
BEFORE = Identity(INSTANCE_A, "aaaaaaaaaaaa", pid=10, process_start="t0", deployment_id="d1")
SAME_CONTAINER = Identity(INSTANCE_A, "aaaaaaaaaaaa", pid=11, process_start="t1")
NEW_CONTAINER = Identity(INSTANCE_A, "cccccccccccc", pid=12, process_start="t2")
NEW_INSTANCE = Identity(INSTANCE_B, "dddddddddddd", pid=13, process_start="t3")


def _intact(path: str = TMP, **changes: Any) -> MarkerRead:
    read = MarkerRead(
        path,
        exists=True,
        checksum_valid=True,
        stored_checksum=WRITTEN_SUM,
        actual_checksum=WRITTEN_SUM,
        nonce_matches=True,
    )
    return replace(read, **changes)


def _observation(
    event: Event = Event.RESTART,
    *,
    path: str = TMP,
    written: MarkerWrite | None = None,
    read: MarkerRead | None = None,
    **changes: Any,
) -> Observation:
    observation = Observation(
        event=event,
        run_id="run-1",
        nonce="nonce-1",
        trigger_count=1,
        instance_before=BEFORE,
        instance_after=SAME_CONTAINER,
        written={path: written or MarkerWrite(path, checksum=WRITTEN_SUM)},
        read={path: read or _intact(path)},
        proven=True,
        proof="new probe process: started t0 (pid 10) -> t1 (pid 11)",
    )
    return replace(observation, **changes)


def _cell(
    event: Event = Event.RESTART, path: str = TMP, expected: Outcome = Outcome.PERSISTS
) -> PathCell:
    return PathCell("H2", event, path, expected)


def _props(verdict: Any) -> dict[str, str]:
    return dict(verdict.properties)


# --- path outcomes -----------------------------------------------------------------------


def test_intact_marker_persists() -> None:
    """Our marker read back with a valid checksum persists, and the verdict passes."""
    verdict = judge_path(_observation(), _cell(), backend="fake")
    assert verdict.observed == "persists"
    assert verdict.expected == "persists"
    assert verdict.passed is True
    assert _props(verdict)["checksum_valid"] == "true"
    assert "read back intact" in verdict.explanation


def test_missing_marker_is_lost() -> None:
    """No file at the path after the event: lost, and a persists expectation fails."""
    observation = _observation(read=MarkerRead(TMP, exists=False))
    verdict = judge_path(observation, _cell(), backend="fake")
    assert verdict.observed == "lost"
    assert verdict.passed is False
    assert _props(verdict)["checksum_valid"] == "n/a"
    assert f"no marker at {TMP}" in verdict.explanation
    assert WRITTEN_SUM[:12] in verdict.explanation


def test_missing_marker_lost_as_expected_passes() -> None:
    """A lost marker where loss is expected passes."""
    observation = _observation(Event.DEPLOY, read=MarkerRead(TMP, exists=False))
    verdict = judge_path(observation, _cell(Event.DEPLOY, expected=Outcome.LOST), backend="fake")
    assert (verdict.observed, verdict.passed) == ("lost", True)


def test_leftover_marker_with_other_checksum_is_lost() -> None:
    """A valid marker whose stored checksum is not the one written is a leftover: lost."""
    read = _intact(stored_checksum=OTHER_SUM, actual_checksum=OTHER_SUM, nonce_matches=None)
    verdict = judge_path(_observation(read=read), _cell(), backend="fake")
    assert verdict.observed == "lost"
    assert _props(verdict)["checksum_valid"] == "true"
    assert "leftover" in verdict.explanation
    assert OTHER_SUM[:12] in verdict.explanation


def test_leftover_marker_with_wrong_nonce_is_lost() -> None:
    """Even with the written checksum stored, a nonce mismatch makes the marker a leftover."""
    read = _intact(nonce_matches=False)
    verdict = judge_path(_observation(read=read), _cell(), backend="fake")
    assert verdict.observed == "lost"
    assert "nonce matches: False" in verdict.explanation


def test_lab_probe_without_nonce_check_relies_on_checksum() -> None:
    """A probe that cannot check nonces (None) still counts the written checksum as ours."""
    read = _intact(nonce_matches=None)
    verdict = judge_path(_observation(read=read), _cell(), backend="fake")
    assert verdict.observed == "persists"


def test_our_marker_with_bad_checksum_is_corrupted() -> None:
    """Our stored checksum but content that no longer matches it: corrupted."""
    read = _intact(checksum_valid=False, actual_checksum=OTHER_SUM)
    verdict = judge_path(_observation(read=read), _cell(), backend="fake")
    assert verdict.observed == "corrupted"
    assert verdict.passed is False
    assert _props(verdict)["checksum_valid"] == "false"
    assert OTHER_SUM[:12] in verdict.explanation


def test_scale_out_marker_found_is_visible() -> None:
    """After scale-out, our marker read on the new instance is visible."""
    observation = _observation(Event.SCALE_OUT, path=HOME, instance_after=NEW_INSTANCE)
    cell = PathCell("H3", Event.SCALE_OUT, HOME, Outcome.VISIBLE)
    verdict = judge_path(observation, cell, backend="fake")
    assert (verdict.observed, verdict.passed) == ("visible", True)
    assert "dddddddddddd" in verdict.explanation


def test_scale_out_marker_missing_is_not_visible() -> None:
    """After scale-out, no marker on the new instance is not_visible."""
    observation = _observation(
        Event.SCALE_OUT, read=MarkerRead(TMP, exists=False), instance_after=NEW_INSTANCE
    )
    cell = PathCell("H3", Event.SCALE_OUT, TMP, Outcome.NOT_VISIBLE)
    verdict = judge_path(observation, cell, backend="fake")
    assert (verdict.observed, verdict.passed) == ("not_visible", True)


def test_scale_out_leftover_is_not_visible() -> None:
    """After scale-out, a stale marker on the new instance is not_visible, not visible."""
    read = _intact(nonce_matches=False, stored_checksum=OTHER_SUM, actual_checksum=OTHER_SUM)
    observation = _observation(Event.SCALE_OUT, read=read, instance_after=NEW_INSTANCE)
    verdict = judge_path(observation, _cell(Event.SCALE_OUT, expected=Outcome.VISIBLE), backend="x")
    assert verdict.observed == "not_visible"


def test_unproven_event_is_inconclusive() -> None:
    """Without proof that the event happened, even an intact marker is inconclusive and fails."""
    observation = _observation(proven=False, proof="", error="restart not proven within 1 s")
    verdict = judge_path(observation, _cell(), backend="fake")
    assert verdict.observed == "inconclusive"
    assert verdict.passed is False
    assert "no proof that the event happened: restart not proven within 1 s" in (
        verdict.explanation
    )
    assert _props(verdict)["proof"] == "not proven: restart not proven within 1 s"
    assert _props(verdict)["checksum_valid"] == "n/a"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        (MarkerWrite(TMP, error="PermissionError: denied"), "PermissionError: denied"),
        (MarkerWrite(TMP), "None"),
        (None, "the probe did not report it"),
    ],
    ids=["error", "no-checksum", "missing"],
)
def test_failed_write_is_inconclusive(written: MarkerWrite | None, reason: str) -> None:
    """No marker written before the event (error, no checksum, not reported): inconclusive."""
    observation = _observation()
    observation = replace(observation, written={TMP: written} if written else {})
    verdict = judge_path(observation, _cell(), backend="fake")
    assert verdict.observed == "inconclusive"
    assert verdict.passed is False
    assert f"no marker was written before the event: {reason}" in verdict.explanation


@pytest.mark.parametrize(
    ("read", "reason"),
    [(MarkerRead(TMP, error="OSError: I/O error"), "OSError: I/O error"), (None, "not report")],
    ids=["error", "missing"],
)
def test_failed_read_is_inconclusive(read: MarkerRead | None, reason: str) -> None:
    """A marker that could not be read back (error or not reported) is inconclusive."""
    observation = replace(_observation(), read={TMP: read} if read else {})
    verdict = judge_path(observation, _cell(), backend="fake")
    assert verdict.observed == "inconclusive"
    assert "the marker could not be read back" in verdict.explanation
    assert reason in verdict.explanation


def test_inconclusive_never_passes_even_when_expected() -> None:
    """A cell that somehow expects inconclusive still fails on an inconclusive observation."""
    observation = _observation(proven=False, error="nothing")
    cell = PathCell("H2", Event.RESTART, TMP, Outcome.INCONCLUSIVE)
    verdict = judge_path(observation, cell, backend="fake")
    assert verdict.expected == verdict.observed == "inconclusive"
    assert verdict.passed is False
    container = judge_container(
        observation, ContainerCell(Event.RESTART, ContainerOutcome.INCONCLUSIVE), backend="fake"
    )
    assert container.expected == container.observed == "inconclusive"
    assert container.passed is False


# --- properties --------------------------------------------------------------------------


def test_required_properties_come_first_in_order() -> None:
    """The 13 required properties open the list, in DESIGN.md's order, with their values."""
    observation = _observation(instance_after=NEW_CONTAINER)
    verdict = judge_path(observation, _cell(), backend="fake")
    names = [name for name, _ in verdict.properties]
    assert tuple(names[: len(REQUIRED_PROPERTIES)]) == REQUIRED_PROPERTIES
    assert len(names) == len(set(names))
    assert verdict.properties[: len(REQUIRED_PROPERTIES)] == (
        ("hypothesis", "H2"),
        ("event", "restart"),
        ("path", TMP),
        ("expected", "persists"),
        ("observed", "persists"),
        ("checksum_valid", "true"),
        ("container_before", "aaaaaaaaaaaa"),
        ("container_after", "cccccccccccc"),
        ("container_recreated", "true"),
        ("instance_before", INSTANCE_A),
        ("instance_after", INSTANCE_A),
        ("backend", "fake"),
        ("run_id", "run-1"),
    )


def test_required_properties_match_design() -> None:
    """REQUIRED_PROPERTIES is the list of DESIGN.md section 4."""
    assert REQUIRED_PROPERTIES == (
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


def test_optional_properties_when_known() -> None:
    """Facts, timings, the probe process before and after, trigger count, proof and nonce
    follow the required properties."""
    observation = _observation(
        event_seconds=1.23456,
        ready_seconds=7.5,
        trigger_count=1,
        facts={"sku": "B1", "region": "koreacentral", "empty": ""},
    )
    verdict = judge_path(observation, _cell(), backend="azure")
    extra = verdict.properties[len(REQUIRED_PROPERTIES) :]
    assert [name for name, _ in extra] == [
        "region",
        "sku",
        "event_seconds",
        "ready_seconds",
        "process_before",
        "process_after",
        "process_restarted",
        "trigger_count",
        "proof",
        "nonce",
        "explanation",
    ]
    props = _props(verdict)
    assert props["process_before"] == "pid 10, started t0"
    assert props["process_after"] == "pid 11, started t1"
    assert props["process_restarted"] == "true"
    assert props["region"] == "koreacentral"
    assert props["sku"] == "B1"
    assert props["event_seconds"] == "1.235"
    assert props["ready_seconds"] == "7.500"
    assert props["trigger_count"] == "1"
    assert props["proof"] == "new probe process: started t0 (pid 10) -> t1 (pid 11)"
    assert props["nonce"] == "nonce-1"
    assert props["explanation"] == verdict.explanation
    assert props["backend"] == "azure"


def test_timings_absent_when_unknown() -> None:
    """Without timings or facts, no event_seconds, ready_seconds, region or sku property."""
    names = {name for name, _ in judge_path(_observation(), _cell(), backend="fake").properties}
    assert names.isdisjoint({"event_seconds", "ready_seconds", "region", "sku"})


def test_properties_without_instance_after() -> None:
    """An unproven observation with no identity after the event has empty after-properties."""
    observation = _observation(proven=False, instance_after=None, error="boom")
    props = _props(judge_path(observation, _cell(), backend="fake"))
    assert props["container_after"] == ""
    assert props["instance_after"] == ""
    assert props["container_recreated"] == "unknown"


# --- container outcomes ------------------------------------------------------------------


def _container_cell(event: Event) -> ContainerCell:
    cell = LAB_MATRIX.container_cells([event])[0]
    assert cell.hypothesis == LIFECYCLE
    return cell


def test_same_hostname_is_kept() -> None:
    """Same instance and hostname after restart: kept, as the lab expects."""
    verdict = judge_container(_observation(), _container_cell(Event.RESTART), backend="fake")
    assert (verdict.observed, verdict.passed) == ("kept", True)
    props = _props(verdict)
    assert props["path"] == "container"
    assert props["checksum_valid"] == "n/a"
    assert props["container_recreated"] == "false"
    assert props["hypothesis"] == "lifecycle"


def test_new_hostname_same_instance_is_recreated() -> None:
    """A new hostname on the same instance: recreated."""
    observation = _observation(Event.STOP_START, instance_after=NEW_CONTAINER)
    verdict = judge_container(observation, _container_cell(Event.STOP_START), backend="fake")
    assert (verdict.observed, verdict.passed) == ("recreated", True)
    assert "container aaaaaaaaaaaa -> cccccccccccc on the same instance" in verdict.explanation


def test_other_instance_is_new_instance() -> None:
    """Another instance id after scale-out: new_instance."""
    observation = _observation(Event.SCALE_OUT, instance_after=NEW_INSTANCE)
    verdict = judge_container(observation, _container_cell(Event.SCALE_OUT), backend="fake")
    assert (verdict.observed, verdict.passed) == ("new_instance", True)
    assert _props(verdict)["instance_after"] == INSTANCE_B


def test_kept_container_fails_where_recreation_expected() -> None:
    """A kept container on deploy fails the lab's 'recreated' expectation."""
    observation = _observation(Event.DEPLOY)
    verdict = judge_container(observation, _container_cell(Event.DEPLOY), backend="fake")
    assert (verdict.expected, verdict.observed, verdict.passed) == ("recreated", "kept", False)


@pytest.mark.parametrize(
    "changes",
    [
        {"proven": False, "error": "not proven"},
        {"instance_after": None},
        {"instance_after": Identity(INSTANCE_A, None)},
        {"instance_before": Identity(INSTANCE_A, None)},
    ],
    ids=["unproven", "no-after", "no-hostname-after", "no-hostname-before"],
)
def test_container_inconclusive(changes: dict[str, Any]) -> None:
    """Unproven, or without hostnames on both sides: the container outcome is inconclusive."""
    observation = _observation(**changes)
    verdict = judge_container(observation, _container_cell(Event.RESTART), backend="fake")
    assert verdict.observed == "inconclusive"
    assert verdict.passed is False


def test_garbled_marker_with_our_checksum_is_corrupted_not_a_leftover() -> None:
    """Content no longer JSON (so no nonce can match) beside our checksum file: corrupted."""
    read = _intact(checksum_valid=False, actual_checksum=OTHER_SUM, nonce_matches=False)
    verdict = judge_path(_observation(read=read), _cell(), backend="fake")
    assert verdict.observed == "corrupted"
    assert "damaged" in verdict.explanation


def test_intact_marker_with_damaged_checksum_file_is_corrupted() -> None:
    """Our exact content beside a checksum file that changed: corrupted, not persists."""
    read = _intact(checksum_valid=False, stored_checksum=OTHER_SUM)
    verdict = judge_path(_observation(read=read), _cell(), backend="fake")
    assert verdict.observed == "corrupted"
    assert verdict.passed is False


def test_an_observe_cell_records_what_was_seen_without_a_verdict() -> None:
    """Expected 'observe': whatever was seen passes and is recorded; no proof still fails."""
    cell = _cell(expected=Outcome.OBSERVE)
    lost = judge_path(_observation(read=MarkerRead(TMP, exists=False)), cell, backend="fake")
    assert (lost.expected, lost.observed, lost.passed) == ("observe", "lost", True)
    kept = judge_path(_observation(read=_intact()), cell, backend="fake")
    assert (kept.observed, kept.passed) == ("persists", True)
    unproven = judge_path(_observation(proven=False, error="not proven"), cell, backend="fake")
    assert (unproven.observed, unproven.passed) == ("inconclusive", False)
