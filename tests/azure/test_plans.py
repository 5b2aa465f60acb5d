"""The SKU table: which size change_sku moves each plan to, and which plans it refuses."""

from __future__ import annotations

import pytest

pytest.importorskip("azure.mgmt.web")

from pytest_appservice_fs.backends.azure.plans import TIER_SIZES, next_size, unsupported_events
from pytest_appservice_fs.engine.model import Event


@pytest.mark.parametrize(
    ("sku", "moved"),
    [
        ("B1", "B2"),
        ("B2", "B3"),
        ("B3", "B2"),
        ("S1", "S2"),
        ("S2", "S3"),
        ("S3", "S2"),
        ("P1v2", "P2v2"),
        ("P2v2", "P3v2"),
        ("P3v2", "P2v2"),
        ("P0v3", "P1v3"),
        ("P1v3", "P2v3"),
        ("P2v3", "P3v3"),
        ("P3v3", "P2v3"),
        ("P1mv3", "P2mv3"),
        ("P5mv3", "P4mv3"),
        ("p1V3", "P2v3"),  # ARM compares SKU names without case; the answer is spelt as ARM does
    ],
)
def test_next_size_is_one_up_in_the_tier_or_one_down_from_the_largest(sku: str, moved: str) -> None:
    assert next_size(sku) == moved
    assert unsupported_events(sku) == {}


@pytest.mark.parametrize("sku", ["F1", "D1", "FREE", "Y1", "EP1", "I1v2", ""])
def test_plans_with_no_known_other_size_cannot_change_sku(sku: str) -> None:
    assert next_size(sku) is None
    reason = unsupported_events(sku)[Event.SKU_CHANGE]
    assert reason.startswith(f"the plan's SKU {sku or '(unknown)'} has no other size")
    assert not reason.endswith(".")  # a clause: the skip shows it, change_sku ends it


def test_every_size_moves_to_another_size_of_its_tier() -> None:
    for sizes in TIER_SIZES:
        for size in sizes:
            moved = next_size(size)
            assert moved in sizes
            assert moved != size
