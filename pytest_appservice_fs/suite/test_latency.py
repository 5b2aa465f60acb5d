"""Latency of each path, on every instance: 4 KiB writes with fsync, and reads.

The lab measured /home at tens of milliseconds per write (an SMB share) and the local paths
at a fraction of one. Figures are evidence, not a pass/fail bar: a test fails only when a
measurement is missing or invalid. --latency-size and --latency-iterations change the load.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("latency")]


def test_io_latency(appservice_latency: Verdict) -> None:
    """Every instance reports min, median, p95 and max for write and read, in order."""
    assert appservice_latency.passed, appservice_latency.explanation
