"""Every sentence and property a judge writes, pinned whole, branch by branch.

A verdict is read by people: a word added to, dropped from or changed in an explanation is a
change of evidence, and the mutation run of the verdict code (scripts/mutation.sh) showed
that only a few of them were pinned. The values are today's, read and checked by hand.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pytest_appservice_fs.engine.expectations import TMP, ContainerCell, PathCell
from pytest_appservice_fs.engine.model import (
    ContainerOutcome,
    Event,
    Identity,
    MarkerRead,
    MarkerWrite,
    Outcome,
)
from pytest_appservice_fs.evidence.judge import judge_container, judge_path, judge_skipped
from pytest_appservice_fs.measurements.latency import (
    InstanceLatency,
    LatencyMeasurement,
    judge_latency,
)
from tests.test_verdict_gaps import BEFORE, INSTANCE_A, _observation

WRITTEN = {TMP: MarkerWrite(TMP, checksum="1" * 64)}
H2 = PathCell("H2", Event.RESTART, TMP, Outcome.PERSISTS)
HEAD = "H2 restart /tmp/data: expected persists, observed"
WHERE = "in container host-b (instance bbbbbbbbbbbb…)"


def _read(**fields: Any) -> dict[str, MarkerRead]:
    return {TMP: MarkerRead(TMP, **fields)}


@pytest.mark.parametrize(
    ("read", "observed", "checksum_valid", "story"),
    [
        (
            {},
            "inconclusive",
            "n/a",
            "the marker could not be read back: the probe did not report it",
        ),
        (_read(error="EIO"), "inconclusive", "n/a", "the marker could not be read back: EIO"),
        (
            _read(exists=False),
            "lost",
            "n/a",
            f"no marker at /tmp/data {WHERE}; sha256 111111111111… was written",
        ),
        (
            _read(
                exists=True,
                checksum_valid=True,
                stored_checksum="2" * 64,
                actual_checksum="2" * 64,
                nonce_matches=False,
            ),
            "lost",
            "true",
            f"the marker at /tmp/data {WHERE} is a leftover, not the one written for this event "
            "(stored sha256 222222222222…, written 111111111111…, nonce matches: False)",
        ),
        (
            _read(
                exists=True,
                checksum_valid=False,
                stored_checksum="1" * 64,
                actual_checksum="3" * 64,
                nonce_matches=True,
            ),
            "corrupted",
            "false",
            f"the marker at /tmp/data {WHERE} was damaged: written sha256 111111111111…, "
            "content now 333333333333…, stored checksum now 111111111111…",
        ),
        (
            _read(
                exists=True,
                checksum_valid=True,
                stored_checksum="1" * 64,
                actual_checksum="1" * 64,
                nonce_matches=True,
            ),
            "persists",
            "true",
            f"the marker sha256 111111111111… was read back intact {WHERE}",
        ),
    ],
    ids=["not-reported", "read-error", "gone", "leftover", "damaged", "intact"],
)
def test_each_path_outcome_says_exactly_why(
    read: dict[str, MarkerRead], observed: str, checksum_valid: str, story: str
) -> None:
    """The outcome, checksum_valid and the whole explanation of each branch."""
    verdict = judge_path(_observation(Event.RESTART, written=WRITTEN, read=read), H2, backend="x")
    assert verdict.observed == observed
    assert dict(verdict.properties)["checksum_valid"] == checksum_valid
    assert verdict.explanation == f"{HEAD} {observed}: {story}"


def test_a_marker_read_by_its_writer_across_instances_says_exactly_why() -> None:
    """Scale-out read on the writer: inconclusive, n/a, and the whole sentence."""
    cell = PathCell("H3", Event.SCALE_OUT, TMP, Outcome.NOT_VISIBLE)
    observation = _observation(
        Event.SCALE_OUT, written=WRITTEN, read=_read(exists=False), instance_after=BEFORE
    )
    verdict = judge_path(observation, cell, backend="x")
    assert dict(verdict.properties)["checksum_valid"] == "n/a"
    assert verdict.explanation == (
        "H3 scale_out /tmp/data: expected not_visible, observed inconclusive: the marker was "
        "read on the instance that wrote it (aaaaaaaaaaaa…): the platform removed the other "
        "one, so nothing shows another instance's view"
    )


def test_an_answer_without_instance_or_container_is_recorded_as_unknown() -> None:
    """A reader that names no instance or container: empty properties, 'unknown' in words."""
    observation = _observation(
        Event.RESTART,
        written=WRITTEN,
        read=_read(exists=False),
        instance_after=Identity(None, None),
    )
    verdict = judge_path(observation, H2, backend="x")
    props = dict(verdict.properties)
    assert (props["container_after"], props["instance_after"]) == ("", "")
    assert props["container_recreated"] == "unknown"
    assert verdict.explanation == (
        f"{HEAD} lost: no marker at /tmp/data in container None (instance unknown); "
        "sha256 111111111111… was written"
    )
    unproven = judge_path(
        replace(observation, proven=False, error="x", instance_after=None), H2, backend="x"
    )
    assert (
        dict(unproven.properties)["container_after"],
        dict(unproven.properties)["instance_after"],
    ) == ("", "")
    nameless = replace(observation, instance_before=Identity(None, None))
    assert dict(judge_path(nameless, H2, backend="x").properties)["container_before"] == ""


@pytest.mark.parametrize(
    ("changes", "observed", "story"),
    [
        (
            {"proven": False, "error": "late"},
            "inconclusive",
            "no proof that the event happened: late",
        ),
        (
            {"instance_after": Identity(INSTANCE_A, None)},
            "inconclusive",
            "the probe did not report its container hostname",
        ),
        (
            {"instance_after": Identity(INSTANCE_A, "host-new")},
            "recreated",
            "container host-a -> host-new on the same instance; proof",
        ),
        ({"instance_after": BEFORE}, "kept", "container host-a -> host-a (same container); proof"),
    ],
    ids=["unproven", "no-hostname", "recreated", "kept"],
)
def test_each_container_outcome_says_exactly_why(
    changes: dict[str, Any], observed: str, story: str
) -> None:
    """The outcome and the whole explanation of each branch of the container judge."""
    cell = ContainerCell(Event.RESTART, ContainerOutcome.KEPT)
    verdict = judge_container(_observation(Event.RESTART, **changes), cell, backend="x")
    assert verdict.observed == observed
    assert verdict.explanation == f"restart container: expected kept, observed {observed}: {story}"


def test_a_skipped_cell_writes_exactly_these_properties() -> None:
    """No evidence, a reason: every property of a skipped cell, in its order."""
    verdict = judge_skipped(H2, backend="local", run_id="r", reason="no plan")
    assert list(verdict.properties) == [
        ("hypothesis", "H2"),
        ("event", "restart"),
        ("path", "/tmp/data"),
        ("expected", "persists"),
        ("observed", "skipped"),
        ("checksum_valid", "n/a"),
        ("container_before", ""),
        ("container_after", ""),
        ("container_recreated", "unknown"),
        ("instance_before", ""),
        ("instance_after", ""),
        ("backend", "local"),
        ("run_id", "r"),
        ("skip_reason", "no plan"),
        ("explanation", "restart cannot be fired on the local backend: no plan"),
    ]


_GOOD = {"min": 1.0, "median": 2.0, "p95": 3.0, "max": 4.0}


def _latency(*rows: InstanceLatency, error: str | None = None) -> Any:
    measurement = LatencyMeasurement("/home/data", 4096, 10, tuple(rows), error)
    return judge_latency(measurement, backend="x", run_id="r", facts={})


def test_a_latency_error_and_a_bad_row_are_both_named() -> None:
    """The measurement's own error is kept beside each instance's problem."""
    bad = InstanceLatency("i" * 64, "h", {"min": 1.0}, _GOOD)
    verdict = _latency(bad, error="listing failed")
    assert verdict.observed == "invalid"
    assert verdict.explanation == (
        "latency /home/data: invalid: listing failed; instance iiiiiiiiiiii: write lacks "
        "median, max"
    )


def test_latency_with_only_write_figures_is_invalid_not_missing() -> None:
    """Some figures came back: invalid (what is there is wrong), not missing."""
    verdict = _latency(InstanceLatency("i" * 64, "h", _GOOD, {}))
    assert verdict.observed == "invalid"
    assert (
        verdict.explanation
        == "latency /home/data: invalid: instance iiiiiiiiiiii: read lacks min, median, max"
    )
