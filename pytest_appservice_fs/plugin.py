"""pytest wiring: options, ini keys, markers and hooks. The work happens in the engine.

This module is imported by every pytest run in an environment where the package is installed,
so it costs almost nothing until a live test is collected: the engine, the backends and their
SDKs (requests, tenacity, docker, azure) are imported inside the hooks that need them, and a
bad setting fails only a session that collects a live test.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_appservice_fs import signals
from pytest_appservice_fs.keys import (
    BACKENDS_KEY,
    CASES_KEY,
    GROUP_EVENTS_KEY,
    KEPT_KEY,
    REPORT_WRITTEN_KEY,
    SETTINGS_ERROR_KEY,
    SETTINGS_KEY,
    WORKER_SETTINGS_ERROR_KEY,
)
from pytest_appservice_fs.options import (
    HYPOTHESIS_NAMES,
    OPTIONS,
    SettingsError,
    header,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.config import Settings
    from pytest_appservice_fs.reports.runs import RunReport

pytest_plugins = ["pytest_appservice_fs.fixtures"]

EXPECT_INI = "appservice_fs_expect"
#: The key under which an xdist controller hands its run id to the workers.
RUN_ID_INPUT = "appservice_fs_run_id"
#: Fixtures whose use makes a test live: it needs valid settings and a working backend.
FIXTURE_PREFIX = "appservice_"
#: The key under which an xdist worker tells the controller that its live tests could not run.
SETTINGS_ERROR_OUTPUT = "appservice_fs_settings_error"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Offer the plugin's hooks (``hooks.py``) to conftest files and other plugins."""
    from pytest_appservice_fs import hooks

    pluginmanager.add_hookspecs(hooks)


@pytest.hookimpl(trylast=True)
def pytest_appservice_fs_make_backend(
    settings: Settings, workdir: Path, azure_options: Mapping[str, Any]
) -> Backend:
    """The default backend: the one ``--backend`` names (its SDK imported only then)."""
    from pytest_appservice_fs.backends import create_backend

    return create_backend(settings, workdir, azure_options=azure_options)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every option with its ini key (environment variables are read in config)."""
    group = parser.getgroup("appservice-fs", "App Service filesystem evidence (pytest -m live)")
    for spec in OPTIONS:
        dest = f"appservice_fs_{spec.dest}"
        if spec.kind == "flag":
            group.addoption(spec.flag, action="store_true", dest=dest, help=spec.help)
        elif spec.kind == "list":
            group.addoption(
                spec.flag, action="append", dest=dest, metavar=spec.metavar, help=spec.help
            )
        else:
            group.addoption(spec.flag, dest=dest, metavar=spec.metavar, help=spec.help)
        ini_type: Literal["linelist", "string"] = "linelist" if spec.kind == "list" else "string"
        env = f" (env {' or '.join(spec.env)})" if spec.env else ""
        parser.addini(spec.ini, f"default for {spec.flag}{env}", type=ini_type)
    parser.addini(
        EXPECT_INI,
        "expectation overrides, one per line: EVENT PATH = OUTCOME (PATH may be 'container')",
        type="linelist",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register markers and the evidence collector; settings are resolved when first needed."""
    config.addinivalue_line("markers", "live: fires real lifecycle events (run with -m live)")
    config.addinivalue_line(
        "markers",
        "appservice_cells(hypothesis): parametrize over that hypothesis' cells of the "
        "expectation matrix (" + ", ".join(HYPOTHESIS_NAMES) + ")",
    )
    config.stash[CASES_KEY] = []
    config.stash[BACKENDS_KEY] = []
    config.stash[KEPT_KEY] = []
    config.pluginmanager.register(EvidenceCollector(config), "appservice-fs-evidence")
    signals.install(config)  # SIGTERM as Ctrl-C in a live session; workers' kept lines
    if getattr(config, "workerinput", None) is None and config.getoption("numprocesses", None):
        # An xdist controller chooses its scheduler and briefs its workers before anything is
        # collected: it needs the settings now.
        _settings(config)


def _settings(config: pytest.Config) -> Settings | None:
    """The run's settings, resolved on first use and kept; None when they cannot be used, the
    reason kept under SETTINGS_ERROR_KEY.

    Not at configure time: only a session that collects a live test needs them (pytest --help,
    and test runs of other projects in this environment, must neither fail nor pay for them).
    """
    if SETTINGS_KEY in config.stash:
        return config.stash[SETTINGS_KEY]
    if SETTINGS_ERROR_KEY in config.stash:
        return None
    try:
        settings = _resolve(config)
    except SettingsError as exc:
        config.stash[SETTINGS_ERROR_KEY] = exc
        return None
    config.stash[SETTINGS_KEY] = settings
    return settings


