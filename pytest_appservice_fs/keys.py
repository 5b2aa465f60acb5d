"""Session state in ``config.stash``: the keys, in one module that plugin and fixtures share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.config import Settings
    from pytest_appservice_fs.options import SettingsError
    from pytest_appservice_fs.reports.runs import Case

#: The run's settings, when they resolved.
SETTINGS_KEY: pytest.StashKey[Settings] = pytest.StashKey()
#: Why they did not resolve: raised only in a session that collects a live test.
SETTINGS_ERROR_KEY: pytest.StashKey[SettingsError] = pytest.StashKey()
#: On an xdist controller: a worker deselected its live tests for that reason.
WORKER_SETTINGS_ERROR_KEY: pytest.StashKey[bool] = pytest.StashKey()
#: The live testcases' evidence, gathered from test reports (which xdist brings home too).
CASES_KEY: pytest.StashKey[list[Case]] = pytest.StashKey()
#: Backends created this session, so unconfigure can tear down what a fixture could not.
BACKENDS_KEY: pytest.StashKey[list[Backend]] = pytest.StashKey()
#: Where the Markdown evidence report was written, for the terminal summary.
REPORT_WRITTEN_KEY: pytest.StashKey[str] = pytest.StashKey()
#: What --keep-resources kept, and how to remove it, for the terminal summary.
KEPT_KEY: pytest.StashKey[list[str]] = pytest.StashKey()
#: Set on an xdist controller that schedules each event's tests to one worker.
GROUP_EVENTS_KEY: pytest.StashKey[bool] = pytest.StashKey()
