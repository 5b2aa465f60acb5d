"""H1: files in /home persist across restart, stop/start and deploy.

/home is App Service's persistent storage: an SMB share from Azure Storage mounted into every
container of the app. A marker written there before an event must be read back intact after
it, from the same instance. (Scale-out is H3's.)
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("H1")]


def test_home_persists(appservice_verdict: Verdict) -> None:
    """The marker written to /home before the event is read back intact after it."""
    assert appservice_verdict.passed, appservice_verdict.explanation
