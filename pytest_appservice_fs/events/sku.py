"""The plan's SKU changed one size up (B1 -> B2), and back after the read.

Source: the Microsoft.Web REST spec's ``AppServicePlans_Update`` (``sku``). A new SKU may move
the app to other workers, so the proof accepts the app answering from another instance.
"""

from __future__ import annotations

import logging

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.events.base import Trigger, answering
from pytest_appservice_fs.events.protocol import App, Before, EventNotProven, TriggerFactory

log = logging.getLogger(__name__)


class SkuChange(Trigger):
    """The plan one size up; the app may answer from other workers afterwards."""

    event = Event.SKU_CHANGE
    awaited = "awaited a new probe process or instance"
    may_move = True

    def fire(self, app: App, before: Before) -> str:
        """Change the plan's SKU; return which change."""
        return f"plan SKU {app.backend.change_sku()}"

    def restore(self, app: App) -> None:
        """The plan back on its SKU, and the app answering again, so the next event starts
        clean."""
        try:
            app.backend.restore_sku()
            app.poll(
                self.event,
                "",
                "awaited the app answering on its first SKU",
                lambda last_seen: answering(app, last_seen),
            )
        except (BackendError, EventNotProven) as exc:
            log.warning("could not put the plan back on its SKU: %s", exc)


TRIGGERS: dict[Event, TriggerFactory] = {Event.SKU_CHANGE: SkuChange}
