"""Paths beyond the lab: what each event does to wwwroot uploads, /home/LogFiles, /dev/shm and
any path given with --path.

Users keep uploads under /home/site/wwwroot (does a deploy wipe them?), read logs from
/home/LogFiles, and use /dev/shm as fast scratch space. On Azure these cells are ``observe``:
the observed outcome is recorded as evidence with its proof, and the cell passes whenever the
event was proven. The local emulator states its own expectations (a deploy replaces wwwroot;
/dev/shm is a tmpfs mounted at each container start, so even a restart empties it), which
say what Docker does, not what Azure does. --path paths are observed on every backend.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("paths")]


def test_path_fate(appservice_verdict: Verdict) -> None:
    """The path's marker is what the backend's matrix expects (or is recorded, if observed)."""
    assert appservice_verdict.passed, appservice_verdict.explanation
