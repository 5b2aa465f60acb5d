"""The app's configuration that the probe needs: its settings, startup command and stack.

As azure-mgmt-web's operations send them: the settings are read with a POST to the site's
``config/appsettings/list`` and written with a PUT to ``config/appsettings``, which replaces
them as a whole; the startup command is ``appCommandLine`` of ``config/web``, changed with a
PATCH (``update_configuration``), as is the stack, ``linuxFxVersion``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.mgmt.web import models as web_models

from pytest_appservice_fs.backends.azure.arm import arm_call


@dataclass(frozen=True)
class Site:
    """The app (ARM's site) whose settings and startup command ARM reads and writes."""

    web: Any
    group: str
    name: str

    def read_settings(self) -> dict[str, str]:
        """The app settings now, name to value."""
        listed = arm_call(
            lambda: self.web.web_apps.list_application_settings(self.group, self.name),
            "read the app settings",
        )
        return dict(listed.properties or {})

    def put_settings(
        self, settings: Mapping[str, str], *, what: str = "write the app settings"
    ) -> None:
        """Make ``settings`` the app's settings; ``what`` names the change in an error."""
        # The API replaces all settings: callers pass the whole set.
        arm_call(
            lambda: self.web.web_apps.update_application_settings(
                self.group,
                self.name,
                web_models.StringDictionary(properties=dict(settings)),
            ),
            what,
        )

    def put_stack(self, linux_fx_version: str) -> None:
        """Make ``linux_fx_version`` the app's stack (``PYTHON|3.11``, ``DOCKER|<image>``)."""
        arm_call(
            lambda: self.web.web_apps.update_configuration(
                self.group,
                self.name,
                web_models.SiteConfigResource(
                    properties=web_models.SiteConfig(linux_fx_version=linux_fx_version)
                ),
            ),
            "write the app's stack (linuxFxVersion)",
        )

    def put_startup(self, command: str) -> None:
        """Make ``command`` the startup command line App Service runs."""
        arm_call(
            lambda: self.web.web_apps.update_configuration(
                self.group,
                self.name,
                web_models.SiteConfigResource(
                    properties=web_models.SiteConfig(app_command_line=command)
                ),
            ),
            "write the startup command",
        )
