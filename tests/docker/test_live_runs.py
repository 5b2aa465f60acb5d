"""The live suite on the local backend through pytester: the lab matrix, a failing cell, and
custom-container storage, each leaving no labelled resource behind."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_appservice_fs.expectations import CONTAINER, HOME, LAB_MATRIX
from tests.docker.conftest import labelled, run_local
from tests.junit_cases import cell

pytestmark = pytest.mark.docker

NOTHING = {"containers": [], "volumes": []}


def test_local_run_reproduces_the_lab_matrix(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """All 16 cells pass on Docker as the lab saw them, and the run removes all it made."""
    result, cases = run_local(live_suite, run_id)
    result.assert_outcomes(passed=22)
    assert len(cases) == 16
    assert {c["backend"] for c in cases} == {"local"}
    assert {c["run_id"] for c in cases} == {run_id}
    for path_cell in LAB_MATRIX.paths:
        found = cell(cases, path_cell.event.value, path_cell.path)
        assert found["observed"] == path_cell.expected.value, found["_name"]
    for container_cell in LAB_MATRIX.containers:
        found = cell(cases, container_cell.event.value, CONTAINER)
        assert found["observed"] == container_cell.expected.value, found["_name"]
    assert len(LAB_MATRIX.paths) + len(LAB_MATRIX.containers) == 16
    assert cell(cases, "restart", CONTAINER)["container_recreated"] == "false"
    for event in ("stop_start", "deploy"):
        recreated = cell(cases, event, CONTAINER)
        assert recreated["container_recreated"] == "true", event
        assert recreated["instance_before"] == recreated["instance_after"], event
    for case in cases:
        assert len(case["container_before"]) == 12, case["_name"]
        assert len(case["instance_before"]) == 64, case["_name"]
    assert labelled(docker_client, run_id) == NOTHING


def test_failing_run_leaves_nothing(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """A run with a failing cell still removes every container and volume it made."""
    live_suite.makeini(
        "[pytest]\njunit_family = xunit1\nappservice_fs_expect =\n    restart /tmp/data = lost\n"
    )
    result, cases = run_local(live_suite, run_id, "--events", "restart")
    result.assert_outcomes(passed=9, failed=1, skipped=1)
    failed = cell(cases, "restart", "/tmp/data")
    assert failed["_outcome"] == "failure"
    assert (failed["expected"], failed["observed"]) == ("lost", "persists")
    assert labelled(docker_client, run_id) == NOTHING


def test_without_app_service_storage_home_is_container_local(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """WEBSITES_ENABLE_APP_SERVICE_STORAGE=false: /home is lost with the container, unshared."""
    result, cases = run_local(
        live_suite, run_id, "--app-setting", "WEBSITES_ENABLE_APP_SERVICE_STORAGE=false"
    )
    result.assert_outcomes(passed=19, failed=3)
    changed = {("stop_start", "lost"), ("deploy", "lost"), ("scale_out", "not_visible")}
    for event, observed in changed:
        home = cell(cases, event, HOME)
        assert home["observed"] == observed, event
        assert home["_outcome"] == "failure", event
        assert home["hypothesis"] in ("H1", "H3"), event
    home_restart = cell(cases, "restart", HOME)
    assert (home_restart["observed"], home_restart["_outcome"]) == ("persists", "passed")
    others = [c for c in cases if (c["event"], c["path"]) not in {(e, HOME) for e, _ in changed}]
    assert len(others) == 13
    for case in others:
        assert case["_outcome"] == "passed", case["_name"]
        assert case["observed"] == case["expected"], case["_name"]
    assert labelled(docker_client, run_id) == NOTHING
