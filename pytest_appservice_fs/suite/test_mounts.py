"""Azure Storage mounts (--mount): what each event does to a marker on a mounted share.

An Azure Files share (SMB or NFS) keeps its files on every event and shows them to every
instance; a Blob mount is read-only, so the marker's write is refused (``write_refused``)
(configure-connect-to-azure-storage). Without --mount there is no cell and the test skips.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("mounts")]


def test_mount_fate(appservice_verdict: Verdict) -> None:
    """The mount's marker is what the matrix expects for its kind."""
    assert appservice_verdict.passed, appservice_verdict.explanation
