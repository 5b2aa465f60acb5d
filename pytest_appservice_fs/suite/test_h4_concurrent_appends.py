"""H4, concurrent appends: two instances append numbered records to one /home file at once.

The app is scaled to two instances; each appends --append-records records (default 200), each
record one write and an fsync, at the same moment, with ``flock`` around every record or with
no lock. The file is then counted: records lost, duplicated, and lines torn by writes that
interleaved. On Azure, /home is a CIFS share mounted with ``nobrl``: ``flock`` is granted by
each instance's own kernel, so whether it orders two instances is what is measured (the
cells are ``observe``). On the local emulator both containers share one Docker volume on one
kernel, so ``flock`` does order them: its cell expects ``intact``.
"""

from __future__ import annotations

import pytest

from pytest_appservice_fs import Verdict

pytestmark = [pytest.mark.live, pytest.mark.appservice_cells("H4")]


def test_concurrent_appends(appservice_appends: Verdict) -> None:
    """Both writers were measured at once, and the file came out as the cell expects."""
    assert appservice_appends.passed, appservice_appends.explanation
