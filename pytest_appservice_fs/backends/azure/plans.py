"""The app's App Service plan: its worker count and size, changed through ARM and put back.

Every change reads the plan first and writes the whole plan back
(``app_service_plans.begin_create_or_update``), because ARM has no call that sets only
``sku.capacity`` or ``sku.name``; ``number_of_workers`` is read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_appservice_fs.backends.azure.arm import LRO_SECONDS, arm_call, provisioned
from pytest_appservice_fs.engine.model import Event

#: The sizes of each tier, smallest first. A size change stays in its tier, so the tier's
#: worker limit and the plan's capacity stay valid. Free and shared plans have one size.
TIER_SIZES: tuple[tuple[str, ...], ...] = (
    ("B1", "B2", "B3"),
    ("S1", "S2", "S3"),
    ("P1v2", "P2v2", "P3v2"),
    ("P0v3", "P1v3", "P2v3", "P3v3"),
    ("P1mv3", "P2mv3", "P3mv3", "P4mv3", "P5mv3"),
)

#: The sizes a run may ask for with --sku: those of TIER_SIZES, whose tiers the harness can
#: scale out (free and shared plans have one worker) and resize within.
SUPPORTED_SKUS: tuple[str, ...] = tuple(size for sizes in TIER_SIZES for size in sizes)


def supported_sku(sku: str) -> str | None:
    """``sku`` as SUPPORTED_SKUS spells it ('p1V3' -> 'P1v3'), or None when not among them."""
    return next((size for size in SUPPORTED_SKUS if size.lower() == sku.lower()), None)


#: The tier of each size, as azure-cli's appservice module names it when it changes a plan's
#: SKU (src/azure-cli/azure/cli/command_modules/appservice/utils.py, ``get_sku_tier``: "if
#: name in ['P0V3']: return 'PREMIUM0V3'", "if name in ['P1V3', 'P2V3', 'P3V3']: return
#: 'PREMIUMV3'"; custom.py ``update_app_service_plan`` sets ``sku_def.tier =
#: get_sku_name(sku)`` and ``sku_def.name = sku``). A plan's tier follows its new size, so
#: P0v3 -> P1v3 moves from PREMIUM0V3 to PREMIUMV3.
_SIZE_TIERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("F1", "FREE"), "FREE"),
    (("D1", "SHARED"), "SHARED"),
    (("B1", "B2", "B3"), "BASIC"),
    (("S1", "S2", "S3"), "STANDARD"),
    (("P1", "P2", "P3"), "PREMIUM"),
    (("P1V2", "P2V2", "P3V2"), "PREMIUMV2"),
    (("P0V3",), "PREMIUM0V3"),
    (("P1V3", "P2V3", "P3V3"), "PREMIUMV3"),
    (("P1MV3", "P2MV3", "P3MV3", "P4MV3", "P5MV3"), "PREMIUMMV3"),
)


def sku_tier(size: str) -> str | None:
    """The tier of ``size`` as az names it ('P1v3' -> 'PREMIUMV3'); None for a size not listed."""
    for sizes, tier in _SIZE_TIERS:
        if size.upper() in sizes:
            return tier
    return None


def next_size(sku: str) -> str | None:
    """The size change_sku moves ``sku`` to: one up in its tier, one down from the largest."""
    for sizes in TIER_SIZES:
        lowered = [size.lower() for size in sizes]
        if sku.lower() in lowered:
            index = lowered.index(sku.lower())
            return sizes[index + 1] if index + 1 < len(sizes) else sizes[index - 1]
    return None


def unsupported_events(sku: str) -> dict[Event, str]:
    """What the Azure backend cannot fire on a plan of ``sku``, with the reason."""
    if next_size(sku) is not None:
        return {}
    return {
        Event.SKU_CHANGE: (
            f"the plan's SKU {sku or '(unknown)'} has no other size in its tier to move to and back"
        )
    }


@dataclass(frozen=True)
class Plan:
    """The App Service plan the app runs on, as ARM reads and writes it."""

    web: Any
    group: str
    name: str

    def read(self) -> Any:
        """The plan as ARM returns it now."""
        return arm_call(
            lambda: self.web.app_service_plans.get(self.group, self.name), "read the plan"
        )

    def sku(self) -> str:
        """The plan's SKU name now, as 'B1'."""
        plan = self.read()
        return str(plan.sku.name) if plan.sku else ""

    def apps(self) -> int:
        """How many apps the plan hosts now (ARM's numberOfSites)."""
        return int(self.read().number_of_sites or 1)

    def capacity(self) -> int:
        """How many workers the plan has now."""
        plan = self.read()
        return int(plan.sku.capacity or 1) if plan.sku else 1

    def set_capacity(self, count: int) -> None:
        """Run the plan on ``count`` workers; wait until ARM reports it done."""
        plan = self.read()
        plan.sku.capacity = count
        self._put(plan, f"scale the plan to {count} instance(s)")

    def set_size(self, size: str) -> None:
        """Move the plan to ``size`` (a size of its tier), keeping its workers; wait for it."""
        plan = self.read()
        # ARM reports the size twice, as name and size; both say the new one. The tier is
        # the new size's, as az sets it: the one read belongs to the old size.
        plan.sku.name = plan.sku.size = size
        plan.sku.tier = sku_tier(size) or plan.sku.tier
        self._put(plan, f"move the plan to {size}")

    def restart_apps(self) -> None:
        """Restart every app of the plan, hard (no softRestart), as ARM restartSites does."""
        arm_call(
            lambda: self.web.app_service_plans.restart_web_apps(self.group, self.name),
            "restart the plan's apps",
        )

    def _put(self, plan: Any, what: str) -> None:
        result = arm_call(
            lambda: self.web.app_service_plans.begin_create_or_update(
                self.group, self.name, plan
            ).result(timeout=LRO_SECONDS),
            what,
        )
        provisioned(result, what)
