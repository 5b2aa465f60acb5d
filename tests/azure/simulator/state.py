"""What the simulated App Service holds in memory, and the helpers every part shares.

Answers for no Azure component itself: ARM (``arm``, ``arm_sites``, ``arm_plans``), Kudu
(``kudu``) and the front end (``frontend``) read and change this state. The resource shapes
follow the Microsoft.Web REST spec (Azure/azure-rest-api-specs,
``specification/web/resource-manager/Microsoft.Web/AppService/stable/2025-05-01``) and the
Microsoft.Resources one (``specification/resources/resource-manager/Microsoft.Resources/
resources/stable/2025-04-01/resources.json``); Bearer tokens and their audiences follow what
azure-core and Entra send.

Changes more than one part makes live here: creating and removing a site, deploying a package
(Kudu, and seeding an app that exists already), matching a site's instances to its plan's
workers, restarting a site's processes.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

import requests

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.engine.configuration import Runtime
from tests.azure.simulator.containers import site_backend

if TYPE_CHECKING:
    from pytest_appservice_fs.engine.probe_package import ProbePackage
    from tests.azure.simulator.arm import Operation
    from tests.azure.simulator.arm_registry import SimulatedRegistry
    from tests.azure.simulator.arm_storage import SimulatedStorageAccount
    from tests.azure.simulator.kudu import KuduDeployment

ARM_ENDPOINT = "https://management.azure.com"
WEB_API_VERSION = "2025-05-01"
RESOURCES_API_VERSION = "2025-04-01"
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ARM_SCOPE = "https://management.azure.com/.default"
KUDU_SCOPE = "https://appservice.azure.com/.default"
#: A fake token may say which scope it was issued for after this mark; the wrong one is a 401.
SCOPE_MARK = "|scope="

#: What a handler answers: status, headers as pairs (Set-Cookie may repeat), body.
Reply = tuple[int, list[tuple[str, str]], bytes]
RequestKind = Literal["arm", "kudu", "probe", "storage"]
Handler = Callable[[requests.PreparedRequest, "re.Match[str]"], Reply]

#: How a long-running operation's 202 says where to poll: ``Location``, as the Microsoft.Web
#: spec declares for the site and plan PUTs, or ``Azure-AsyncOperation``.
LroHeader = Literal["Location", "Azure-AsyncOperation"]

#: The end of every route's URL pattern: an optional query, nothing else.
END = r"(?:\?[^#]*)?$"


@dataclass(frozen=True)
class Route:
    """One URL a part serves: method, full URL regex, which part it is, and its handler.

    ``refusal``, if any, answers first (an unauthenticated request, say); None lets the
    handler answer.
    """

    method: str
    pattern: str
    kind: RequestKind
    handler: Handler
    refusal: Callable[[requests.PreparedRequest, re.Match[str]], Reply | None] | None = None


class Part(Protocol):
    """One part of App Service (ARM, a resource provider, Kudu, the front end)."""

    def routes(self) -> list[Route]:
        """The URLs the part answers, each with its handler."""
        ...


@dataclass
class SimulatedGroup:
    """A resource group as ARM holds it."""

    name: str
    location: str
    tags: dict[str, str]
    deleting: bool = False


@dataclass
class SimulatedPlan:
    """An App Service plan: its SKU, worker count and OS (``reserved`` means Linux)."""

    resource_group: str
    name: str
    location: str
    sku: str
    capacity: int
    reserved: bool
    tags: dict[str, str]


@dataclass
class SimulatedSite:
    """A web app: what ARM reports about it, and the fake backend that runs it."""

    resource_group: str
    name: str
    location: str
    kind: str
    plan: SimulatedPlan
    tags: dict[str, str]
    site_config: dict[str, Any]
    app_settings: dict[str, str]
    client_affinity: bool
    https_only: bool
    default_host_name: str
    scm_host_name: str
    backend: FakeBackend
    state: str = "Running"
    deployed: bool = False
    instance_count: int = 1
    #: The system-assigned identity's principal, once the site has one.
    principal_id: str | None = None
    #: azureStorageAccounts: entry name -> AzureStorageInfoValue as JSON.
    storage_mounts: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the simulator saw, with the status it answered (None: no such host)."""

    kind: RequestKind
    method: str
    url: str
    status: int | None

    @property
    def target(self) -> str:
        """Path and query for ARM, host and path for Kudu and the app."""
        parts = urlsplit(self.url)
        if self.kind == "arm":
            return parts.path + (f"?{parts.query}" if parts.query else "")
        return f"{parts.netloc}{parts.path}"


