"""The plugin end to end through pytester: the live suite on the fake backend, its evidence,
its faults and its handling of bad input."""

from __future__ import annotations

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.engine.expectations import CONTAINER, LAB_EVENTS, LAB_MATRIX, matrix_for
from pytest_appservice_fs.engine.model import Event, Outcome
from pytest_appservice_fs.evidence.records import REQUIRED_PROPERTIES
from pytest_appservice_fs.reports.render import render_markdown
from pytest_appservice_fs.reports.runs import Case, find_drifts, load_baseline, run_from_cases
from tests.junit_cases import (
    LAB_EVENTS_ARG,
    LIVE_SUITE,
    cell,
    copy_live_suite,
    home_cells,
    live_outcomes,
    matrix_cells,
    read_junit,
)

#: The events the fake backend can fire.
FIRED = [e for e in Event if e not in FakeBackend.unsupported]


def failing_home_cells() -> set[tuple[str, str]]:
    """The lab events' /home cells that must fail when /home does not persist."""
    shown = (Outcome.PERSISTS, Outcome.VISIBLE)
    return {(c.event.value, c.path) for c in home_cells(LAB_EVENTS) if c.expected in shown}


@pytest.fixture
def live_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder holding a copy of the project's live suite."""
    return copy_live_suite(pytester)


def run_live(
    pytester: pytest.Pytester, *args: str
) -> tuple[pytest.RunResult, list[dict[str, str]]]:
    """Run the live suite on the fake backend; return the result and each testcase's properties."""
    junit = pytester.path / "out.xml"
    result = pytester.runpytest("-m", "live", "--backend", "fake", f"--junitxml={junit}", *args)
    return result, read_junit(junit)


def test_live_suite_reproduces_the_lab_matrix(live_suite: pytest.Pytester) -> None:
    """Every cell of the lab's matrix comes out as published, each with all its evidence."""
    result, cases = run_live(live_suite)
    result.assert_outcomes(**live_outcomes())
    assert len(cases) == matrix_cells(FIRED)
    for case in cases:
        missing = [name for name in REQUIRED_PROPERTIES if name not in case]
        assert not missing, f"{case['_name']} lacks {missing}"
        assert case["backend"] == "fake"
        assert case["observed"] == case["expected"] or case["expected"] == "observe"
    for path_cell in LAB_MATRIX.paths:
        found = cell(cases, path_cell.event.value, path_cell.path)
        assert found["observed"] == path_cell.expected.value
        assert found["hypothesis"] == path_cell.hypothesis
    for container_cell in LAB_MATRIX.containers:
        found = cell(cases, container_cell.event.value, CONTAINER)
        assert found["observed"] == container_cell.expected.value
    assert {c["event"] for c in cases} == {e.value for e in FIRED}
    assert {c["path"] for c in cases} == {*matrix_for("fake").all_paths, CONTAINER}
    assert len({c["run_id"] for c in cases}) == 1


def test_events_the_backend_cannot_fire_are_skipped_with_evidence(
    live_suite: pytest.Pytester,
) -> None:
    """The fake has no plan: sku_change and plan_restart skip, saying why, with properties."""
    junit = live_suite.path / "out.xml"
    result = live_suite.runpytest(
        "-m", "live", "--backend", "fake", "--events", "sku_change,restart", f"--junitxml={junit}"
    )
    result.assert_outcomes(**live_outcomes([Event.SKU_CHANGE, Event.RESTART]))
    skipped = [
        c for c in read_junit(junit, skipped=True) if c["_outcome"] == "skipped" and "event" in c
    ]
    assert {c["event"] for c in skipped} == {"sku_change"}
    assert len(skipped) == matrix_cells([Event.SKU_CHANGE])
    for case in skipped:
        assert case["observed"] == "skipped"
        assert case["skip_reason"] == FakeBackend.unsupported[Event.SKU_CHANGE]
    # The terminal and every report show the skip; it is neither a pass nor a drift.
    cells = matrix_cells([Event.RESTART])
    result.stdout.fnmatch_lines(
        [
            "sku_change*skipped*skipped*skipped*",
            f"{cells} of {cells} cells as expected, {len(skipped)} skipped: their event "
            "cannot be fired here*",
        ]
    )
    report = run_from_cases(
        [Case(c["_name"], c["_outcome"], c) for c in read_junit(junit, skipped=True)],
        source="out.xml",
    )
    baseline = {**load_baseline("lab"), ("sku_change", "/home/data"): "persists"}
    assert find_drifts([report], baseline) == []  # a skipped cell observed nothing
    assert "| sku_change | - | - | skipped: sku_change cannot be fired" in render_markdown([report])


