"""Restarts: the app's (ARM ``restart``, plain or ``softRestart=true``) and the plan's
(``restartSites`` on the App Service plan).

Sources: the Microsoft.Web REST spec's ``WebApps_Restart`` (Azure/azure-rest-api-specs,
``specification/web/resource-manager/Microsoft.Web/AppService``): ``softRestart`` "Specify
true to apply the configuration settings and restarts the app only if necessary. By
default, the API always restarts and reprovisions the app."; and
``AppServicePlans_RestartWebApps``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from pytest_appservice_fs.engine.model import Event, Identity
from pytest_appservice_fs.events.base import Trigger
from pytest_appservice_fs.events.protocol import App, Before, TriggerFactory

#: How long a soft restart may leave the probe process running before that is its result
#: (``--soft-restart-timeout``), in seconds.
SOFT_RESTART_TIMEOUT = 120.0


class Restart(Trigger):
    """The app restarted as the run's ``--restart-mode`` says (platform or soft).

    ``no_op_after`` (seconds) is for a restart that may do nothing ("only if necessary"):
    when the same probe process still answers that long after the request, the restart is
    proven a no-op, and the cells are judged on it. None: only a new process proves it.
    """

    event = Event.RESTART
    keeps_container = True
    #: None: the backend's own mode; True: ``softRestart=true``.
    soft: bool | None = None

    def __init__(self, no_op_after: float | None = None) -> None:
        self.no_op_after = no_op_after
        self._fired_at: float | None = None
        self._before: Identity | None = None
        if no_op_after is not None:
            self.awaited = (
                "awaited a new probe process, or the same one still answering "
                f"{no_op_after:g} s after the request (a soft restart restarts only if "
                "necessary)"
            )

    def fire(self, app: App, before: Before) -> str:
        """Restart the app once."""
        self._fired_at, self._before = time.monotonic(), before.identity
        app.backend.restart(soft=self.soft)
        return ""

    def settled(self, now: Identity) -> bool | None:
        """With ``no_op_after``: the same process (None: a new one proves it as usual), and
        whether it has answered long enough after the request to call the restart a no-op."""
        before = self._before
        if self.no_op_after is None or self._fired_at is None or before is None:
            return None
        if now.process_key is None or now.process_key != before.process_key:
            return None
        return time.monotonic() - self._fired_at >= self.no_op_after

    def settled_proof(self, now: Identity) -> str:
        """The process that kept running, and for how long after the request."""
        waited = time.monotonic() - (self._fired_at or 0.0)
        return (
            f"the restart was a no-op: the probe process (pid {now.pid}, started "
            f"{now.process_start}) still answered {waited:.0f} s after the request "
            "(softRestart restarts only if necessary)"
        )


class SoftRestart(Restart):
    """The ARM restart with ``softRestart=true``: it may do nothing (no-op after 120 s by
    default)."""

    event = Event.RESTART_SOFT
    soft = True

    def __init__(self, no_op_after: float | None = SOFT_RESTART_TIMEOUT) -> None:
        super().__init__(no_op_after)


class PlanRestart(Trigger):
    """Every app of the plan restarted; the app may come back on other workers."""

    event = Event.PLAN_RESTART
    awaited = "awaited a new probe process or instance"
    may_move = True

    def fire(self, app: App, before: Before) -> str:
        """Restart the plan's apps once."""
        app.backend.restart_plan()
        return ""


def configured(
    *, soft_restart_timeout: float, restart_is_soft: bool
) -> Mapping[Event, TriggerFactory]:
    """The restarts with the run's soft-restart window (seconds); with ``restart_is_soft``
    (``--restart-mode soft``) the plain restart is a soft one too, and may do nothing."""
    restart_window = soft_restart_timeout if restart_is_soft else None
    return {
        Event.RESTART: lambda: Restart(restart_window),
        Event.RESTART_SOFT: lambda: SoftRestart(soft_restart_timeout),
        Event.PLAN_RESTART: PlanRestart,
    }


#: The restarts with the default soft-restart window.
TRIGGERS = configured(soft_restart_timeout=SOFT_RESTART_TIMEOUT, restart_is_soft=False)
