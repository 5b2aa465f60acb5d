"""Azure Storage mounts (--mount): what each event does to a path mounted from a storage
account, as users mount one for files that must outlive the container and be shared.

An Azure Files share (SMB or NFS) is expected to keep its files on every event and to show
them to every instance; a Blob mount is read-only, so its marker's write is expected to be
refused (``write_refused``, with the errno as evidence). Source: "Mount Azure Storage as a
local share" (learn.microsoft.com/azure/app-service/configure-connect-to-azure-storage). On
the local emulator a mount is a named volume shared by the app's instances, read-only for
Blob. Without --mount this file collects no test.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("mounts")]


def test_mount_fate(appservice_verdict: Verdict) -> None:
    """The mount's marker is what the matrix expects: kept, shared, or refused."""
    assert appservice_verdict.passed, appservice_verdict.explanation
