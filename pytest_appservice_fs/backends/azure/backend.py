"""Azure backend: a real App Service app for Linux, attached to or provisioned for the run.

ARM calls go through the real `azure-mgmt-web` and `azure-mgmt-resource` clients, so
azure-core's retry policy handles throttling (429 with Retry-After) and transient 5xx. The
probe is deployed through Kudu OneDeploy (`kudu.py`) and reached at the app's default host
name, pinned to an instance with the ARR affinity cookies. The SDK is imported here only.

Attach mode changes the app's settings, startup command and (for scale-out and SKU changes)
its plan's capacity and size, and puts them back at teardown; it refuses an app that is not
tagged as a probe app unless told otherwise, because deploying the probe replaces the app's
code. Plan operations (`plans.py`) reach every app of the plan, not only this one. Provision
mode creates a resource group (tagged with the run, its creator and an expiry time) holding a
Linux plan and a site, and deletes the group at teardown.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources import models as resource_models
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web import models as web_models

from pytest_appservice_fs.backends.azure.arm import (
    LRO_SECONDS,
    arm_call,
    arm_reason,
    creator,
    plan_of,
    refuse_unsuitable,
    scm_host,
    startup_command,
)
from pytest_appservice_fs.backends.azure.groups import (
    TAG_CREATOR,
    TAG_EXPIRES,
    TAG_PROJECT,
    TAG_PROJECT_VALUE,
    TAG_RUN,
)
from pytest_appservice_fs.backends.azure.kudu import KuduClient, KuduTiming
from pytest_appservice_fs.backends.azure.plans import Plan, next_size, unsupported_events
from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeTiming, probe_session
from pytest_appservice_fs.engine.probe_package import FACTORY_TARGET, ProbePackage

log = logging.getLogger(__name__)

ARM_SCOPE = "https://management.azure.com/.default"
PYTHON_STACK = "PYTHON|3.11"
EXPIRY = dt.timedelta(hours=6)

AZURE_TIMING = BackendTiming(
    ready_timeouts={
        Event.RESTART: 600.0,
        Event.RESTART_SOFT: 600.0,
        Event.STOP_START: 900.0,
        Event.DEPLOY: 1200.0,
        Event.SCALE_OUT: 1200.0,
        Event.SCALE_IN: 1200.0,
        Event.SKU_CHANGE: 1200.0,
    },
    default_ready_timeout=900.0,
    poll_interval=5.0,
    probe=ProbeTiming(request_timeout=30.0, retry_deadline=300.0, wait_initial=1.0, wait_max=15.0),
)


@dataclass(frozen=True)
class AzureTarget:
    """Which app the run uses, and how."""

    subscription_id: str
    app_name: str
    resource_group: str
    provision: bool = False
    region: str | None = None
    sku: str = "B1"
    allow_existing_app: bool = False
    soft_restart: bool = False
    keep: bool = False


@dataclass
class _Saved:
    """What attach mode changed, so teardown can put it back."""

    app_settings: dict[str, str] | None = None
    app_command_line: str | None = None
    capacity: int | None = None
    #: The SKU before change_sku, until restore_sku puts it back (in either mode).
    sku: str | None = None


@dataclass
class _App:
    """What the backend learned about the app once it exists."""

    host: str = ""
    scm_host: str = ""
    plan_group: str = ""
    plan_name: str = ""
    region: str = ""
    sku: str = ""
    probe_token: str = field(default="", repr=False)


class AzureBackend:
    """A real App Service app for Linux; satisfies Backend."""

    name = "azure"

    def __init__(
        self,
        target: AzureTarget,
        *,
        run_id: str,
        app_settings: Mapping[str, str] | None = None,
        credential: Any = None,
        client_options: Mapping[str, Any] | None = None,
        timing: BackendTiming = AZURE_TIMING,
        kudu_timing: KuduTiming | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.target = target
        self.run_id = run_id
        self.timing = timing
        self._app_settings = dict(app_settings or {})
        self._credential = credential
        self._client_options = dict(client_options or {})
        self._kudu_timing = kudu_timing or KuduTiming()
        self._session = session or probe_session()
        self._web: Any = None
        self._resources: Any = None
        self._app = _App()
        self._saved = _Saved()
        self._group_created = False
        self._torn_down = False
        #: Filled in by create(), once the plan's SKU is known.
        self.unsupported: dict[Event, str] = {}

    def __repr__(self) -> str:
        return f"AzureBackend({self.target.resource_group}/{self.target.app_name})"

    @property
    def facts(self) -> Mapping[str, str]:
        """Region and SKU of the app's plan, once known."""
        return {k: v for k, v in (("region", self._app.region), ("sku", self._app.sku)) if v}

    def create(self) -> None:
        """Check the credentials, then provision the app or check and prepare the one named."""
        self._connect()
        if self.target.provision:
            self._provision()
        else:
            self._attach()
        self.unsupported = unsupported_events(self._app.sku)
        others = self._plan().apps() - 1
        if others > 0:
            # Plan-wide events would move or restart apps that are not ours.
            shared = f"the plan hosts {others} other app(s), which it would"
            self.unsupported[Event.SKU_CHANGE] = f"{shared} move to other workers too"
            self.unsupported[Event.PLAN_RESTART] = f"{shared} restart too"

    def deploy(self, package: ProbePackage) -> None:
        """ZIP deploy through Kudu OneDeploy; its DEPLOYMENT_ID proves the new code runs."""
        if package.wsgi_target != FACTORY_TARGET:
            self._set_startup(package)
        KuduClient(
            self._app.scm_host, self._credentials(), session=self._session, timing=self._kudu_timing
        ).deploy_zip(package.data)

    def restart(self, *, soft: bool | None = None) -> None:
        """Restart as `az webapp restart` does, or with softRestart=true (None: --restart-mode)."""
        name, group = self.target.app_name, self.target.resource_group
        if self.target.soft_restart if soft is None else soft:
            self._arm(lambda: self._web.web_apps.restart(group, name, soft_restart=True), "restart")
        else:
            # As az webapp restart: no softRestart at all, not softRestart=false.
            self._arm(lambda: self._web.web_apps.restart(group, name), "restart")

    def set_app_setting(self, name: str, value: str) -> None:
        """Change one app setting; the others (the probe's token too) are written back as read."""
        settings = self._read_settings()
        settings[name] = value
        # The value is never logged nor put in an error: it may be a secret.
        self._put_settings(settings, what=f"change app setting {name}")
        if name == "PROBE_TOKEN":
            self._app.probe_token = value

    def change_sku(self) -> str:
        """Move the plan one size within its tier (B1 -> B2, B3 -> B2); return 'B1 -> B2'."""
        plan = self._plan()
        current = plan.sku()
        size = next_size(current)
        if size is None:
            raise BackendError(
                f"cannot change the SKU: {unsupported_events(current)[Event.SKU_CHANGE]}."
            )
        if self._saved.sku is None:
            # Saved before the PUT: one that timed out may still take effect.
            self._saved.sku = current
        plan.set_size(size)
        self._app.sku = size
        return f"{current} -> {size}"

    def restore_sku(self) -> None:
        """Put the plan back on its SKU from before change_sku; no ARM call when unchanged."""
        if self._saved.sku is not None:
            self._restore_sku(self._saved.sku)
            self._saved.sku = None

    def restart_plan(self) -> None:
        """Restart every app of the plan (ARM restartSites), other apps sharing it too."""
        self._plan().restart_apps()

    def stop(self) -> None:
        """Stop the app."""
        self._arm(
            lambda: self._web.web_apps.stop(self.target.resource_group, self.target.app_name),
            "stop",
        )

    def start(self) -> None:
        """Start the app."""
        self._arm(
            lambda: self._web.web_apps.start(self.target.resource_group, self.target.app_name),
            "start",
        )

    def scale(self, count: int) -> None:
        """Set the plan's sku.capacity (number_of_workers is read-only)."""
        if count < 1:
            raise BackendError(f"cannot scale to {count} instances; the least is 1.")
        self._plan().set_capacity(count)

    def instances(self) -> list[str]:
        """The ARM instance names (each a WEBSITE_INSTANCE_ID)."""
        group, name = self.target.resource_group, self.target.app_name
        listed = self._arm(
            lambda: list(self._web.web_apps.list_instance_identifiers(group, name)),
            "list instances",
        )
        return [str(instance.name) for instance in listed]

    def probe(self, instance_id: str | None = None) -> ProbeClient:
        """A probe client at the app's host name, pinned with ARR cookies when asked."""
        return ProbeClient(
            f"https://{self._app.host}",
            session=self._session,
            token=self._app.probe_token or None,
            instance_id=instance_id,
            timing=self.timing.probe,
        )

    def kept_resources(self) -> str:
        """What was kept and the command that removes it."""
        if self.target.provision:
            return (
                f"kept resource group {self.target.resource_group} (app {self.target.app_name}); "
                f"delete it with: az group delete --yes --name {self.target.resource_group} "
                f"--subscription {self.target.subscription_id}"
            )
        return (
            f"kept app {self.target.app_name} as the run left it (probe deployed, settings "
            "changed); nothing to remove: its original code and settings were not restored"
        )

    def teardown(self) -> None:
        """Delete the provisioned group, or put back what attach mode changed; idempotent."""
        if self._torn_down or self._web is None:
            return
        self._torn_down = True
        if self.target.provision:
            self._delete_group()
        else:
            self._restore()

    # --- connecting and provisioning -----------------------------------------------------

    def _credentials(self) -> Any:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - only when used

            self._credential = DefaultAzureCredential()
        return self._credential

    def _connect(self) -> None:
        credential = self._credentials()
        try:
            credential.get_token(ARM_SCOPE)
        except (ClientAuthenticationError, AzureError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(
                "no Azure credentials are available: run az login (or azure/login with OIDC in "
                f"GitHub Actions), or set AZURE_CLIENT_ID and its secret or federated token "
                f"({first[:200]})."
            ) from None
        options = {"logging_enable": False, **self._client_options}
        self._web = WebSiteManagementClient(credential, self.target.subscription_id, **options)
        self._resources = ResourceManagementClient(
            credential, self.target.subscription_id, **options
        )

    def _provision(self) -> None:
        target = self.target
        tags = self._tags()
        if self._group_exists(target.resource_group):
            # The group is deleted at the end: it must be one this run made.
            raise BackendError(
                f"resource group {target.resource_group} exists already; --provision creates and "
                "later deletes a group of its own, so name a new one or leave out --resource-group."
            )
        region = target.region or ""
        self._arm(
            lambda: self._resources.resource_groups.create_or_update(
                target.resource_group,
                resource_models.ResourceGroup(location=region, tags=tags),
            ),
            "create the resource group",
        )
        self._group_created = True
        plan_name = f"{target.app_name}-plan"
        plan = web_models.AppServicePlan(
            location=region,
            kind="linux",
            sku=web_models.SkuDescription(name=target.sku, capacity=1),
            tags=tags,
            properties=web_models.AppServicePlanProperties(reserved=True),
        )
        created_plan = self._arm(
            lambda: self._web.app_service_plans.begin_create_or_update(
                target.resource_group, plan_name, plan
            ).result(timeout=LRO_SECONDS),
            "create the plan",
        )
        settings = {
            **self._app_settings,
            "SCM_DO_BUILD_DURING_DEPLOYMENT": "true",
        }
        self._app.probe_token = settings.setdefault("PROBE_TOKEN", secrets.token_urlsafe(32))
        site = web_models.Site(
            location=region,
            kind="app,linux",
            tags=tags,
            properties=web_models.SiteProperties(
                server_farm_id=created_plan.id,
                client_affinity_enabled=True,
                https_only=True,
                site_config=web_models.SiteConfig(
                    linux_fx_version=PYTHON_STACK,
                    app_command_line=startup_command(FACTORY_TARGET),
                    app_settings=[
                        web_models.NameValuePair(name=key, value=value)
                        for key, value in settings.items()
                    ],
                ),
            ),
        )
        self._arm(
            lambda: self._web.web_apps.begin_create_or_update(
                target.resource_group, target.app_name, site
            ).result(timeout=LRO_SECONDS),
            "create the app",
        )
        self._learn(self._get_site())

    def _group_exists(self, group: str) -> bool:
        try:
            self._resources.resource_groups.get(group)
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise BackendError(
                f"could not look up resource group {group}: {arm_reason(exc)}"
            ) from None
        return True

    def _attach(self) -> None:
        site = self._get_site()
        config = self._arm(
            lambda: self._web.web_apps.get_configuration(
                self.target.resource_group, self.target.app_name
            ),
            "read the app's configuration",
        )
        refuse_unsuitable(
            site,
            config,
            name=self.target.app_name,
            allow_existing_app=self.target.allow_existing_app,
        )
        self._learn(site)
        original = self._read_settings()
        token = self._app_settings.get("PROBE_TOKEN") or secrets.token_urlsafe(32)
        self._app.probe_token = token
        self._saved.app_settings = original
        self._put_settings(
            {
                **original,
                **self._app_settings,
                "PROBE_TOKEN": token,
                "SCM_DO_BUILD_DURING_DEPLOYMENT": "true",
            }
        )
        self._saved.app_command_line = config.app_command_line or ""
        self._put_startup(startup_command(FACTORY_TARGET))

    def _get_site(self) -> Any:
        group, name = self.target.resource_group, self.target.app_name
        try:
            return self._web.web_apps.get(group, name)
        except ResourceNotFoundError:
            raise BackendError(
                f"--app-name {name}: no such app in resource group {group} of subscription "
                f"{self.target.subscription_id}."
            ) from None
        except HttpResponseError as exc:
            raise BackendError(f"could not read app {name}: {arm_reason(exc)}") from None

    def _learn(self, site: Any) -> None:
        self._app.host = site.default_host_name or f"{self.target.app_name}.azurewebsites.net"
        self._app.scm_host = scm_host(site)
        plan_group, plan_name = plan_of(site.server_farm_id or "")
        self._app.plan_group, self._app.plan_name = plan_group, plan_name
        plan = self._plan().read()
        self._app.region = (self.target.region or site.location or "").replace(" ", "").lower()
        self._app.sku = str(plan.sku.name) if plan.sku else ""
        if not self.target.provision:
            self._saved.capacity = int(plan.sku.capacity or 1) if plan.sku else None

    def _tags(self) -> dict[str, str]:
        expires = dt.datetime.now(dt.timezone.utc) + EXPIRY
        return {
            TAG_PROJECT: TAG_PROJECT_VALUE,
            TAG_RUN: self.run_id,
            TAG_CREATOR: creator(),
            TAG_EXPIRES: expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    # --- changing and restoring ------------------------------------------------------------

    def _plan(self) -> Plan:
        return Plan(self._web, self._app.plan_group, self._app.plan_name)

    def _read_settings(self) -> dict[str, str]:
        listed = self._arm(
            lambda: self._web.web_apps.list_application_settings(
                self.target.resource_group, self.target.app_name
            ),
            "read the app settings",
        )
        return dict(listed.properties or {})

    def _put_settings(
        self, settings: Mapping[str, str], *, what: str = "write the app settings"
    ) -> None:
        # The API replaces all settings: callers pass the whole set.
        self._arm(
            lambda: self._web.web_apps.update_application_settings(
                self.target.resource_group,
                self.target.app_name,
                web_models.StringDictionary(properties=dict(settings)),
            ),
            what,
        )

    def _put_startup(self, command: str) -> None:
        self._arm(
            lambda: self._web.web_apps.update_configuration(
                self.target.resource_group,
                self.target.app_name,
                web_models.SiteConfigResource(
                    properties=web_models.SiteConfig(app_command_line=command)
                ),
            ),
            "write the startup command",
        )

    def _set_startup(self, package: ProbePackage) -> None:
        self._put_startup(startup_command(package.wsgi_target))

    def _restore(self) -> None:
        problems = []
        steps: list[tuple[str, Any, Callable[[Any], None]]] = [
            ("app settings", self._saved.app_settings, self._put_settings),
            ("startup command", self._saved.app_command_line, self._put_startup),
            ("plan capacity", self._saved.capacity, self._restore_capacity),
            # After the capacity: a size change moves every worker, so fewer workers move.
            # Sizes of one tier share its worker limit, so neither order is ever refused.
            ("plan SKU", self._saved.sku, self._restore_sku),
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

    def _restore_capacity(self, capacity: int) -> None:
        plan = self._plan()
        if plan.capacity() != capacity:
            plan.set_capacity(capacity)

    def _restore_sku(self, sku: str) -> None:
        plan = self._plan()
        if plan.sku().lower() != sku.lower():
            plan.set_size(sku)
        self._app.sku = sku

    def _delete_group(self) -> None:
        group = self.target.resource_group
        if not self._group_created:
            return
        try:
            poller = self._resources.resource_groups.begin_delete(group)
            poller.result(timeout=LRO_SECONDS)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise BackendError(
                f"could not delete resource group {group}: {arm_reason(exc)}; delete it with: "
                f"az group delete --yes --name {group}"
            ) from None
        if not poller.done():
            log.warning("resource group %s is still being deleted after %d s", group, LRO_SECONDS)

    def _arm(self, call: Any, what: str) -> Any:
        """Run an ARM call; azure-core has retried 429 and 5xx; anything left is one sentence."""
        return arm_call(call, what)
