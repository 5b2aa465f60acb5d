"""The local live suite under pytest-xdist: one app per worker, the same verdicts, no leftovers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from pytest_appservice_fs.backends.local import LocalBackend
from pytest_appservice_fs.engine.model import Event
from tests.docker.conftest import labelled, run_local
from tests.junit_cases import live_outcomes, matrix_cells

pytestmark = pytest.mark.docker
pytest.importorskip("xdist")

NOTHING = {"containers": [], "volumes": []}


def test_four_workers_match_the_serial_run(
    live_suite: pytest.Pytester, new_run_id: Any, docker_client: Any
) -> None:
    """-n 4 gives the same cells and observed values as a serial run, each event fired once."""
    serial_id, parallel_id = new_run_id(), new_run_id()
    serial, serial_cases = run_local(live_suite, serial_id, subprocess_run=True)
    parallel, parallel_cases = run_local(live_suite, parallel_id, "-n", "4", subprocess_run=True)
    everything = live_outcomes(unsupported=LocalBackend.unsupported)
    serial.assert_outcomes(**everything)
    parallel.assert_outcomes(**everything)
    fired = [e for e in Event if e not in LocalBackend.unsupported]

    def observed(cases: list[dict[str, str]]) -> dict[tuple[str, str], str]:
        return {(c["event"], c["path"]): c["observed"] for c in cases}

    assert observed(parallel_cases) == observed(serial_cases)
    assert len(observed(parallel_cases)) == matrix_cells(fired)
    firings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for case in parallel_cases:
        firings[case["event"]].add((case["trigger_count"], case["nonce"]))
    assert sorted(firings) == sorted(e.value for e in fired)
    for event, seen in firings.items():
        assert len(seen) == 1, event  # every cell of the event saw the same firing
        assert next(iter(seen))[0] == "1", event
    # Events ran side by side on apps of their own (more groups than workers: a worker that
    # finishes early takes another event, on its own app, after scaling back).
    apps = {c["instance_before"] for c in parallel_cases if c["path"] == "container"}
    assert 2 <= len(apps) <= 4
    assert labelled(docker_client, serial_id) == NOTHING
    assert labelled(docker_client, parallel_id) == NOTHING


def test_a_crashed_worker_leaves_no_container(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """A worker killed mid-run cannot tear down its app; the controller removes it."""
    live_suite.makepyfile(
        test_zz_crash="""
        import os
        import pytest

        @pytest.mark.live
        def test_crash(appservice_app):
            os._exit(3)
        """
    )
    result, _ = run_local(live_suite, run_id, "-n", "2", subprocess_run=True)
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 1
    # "worker 'gwN' crashed while running '...test_crash'": every pytest and xdist version
    result.stdout.fnmatch_lines(["*crashed while running*test_crash*"])
    assert labelled(docker_client, run_id) == NOTHING
