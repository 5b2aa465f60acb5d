"""Each event keeps or recreates the container as the lab observed.

A restart keeps the container (same hostname, new process); stop/start and deploy recreate
it on the same instance; scale-out answers from a new instance with its own container. These
cells explain the path verdicts: a local file can only be lost if its container went away.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("lifecycle")]


def test_container_fate(appservice_verdict: Verdict) -> None:
    """The container after the event is the one the lab saw: kept, recreated or new."""
    assert appservice_verdict.passed, appservice_verdict.explanation
