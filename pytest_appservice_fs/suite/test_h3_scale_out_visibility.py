"""H3: across instances, /home is shared and local paths are not.

After scale-out the new instance sees the /home marker the first instance wrote, and none of
its local ones. After scale-in (2 -> 1) the survivor still sees the /home marker the removed
instance wrote, and none of its local ones. Reads are pinned to an instance with App Service's
ARR affinity cookies, and the probe's instance id proves who answered. On Azure the platform
chooses which instance a scale-in removes: when it removes the writer's partner instead, the
cell is inconclusive and says so.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("H3")]


def test_new_instance_visibility(appservice_verdict: Verdict) -> None:
    """The other instance sees the shared /home marker and none of the local ones."""
    assert appservice_verdict.passed, appservice_verdict.explanation
