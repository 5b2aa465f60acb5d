"""pytest_appservice_fs_make_backend: a project's conftest plugs in its own backend."""

from __future__ import annotations

import pytest

from tests.junit_cases import copy_live_suite, read_junit

CONFTEST = """
import pytest
from pytest_appservice_fs.backends.fake import FakeBackend

MADE = []


class TaggedFake(FakeBackend):
    name = "tagged"

    @property
    def facts(self):
        return {**super().facts, "sku": "PLUGGED"}

    def teardown(self):
        (WORKDIR[0] / "torn-down").write_text("yes")
        super().teardown()


WORKDIR = []


def pytest_appservice_fs_make_backend(settings, workdir):
    WORKDIR.append(workdir)
    (workdir / "made-by-conftest").write_text(settings.run_id)
    paths = ",".join(settings.expectations.all_paths)
    return TaggedFake(workdir / "app", app_settings={"PROBE_PATHS": paths})
"""


def test_a_conftest_backend_is_used_and_torn_down(pytester: pytest.Pytester) -> None:
    """The project's hook wins over the default: its backend runs the cells (its facts are in
    the evidence), gets the settings and a work folder, and is torn down at the end."""
    copy_live_suite(pytester)
    pytester.makeconftest(CONFTEST)
    junit = pytester.path / "out.xml"
    result = pytester.runpytest(
        "-m",
        "live",
        "--backend",
        "fake",
        "--events",
        "restart",
        "-k",
        "home_persists",
        "--run-id",
        "hook-run",
        f"--junitxml={junit}",
        f"--basetemp={pytester.path / 'inner-basetemp'}",
        "-p",
        "no:randomly",
    )
    result.assert_outcomes(passed=1)
    (case,) = read_junit(junit)
    assert case["sku"] == "PLUGGED"
    assert case["backend"] == "tagged"
    made = list(pytester.path.glob("inner-basetemp/**/made-by-conftest"))
    assert [p.read_text() for p in made] == ["hook-run"]
    assert (made[0].parent / "torn-down").read_text() == "yes"


def test_without_a_conftest_hook_the_default_backend_is_made(pytester: pytest.Pytester) -> None:
    """A conftest implementation that returns None leaves the choice to the default."""
    copy_live_suite(pytester)
    pytester.makeconftest(
        """
        CALLS = []

        def pytest_appservice_fs_make_backend(settings, workdir):
            CALLS.append(settings.backend)
            return None

        def pytest_sessionfinish(session):
            print("hook calls:", CALLS)
        """
    )
    result = pytester.runpytest(
        "-m", "live", "--backend", "fake", "--events", "restart", "-k", "home_persists", "-s"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hook calls: ?'fake'?"])


def test_a_hook_that_returns_no_backend_fails_setup_in_one_sentence(
    pytester: pytest.Pytester,
) -> None:
    """Something that is not a Backend is refused before anything is created: one sentence
    naming the hook and what is missing, no traceback, nothing to tear down."""
    copy_live_suite(pytester)
    pytester.makeconftest(
        """
        def pytest_appservice_fs_make_backend(settings, workdir):
            return "fake"
        """
    )
    result = pytester.runpytest(
        "-m", "live", "--backend", "fake", "--events", "restart", "-k", "home_persists"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest_appservice_fs_make_backend returned no Backend (a str lacks name, timing,*"
            "teardown); return an object that implements*"
        ]
    )
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "During handling" not in output
    assert "has no attribute 'teardown'" not in output
