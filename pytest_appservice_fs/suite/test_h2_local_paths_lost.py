"""H2: files outside /home are lost whenever the container is recreated.

/tmp and /var/local live in the container's writable layer. A restart keeps the container,
so its markers persist there; stop/start and deploy recreate the container, so they are lost.
Whether a soft restart, an app setting change, a SKU change or a plan restart recreates the
container is not documented: on Azure those cells are observed; the local emulator recreates
containers to apply a setting and keeps them on a (soft) restart.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("H2")]


def test_local_path_fate(appservice_verdict: Verdict) -> None:
    """A local marker persists while the container lives and is lost with it."""
    assert appservice_verdict.passed, appservice_verdict.explanation
