"""A probe with only the lab's four endpoints, deployed with --probe-dir on the local backend."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.junit_cases import copy_live_suite, read_junit

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
    )
    result.assert_outcomes(passed=15, failed=7)
    cases = read_junit(junit)
    assert len(cases) == 16
    for case in cases:
        if case["event"] == "restart":
            assert case["observed"] == "inconclusive"
            assert "has no /identity endpoint" in case["_message"]
        else:
            assert case["observed"] == case["expected"], case
            assert "new container" in case["proof"] or "new instance" in case["proof"]
