"""A probe with only the lab's four endpoints, deployed with --probe-dir on the local backend."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from pytest_appservice_fs.engine.expectations import CONTAINER, LAB_EVENTS, LAB_PATHS
from tests.junit_cases import LAB_EVENTS_ARG, copy_live_suite, live_outcomes, read_junit

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
LAB_PROBE = REPO / "tests" / "data" / "lab_probe"


def test_lab_probe_proves_what_it_can(pytester: pytest.Pytester) -> None:
    """Every verdict a lab probe can prove comes out; restart is inconclusive with the reason."""
    copy_live_suite(pytester)
    junit = pytester.path / "lab.xml"
    result = pytester.runpytest_subprocess(
        "-m",
        "live",
        "--backend",
        "local",
        f"--run-id=labprobe-{secrets.token_hex(4)}",
        f"--probe-dir={LAB_PROBE}",
        f"--junitxml={junit}",
        *LAB_EVENTS_ARG,
    )
    cases = read_junit(junit)
    assert {c["event"] for c in cases} == {"restart", "stop_start", "deploy", "scale_out"}
    for case in cases:
        if case["event"] == "restart":
            assert case["observed"] == "inconclusive"
            assert "has no /identity endpoint" in case["_message"]
        elif case["path"] not in (*LAB_PATHS, CONTAINER):
            # The lab probe writes its own three paths only, whatever PROBE_PATHS says.
            assert case["observed"] == "inconclusive"
            assert "the probe did not report it" in case["_message"]
        else:
            assert case["observed"] == case["expected"], case
            assert "new container" in case["proof"] or "new instance" in case["proof"]
    everything = read_junit(junit, latency=True)
    failed = sum(1 for c in everything if c["_outcome"] == "failure")
    assert failed > sum(1 for c in cases if c["observed"] == "inconclusive")  # H5 too
    result.assert_outcomes(**live_outcomes(LAB_EVENTS, failed=failed))
