"""Azure backend: a real App Service app for Linux, attached to or provisioned for the run.

ARM calls go through the real `azure-mgmt-web` and `azure-mgmt-resource` clients, so
azure-core's retry policy handles throttling (429 with Retry-After) and transient 5xx. The
probe is deployed through Kudu OneDeploy (`kudu.py`) and reached at the app's default host
name, pinned to an instance with the ARR affinity cookies.

This module holds the Backend protocol's operations. Provisioning or attaching the app, and
deleting or restoring it at teardown, is `lifecycle.py`'s job; the app's settings and startup
command are written through `sites.py`, its plan through `plans.py`. The configuration under
test picks the runtime: code deployed through Kudu, or the probe image built in the run's
registry (`registry.py`) in provision mode, or the image given with ``--image`` in attach mode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient

from pytest_appservice_fs.backends.azure.arm import arm_call, startup_command
from pytest_appservice_fs.backends.azure.kudu import KuduClient, KuduTiming
from pytest_appservice_fs.backends.azure.lifecycle import (
    App,
    Lifecycle,
    Saved,
    delete_group_command,
)
from pytest_appservice_fs.backends.azure.plans import Plan, next_size, unsupported_events
from pytest_appservice_fs.backends.azure.registry import (
    TASKS_API_VERSION,
    BuildTiming,
    Registry,
    image_tag,
    registry_name,
    upload_blob,
)
from pytest_appservice_fs.backends.azure.sites import Site
from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming
from pytest_appservice_fs.engine.configuration import Configuration, Runtime
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeTiming, probe_session
from pytest_appservice_fs.engine.probe_package import FACTORY_TARGET, ProbePackage, image_context

log = logging.getLogger(__name__)

ARM_SCOPE = "https://management.azure.com/.default"

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
        configuration: Configuration = Configuration(),  # noqa: B008 - frozen
        image: str | None = None,
        build_timing: BuildTiming = BuildTiming(),  # noqa: B008 - frozen
    ) -> None:
        self.target = target
        self.configuration = configuration
        self.image = image
        self._build_timing = build_timing
        self.run_id = run_id
        self.timing = timing
        self._app_settings = dict(app_settings or {})
        self._credential = credential
        self._client_options = dict(client_options or {})
        self._kudu_timing = kudu_timing or KuduTiming()
        self._session = session or probe_session()
        self._web: Any = None
        self._resources: Any = None
        self._registry: Registry | None = None
        self._authorization: Any = None
        self._storage: Any = None
        self._app = App()
        self._saved = Saved()
        #: Made by create(), once the credentials work; teardown has nothing to undo before.
        self._lifecycle: Lifecycle | None = None
        self._torn_down = False
        #: Filled in by create(), once the plan's SKU is known.
        self.unsupported: dict[Event, str] = {}

    def __repr__(self) -> str:
        return f"AzureBackend({self.target.resource_group}/{self.target.app_name})"

    @property
    def facts(self) -> Mapping[str, str]:
        """Region and SKU of the app's plan, once known."""
        return {k: v for k, v in (("region", self._app.region), ("sku", self._app.sku)) if v}

    @property
    def _container(self) -> bool:
        return self.configuration.runtime is Runtime.CONTAINER

    def create(self) -> None:
        """Check the credentials, then provision the app or check and prepare the one named.

        Raises BackendError before anything is created when a container app is to be attached
        without an image to run (connect() says so first).
        """
        if self._web is None:
            self.connect()
        lifecycle = self._lifecycle = Lifecycle(
            self._web,
            self._resources,
            self.target,
            self._app,
            self._saved,
            configuration=self.configuration,
            registry=self._registry,
            authorization=self._authorization,
            storage=self._storage,
            image=self.image,
        )
        if self.target.provision:
            lifecycle.provision(run_id=self.run_id, app_settings=self._app_settings)
        else:
            lifecycle.attach(self._app_settings)
        self.unsupported = unsupported_events(self._app.sku)
        if self._container and not self.target.provision:
            self.unsupported[Event.DEPLOY] = (
                f"attach mode runs the image given ({self.image}); a deploy needs a new image "
                "build, which only provision mode makes"
            )
        others = self._plan().apps() - 1
        if others > 0:
            # Plan-wide events would move or restart apps that are not ours.
            shared = f"the plan hosts {others} other app(s), which it would"
            self.unsupported[Event.SKU_CHANGE] = f"{shared} move to other workers too"
            self.unsupported[Event.PLAN_RESTART] = f"{shared} restart too"

    def deploy(self, package: ProbePackage) -> None:
        """ZIP deploy through Kudu OneDeploy; its DEPLOYMENT_ID proves the new code runs.

        As `az webapp deploy` on a Linux web app, Kudu is warmed up and pinned to the app's
        first instance by name (azure-cli appservice custom.py `_get_instance_id_internal`:
        ``sorted(instances, key=lambda x: x['name'])[0]``). Raises DeployError (kudu.py).

        A container app gets a new image instead: built in the run's registry and tagged with
        the package's deployment id, then set as the app's stack, which restarts the app on the
        new image (BackendError when the build fails). In attach mode the app runs the image
        given, so there is nothing to build: its build id is what the probe reports.
        """
        if self._container:
            if self._registry is not None:
                tag = image_tag(package.deployment_id)
                self._site().put_stack(
                    f"DOCKER|{self._registry.build(image_context(package), tag)}"
                )
            return
        if package.wsgi_target != FACTORY_TARGET:
            self._site().put_startup(startup_command(package.wsgi_target))
        instances = sorted(self.instances())
        KuduClient(
            self._app.scm_host,
            self._credentials(),
            session=self._session,
            timing=self._kudu_timing,
            instance_id=instances[0] if instances else None,
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
        site = self._site()
        settings = site.read_settings()
        settings[name] = value
        # The value is never logged nor put in an error: it may be a secret.
        site.put_settings(settings, what=f"change app setting {name}")
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
        # A saved SKU means change_sku ran, so create() made the lifecycle.
        if self._saved.sku is not None and self._lifecycle is not None:
            self._lifecycle.restore_sku(self._saved.sku)
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
        """The ARM names (each a WEBSITE_INSTANCE_ID) of the instances in state READY.

        Each WebSiteInstanceStatus carries ``properties.state``, a SiteRuntimeState of READY,
        STOPPED or UNKNOWN (Azure/azure-rest-api-specs, specification/web/resource-manager/
        Microsoft.Web/AppService/WebSiteInstanceStatus.tsp and models.tsp; azure-mgmt-web's
        ``SiteRuntimeState``); a STOPPED or UNKNOWN instance serves no request, so it is
        neither pinned nor counted. An entry with no state at all is kept: the spec does not
        say what that means (not settled), and older answers may omit it.
        """
        group, name = self.target.resource_group, self.target.app_name
        listed = self._arm(
            lambda: list(self._web.web_apps.list_instance_identifiers(group, name)),
            "list instances",
        )
        ready = []
        for instance in listed:
            state = getattr(instance, "state", None)
            state = str(getattr(state, "value", state) or "")  # an enum member or a string
            if state and state.upper() != "READY":
                log.info("instance %s is %s, not READY: not used", instance.name, state)
                continue
            ready.append(str(instance.name))
        return ready

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
            group = self.target.resource_group
            return (
                f"kept resource group {group} (app {self.target.app_name}); delete it with: "
                f"{delete_group_command(group, self.target.subscription_id)}"
            )
        return (
            f"kept app {self.target.app_name} as the run left it (probe deployed, settings "
            "changed); nothing to remove: its original code and settings were not restored"
        )

    def teardown(self) -> None:
        """Delete the provisioned group, or put back what attach mode changed; idempotent."""
        if self._torn_down or self._lifecycle is None:
            return
        self._torn_down = True
        if self.target.provision:
            self._lifecycle.delete_group()
        else:
            self._lifecycle.restore()

    # --- connecting ----------------------------------------------------------------------

    def _credentials(self) -> Any:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - only when used

            self._credential = DefaultAzureCredential()
        return self._credential

    def connect(self) -> None:
        """Get an ARM token and make the SDK clients; BackendError in one sentence when the
        credentials do not work, or when a container app is to be attached without an image.
        Creates nothing in Azure."""
        if self._container and not self.target.provision and not self.image:
            raise BackendError(
                "a container app in attach mode runs an image you pushed already: give --image "
                "with a probe image built from the probe's context."
            )
        credential = self._credentials()
        try:
            credential.get_token(ARM_SCOPE)
        except (ClientAuthenticationError, AzureError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # The SDK's first line may end a sentence of its own: one sentence, ours, stays.
            first = first.rstrip(". ")
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
        self._connect_configured(credential, options)

    def _connect_configured(self, credential: Any, options: Mapping[str, Any]) -> None:
        """The clients the configuration under test needs besides the app's: the registry's and
        the authorization client for a container app made here, storage for mounts made here."""
        if not self.target.provision:
            return
        subscription = self.target.subscription_id
        if self._container:
            # Imported here: a code run needs neither these SDKs nor their import time.
            from azure.mgmt.authorization import AuthorizationManagementClient  # noqa: PLC0415
            from azure.mgmt.containerregistry import (  # noqa: PLC0415
                ContainerRegistryManagementClient,
            )

            self._registry = Registry(
                acr=ContainerRegistryManagementClient(credential, subscription, **options),
                tasks=ContainerRegistryManagementClient(
                    credential, subscription, api_version=TASKS_API_VERSION, **options
                ),
                group=self.target.resource_group,
                name=registry_name(self.target.app_name),
                upload=upload_blob,
                timing=self._build_timing,
            )
            self._authorization = AuthorizationManagementClient(credential, subscription, **options)
        if self.configuration.mounts:
            from azure.mgmt.storage import StorageManagementClient  # noqa: PLC0415

            self._storage = StorageManagementClient(credential, subscription, **options)

    # --- the app and its plan, as ARM reads and writes them -----------------------------

    def _plan(self) -> Plan:
        return Plan(self._web, self._app.plan_group, self._app.plan_name)

    def _site(self) -> Site:
        return Site(self._web, self.target.resource_group, self.target.app_name)

    def _arm(self, call: Any, what: str) -> Any:
        """Run an ARM call; azure-core has retried 429 and 5xx; anything left is one sentence."""
        return arm_call(call, what)
