"""The live suite under pytest-xdist: each event on one worker, evidence intact, no leftovers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_appservice_fs.backends import create_backend
from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.config import resolve
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.xdist_scheduling import event_scope
from tests.junit_cases import copy_live_suite, live_outcomes, matrix_cells, read_junit

#: The events the fake can fire.
FIRED = [e for e in Event if e not in FakeBackend.unsupported]

pytest.importorskip("xdist")


@pytest.mark.parametrize(
    ("nodeid", "scope"),
    [
        ("tests_live/test_h1.py::test_home_persists[restart-/home/data]", "appservice-restart"),
        (
            "tests_live/test_h2.py::test_local_path_fate[stop_start-/tmp/data]",
            "appservice-stop_start",
        ),
        ("tests_live/test_lifecycle.py::test_container_fate[scale_out]", "appservice-scale_out"),
        ("tests_live/test_latency.py::test_io_latency[/var/local/data]", "appservice-latency"),
        (
            "tests_live/test_h1.py::test_home_persists[restart_soft-/home/data]",
            "appservice-restart_soft",
        ),
        ("tests_live/test_h3.py::test_visible[scale_in-/dev/shm]", "appservice-scale_in"),
        ("tests_live/test_h4.py::test_concurrent_appends[lock-none]", "appservice-H4"),
        ("tests/test_x.py::test_plain", "tests/test_x.py::test_plain"),
        ("tests/test_x.py::test_param[restarting]", "tests/test_x.py::test_param[restarting]"),
        ("tests/test_x.py::test_grouped[1]@mygroup", "mygroup"),
    ],
)
def test_event_scope(nodeid: str, scope: str) -> None:
    """Tests are grouped by the event their id starts with; others keep their own scope."""
    assert event_scope(nodeid) == scope


@pytest.fixture
def live_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder holding a copy of the project's live suite."""
    return copy_live_suite(pytester)


def test_two_workers_fire_each_event_once_with_intact_evidence(live_suite: pytest.Pytester) -> None:
    """-n 2: the whole matrix; every cell of an event shares one firing, one app, one worker."""
    junit = live_suite.path / "out.xml"
    result = live_suite.runpytest_subprocess(
        "-m",
        "live",
        "--backend",
        "fake",
        "-n",
        "2",
        "-v",
        f"--junitxml={junit}",
    )
    result.assert_outcomes(**live_outcomes())
    cases = read_junit(junit)
    assert len(cases) == matrix_cells(FIRED)
    assert all(
        case["observed"] == case["expected"] or case["expected"] == "observe" for case in cases
    )
    assert len({case["run_id"] for case in cases}) == 1  # the controller's run id everywhere
    firing: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for case in cases:
        # A scale-in's container cell is about the survivor, not the writer: its before differs.
        writer = "" if case["path"] == "container" else case["instance_before"]
        firing[case["event"]].add((case["trigger_count"], case["nonce"], writer))
    nonces = {event: {nonce for _, nonce, _ in seen} for event, seen in firing.items()}
    assert {event: len(found) for event, found in nonces.items()} == {e.value: 1 for e in FIRED}
    assert firing
    assert all(next(iter(seen))[0] == "1" for seen in firing.values())
    for event, seen in firing.items():
        writers = {writer for _, _, writer in seen} - {""}
        assert len(writers) == 1, event
    # One worker per event: the -v lines name the worker that ran each test.
    workers: dict[str, set[str]] = defaultdict(set)
    for line in result.stdout.lines:
        if line.startswith("[gw") and " PASSED " in line:
            worker = line[1:4]
            test = line.rsplit("::", 1)[-1]
            workers[event_scope(f"x::{test.strip()}")].add(worker)
    assert set(workers) >= {"appservice-restart", "appservice-deploy", "appservice-latency"}
    assert all(len(ids) == 1 for ids in workers.values()), workers
    cells = matrix_cells(FIRED)
    result.stdout.fnmatch_lines([f"*{cells} of {cells} cells as expected*"])


def test_a_crashing_worker_is_reported_and_the_others_clean_up(
    live_suite: pytest.Pytester,
) -> None:
    """A worker that dies mid-run: its crash is reported (not retried on a new app), the
    other worker's evidence arrives, and only the dead worker's fake app is left, in basetemp.
    """
    live_suite.makepyfile(
        test_zz_crash="""
        import os
        import pytest

        @pytest.mark.live
        def test_crash(appservice_app):
            os._exit(3)
        """
    )
    basetemp = live_suite.path / "basetemp"
    junit = live_suite.path / "out.xml"
    result = live_suite.runpytest_subprocess(
        "-m",
        "live",
        "--backend",
        "fake",
        "-n",
        "2",
        f"--basetemp={basetemp}",
        f"--junitxml={junit}",
        timeout=120,
    )
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 1
    everything = live_outcomes()
    assert outcomes["passed"] + outcomes["failed"] == everything["passed"] + 1
    assert outcomes["skipped"] == everything["skipped"]
    # "worker 'gwN' crashed while running '...test_crash'": every pytest and xdist version
    result.stdout.fnmatch_lines(["*crashed while running*test_crash*"])
    assert "replacing crashed worker" not in result.stdout.str()
    cases = read_junit(junit)
    assert any(case["_outcome"] == "passed" for case in cases)
    # pytest owns basetemp (and prunes old ones); nothing of the fake lives anywhere else.
    apps = [p for p in basetemp.rglob("home") if (p.parent / "containers").exists()]
    assert len(apps) <= 1


def test_attach_mode_refuses_workers(live_suite: pytest.Pytester) -> None:
    """One attached Azure app cannot host events side by side: exit 4 with one sentence."""
    result = live_suite.runpytest_subprocess(
        "-m",
        "live",
        "-n",
        "2",
        "--app-name",
        "probe-app",
        "--resource-group",
        "rg",
        "--subscription-id",
        "00000000-0000-0000-0000-000000000000",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --app-name attaches one app, which cannot host events side by side; run "
            "without -n, or with --provision (one app per worker)."
        ]
    )


def test_a_distribution_that_splits_events_is_refused(live_suite: pytest.Pytester) -> None:
    """--dist loadfile would put an event's cells on several workers: exit 4, one sentence."""
    result = live_suite.runpytest_subprocess(
        "-m", "live", "--backend", "fake", "-n", "2", "--dist", "loadfile"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --dist loadfile would split an event's cells*"])


def test_workers_name_their_apps_apart(tmp_path: Path) -> None:
    """Each worker's app name carries the worker id; the run id is shared."""
    settings = resolve({"backend": "fake", "run_id": "Run_1"}, lambda _: "", {})
    names = set()
    for worker in ("gw0", "gw1"):
        backend = create_backend(replace(settings, worker=worker), tmp_path / worker)
        assert isinstance(backend, FakeBackend)
        names.add(backend.app_name)
    assert names == {"fake-run-1-gw0", "fake-run-1-gw1"}


def test_other_projects_may_distribute_as_they_like(pytester: pytest.Pytester) -> None:
    """--dist loadfile is refused only for the live suite: a project without live tests runs
    under it (the plugin is loaded in every pytest run of the environment)."""
    pytester.makepyfile(test_plain="def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-n", "2", "--dist", "loadfile", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
