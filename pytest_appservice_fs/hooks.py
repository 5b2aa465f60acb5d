"""The hooks pytest-appservice-fs offers to conftest files and plugins.

Modelled on pytest-xdist's ``newhooks.py`` (``pytest_xdist_make_scheduler``): a
``firstresult`` hook whose default implementation is the plugin's own (``trylast``), so a
project's implementation, when it returns something, wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.protocol import Backend
    from pytest_appservice_fs.config import Settings


@pytest.hookspec(firstresult=True)
def pytest_appservice_fs_make_backend(
    settings: Settings, workdir: Path, azure_options: Mapping[str, Any]
) -> Backend | None:
    """Make the backend this session's live tests run against; None to leave it to the next
    implementation (the default makes the one ``--backend`` names).

    :param settings: the run's settings (``pytest_appservice_fs.config.Settings``).
    :param workdir: an empty folder of this session for the backend's files.
    :param azure_options: the ``appservice_azure_options`` fixture's value (``credential``,
        ``client_options``); an implementation may leave this argument out.
    :returns: an object that implements ``pytest_appservice_fs.backends.protocol.Backend``.
        The harness calls its ``teardown()`` at the end of the session, also on failure,
        unless ``--keep-resources`` is given.
    """
