"""H3: after scale-out the new instance sees /home files of the first instance, and none of
its local files.

The marker is written on the first instance; the read goes to the new instance, pinned with
App Service's ARR affinity cookies, and the probe's instance id proves who answered.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("H3")]


def test_new_instance_visibility(appservice_verdict: Verdict) -> None:
    """The new instance sees the shared /home marker and none of the local ones."""
    assert appservice_verdict.passed, appservice_verdict.explanation
