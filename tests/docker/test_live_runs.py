"""The live suite on the local backend through pytester: the lab matrix, a failing cell, and
custom-container storage, each leaving no labelled resource behind."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_appservice_fs.backends.local import LocalBackend
from pytest_appservice_fs.engine.expectations import (
    CONTAINER,
    EMULATOR_MATRIX,
    HOME,
    LAB_EVENTS,
    LAB_MATRIX,
    LOGFILES,
    UPLOADS,
)
from pytest_appservice_fs.engine.model import Event
from tests.docker.conftest import labelled, run_local
from tests.junit_cases import LAB_EVENTS_ARG, cell, live_outcomes, matrix_cells, read_junit

pytestmark = pytest.mark.docker

#: The events the local emulator fires (it has no plan: no SKU change, no plan restart).
FIRED = [e for e in Event if e not in LocalBackend.unsupported]

NOTHING = {"containers": [], "volumes": []}


def test_local_run_reproduces_the_lab_matrix(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """Every cell passes on Docker: the lab's as the lab saw them, the others as the emulator's
    matrix states; every event the emulator can fire runs, the plan events skip; the run
    removes all it made."""
    result, cases = run_local(live_suite, run_id)
    result.assert_outcomes(**live_outcomes(unsupported=LocalBackend.unsupported))
    assert len(cases) == matrix_cells(FIRED)
    assert {c["event"] for c in cases} == {e.value for e in FIRED}
    for case in cases:
        expected = EMULATOR_MATRIX.expected(Event(case["event"]), case["path"])
        assert expected is not None, case["_name"]
        assert case["expected"] == expected.value, case["_name"]
        if expected.value != "observe":
            assert case["observed"] == case["expected"], case["_name"]
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
    assert cell(cases, "restart_soft", CONTAINER)["container_recreated"] == "false"
    survivor = cell(cases, "scale_in", CONTAINER)
    assert survivor["container_before"] == survivor["container_after"]
    assert "(the writer) removed" in survivor["proof"]
    for event in ("stop_start", "deploy", "app_setting_change"):
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
    result.assert_outcomes(**live_outcomes([Event.RESTART], failed=1))
    failed = cell(cases, "restart", "/tmp/data")
    assert failed["_outcome"] == "failure"
    assert (failed["expected"], failed["observed"]) == ("lost", "persists")
    assert labelled(docker_client, run_id) == NOTHING


def test_without_app_service_storage_home_is_container_local(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """--app-service-storage off: /home is lost with the container and not shared, and the
    storage-off matrix expects exactly that: every cell as expected, the configuration in
    every testcase, and H4's writers not sharing a file."""
    result, cases = run_local(live_suite, run_id, *LAB_EVENTS_ARG, "--app-service-storage", "off")
    changed = {("stop_start", "lost"), ("deploy", "lost"), ("scale_out", "not_visible")}
    for event, observed in changed:
        for path in (HOME, UPLOADS, LOGFILES):
            home = cell(cases, event, path)
            assert (home["observed"], home["_outcome"]) == (observed, "passed"), (event, path)
    home_restart = cell(cases, "restart", HOME)
    assert (home_restart["observed"], home_restart["_outcome"]) == ("persists", "passed")
    everything = read_junit(live_suite.path / f"{run_id}.xml", latency=True)
    result.assert_outcomes(**live_outcomes(LAB_EVENTS))
    for case in everything:
        assert case["_outcome"] in ("passed", "skipped"), case["_name"]
        assert case["app_service_storage"] == "off", case["_name"]
        assert case["runtime"] == "code", case["_name"]
    appends = [case for case in everything if case["hypothesis"] == "H4"]
    assert {case["observed"] for case in appends} == {"not_shared"}
    assert labelled(docker_client, run_id) == NOTHING