def test_each_event_fires_once_per_run(live_suite: pytest.Pytester) -> None:
    """All cells of one event share one firing: same trigger count, nonce and containers."""
    _, cases = run_live(live_suite)
    by_event: dict[str, list[dict[str, str]]] = {}
    for case in cases:
        by_event.setdefault(case["event"], []).append(case)
    assert set(by_event) == {e.value for e in FIRED}
    for event, event_cases in by_event.items():
        assert {c["trigger_count"] for c in event_cases} == {"1"}, event
        assert len({c["nonce"] for c in event_cases}) == 1, event
        if event != "scale_in":  # its container cell is the survivor's, not the writer's
            pairs = {(c["container_before"], c["container_after"]) for c in event_cases}
            assert len(pairs) == 1, event
    assert len({c["nonce"] for c in cases}) == len(FIRED)


def test_container_evidence_matches_the_events(live_suite: pytest.Pytester) -> None:
    """Hostnames and instance ids before and after prove what each event did."""
    _, cases = run_live(live_suite)
    restart = cell(cases, "restart", CONTAINER)
    assert restart["container_before"] == restart["container_after"]
    assert restart["container_recreated"] == "false"
    for event in ("stop_start", "deploy"):
        case = cell(cases, event, CONTAINER)
        assert case["container_before"] != case["container_after"]
        assert case["instance_before"] == case["instance_after"]
        assert case["container_recreated"] == "true"
    scale_out = cell(cases, "scale_out", CONTAINER)
    assert scale_out["instance_before"] != scale_out["instance_after"]
    # Scale-in: the newest instance wrote and went; the survivor kept its container.
    removed = cell(cases, "scale_in", "/home/data")
    survivor = cell(cases, "scale_in", CONTAINER)
    assert removed["instance_before"] != removed["instance_after"] == survivor["instance_after"]
    assert survivor["instance_before"] == survivor["instance_after"]
    assert survivor["container_before"] == survivor["container_after"]
    assert survivor["event_detail"] == "2 -> 1 instances"
    assert f"instance {removed['instance_before'][:12]} (the writer) removed" in survivor["proof"]
    # A settings change recreates the container (the emulator's way) and the proof shows the
    # probe process started with the new value.
    setting = cell(cases, "app_setting_change", CONTAINER)
    assert setting["instance_before"] == setting["instance_after"]
    assert setting["container_before"] != setting["container_after"]
    assert "started with PROBE_SETTINGS_MARK=" in setting["proof"]
    assert setting["event_detail"].startswith("app setting PROBE_SETTINGS_MARK set to ")
    for case in cases:
        assert len(case["instance_before"]) == 64
        assert len(case["container_before"]) == 12
        assert float(case["ready_seconds"]) >= float(case["event_seconds"]) >= 0