def _resolve(config: pytest.Config) -> Settings:
    """Resolve the settings of this session (SettingsError with one sentence when not)."""
    from pytest_appservice_fs.config import resolve

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and SETTINGS_ERROR_OUTPUT in workerinput:
        # The controller found that the live suite cannot be distributed as asked.
        raise SettingsError(workerinput[SETTINGS_ERROR_OUTPUT])
    settings = resolve(
        _command_line(config),
        config.getini,
        os.environ,
        expectation_lines=config.getini(EXPECT_INI),
    )
    if workerinput is not None:
        # An xdist worker: the controller's run id, and an app of the worker's own.
        return dataclasses.replace(
            settings,
            run_id=workerinput.get(RUN_ID_INPUT, settings.run_id),
            worker=str(workerinput["workerid"]),
        )
    _check_distribution(config, settings)
    return settings


def _command_line(config: pytest.Config) -> dict[str, Any]:
    return {spec.dest: config.getoption(f"appservice_fs_{spec.dest}") for spec in OPTIONS}


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Each appservice-fs setting that is not the default, and where it came from (read, not
    checked: a bad value is reported when a live test needs it)."""
    return header(_command_line(config), config.getini, os.environ)


def _uses_plugin(item: pytest.Item) -> bool:
    """Whether a collected test is live: it uses an appservice_* fixture or the live mark."""
    names = getattr(item, "fixturenames", ())
    return any(name.startswith(FIXTURE_PREFIX) for name in names) or (
        item.get_closest_marker("live") is not None
    )


def _check_distribution(config: pytest.Config, settings: Settings) -> None:
    """Under xdist, keep each event's cells on one worker: --dist loadgroup, one app each.

    Raises SettingsError when the live suite cannot be distributed as asked.
    """
    workers = config.getoption("numprocesses", None)
    if not workers:
        return
    if settings.backend == "azure" and not settings.provision:
        raise SettingsError(
            "--app-name attaches one app, which cannot host events side by side; run without "
            "-n, or with --provision (one app per worker)."
        )
    dist = config.getoption("dist", "no")
    if dist not in ("load", "loadgroup"):  # load is what -n means unless told otherwise
        raise SettingsError(
            f"--dist {dist} would split an event's cells across workers and fire it more than "
            "once; leave --dist out (or use load or loadgroup): events are grouped per worker."
        )
    config.stash[GROUP_EVENTS_KEY] = True
    if config.getoption("maxworkerrestart", None) is None:
        # A replacement worker would start an app of its own and could fire an event again;
        # a crash is reported instead (and the run does not wait on rescheduling).
        config.option.maxworkerrestart = 0


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist controller: one worker takes every test of an event (see distribution.py)."""
    if not config.stash.get(GROUP_EVENTS_KEY, False):
        return None
    from pytest_appservice_fs.xdist_scheduling import event_scheduling

    return event_scheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker gets the run's id, so all its resources share it, or
    the reason its live tests cannot run."""
    settings = node.config.stash.get(SETTINGS_KEY, None)
    if settings is not None:
        node.workerinput[RUN_ID_INPUT] = settings.run_id
    error = node.config.stash.get(SETTINGS_ERROR_KEY, None)
    if error is not None:
        node.workerinput[SETTINGS_ERROR_OUTPUT] = str(error)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``appservice_cell`` over the marked hypothesis' cells."""
    if "appservice_cell" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("appservice_cells")
    if marker is None or not marker.args:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} uses appservice_cell without "
            "@pytest.mark.appservice_cells(HYPOTHESIS)."
        )
    hypothesis = str(marker.args[0])
    if hypothesis not in HYPOTHESIS_NAMES:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: appservice_cells({hypothesis!r}) names no "
            f"hypothesis; valid are {', '.join(HYPOTHESIS_NAMES)}."
        )
    settings = _settings(metafunc.config)
    if settings is None:
        # The settings did not resolve: collection_finish stops the session with the reason.
        metafunc.parametrize("appservice_cell", [None], ids=["settings-error"], indirect=True)
        return
    cells = settings.expectations.cells(hypothesis, settings.events)
    if not cells:
        chosen = ", ".join(e.value for e in settings.events)
        reason = f"{hypothesis} has no cell for the events chosen ({chosen})"
        if hypothesis == "mounts" and not settings.configuration.mounts:
            reason = "mounts has no cell: no --mount was given"
        skip = pytest.mark.skip(reason=reason)
        metafunc.parametrize("appservice_cell", [pytest.param(None, marks=skip)], indirect=True)
        return
    # The ids carry the event first: distribution.event_scope groups tests by it under xdist.
    metafunc.parametrize("appservice_cell", cells, ids=[c.id for c in cells], indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """An xdist worker whose settings did not resolve runs none of its live tests.

    A usage error raised on a worker would crash it (an INTERNALERROR on the controller), so
    the worker deselects its live tests and hands the reason to the controller, which stops
    the session with it (exit 4). Its other tests still run.
    """
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is None:
        return
    live = [item for item in items if _uses_plugin(item)]
    if live and _settings(config) is None:
        workeroutput[SETTINGS_ERROR_OUTPUT] = str(config.stash[SETTINGS_ERROR_KEY])
        config.hook.pytest_deselected(items=live)
        items[:] = [item for item in items if not _uses_plugin(item)]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: keep the reason a worker could not run its live tests."""
    message = getattr(node, "workeroutput", {}).get(SETTINGS_ERROR_OUTPUT)
    if message:
        node.config.stash[SETTINGS_ERROR_KEY] = SettingsError(message)
        node.config.stash[WORKER_SETTINGS_ERROR_KEY] = True


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Any:
    """A backend that finds a precondition missing (no Azure credentials) ends the session
    with a usage error (exit 4), before the first live test, rather than fail every one alike."""
    if fixturedef.argname != "appservice_backend":
        return (yield)
    from pytest_appservice_fs.backends import PreconditionError

    try:
        return (yield)
    except PreconditionError as exc:
        message = str(exc)
    workeroutput = getattr(request.config, "workeroutput", None)
    if workeroutput is not None:
        # The controller ends the session with this reason (pytest_testnodedown).
        workeroutput[SETTINGS_ERROR_OUTPUT] = message
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before any live test runs, check its settings and that its backend can work (exit 4)."""
    live = [item for item in session.items if _uses_plugin(item)]
    if not live:
        return
    settings = _settings(session.config)
    if settings is None:
        raise pytest.UsageError(str(session.config.stash[SETTINGS_ERROR_KEY]))
    if not any("appservice_backend" in getattr(item, "fixturenames", ()) for item in live):
        return
    from pytest_appservice_fs.backends import BackendError, preflight

    try:
        preflight(settings)
    except BackendError as exc:
        raise pytest.UsageError(str(exc)) from None


class EvidenceCollector:
    """Keeps the evidence each live testcase recorded, with its outcome.

    A plugin object rather than a hook function, because pytest_runtest_logreport gets no
    config; under xdist the controller sees every worker's reports here.
    """

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record a live testcase's properties once its call phase has an outcome (or once its
        setup skipped it: a cell whose event the backend cannot fire)."""
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        properties = {str(name): str(value) for name, value in report.user_properties}
        if "hypothesis" in properties:
            from pytest_appservice_fs.reports.runs import Case

            case = Case(report.nodeid, report.outcome, properties)
            self._config.stash[CASES_KEY].append(case)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the Markdown evidence report, and the job summary on GitHub Actions."""
    config = session.config
    if config.stash.get(WORKER_SETTINGS_ERROR_KEY, False):
        # Workers deselected their live tests: the session ends as a usage error would.
        sys.stderr.write(f"\nERROR: {config.stash[SETTINGS_ERROR_KEY]}\n")
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    settings = config.stash.get(SETTINGS_KEY, None)
    run = _run_report(config)
    if settings is None or hasattr(config, "workerinput"):
        return  # xdist workers hand their reports to the controller, which writes
    live_ran = bool(config.stash.get(CASES_KEY, []))
    if live_ran and config.getoption("numprocesses", None) and not settings.keep_resources:
        # A worker that crashed could not tear down its app; the controller knows the run.
        # (Offline runs under -n never reach for Docker.)
        from pytest_appservice_fs.backends import cleanup_run

        cleanup_run(settings)
    if run is None:
        return
    from pytest_appservice_fs.reports.render import render_markdown
    from pytest_appservice_fs.reports.runs import append_step_summary

    markdown = render_markdown([run])
    if settings.evidence_report is not None:
        path = settings.evidence_report
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(markdown, encoding="utf-8")
        except OSError as exc:
            # Checked up front (config), yet the disk may change during the run: the matrix is
            # still printed, and the run's outcome stands.
            reason = exc.strerror or type(exc).__name__
            config.stash[REPORT_WRITTEN_KEY] = (
                f"the evidence report could not be written to {path} ({reason}); the matrix "
                "above is the run's evidence."
            )
        else:
            config.stash[REPORT_WRITTEN_KEY] = f"evidence report written to {path}"
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        append_step_summary(summary, markdown, full_copy="the JUnit file")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Show the evidence matrix and latency after a live run, and what was kept."""
    for message in config.stash.get(KEPT_KEY, []):
        terminalreporter.write_line(message)
    run = _run_report(config)
    if run is None:
        return
    from pytest_appservice_fs.reports.render import render_text

    terminalreporter.section("App Service filesystem evidence")
    terminalreporter.write_line(render_text(run))
    written = config.stash.get(REPORT_WRITTEN_KEY, None)
    if written:
        terminalreporter.write_line(written)


def _run_report(config: pytest.Config) -> RunReport | None:
    cases = config.stash.get(CASES_KEY, [])
    if not cases:
        return None
    from pytest_appservice_fs.reports.runs import ReportError, run_from_cases

    try:
        return run_from_cases(cases, "this run")
    except ReportError:
        return None  # live testcases that recorded no evidence (all failed in setup)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Tear down any backend whose fixture did not (a crash between setup and teardown)."""
    settings = config.stash.get(SETTINGS_KEY, None)
    for backend in config.stash.get(BACKENDS_KEY, []):
        if settings is not None and settings.keep_resources:
            continue
        backend.teardown()
