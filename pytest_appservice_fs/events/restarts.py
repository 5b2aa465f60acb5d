"""Restarts: the app's (ARM ``restart``, plain or ``softRestart=true``) and the plan's
(``restartSites`` on the App Service plan).

Sources: the Microsoft.Web REST spec's ``WebApps_Restart`` (``softRestart``: "restart only
if necessary", ``synchronous``) and ``AppServicePlans_RestartWebApps``.
"""

from __future__ import annotations

from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.events.base import Trigger
from pytest_appservice_fs.events.protocol import App, Before, TriggerFactory


class Restart(Trigger):
    """The app restarted as the run's ``--restart-mode`` says (platform or soft)."""

    event = Event.RESTART
    keeps_container = True
    #: None: the backend's own mode; True: ``softRestart=true``.
    soft: bool | None = None

    def fire(self, app: App, before: Before) -> str:
        """Restart the app once."""
        app.backend.restart(soft=self.soft)
        return ""


class SoftRestart(Restart):
    """The ARM restart with ``softRestart=true``."""

    event = Event.RESTART_SOFT
    soft = True


class PlanRestart(Trigger):
    """Every app of the plan restarted; the app may come back on other workers."""

    event = Event.PLAN_RESTART
    awaited = "awaited a new probe process or instance"
    may_move = True

    def fire(self, app: App, before: Before) -> str:
        """Restart the plan's apps once."""
        app.backend.restart_plan()
        return ""


TRIGGERS: dict[Event, TriggerFactory] = {
    Event.RESTART: Restart,
    Event.RESTART_SOFT: SoftRestart,
    Event.PLAN_RESTART: PlanRestart,
}
