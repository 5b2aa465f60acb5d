"""The plugin where no live test runs: it costs nothing, and a bad setting does not fail it.

Every pytest run in an environment with the package installed loads the plugin. These tests
run pytest in a subprocess (a fresh interpreter, as a user's run is) in a folder without the
project's ini file.
"""

from __future__ import annotations

import json

import pytest

from tests.junit_cases import copy_live_suite

BAD_ENV = {"APPSERVICE_FS_LATENCY_SIZE": "0"}
BAD_SENTENCE = (
    "--latency-size (from environment APPSERVICE_FS_LATENCY_SIZE) got '0'; valid is a whole "
    "number from 1 to 1048576."
)
#: Modules that only a live session needs: importing them costs every pytest start 100+ ms.
HEAVY = ("requests", "tenacity", "docker", "azure", "flask", "urllib3")

PLAIN_TEST = """
import json, sys

def test_plain():
    assert True

def test_zz_modules(pytestconfig):
    # Written last (alphabetical order): what this pytest run had imported by then.
    with open(pytestconfig.rootpath / "modules.json", "w") as out:
        json.dump(sorted(sys.modules), out)
"""


@pytest.fixture
def bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment with a setting the plugin refuses."""
    for name, value in BAD_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("bad_environment")
@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_exit_0_with_a_bad_setting(pytester: pytest.Pytester, option: str) -> None:
    """pytest --help and --version never fail because of the plugin's settings."""
    result = pytester.runpytest_subprocess(option)
    assert result.ret == pytest.ExitCode.OK
    assert "Traceback (most recent call last)" not in result.stdout.str() + result.stderr.str()


@pytest.mark.usefixtures("bad_environment")
def test_plain_tests_pass_with_a_bad_setting(pytester: pytest.Pytester) -> None:
    """Another project's tests pass; the header shows the setting as given, unchecked (it is
    checked only when a live test needs it)."""
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["appservice-fs: --latency-size 0 (from environment APPSERVICE_FS_LATENCY_SIZE)"]
    )
    assert "ERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.usefixtures("bad_environment")
def test_live_session_with_a_bad_setting_exits_4_with_one_sentence(
    pytester: pytest.Pytester,
) -> None:
    """Collecting a live test with a bad setting stops the session: exit 4, one sentence."""
    copy_live_suite(pytester)
    result = pytester.runpytest_subprocess("-m", "live", "--backend", "fake")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {BAD_SENTENCE}"])
    assert "Traceback (most recent call last)" not in result.stdout.str() + result.stderr.str()
    assert " passed" not in result.stdout.str()


@pytest.mark.usefixtures("bad_environment")
def test_deselected_live_tests_do_not_need_the_settings(pytester: pytest.Pytester) -> None:
    """A project that keeps live tests but deselects them runs its other tests."""
    copy_live_suite(pytester)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-m", "not live", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 1
    assert outcomes["deselected"] > 0
    assert result.ret == pytest.ExitCode.OK


def test_a_plain_run_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    """Loading the plugin imports no HTTP client, retry library, Docker or Azure SDK, nor the
    probe's Flask: what a run without the plugin does not import, a run with it does not
    either."""
    pytester.makepyfile(test_plain=PLAIN_TEST)

    def imported(*args: str) -> set[str]:
        pytester.runpytest_subprocess("-p", "no:cacheprovider", *args).assert_outcomes(passed=2)
        names = json.loads((pytester.path / "modules.json").read_text(encoding="utf-8"))
        return {name for name in names if name.split(".")[0] in HEAVY}

    with_plugin = imported()
    without_plugin = imported("-p", "no:appservice_fs")
    assert with_plugin - without_plugin == set()
    assert "pytest_appservice_fs.plugin" not in without_plugin
    # Nor the engine: the settings are not even resolved where no live test is collected.
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
    ours = {
        name
        for name in json.loads((pytester.path / "modules.json").read_text(encoding="utf-8"))
        if name.startswith("pytest_appservice_fs")
    }
    assert ours == {
        "pytest_appservice_fs",
        "pytest_appservice_fs.contract",
        "pytest_appservice_fs.fixtures",
        "pytest_appservice_fs.hooks",
        "pytest_appservice_fs.keys",
        "pytest_appservice_fs.options",
        "pytest_appservice_fs.plugin",
        "pytest_appservice_fs.signals",
    }


def test_header_names_settings_and_their_source(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report header lists each setting that is not the default, and where it came from;
    the environment beats the ini file."""
    monkeypatch.setenv("APPSERVICE_FS_EVENTS", "restart")
    monkeypatch.setenv("APPSERVICE_FS_APP_SETTINGS", "PROBE_TOKEN=never-shown-secret")
    pytester.makeini("[pytest]\nappservice_fs_events = deploy\nappservice_fs_sku = B2\n")
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("--backend", "fake", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "appservice-fs: --backend fake (from command line)",
            "appservice-fs: --sku B2 (from ini appservice_fs_sku)",
            "appservice-fs: --events restart (from environment APPSERVICE_FS_EVENTS)",
            "appservice-fs: --app-setting PROBE_TOKEN=*** (from environment "
            "APPSERVICE_FS_APP_SETTINGS)",
        ]
    )
    assert "never-shown-secret" not in result.stdout.str() + result.stderr.str()


@pytest.mark.usefixtures("bad_environment")
def test_live_session_under_xdist_with_a_bad_setting_exits_4(pytester: pytest.Pytester) -> None:
    """Under -n the workers run no live test and the controller stops with the sentence (a
    usage error on a worker would crash it); the other tests still run."""
    copy_live_suite(pytester)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-n", "2", "-m", "live or not live", "--backend", "fake")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {BAD_SENTENCE}"])
    assert result.parseoutcomes()["passed"] == 1
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