@dataclass(frozen=True)
class RestartRecord:
    """A restart call: the site and exactly the query parameters sent (api-version too)."""

    site: str
    query: dict[str, str]

    @property
    def soft(self) -> bool:
        """Whether the call asked for a soft restart (softRestart=true)."""
        return self.query.get("softRestart", "").lower() == "true"


@dataclass(frozen=True)
class PlanRestartRecord:
    """A restartSites call on a plan: the sites it restarted and exactly the query sent."""

    plan: str
    sites: tuple[str, ...]
    query: dict[str, str]


@dataclass
class Fault:
    """An answer injected for the next request of ``method`` whose URL matches ``pattern``."""

    method: str
    pattern: re.Pattern[str]
    status: int
    code: str
    headers: list[tuple[str, str]]
    message: str = ""
    #: Answer in Microsoft.Web's error shape rather than ARM's.
    web: bool = False


class AppServiceState:
    """Groups, plans, sites, operations, deployments, faults and what was asked, in memory."""

    def __init__(
        self,
        root: Path,
        *,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        lro_polls: int = 1,
        lro_retry_after: int | None = None,
        lro_header: LroHeader = "Location",
        soft_restart_restarts: bool = False,
    ) -> None:
        self.root = root
        self.subscription_id = subscription_id
        #: How many InProgress answers a long-running operation gives before it is done.
        self.lro_polls = lro_polls
        #: Retry-After on long-running operation answers; None leaves polling to the client.
        self.lro_retry_after = lro_retry_after
        #: Which header a Microsoft.Web site or plan PUT's 202 carries to poll.
        self.lro_header: LroHeader = lro_header
        #: Whether softRestart=true restarts the processes. The spec's softRestart "applies
        #: the configuration settings and restarts the app only if necessary"; with nothing
        #: pending (the default) it restarts nothing: same processes, same start times.
        self.soft_restart_restarts = soft_restart_restarts
        #: (URL regex, code, message): the next long-running operation started by a request
        #: whose URL matches fails so, once.
        self.operation_failures: list[tuple[str, str, str]] = []
        #: Once true, ARM answers every request 401 ExpiredAuthenticationToken.
        self.tokens_expired = False
        #: Instance id -> SiteRuntimeState other than READY (STOPPED, UNKNOWN).
        self.instance_states: dict[str, str] = {}
        #: The body of each plan PUT, in order.
        self.plan_puts: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self.restarts: list[RestartRecord] = []
        self.plan_restarts: list[PlanRestartRecord] = []
        #: (plan, SKU, capacity) each time a plan PUT took effect, in order.
        self.plan_history: list[tuple[str, str, int]] = []
        self.deployments: list[KuduDeployment] = []
        self.arm_tokens: list[str] = []
        self.kudu_tokens: list[str] = []
        #: Requests to an app that carried two different values for one cookie name.
        self.conflicting_cookies = 0
        self.groups: dict[str, SimulatedGroup] = {}  # lower-case name
        self.plans: dict[tuple[str, str], SimulatedPlan] = {}  # lower-case (group, name)
        self.sites: dict[str, SimulatedSite] = {}  # lower-case name: names are global
        self.backends: list[FakeBackend] = []
        self.registries: dict[str, SimulatedRegistry] = {}  # lower-case name: names are global
        self.storage_accounts: dict[str, SimulatedStorageAccount] = {}  # lower-case, global
        #: Build contexts uploaded for ACR runs: relative path -> bytes.
        self.uploads: dict[str, bytes] = {}
        #: (scope, role definition id, principal id), lower-case scope and role.
        self.role_assignments: list[tuple[str, str, str]] = []
        #: Whether the next ACR run fails.
        self.fail_next_build = False
        self.operations: dict[str, Operation] = {}
        self.faults: list[Fault] = []
        #: How many more publish requests answer 409; whether the next deployment fails.
        self.publish_conflicts = 0
        self.fail_next_deployment = False
        self.lock = threading.RLock()  # LRO pollers call back from their own threads

    # --- changes more than one part makes ------------------------------------------------

    def create_site(
        self,
        *,
        group: SimulatedGroup,
        name: str,
        location: str,
        kind: str,
        plan: SimulatedPlan,
        tags: dict[str, str],
        site_config: dict[str, Any],
        app_settings: dict[str, str],
        client_affinity: bool,
        https_only: bool,
        auto_host_name: bool,
    ) -> SimulatedSite:
        """A new site on a new fake backend, scaled to its plan; ValueError if the name is taken."""
        if name.lower() in self.sites:
            raise ValueError(f"a site called {name} exists already")
        if auto_host_name:
            # Unique default host names, as apps created with autoGeneratedDomainNameLabelScope.
            label = f"{name.lower()}-{secrets.token_hex(8)}"
            region = f"{short_location(location)}-01.azurewebsites.net"
            host, scm = f"{label}.{region}", f"{label}.scm.{region}"
        else:
            host, scm = f"{name.lower()}.azurewebsites.net", f"{name.lower()}.scm.azurewebsites.net"
        backend = site_backend(
            self.root / "sites" / f"{len(self.backends):03d}-{name.lower()}",
            name,
            site_config,
            app_settings,
        )
        self.backends.append(backend)
        backend.create()
        site = SimulatedSite(
            resource_group=group.name,
            name=name,
            location=location,
            kind=kind,
            plan=plan,
            tags=tags,
            site_config=site_config,
            app_settings=dict(app_settings),
            client_affinity=client_affinity,
            https_only=https_only,
            default_host_name=host,
            scm_host_name=scm,
            backend=backend,
        )
        self.sites[name.lower()] = site
        self.match_capacity(site)
        return site

    def remove_site(self, site: SimulatedSite) -> None:
        """Forget the site and tear down its backend."""
        site.backend.teardown()
        del self.sites[site.name.lower()]

    def deploy_package(self, site: SimulatedSite, package: ProbePackage) -> None:
        """Run ``package`` on the site; it serves the probe only if the ZIP has an ``app.py``.
        A custom container runs its image, never wwwroot: the ZIP changes nothing it runs."""
        if site.backend.configuration.runtime is Runtime.CONTAINER:
            return
        with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
            has_app = "app.py" in archive.namelist()
        site.backend.deploy(package)
        site.deployed = has_app

    def match_capacity(self, site: SimulatedSite) -> None:
        """Run the site on as many instances as its plan has workers."""
        if site.instance_count != site.plan.capacity:
            site.backend.scale(site.plan.capacity)
            site.instance_count = site.plan.capacity

    def restart_processes(self, site: SimulatedSite, *, soft: bool = False) -> None:
        """Restart the site's probe processes, if it runs the probe and is not stopped."""
        # Only a deployed probe has processes to restart; other code keeps answering 404.
        if not (site.deployed and site.state == "Running"):
            return
        # A custom container's files outside its mounts "don't persist across restarts"
        # (configure-custom-container): its restart brings up new containers.
        custom = site.backend.configuration.runtime is Runtime.CONTAINER
        site.backend.restart(soft=soft, new_containers=custom and not soft)

    # --- identifiers ------------------------------------------------------------------

    def plan_id(self, plan: SimulatedPlan) -> str:
        """The plan's ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{plan.resource_group}"
            f"/providers/Microsoft.Web/serverfarms/{plan.name}"
        )

    def registry_id(self, registry: SimulatedRegistry) -> str:
        """The registry's ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{registry.resource_group}"
            f"/providers/Microsoft.ContainerRegistry/registries/{registry.name}"
        )

    def storage_account_id(self, account: SimulatedStorageAccount) -> str:
        """The storage account's ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{account.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{account.name}"
        )

    def site_id(self, site: SimulatedSite) -> str:
        """The site's ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{site.resource_group}"
            f"/providers/Microsoft.Web/sites/{site.name}"
        )


def json_reply(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    """``body`` as a JSON answer, with ``headers`` after the Content-Type."""
    content_type = ("Content-Type", "application/json; charset=utf-8")
    return status, [content_type, *(headers or [])], json.dumps(body).encode()


def request_query(request: requests.PreparedRequest) -> dict[str, str]:
    """The request's query parameters, blank ones kept."""
    return dict(parse_qsl(urlsplit(request.url or "").query, keep_blank_values=True))


def bearer(request: requests.PreparedRequest, scope: str) -> str | None:
    """The Bearer token sent, if any and if not marked as issued for another scope."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    _, marked, audience = token.partition(SCOPE_MARK)
    return None if marked and audience != scope else token


def body_bytes(request: requests.PreparedRequest) -> bytes:
    """The request body as bytes, whether it was sent as bytes, text or a file."""
    body: Any = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        return body.encode()
    return bytes(body or b"")


def short_location(location: str) -> str:
    """A region's short name: ``Korea Central`` -> ``koreacentral``."""
    return location.replace(" ", "").lower()


def now() -> str:
    """The current UTC time as ARM and Kudu write it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
