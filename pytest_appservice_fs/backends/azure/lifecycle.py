"""The app in a run: provision or attach it at the start, delete or restore it at teardown.

Attach mode changes the app's settings, startup command and (for scale-out and SKU changes)
its plan's capacity and size, and puts them back at teardown; it refuses an app that is not
tagged as a probe app unless told otherwise, because deploying the probe replaces the app's
code. Plan operations (`plans.py`) reach every app of the plan, not only this one. Provision
mode creates a resource group (tagged with the run, its creator and an expiry time) holding a
Linux plan and a site, and deletes the group at teardown.

The configuration under test shapes both modes: the App Service storage setting is written
with the other settings; a container app (``registry.py``) runs the probe image, pulled with
the app's system-assigned identity; Azure Storage mounts (``storage.py``) are made in
provision mode and must exist already in attach mode.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import models as resource_models
from azure.mgmt.web import models as web_models

from pytest_appservice_fs.backends.azure.arm import (
    LRO_SECONDS,
    arm_call,
    arm_reason,
    creator,
    plan_of,
    provisioned,
    refuse_unsuitable,
    scm_host,
    startup_command,
)
from pytest_appservice_fs.backends.azure.groups import (
    EXPIRY_FORMAT,
    TAG_CREATOR,
    TAG_EXPIRES,
    TAG_PROJECT,
    TAG_PROJECT_VALUE,
    TAG_RUN,
)
from pytest_appservice_fs.backends.azure.plans import Plan
from pytest_appservice_fs.backends.azure.registry import Registry, assign_acr_pull
from pytest_appservice_fs.backends.azure.sites import Site
from pytest_appservice_fs.backends.azure.storage import (
    account_name,
    check_attached,
    create_mount_storage,
    read_mounts,
    write_mounts,
)
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.configuration import STORAGE_SETTING, Configuration, Runtime
from pytest_appservice_fs.engine.probe_package import FACTORY_TARGET, IMAGE_PORT

if TYPE_CHECKING:
    from pytest_appservice_fs.backends.azure.backend import AzureTarget

log = logging.getLogger(__name__)

PYTHON_STACK = "PYTHON|3.11"
#: The port App Service sends a custom container's requests to: the probe image's.
CONTAINER_SETTINGS = {"WEBSITES_PORT": str(IMAGE_PORT)}
EXPIRY = dt.timedelta(hours=6)


@dataclass
class Saved:
    """What attach mode changed, so teardown can put it back."""

    app_settings: dict[str, str] | None = None
    app_command_line: str | None = None
    capacity: int | None = None
    #: The SKU before change_sku, until restore_sku puts it back (in either mode).
    sku: str | None = None
    #: The stack (linuxFxVersion) before attach mode set the container image.
    linux_fx_version: str | None = None


@dataclass
class App:
    """What the backend learned about the app once it exists."""

    host: str = ""
    scm_host: str = ""
    plan_group: str = ""
    plan_name: str = ""
    region: str = ""
    sku: str = ""
    probe_token: str = field(default="", repr=False)


@dataclass
class Lifecycle:
    """Makes the target app ready for the probe, and undoes that at teardown.

    ``app`` and ``saved`` are the backend's own records: this fills them in, and reads back
    what the backend's events (change_sku) saved.
    """

    web: Any
    resources: Any
    target: AzureTarget
    app: App
    saved: Saved
    configuration: Configuration = field(default_factory=Configuration)
    #: Made by the backend for a container app in provision mode, with its SDK clients.
    registry: Registry | None = None
    authorization: Any = None
    storage: Any = None
    #: The image attach mode runs (``--image``).
    image: str | None = None
    #: Set once this run created the resource group: only such a group is deleted.
    group_created: bool = False

    def provision(self, *, run_id: str, app_settings: Mapping[str, str]) -> None:
        """Create a tagged group holding a Linux plan and the app, with ``app_settings``."""
        target = self.target
        tags = _tags(run_id)
        if self._group_exists(target.resource_group):
            # The group is deleted at the end: it must be one this run made.
            raise BackendError(
                f"resource group {target.resource_group} exists already; --provision creates and "
                "later deletes a group of its own, so name a new one or leave out --resource-group."
            )
        region = target.region or ""
        arm_call(
            lambda: self.resources.resource_groups.create_or_update(
                target.resource_group,
                resource_models.ResourceGroup(location=region, tags=tags),
            ),
            "create the resource group",
        )
        self.group_created = True
        plan_name = f"{target.app_name}-plan"
        plan = web_models.AppServicePlan(
            location=region,
            kind="linux",
            sku=web_models.SkuDescription(name=target.sku, capacity=1),
            tags=tags,
            properties=web_models.AppServicePlanProperties(reserved=True),
        )
        created_plan = provisioned(
            arm_call(
                lambda: self.web.app_service_plans.begin_create_or_update(
                    target.resource_group, plan_name, plan
                ).result(timeout=LRO_SECONDS),
                "create the plan",
            ),
            "create the plan",
        )
        container = self.configuration.runtime is Runtime.CONTAINER
        if container:
            assert self.registry is not None, "a container app is provisioned with a registry"
            self.registry.create(location=region, tags=tags)
        settings = {**app_settings, **self._configured_settings()}
        self.app.probe_token = settings.setdefault("PROBE_TOKEN", secrets.token_urlsafe(32))
        pairs = [web_models.NameValuePair(name=key, value=value) for key, value in settings.items()]
        if container:
            # The image comes with the first deploy, once AcrPull is assigned: the first pull
            # is then allowed. The image's CMD serves, so there is no startup command.
            config = web_models.SiteConfig(acr_use_managed_identity_creds=True, app_settings=pairs)
        else:
            config = web_models.SiteConfig(
                linux_fx_version=PYTHON_STACK,
                app_command_line=startup_command(FACTORY_TARGET),
                app_settings=pairs,
            )
        site = web_models.Site(
            location=region,
            kind="app,linux,container" if container else "app,linux",
            tags=tags,
            identity=web_models.ManagedServiceIdentity(type="SystemAssigned")
            if container
            else None,
            properties=web_models.SiteProperties(
                server_farm_id=created_plan.id,
                client_affinity_enabled=True,
                https_only=True,
                site_config=config,
            ),
        )
        created = arm_call(
            lambda: self.web.web_apps.begin_create_or_update(
                target.resource_group, target.app_name, site
            ).result(timeout=LRO_SECONDS),
            "create the app",
        )
        if container:
            self._grant_pull(created)
        self._provision_mounts(region, tags)
        self._learn(self._get_site())

    def _configured_settings(self) -> dict[str, str]:
        """The settings the configuration under test asks for, over the run's."""
        settings = {STORAGE_SETTING: self.configuration.storage_setting}
        if self.configuration.runtime is Runtime.CONTAINER:
            settings.update(CONTAINER_SETTINGS)
        else:
            settings["SCM_DO_BUILD_DURING_DEPLOYMENT"] = "true"
        return settings

    def _grant_pull(self, created: Any) -> None:
        """AcrPull on the registry for the app's system-assigned identity."""
        assert self.registry is not None
        identity = getattr(created, "identity", None) or getattr(self._get_site(), "identity", None)
        principal = getattr(identity, "principal_id", None)
        if not principal:
            raise BackendError(
                f"app {self.target.app_name} has no system-assigned identity to pull its image "
                "with."
            )
        assign_acr_pull(
            self.authorization,
            registry_id=self.registry.id,
            principal_id=principal,
            timing=self.registry.timing,
        )

    def _provision_mounts(self, region: str, tags: Mapping[str, str]) -> None:
        """A storage account and share per mount, and the app's azureStorageAccounts entries."""
        if not self.configuration.mounts:
            return
        group, name = self.target.resource_group, self.target.app_name
        entries = {}
        for index, mount in enumerate(self.configuration.mounts):
            entries[f"probe{index}"] = create_mount_storage(
                self.storage,
                group=group,
                location=region,
                tags=tags,
                mount=mount,
                account=account_name(name, index),
            )
        write_mounts(self.web, group, name, entries)

    def attach(self, app_settings: Mapping[str, str]) -> None:
        """Check the named app, then add ``app_settings`` and the probe's startup command."""
        site = self._get_site()
        config = arm_call(
            lambda: self.web.web_apps.get_configuration(
                self.target.resource_group, self.target.app_name
            ),
            "read the app's configuration",
        )
        container = self.configuration.runtime is Runtime.CONTAINER
        refuse_unsuitable(
            site,
            config,
            name=self.target.app_name,
            allow_existing_app=self.target.allow_existing_app,
            container=container,
        )
        self._learn(site)
        if self.configuration.mounts:
            group, name = self.target.resource_group, self.target.app_name
            check_attached(read_mounts(self.web, group, name), self.configuration.mounts, name)
        original = self._site().read_settings()
        token = app_settings.get("PROBE_TOKEN") or secrets.token_urlsafe(32)
        self.app.probe_token = token
        self.saved.app_settings = original
        self._site().put_settings(
            {**original, **app_settings, **self._configured_settings(), "PROBE_TOKEN": token}
        )
        self.saved.app_command_line = config.app_command_line or ""
        # A container's own CMD serves the probe: no startup command may replace it.
        self._site().put_startup("" if container else startup_command(FACTORY_TARGET))
        if container and self.image:
            self.saved.linux_fx_version = config.linux_fx_version or ""
            self._site().put_stack(f"DOCKER|{self.image}")

    def restore(self) -> None:
        """Put back what attach mode changed; every step is tried, the failures told at once."""
        problems = []
        site = self._site()
        steps: list[tuple[str, Any, Callable[[Any], None]]] = [
            ("app settings", self.saved.app_settings, site.put_settings),
            ("startup command", self.saved.app_command_line, site.put_startup),
            ("stack (linuxFxVersion)", self.saved.linux_fx_version, site.put_stack),
            ("plan capacity", self.saved.capacity, self._restore_capacity),
            # After the capacity: a size change moves every worker, so fewer workers move.
            # Sizes of one tier share its worker limit, so neither order is ever refused.
            ("plan SKU", self.saved.sku, self.restore_sku),
        ]
        for what, value, put in steps:
            if value is None:
                continue
            try:
                put(value)
            except BackendError as exc:
                problems.append(f"{what}: {exc}")
        if problems:
            raise BackendError("could not restore the app: " + "; ".join(problems))

    def restore_sku(self, sku: str) -> None:
        """Put the plan on ``sku``; no ARM write when it is on it already."""
        plan = self._plan()
        if plan.sku().lower() != sku.lower():
            plan.set_size(sku)
        self.app.sku = sku

    def delete_group(self) -> None:
        """Delete the resource group, if this run created it; wait at most LRO_SECONDS."""
        group = self.target.resource_group
        if not self.group_created:
            return
        try:
            poller = self.resources.resource_groups.begin_delete(group)
            poller.result(timeout=LRO_SECONDS)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise BackendError(
                f"could not delete resource group {group}: {arm_reason(exc)}; delete it with: "
                f"{delete_group_command(group, self.target.subscription_id)}"
            ) from None
        if not poller.done():
            log.warning("resource group %s is still being deleted after %d s", group, LRO_SECONDS)

    def _group_exists(self, group: str) -> bool:
        try:
            self.resources.resource_groups.get(group)
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise BackendError(
                f"could not look up resource group {group}: {arm_reason(exc)}"
            ) from None
        return True

    def _get_site(self) -> Any:
        group, name = self.target.resource_group, self.target.app_name
        try:
            return self.web.web_apps.get(group, name)
        except ResourceNotFoundError:
            raise BackendError(
                f"--app-name {name}: no such app in resource group {group} of subscription "
                f"{self.target.subscription_id}."
            ) from None
        except HttpResponseError as exc:
            raise BackendError(f"could not read app {name}: {arm_reason(exc)}") from None

    def _learn(self, site: Any) -> None:
        self.app.host = site.default_host_name or f"{self.target.app_name}.azurewebsites.net"
        self.app.scm_host = scm_host(site)
        plan_group, plan_name = plan_of(site.server_farm_id or "")
        self.app.plan_group, self.app.plan_name = plan_group, plan_name
        plan = self._plan().read()
        self.app.region = (self.target.region or site.location or "").replace(" ", "").lower()
        self.app.sku = str(plan.sku.name) if plan.sku else ""
        if not self.target.provision:
            self.saved.capacity = int(plan.sku.capacity or 1) if plan.sku else None

    def _restore_capacity(self, capacity: int) -> None:
        plan = self._plan()
        if plan.capacity() != capacity:
            plan.set_capacity(capacity)

    def _plan(self) -> Plan:
        return Plan(self.web, self.app.plan_group, self.app.plan_name)

    def _site(self) -> Site:
        return Site(self.web, self.target.resource_group, self.target.app_name)


def delete_group_command(group: str, subscription_id: str) -> str:
    """The az command that deletes ``group``, naming its subscription: az may default to another."""
    return f"az group delete --yes --name {group} --subscription {subscription_id}"


def _tags(run_id: str) -> dict[str, str]:
    expires = dt.datetime.now(dt.timezone.utc) + EXPIRY
    return {
        TAG_PROJECT: TAG_PROJECT_VALUE,
        TAG_RUN: run_id,
        TAG_CREATOR: creator(),
        TAG_EXPIRES: expires.strftime(EXPIRY_FORMAT),
    }