def test_terminal_matrix_and_markdown_report(
    live_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal shows matrix and latency; --evidence-report and the job summary get both."""
    report = live_suite.path / "reports" / "evidence.md"
    summary = live_suite.path / "summary.md"
    summary.write_text("earlier\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result, _ = run_live(live_suite, *LAB_EVENTS_ARG, f"--evidence-report={report}")
    cells = matrix_cells(LAB_EVENTS)
    paths = matrix_for("fake").all_paths
    result.stdout.fnmatch_lines(
        [
            "*App Service filesystem evidence*",
            "event*/home/data*/tmp/data*/var/local/data*/home/site/wwwroot/uploads*"
            "/home/LogFiles*/dev/shm*container*fired*",
            "restart*persists ok*persists ok*persists ok*persists ok*persists ok*lost ok*"
            "kept ok*1x*",
            "stop_start*persists ok*lost ok*lost ok*persists ok*persists ok*lost ok*"
            "recreated ok*1x*",
            "deploy*persists ok*lost ok*lost ok*lost ok*persists ok*lost ok*recreated ok*1x*",
            "scale_out*visible ok*not_visible ok*not_visible ok*visible ok*visible ok*"
            "not_visible ok*new_instance ok*1x*",
            f"{cells} of {cells} cells as expected*",
            "latency in ms (4096 bytes, 10 iterations, write with fsync):",
            "path*instance*write min*write median*write p95*write max*read min*read max*",
            *(f"{path} *" for path in paths),
            f"evidence report written to {report}",
        ]
    )
    text = report.read_text(encoding="utf-8")
    assert (
        "| stop_start | persists ok | lost ok | lost ok | persists ok | persists ok | lost ok "
        "| recreated ok | 1x |" in text
    )
    assert text.count("- **ok**") == cells
    latency = text.split("## Latency (ms)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in latency.splitlines() if line.startswith("| `/")]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{path}`" for path in paths]
    large = text.split("## Large files (H5)", 1)[1].split("\n## ", 1)[0]
    assert [line.split(" | ")[:2] for line in large.splitlines() if line.startswith("| `/")] == [
        [f"| `{path}`", "1"] for path in paths
    ]
    assert summary.read_text(encoding="utf-8") == "earlier\n" + text


def test_home_not_persistent_fails_h1_as_lost(live_suite: pytest.Pytester) -> None:
    """A /home that does not persist fails every H1 cell with observed=lost, and every other
    cell that expects a /home file to be found."""
    result, cases = run_live(live_suite, *LAB_EVENTS_ARG, "--fake-fault", "home-not-persistent")
    h1 = [c for c in cases if c["hypothesis"] == "H1"]
    assert len(h1) == 3
    for case in h1:
        assert case["_outcome"] == "failure", case["_name"]
        assert case["observed"] == "lost"
        assert "expected persists, observed lost" in case["_message"]
    assert cell(cases, "scale_out", "/home/data")["observed"] == "not_visible"
    failing = {(c["event"], c["path"]) for c in cases if c["_outcome"] == "failure"}
    assert failing == failing_home_cells()
    everything = read_junit(live_suite.path / "out.xml", latency=True)
    failed = sum(1 for c in everything if c["_outcome"] == "failure")
    result.assert_outcomes(**live_outcomes(LAB_EVENTS, failed=failed))


def test_noop_restart_is_inconclusive_not_a_pass(live_suite: pytest.Pytester) -> None:
    """A restart that does nothing fails every restart cell as inconclusive, saying why."""
    result, cases = run_live(
        live_suite,
        *LAB_EVENTS_ARG,
        "--fake-fault",
        "noop-restart",
        "--ready-timeout",
        "restart=0.5",
    )
    restart = [c for c in cases if c["event"] == "restart"]
    assert len(restart) == matrix_cells([Event.RESTART])
    for case in restart:
        assert case["_outcome"] == "failure"
        assert case["observed"] == "inconclusive"
        assert "restart not proven within 0.5 s" in case["_message"]
        assert "awaited a new probe process" in case["_message"]
    result.assert_outcomes(**live_outcomes(LAB_EVENTS, failed=len(restart)))


def test_transient_503s_are_retried_and_the_run_passes(live_suite: pytest.Pytester) -> None:
    """503s while an event settles are retried: the whole matrix still passes."""
    result, cases = run_live(live_suite, "--fake-fault", "transient-503")
    result.assert_outcomes(**live_outcomes())
    assert [c for c in cases if c["expected"] != "observe"]
    assert all(c["observed"] == c["expected"] for c in cases if c["expected"] != "observe")


def test_leftover_marker_never_counts_as_persisted(live_suite: pytest.Pytester) -> None:
    """A valid marker from an earlier run is found but judged lost, never persisted."""
    _, cases = run_live(
        live_suite,
        *LAB_EVENTS_ARG,
        "--fake-fault",
        "stale-marker",
        "--fake-fault",
        "home-not-persistent",
    )
    home = cell(cases, "restart", "/home/data")
    assert home["observed"] == "lost"
    assert home["checksum_valid"] == "true"
    assert "leftover" in home["_message"]
    for event in ("stop_start", "deploy"):
        local = cell(cases, event, "/tmp/data")
        assert local["observed"] == "lost"
        assert "leftover" in local["explanation"]
    failing = {(c["event"], c["path"]) for c in cases if c["_outcome"] == "failure"}
    assert failing == failing_home_cells()


def test_events_option_selects_cells(live_suite: pytest.Pytester) -> None:
    """--events restart runs the restart cells only; H3 says why it has none."""
    result, cases = run_live(live_suite, "--events", "restart", "-rs")
    result.assert_outcomes(**live_outcomes([Event.RESTART]))
    assert {c["event"] for c in cases if c["_outcome"] == "passed"} == {"restart"}
    result.stdout.fnmatch_lines(["*H3 has no cell for the events chosen (restart)*"])


def test_ini_overrides_expectations(live_suite: pytest.Pytester) -> None:
    """An expectation set in the ini file is what the cell is judged against."""
    live_suite.makeini(
        "[pytest]\njunit_family = xunit1\nappservice_fs_expect =\n    restart /tmp/data = lost\n"
    )
    result, cases = run_live(live_suite, "--events", "restart")
    case = cell(cases, "restart", "/tmp/data")
    assert case["expected"] == "lost"
    assert case["observed"] == "persists"
    assert case["_outcome"] == "failure"
    result.assert_outcomes(**live_outcomes([Event.RESTART], failed=1))


def test_probe_token_is_used_and_never_shown(live_suite: pytest.Pytester) -> None:
    """With PROBE_TOKEN set the run passes, and the token appears in no output or evidence."""
    secret = "s3cret-token-value-7f1d"
    result, cases = run_live(live_suite, "--app-setting", f"PROBE_TOKEN={secret}", "-rA")
    result.assert_outcomes(**live_outcomes())
    assert secret not in result.stdout.str() + result.stderr.str()
    assert secret not in (live_suite.path / "out.xml").read_text(encoding="utf-8")
    assert cases
    assert all(secret not in value for case in cases for value in case.values())


def test_wrong_token_fails_setup_with_a_reason(live_suite: pytest.Pytester) -> None:
    """A probe that refuses the harness's token stops the run with errors that say so."""
    live_suite.makeconftest(
        """
        import pytest
        from pytest_appservice_fs.backends.fake import FakeBackend

        class MistypedTokenBackend(FakeBackend):
            def probe(self, instance_id=None):
                client = super().probe(instance_id)
                client._token = "mistyped-zz9"
                return client

        @pytest.fixture(scope="session")
        def appservice_backend(tmp_path_factory):
            backend = MistypedTokenBackend(
                tmp_path_factory.mktemp("fake"), app_settings={"PROBE_TOKEN": "right-zz8"}
            )
            yield backend
            backend.teardown()
        """
    )
    result, _ = run_live(live_suite, "--events", "restart")
    expected = live_outcomes([Event.RESTART])
    result.assert_outcomes(errors=expected["passed"], skipped=expected["skipped"])
    result.stdout.fnmatch_lines(["*could not set up the fake app: the probe did not come up*"])
    result.stdout.fnmatch_lines(["*refused the token on GET /identity (HTTP 401)*"])
    output = result.stdout.str() + (live_suite.path / "out.xml").read_text(encoding="utf-8")
    assert "mistyped-zz9" not in output
    assert "right-zz8" not in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "nimbus"], "--backend got 'nimbus'; valid backends are fake, local, azure."),
        (
            ["--events", "restart,reboot"],
            "--events got unknown event 'reboot'; valid events are restart, stop_start, deploy, "
            "scale_out, scale_in, app_setting_change, restart_soft, sku_change, plan_restart.",
        ),
        (["--provision"], "--provision needs --region, an Azure region such as westeurope."),
        (["--app-setting", "NOEQUALSIGN"], "--app-setting got a value that is not KEY=VALUE*"),
        (["--fake-fault", "gremlins"], "--fake-fault got 'gremlins'; valid faults are *"),
    ],
)
def test_bad_input_exits_4_with_one_sentence(
    live_suite: pytest.Pytester, args: list[str], message: str
) -> None:
    """Bad input: exit status 4, one sentence naming the option, no traceback, nothing made."""
    result = live_suite.runpytest_subprocess("-m", "live", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    assert not list(live_suite.path.glob("**/appservice-fs*"))


def test_malformed_app_setting_does_not_echo_the_value(live_suite: pytest.Pytester) -> None:
    """A malformed --app-setting is refused without printing its (possibly secret) value."""
    result = live_suite.runpytest("-m", "live", "--app-setting", "hunter2-is-my-password")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "hunter2" not in result.stdout.str() + result.stderr.str()


def test_environment_and_ini_fallbacks(
    live_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment fills what ini and command line leave; the command line wins."""
    monkeypatch.setenv("APPSERVICE_FS_EVENTS", "deploy")
    _, cases = run_live(live_suite)
    assert {c["event"] for c in cases if c["_outcome"] == "passed"} == {"deploy"}
    _, cases = run_live(live_suite, "--events", "restart")
    assert {c["event"] for c in cases if c["_outcome"] == "passed"} == {"restart"}


def test_backend_folders_are_removed_after_failure_and_interrupt(
    live_suite: pytest.Pytester,
) -> None:
    """A failing run and a run interrupted mid-suite both leave no fake app behind."""
    live_suite.makepyfile(
        test_zz_interrupt="""
        import pytest

        @pytest.mark.live
        def test_interrupt(appservice_app):
            raise KeyboardInterrupt
        """
    )
    basetemp = live_suite.path / "basetemp"
    result = live_suite.runpytest_subprocess(
        "-m",
        "live",
        "--backend",
        "fake",
        f"--basetemp={basetemp}",
        "--fake-fault",
        "home-not-persistent",
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    leftovers = [p for p in basetemp.glob("appservice-fs*/*")]
    assert leftovers == []


def test_keep_resources_keeps_and_says_how_to_remove(live_suite: pytest.Pytester) -> None:
    """--keep-resources keeps the app and prints the command that removes it."""
    basetemp = live_suite.path / "basetemp"
    # A subprocess, so output capture works as in a real run (teardown output is captured).
    result = live_suite.runpytest_subprocess(
        "-m",
        "live",
        "--backend",
        "fake",
        "--events",
        "restart",
        "--keep-resources",
        f"--basetemp={basetemp}",
    )
    result.assert_outcomes(**live_outcomes([Event.RESTART]))
    result.stdout.fnmatch_lines(["kept the fake app * in *; remove it with: rm -rf *"])
    assert list(basetemp.glob("appservice-fs*/home"))


def test_region_and_sku_label_the_evidence(live_suite: pytest.Pytester) -> None:
    """--region and --sku given to a fake run appear as evidence properties."""
    _, cases = run_live(live_suite, "--events", "restart", "--region", "westeurope", "--sku", "B1")
    ran = [c for c in cases if c["_outcome"] == "passed"]
    assert ran
    assert {(c["region"], c["sku"]) for c in ran} == {("westeurope", "B1")}


def test_readme_fixture_example_runs(pytester: pytest.Pytester) -> None:
    """The README's example of a test of one's own passes as written."""
    readme = (LIVE_SUITE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using the fixtures in your own tests", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_example=example)
    result = pytester.runpytest("-m", "live", "--backend", "fake")
    result.assert_outcomes(passed=1)


def test_unreachable_docker_is_a_usage_error(
    live_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local backend without a Docker Engine: exit 4 and what to start, before anything."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = live_suite.runpytest_subprocess("-m", "live", "--backend", "local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: Docker is not reachable at unix:///nonexistent/docker.sock; start the Docker "
            "Engine (as root: dockerd &, or make docker) or set DOCKER_HOST."
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_offline_runs_never_contact_docker(
    live_suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without live tests selected, no backend is checked: offline runs need no Docker."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    live_suite.makepyfile(test_offline="def test_plain():\n    assert 1 + 1 == 2\n")
    result = live_suite.runpytest("-m", "not live", "--backend", "local")
    result.assert_outcomes(passed=1, deselected=sum(live_outcomes().values()))


def test_observe_cells_show_what_was_seen(live_suite: pytest.Pytester) -> None:
    """An 'observe' expectation from the ini file: the cell passes, the report says observed."""
    live_suite.makeini(
        "[pytest]\njunit_family = xunit1\nappservice_fs_expect =\n    restart /tmp/data = observe\n"
    )
    report = live_suite.path / "evidence.md"
    result, cases = run_live(live_suite, "--events", "restart", f"--evidence-report={report}")
    result.assert_outcomes(**live_outcomes([Event.RESTART]))
    case = cell(cases, "restart", "/tmp/data")
    assert (case["expected"], case["observed"]) == ("observe", "persists")
    assert (
        "| restart | persists ok | persists (observed) | persists ok | persists ok | persists ok "
        "| lost ok | kept ok | 1x |" in report.read_text(encoding="utf-8")
    )


def test_user_path_is_allowlisted_and_observed(live_suite: pytest.Pytester) -> None:
    """--path adds a path on every event: the harness allowlists it in the probe (PROBE_PATHS),
    its cells are observed, and the probe still refuses any path outside the allowlist."""
    live_suite.makepyfile(
        test_zz_allowlist="""
        import pytest
        from pytest_appservice_fs.engine.probe_client import ProbeError

        @pytest.mark.live
        def test_allowlist(appservice_app):
            probe = appservice_app.backend.probe()
            paths = probe.get("/identity")["paths"]
            assert paths[-1] == "/var/lib/myapp"
            with pytest.raises(ProbeError, match="not in the probe's allowlist"):
                probe.get("/write", {"path": ["/etc"]})
        """
    )
    result, cases = run_live(
        live_suite, "--events", "restart,deploy", "--path", "/var/lib/myapp", "-k", "not large"
    )
    mine = [c for c in cases if c.get("path") == "/var/lib/myapp"]
    assert {(c["event"], c["expected"], c["observed"]) for c in mine} == {
        ("restart", "observe", "persists"),
        ("deploy", "observe", "lost"),
    }
    assert mine
    assert all(c["hypothesis"] == "paths" for c in mine)
    result.stdout.fnmatch_lines(["restart*persists (observed)*kept ok*", "deploy*lost (observed)*"])
    assert result.ret == pytest.ExitCode.OK


def test_an_evidence_report_that_fails_at_the_end_is_one_sentence(
    live_suite: pytest.Pytester,
) -> None:
    """The report's path turns into a folder during the run: one sentence, the matrix still
    printed, no traceback, the run's outcome kept."""
    report = live_suite.path / "evidence.md"
    live_suite.makeconftest(
        f"""
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    __import__("pathlib").Path({str(report)!r}).mkdir()
"""
    )
    result, _ = run_live(live_suite, "--events", "restart", f"--evidence-report={report}")
    result.assert_outcomes(**live_outcomes([Event.RESTART]))
    result.stdout.fnmatch_lines(
        [
            "*App Service filesystem evidence*",
            f"the evidence report could not be written to {report} (Is a directory); the matrix "
            "above is the run's evidence.",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
