"""H5, large files: write and read throughput per path, for sizes up to a bounded maximum.

Files of each size (default 1, 16 and 128 MiB; --throughput-sizes) are written in 1 MiB
chunks with one fsync at the end, read back, and checked against the SHA-256 computed while
writing. Figures are evidence: a test fails only when a measurement is missing, invalid, or
the bytes read back differ from those written.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("H5")]


def test_large_file_throughput(appservice_throughput: Verdict) -> None:
    """Every size is written and read back intact, with a positive rate each way."""
    assert appservice_throughput.passed, appservice_throughput.explanation
