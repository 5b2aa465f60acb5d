"""Events after which the container is recreated, or may be: stop/start, a deploy, and an
app setting change.

Sources: the Microsoft.Web REST spec's ``WebApps_Stop``/``WebApps_Start`` and
``WebApps_UpdateApplicationSettings``; Kudu for Linux's OneDeploy (``POST /api/publish``,
KuduLite ``PushDeploymentController.cs``). Microsoft's documentation ("Configure an App
Service app": changing app settings restarts the app).
"""

from __future__ import annotations

import secrets

from pytest_appservice_fs.contract import SETTINGS_MARK
from pytest_appservice_fs.engine.model import Event, Identity
from pytest_appservice_fs.events.base import Trigger
from pytest_appservice_fs.events.protocol import App, Before, TriggerFactory


class StopStart(Trigger):
    """The app stopped, then started."""

    event = Event.STOP_START

    def fire(self, app: App, before: Before) -> str:
        """Stop the app, then start it."""
        app.backend.stop()
        app.backend.start()
        return ""


class Deploy(Trigger):
    """A new probe package deployed; proven by its deployment id answering. The controller
    starts the app with one too (the probe's first deployment)."""

    event = Event.DEPLOY
    awaited = "awaited the new deployment answering"

    def __init__(self) -> None:
        self.deployment_id: str | None = None

    def fire(self, app: App, before: Before) -> str:
        """Deploy a fresh package (a new deployment id)."""
        package = app.new_package()
        self.deployment_id = package.deployment_id
        app.backend.deploy(package)
        return ""

    def settled(self, now: Identity) -> bool | None:
        """The new deployment answers (None: the probe does not report its deployment)."""
        if now.deployment_id is None:
            return None
        return now.deployment_id == self.deployment_id

    def settled_proof(self, now: Identity) -> str:
        """The deployment that answers."""
        return f"deployment {now.deployment_id} answers"


class AppSettingChange(Trigger):
    """One app setting changed, as users change it, to a fresh random value."""

    event = Event.APP_SETTING_CHANGE
    awaited = f"awaited a probe process started with the new {SETTINGS_MARK}"

    def __init__(self) -> None:
        self.mark: str | None = None

    def fire(self, app: App, before: Before) -> str:
        """Set SETTINGS_MARK to a new random value (never a user's setting)."""
        self.mark = secrets.token_hex(8)
        app.backend.set_app_setting(SETTINGS_MARK, self.mark)
        return f"app setting {SETTINGS_MARK} set to {self.mark}"

    def settled(self, now: Identity) -> bool | None:
        """A process started with the new value answers (None: the probe does not say)."""
        if now.settings_mark is None:
            return None
        return now.settings_mark == self.mark

    def settled_proof(self, now: Identity) -> str:
        """The process and the value it started with."""
        return (
            f"the probe process (pid {now.pid}, started {now.process_start}) started with "
            f"{SETTINGS_MARK}={now.settings_mark}"
        )


TRIGGERS: dict[Event, TriggerFactory] = {
    Event.STOP_START: StopStart,
    Event.DEPLOY: Deploy,
    Event.APP_SETTING_CHANGE: AppSettingChange,
}
