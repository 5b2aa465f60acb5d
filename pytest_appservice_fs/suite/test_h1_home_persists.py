"""H1: files in /home persist across every event that keeps the app on its instance(s).

/home is App Service's persistent storage: an SMB share from Azure Storage mounted into every
container of the app. A marker written there before an event (restart, soft restart,
stop/start, deploy, an app setting change, a SKU change, a plan restart) must be read back
intact after it. (Scale-out and scale-in are H3's.)
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("H1")]


def test_home_persists(appservice_verdict: Verdict) -> None:
    """The marker written to /home before the event is read back intact after it."""
    assert appservice_verdict.passed, appservice_verdict.explanation
