"""An offline simulator of Azure App Service for the Azure backend's tests.

Installed into a ``responses.RequestsMock``, it answers what the real ``azure-mgmt-web`` and
``azure-mgmt-resource`` clients (whose azure-core transport is ``requests``) and plain
``requests`` send, so the backend's tests run the real SDK code and open no socket.

Simulated, with Microsoft.Web / Microsoft.Resources REST shapes:

- ARM (``https://management.azure.com``; a Bearer token and ``api-version`` are required):
  resource groups (PUT, GET, HEAD, DELETE as a long-running operation, list with ``tagName``
  / ``tagValue`` filters), App Service plans (GET, PUT as a long-running operation, DELETE,
  ``restartSites``; a new ``sku.capacity`` scales every app on the plan, a new ``sku.name``
  moves them to new workers), sites (GET, PUT as a long-running operation, DELETE,
  ``config/web`` GET/PATCH/PUT, app settings list and replace, restart, stop, start,
  instances).
- Kudu on the site's SCM host: OneDeploy ``/api/publish?type=zip`` (sync, or ``async=true``
  answering 202 with a ``Location``), ``/api/deployments/{id|latest}`` and its ``/log``. Only
  Entra Bearer tokens are accepted (SCM basic auth is off, as on new apps).
- The app's front end on its default host: each site is a ``FakeBackend`` running what Kudu
  deployed; requests go through the fake's front end, so ARRAffinity cookies pick the instance.
- Faults: 429 with ``Retry-After``, one-off error statuses, 409 publish conflicts, failed
  deployments.

Modelling choices worth knowing when a test fails:

- A long-running operation takes effect when a poll reports it done (after ``lro_polls``
  ``InProgress`` answers), not at the PUT or DELETE: a caller that does not wait sees no change.
  With ``lro_polls=0`` the first poll is done, so no client ever waits for its polling interval.
- A Kudu deployment advances one step per status GET: ``Building`` first, then done.
- GET site returns a sparse ``siteConfig`` (``appCommandLine`` and ``appSettings`` null), as
  ARM does; the full configuration is at ``config/web``. A plan is Linux only when created
  with ``properties.reserved`` true, whatever its ``kind``; a site's ``reserved`` is its plan's.
- A restart restarts every probe process, ``softRestart=true`` too (the fake counts it as
  ``restart_soft``); with ``soft_restart_restarts`` false a soft restart restarts nothing ("only
  if necessary", and nothing is). ``restartSites`` restarts every app of the plan the same way.
- Changing app settings (settings PUT, or a site PUT that carries them) recreates every
  container on the same instances, as on Linux a container's environment is fixed when it
  starts; changing site config restarts the processes. A new SKU gives every instance a new id
  and a new container (``FakeBackend.replace_instances``); /home stays.
- Until a package with an ``app.py`` is deployed, the app runs "other code": 404 on every path.
  A stopped app answers as the fake does (503).
- With ``clientAffinityEnabled`` false the front end ignores ARRAffinity cookies; with it true a
  JSON answer that names an instance other than the cookie's sets the ARRAffinity cookies, as
  ARR does. Of two cookies with one name the first wins (see ``conflicting_cookies``).
- Any non-empty Bearer token is accepted, except one marked (``SCOPE_MARK``) as issued for
  another scope: ARM wants ``ARM_SCOPE``, Kudu ``KUDU_SCOPE``.

Not simulated: other ARM resources and operations (they fail as unmatched requests with
``requests.ConnectionError``), slots, managed identity, the ARM provider registration dance,
paging beyond one page, HTTP on ARM and Kudu, Oryx builds, Kudu basic auth, DNS (an unknown
app host raises ``requests.ConnectionError``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import secrets
import threading
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.probe_package import DEPLOYMENT_ID_FILE, ProbePackage

if TYPE_CHECKING:
    import responses

ARM_ENDPOINT = "https://management.azure.com"
WEB_API_VERSION = "2025-05-01"
RESOURCES_API_VERSION = "2025-04-01"
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ARM_SCOPE = "https://management.azure.com/.default"
KUDU_SCOPE = "https://appservice.azure.com/.default"
#: A fake token may say which scope it was issued for after this mark; the wrong one is a 401.
SCOPE_MARK = "|scope="
#: Kudu's DeployStatus values.
KUDU_BUILDING, KUDU_FAILED, KUDU_SUCCESS = 1, 3, 4

Reply = tuple[int, list[tuple[str, str]], bytes]
RequestKind = Literal["arm", "kudu", "probe"]
_Handler = Callable[[requests.PreparedRequest, "re.Match[str]"], Reply]

_END = r"(?:\?[^#]*)?$"
_SUB = r"^https://management\.azure\.com/subscriptions/(?P<sub>[^/?#]+)"
_RG = _SUB + r"/resourcegroups/(?P<rg>[^/?#]+)"
_SITE = _RG + r"/providers/Microsoft\.Web/sites/(?P<site>[^/?#]+)"
_PLAN = _RG + r"/providers/Microsoft\.Web/serverfarms/(?P<plan>[^/?#]+)"
_SCM = r"^https://(?P<host>[^/?#]*\.scm\.[^/?#]*azurewebsites\.net)"
_APP = r"^(?P<scheme>https?)://(?P<host>(?![^/?#]*\.scm\.)[^/?#]+\.azurewebsites\.net)"
_FARM_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Web/serverfarms/"
    r"(?P<plan>[^/]+)$",
    re.IGNORECASE,
)
_TAG_FILTER = re.compile(
    r"^\s*tagName\s+eq\s+'(?P<name>(?:[^']|'')*)'"
    r"(?:\s+and\s+tagValue\s+eq\s+'(?P<value>(?:[^']|'')*)')?\s*$",
    re.IGNORECASE,
)
#: SKU name pattern -> (tier, family, most workers).
_SKUS = (
    (re.compile(r"F1", re.I), "Free", "F", 1),
    (re.compile(r"B[1-3]", re.I), "Basic", "B", 3),
    (re.compile(r"S[1-3]", re.I), "Standard", "S", 10),
    (re.compile(r"P[1-3]v2", re.I), "PremiumV2", "Pv2", 30),
    (re.compile(r"P[0-3]v3", re.I), "PremiumV3", "Pv3", 30),
)
#: What config/web holds on a new Linux app, before anything is set.
_CONFIG_DEFAULTS: dict[str, Any] = {
    "numberOfWorkers": 1,
    "defaultDocuments": ["Default.htm", "Default.html", "index.html", "hostingstart.html"],
    "netFrameworkVersion": "v4.0",
    "phpVersion": "",
    "pythonVersion": "",
    "nodeVersion": "",
    "powerShellVersion": "",
    "linuxFxVersion": "",
    "windowsFxVersion": None,
    "requestTracingEnabled": False,
    "remoteDebuggingEnabled": False,
    "httpLoggingEnabled": False,
    "acrUseManagedIdentityCreds": False,
    "logsDirectorySizeLimit": 35,
    "detailedErrorLoggingEnabled": False,
    "scmType": "None",
    "use32BitWorkerProcess": True,
    "webSocketsEnabled": False,
    "alwaysOn": False,
    "appCommandLine": "",
    "managedPipelineMode": "Integrated",
    "virtualApplications": [
        {"virtualPath": "/", "physicalPath": "site\\wwwroot", "preloadEnabled": False}
    ],
    "loadBalancing": "LeastRequests",
    "autoHealEnabled": False,
    "vnetRouteAllEnabled": False,
    "http20Enabled": False,
    "minTlsVersion": "1.2",
    "scmMinTlsVersion": "1.2",
    "ftpsState": "FtpsOnly",
    "healthCheckPath": None,
    "functionAppScaleLimit": 0,
    "minimumElasticInstanceCount": 0,
    "azureStorageAccounts": {},
}
#: The only siteConfig values that GET site fills in; the rest is read from config/web.
_SITE_CONFIG_SUMMARY = (
    "numberOfWorkers",
    "linuxFxVersion",
    "windowsFxVersion",
    "acrUseManagedIdentityCreds",
    "alwaysOn",
    "http20Enabled",
    "functionAppScaleLimit",
    "minimumElasticInstanceCount",
)
_NOT_FOUND_HTML = b"<html><body><h1>404 Not Found</h1></body></html>"


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
class KuduDeployment:
    """A OneDeploy deployment and how far it has got."""

    id: str
    site: SimulatedSite
    package: ProbePackage
    fails: bool
    received_time: str
    status: int = 0
    end_time: str | None = None
    log: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether Kudu would report the deployment finished."""
        return self.status in (KUDU_FAILED, KUDU_SUCCESS)


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: str
    headers: list[tuple[str, str]]


@dataclass
class _Operation:
    polls_left: int
    finish: Callable[[], None]
    done: bool = False


class AzureSimulator:
    """App Service (ARM, Kudu, front end) in memory, answering through ``responses``."""

    def __init__(
        self,
        root: Path,
        *,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        lro_polls: int = 1,
        lro_retry_after: int | None = None,
        soft_restart_restarts: bool = True,
    ) -> None:
        self.root = root
        self.subscription_id = subscription_id
        #: How many InProgress answers a long-running operation gives before it is done.
        self.lro_polls = lro_polls
        #: Retry-After on long-running operation answers; None leaves polling to the client.
        self.lro_retry_after = lro_retry_after
        #: Whether softRestart=true restarts the processes; if not, it finds nothing to do.
        self.soft_restart_restarts = soft_restart_restarts
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
        self._groups: dict[str, SimulatedGroup] = {}
        self._plans: dict[tuple[str, str], SimulatedPlan] = {}
        self._sites: dict[str, SimulatedSite] = {}  # lower-case name: names are global
        self._backends: list[FakeBackend] = []
        self._operations: dict[str, _Operation] = {}
        self._faults: list[_Fault] = []
        self._conflicts = 0
        self._fail_next_deployment = False
        self._lock = threading.RLock()  # LRO pollers call back from their own threads

    # --- wiring -------------------------------------------------------------------------

    def install(self, rsps: responses.RequestsMock) -> None:
        """Register a callback for every URL the simulator serves; the rest stays unmatched."""
        for method, pattern, kind, handler in self._routes():
            compiled = re.compile(pattern, re.IGNORECASE)
            callback = self._callback(kind, compiled, handler)
            # Headers as a list of pairs (responses accepts them) so Set-Cookie can repeat.
            rsps.add_callback(method, compiled, callback=callback, content_type=None)  # type: ignore[arg-type]

    def _routes(self) -> list[tuple[str, str, RequestKind, _Handler]]:
        web_ops = _SUB + r"/providers/Microsoft\.Web/operationresults/(?P<op>[^/?#]+)"
        arm: list[tuple[str, str, _Handler]] = [
            ("GET", _SITE, self._get_site),
            ("PUT", _SITE, self._put_site),
            ("DELETE", _SITE, self._delete_site),
            ("GET", _SITE + "/config/web", self._get_config),
            ("PATCH", _SITE + "/config/web", self._update_config),
            ("PUT", _SITE + "/config/web", self._update_config),
            ("POST", _SITE + "/config/appsettings/list", self._list_settings),
            ("PUT", _SITE + "/config/appsettings", self._put_settings),
            ("POST", _SITE + "/restart", self._restart),
            ("POST", _SITE + "/stop", self._stop),
            ("POST", _SITE + "/start", self._start),
            ("GET", _SITE + "/instances", self._instances),
            ("GET", _PLAN, self._get_plan),
            ("PUT", _PLAN, self._put_plan),
            ("DELETE", _PLAN, self._delete_plan),
            ("POST", _PLAN + "/restartSites", self._restart_sites),
            ("GET", _RG, self._get_group),
            ("HEAD", _RG, self._head_group),
            ("PUT", _RG, self._put_group),
            ("DELETE", _RG, self._delete_group),
            ("GET", _SUB + "/resourcegroups", self._list_groups),
            ("GET", web_ops, self._poll_async_operation),
            ("GET", _SUB + r"/operationresults/(?P<op>[^/?#]+)", self._poll_location),
        ]
        routes: list[tuple[str, str, RequestKind, _Handler]] = [
            (method, pattern + _END, "arm", handler) for method, pattern, handler in arm
        ]
        routes += [
            ("POST", _SCM + "/api/publish" + _END, "kudu", self._publish),
            ("GET", _SCM + r"/api/deployments/(?P<dep>[^/?#]+)" + _END, "kudu", self._deployment),
            ("GET", _SCM + r"/api/deployments/(?P<dep>[^/?#]+)/log" + _END, "kudu", self._log),
        ]
        app = _APP + r"(?P<path>/[^?#]*)?" + _END
        routes += [
            (method, app, "probe", self._probe)
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        ]
        return routes

    def _callback(
        self, kind: RequestKind, pattern: re.Pattern[str], handler: _Handler
    ) -> Callable[[requests.PreparedRequest], Reply]:
        def answer(request: requests.PreparedRequest) -> Reply:
            url, method = request.url or "", (request.method or "GET").upper()
            match = pattern.match(url)
            assert match is not None, f"responses matched {url} to {pattern.pattern}"
            # The app's front end serves requests side by side, as App Service does (H4 sends
            # two appends at once); ARM and Kudu answer one at a time.
            serial = self._lock if kind != "probe" else contextlib.nullcontext()
            with serial:
                try:
                    with self._lock:
                        reply = self._fault_reply(method, url) or self._refusal(
                            kind, request, match
                        )
                    reply = reply or handler(request, match)
                except requests.ConnectionError:
                    self.requests.append(RecordedRequest(kind, method, url, None))
                    raise
                self.requests.append(RecordedRequest(kind, method, url, reply[0]))
                if kind == "arm":
                    reply[1].append(("x-ms-request-id", str(uuid.uuid4())))
                return reply

        return answer

    def _fault_reply(self, method: str, url: str) -> Reply | None:
        """Answer with the first injected fault that matches, and forget it."""
        for fault in self._faults:
            if fault.method == method and fault.pattern.search(url):
                self._faults.remove(fault)
                message = f"HTTP {fault.status} injected by the simulator."
                body = {"error": {"code": fault.code, "message": message}}
                return _json(fault.status, body, list(fault.headers))
        return None

    def _refusal(
        self, kind: RequestKind, request: requests.PreparedRequest, match: re.Match[str]
    ) -> Reply | None:
        if kind != "arm":
            return None
        token = _bearer(request, ARM_SCOPE)
        if token is None:
            message = "The 'Authorization' header is missing or not a token for ARM."
            return _arm_error(401, "AuthenticationFailed", message)
        self.arm_tokens.append(token)
        if not _query(request).get("api-version"):
            return _arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if match["sub"].lower() != self.subscription_id.lower():
            message = f"The subscription '{match['sub']}' could not be found."
            return _arm_error(404, "SubscriptionNotFound", message)
        return None

    # --- seeding, faults and inspection ---------------------------------------------------

    def add_existing_app(
        self,
        resource_group: str,
        name: str,
        *,
        kind: str = "app,linux",
        linux_fx_version: str = "PYTHON|3.11",
        windows_fx_version: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_affinity: bool = True,
        app_settings: Mapping[str, str] | None = None,
        app_command_line: str = "",
        capacity: int = 1,
        location: str = "Korea Central",
        sku: str = "B1",
        plan: str | None = None,
        https_only: bool = True,
        auto_host_name: bool = False,
        package: ProbePackage | None = None,
    ) -> SimulatedSite:
        """Seed an app that exists before the test (attach mode), with its group and plan.

        A ``kind`` without ``linux`` is a Windows app (no linuxFxVersion); ``package`` deploys
        the probe at once, else the app runs other code and answers 404 everywhere.
        """
        with self._lock:
            group = self._groups.get(resource_group.lower())
            if group is None:
                group = SimulatedGroup(resource_group, _short_location(location), {})
                self._groups[resource_group.lower()] = group
            linux = "linux" in kind.lower()
            plan_name = plan or f"{name}-plan"
            farm = self._plans.get((resource_group.lower(), plan_name.lower()))
            if farm is None:
                _sku_facts(sku)  # refuse an unknown SKU here, not at the first request
                farm = SimulatedPlan(resource_group, plan_name, location, sku, capacity, linux, {})
                self._plans[(resource_group.lower(), plan_name.lower())] = farm
            config: dict[str, Any] = {
                "linuxFxVersion": linux_fx_version if linux else "",
                "appCommandLine": app_command_line,
            }
            if windows_fx_version is not None:
                config["windowsFxVersion"] = windows_fx_version
            site = self._create_site(
                group=group,
                name=name,
                location=location,
                kind=kind,
                plan=farm,
                tags=dict(tags or {}),
                site_config=config,
                app_settings=dict(app_settings or {}),
                client_affinity=client_affinity,
                https_only=https_only,
                auto_host_name=auto_host_name,
            )
            if package is not None:
                self._deploy_package(site, package)
            return site

    def throttle_next(self, method: str, url_regex: str, *, retry_after: int = 1) -> None:
        """The next ``method`` request whose URL matches answers 429 with ``Retry-After``."""
        headers = [("Retry-After", str(retry_after))]
        self._faults.append(
            _Fault(method.upper(), re.compile(url_regex), 429, "TooManyRequests", headers)
        )

    def fail_next(self, method: str, url_regex: str, status: int = 500) -> None:
        """The next ``method`` request whose URL matches answers ``status`` (a 5xx) once."""
        if not 500 <= status <= 599:
            raise ValueError(f"fail_next takes a 5xx status, not {status}")
        self._faults.append(
            _Fault(method.upper(), re.compile(url_regex), status, "InternalServerError", [])
        )

    def deploy_conflicts(self, n: int) -> None:
        """The next ``n`` publish requests answer 409: a deployment is in progress."""
        self._conflicts = n

    def deploy_fails_next(self) -> None:
        """The next deployment ends with status 3 (failed) and a log."""
        self._fail_next_deployment = True

    @property
    def calls(self) -> list[tuple[str, str]]:
        """Every request in order: (method, ARM path and query, or host and path)."""
        return [(r.method, r.target) for r in self.requests]

    def arm_calls(self) -> list[tuple[str, str]]:
        """The ARM requests in order, as (method, path and query)."""
        return [(r.method, r.target) for r in self.requests if r.kind == "arm"]

    def kudu_calls(self) -> list[tuple[str, str]]:
        """The Kudu requests in order, as (method, host and path)."""
        return [(r.method, r.target) for r in self.requests if r.kind == "kudu"]

    def probe_calls(self) -> list[tuple[str, str]]:
        """The requests to apps' default hosts in order, as (method, host and path)."""
        return [(r.method, r.target) for r in self.requests if r.kind == "probe"]

    def site(self, name: str) -> SimulatedSite:
        """The site called ``name`` (site names are global, as host names are)."""
        return self._sites[name.lower()]

    def plan(self, resource_group: str, name: str) -> SimulatedPlan:
        """The plan ``name`` in ``resource_group``."""
        return self._plans[(resource_group.lower(), name.lower())]

    def group(self, name: str) -> SimulatedGroup | None:
        """The resource group ``name``, or None when there is none."""
        return self._groups.get(name.lower())

    def teardown(self) -> None:
        """Tear down every fake backend the simulator created; safe to call twice."""
        for backend in self._backends:
            backend.teardown()

    # --- sites ------------------------------------------------------------------------

    def _create_site(
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
        if name.lower() in self._sites:
            raise ValueError(f"a site called {name} exists already")
        if auto_host_name:
            # Unique default host names, as apps created with autoGeneratedDomainNameLabelScope.
            label = f"{name.lower()}-{secrets.token_hex(8)}"
            region = f"{_short_location(location)}-01.azurewebsites.net"
            host, scm = f"{label}.{region}", f"{label}.scm.{region}"
        else:
            host, scm = f"{name.lower()}.azurewebsites.net", f"{name.lower()}.scm.azurewebsites.net"
        backend = FakeBackend(
            self.root / "sites" / f"{len(self._backends):03d}-{name.lower()}",
            app_name=name,
            app_settings=app_settings,
        )
        self._backends.append(backend)
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
        self._sites[name.lower()] = site
        self._match_capacity(site)
        return site

    def _find_site(self, match: re.Match[str]) -> SimulatedSite | Reply:
        rg, name = match["rg"], match["site"]
        if rg.lower() not in self._groups:
            return _group_not_found(rg)
        site = self._sites.get(name.lower())
        if site is None or site.resource_group.lower() != rg.lower():
            return _resource_not_found("Microsoft.Web/sites", name, rg)
        return site

    def _get_site(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        return site if isinstance(site, tuple) else _json(200, self._site_json(site))

    def _put_site(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        rg, name = match["rg"], match["site"]
        group = self._groups.get(rg.lower())
        if group is None:
            return _group_not_found(rg)
        body = _json_body(request)
        if not isinstance(body, dict):
            return body
        existing = self._sites.get(name.lower())
        if existing is not None and existing.resource_group.lower() != rg.lower():
            return _arm_error(409, "Conflict", f"Website with given name {name} already exists.")
        if not body.get("location"):
            return _arm_error(400, "LocationRequired", "The location property is required.")
        properties = body.get("properties") or {}
        farm_id = properties.get("serverFarmId") or (existing and self._plan_id(existing.plan))
        farm = _FARM_ID.match(farm_id or "")
        plan = farm and self._plans.get((farm["rg"].lower(), farm["plan"].lower()))
        if not plan:
            plan_name = farm["plan"] if farm else farm_id
            return _arm_error(404, "NotFound", f"Cannot find ServerFarm with name {plan_name}.")
        return self._accepted(lambda: self._apply_site(group, name, body, plan))

    def _apply_site(
        self, group: SimulatedGroup, name: str, body: dict[str, Any], plan: SimulatedPlan
    ) -> None:
        properties = body.get("properties") or {}
        config = dict(properties.get("siteConfig") or {})
        pairs = config.pop("appSettings", None)
        settings = None if pairs is None else {p["name"]: p["value"] for p in pairs}
        site = self._sites.get(name.lower())
        if site is None:
            self._create_site(
                group=group,
                name=name,
                location=body["location"],
                kind=body.get("kind") or "app",
                plan=plan,
                tags=dict(body.get("tags") or {}),
                site_config={k: v for k, v in config.items() if v is not None},
                app_settings=settings or {},
                client_affinity=properties.get("clientAffinityEnabled", True),
                https_only=properties.get("httpsOnly", False),
                auto_host_name=bool(properties.get("autoGeneratedDomainNameLabelScope")),
            )
            return
        site.tags = dict(body.get("tags") or {})
        site.kind = body.get("kind") or site.kind
        site.client_affinity = properties.get("clientAffinityEnabled", site.client_affinity)
        site.https_only = properties.get("httpsOnly", site.https_only)
        site.plan = plan
        self._match_capacity(site)
        changed = self._merge_config(site, config)
        if settings is not None and settings != site.app_settings:
            self._set_settings(site, settings)
        elif changed:
            self._restart_processes(site)

    def _delete_site(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        self._remove_site(site)
        return 200, [], b""

    def _remove_site(self, site: SimulatedSite) -> None:
        site.backend.teardown()
        del self._sites[site.name.lower()]

    def _site_json(self, site: SimulatedSite) -> dict[str, Any]:
        config = self._full_config(site)
        summary = {key: config[key] for key in _SITE_CONFIG_SUMMARY}
        summary.update(appCommandLine=None, appSettings=None)
        return {
            "id": self._site_id(site),
            "name": site.name,
            "type": "Microsoft.Web/sites",
            "kind": site.kind,
            "location": site.location,
            "tags": dict(site.tags),
            "properties": {
                "state": site.state,
                "hostNames": [site.default_host_name],
                "repositorySiteName": site.name,
                "usageState": "Normal",
                "enabled": True,
                "enabledHostNames": [site.default_host_name, site.scm_host_name],
                "availabilityState": "Normal",
                "hostNameSslStates": [
                    {"name": host, "sslState": "Disabled", "hostType": host_type}
                    for host, host_type in (
                        (site.default_host_name, "Standard"),
                        (site.scm_host_name, "Repository"),
                    )
                ],
                "serverFarmId": self._plan_id(site.plan),
                "reserved": site.plan.reserved,
                "isXenon": False,
                "hyperV": False,
                "lastModifiedTimeUtc": _now(),
                "siteConfig": summary,
                "scmSiteAlsoStopped": False,
                "clientAffinityEnabled": site.client_affinity,
                "clientCertEnabled": False,
                "clientCertMode": "Required",
                "hostNamesDisabled": False,
                "outboundIpAddresses": "20.200.0.1,20.200.0.2",
                "possibleOutboundIpAddresses": "20.200.0.1,20.200.0.2,20.200.0.3",
                "containerSize": 0,
                "dailyMemoryTimeQuota": 0,
                "resourceGroup": site.resource_group,
                "defaultHostName": site.default_host_name,
                "httpsOnly": site.https_only,
                "redundancyMode": "None",
                "publicNetworkAccess": "Enabled",
                "storageAccountRequired": False,
                "keyVaultReferenceIdentity": "SystemAssigned",
            },
        }

    # --- site configuration and settings ----------------------------------------------

    def _full_config(self, site: SimulatedSite) -> dict[str, Any]:
        return {**_CONFIG_DEFAULTS, **site.site_config, "numberOfWorkers": site.plan.capacity}

    def _config_json(self, site: SimulatedSite) -> dict[str, Any]:
        return {
            "id": f"{self._site_id(site)}/config/web",
            "name": site.name,
            "type": "Microsoft.Web/sites/config",
            "location": site.location,
            "properties": self._full_config(site),
        }

    def _get_config(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        return site if isinstance(site, tuple) else _json(200, self._config_json(site))

    def _update_config(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        body = _json_body(request)
        if not isinstance(body, dict):
            return body
        config = dict(body.get("properties") or {})
        config.pop("appSettings", None)  # settings have their own resource
        if self._merge_config(site, config):
            self._restart_processes(site)
        return _json(200, self._config_json(site))

    def _merge_config(self, site: SimulatedSite, config: Mapping[str, Any]) -> bool:
        """Merge the non-null values; True when anything changed."""
        before = self._full_config(site)
        site.site_config.update({k: v for k, v in config.items() if v is not None})
        return self._full_config(site) != before

    def _settings_json(self, site: SimulatedSite) -> dict[str, Any]:
        return {
            "id": f"{self._site_id(site)}/config/appsettings",
            "name": "appsettings",
            "type": "Microsoft.Web/sites/config",
            "location": site.location,
            "properties": dict(site.app_settings),
        }

    def _list_settings(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        return site if isinstance(site, tuple) else _json(200, self._settings_json(site))

    def _put_settings(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        body = _json_body(request)
        if not isinstance(body, dict):
            return body
        settings = body.get("properties") or {}
        if not all(isinstance(v, str) for v in settings.values()):
            return _arm_error(400, "BadRequest", "App setting values must be strings.")
        if settings != site.app_settings:
            self._set_settings(site, dict(settings))
        return _json(200, self._settings_json(site))

    def _set_settings(self, site: SimulatedSite, settings: dict[str, str]) -> None:
        # The real API replaces every setting; on Linux the new environment needs new
        # containers. The fake applies a setting by recreating every container, so one call
        # with the whole new set in place recreates them once, as one update does on Azure.
        changed = [k for k, v in settings.items() if site.app_settings.get(k) != v]
        site.app_settings = settings
        site.backend.app_settings = dict(settings)
        applied = changed[-1:] or list(settings)[-1:]  # only removals: any setting will do
        if applied:
            site.backend.set_app_setting(applied[0], settings[applied[0]])
        elif site.state == "Running":  # every setting removed: none left for the fake to set
            site.backend.stop()
            site.backend.start()

    def _restart_processes(self, site: SimulatedSite, *, soft: bool = False) -> None:
        # Only a deployed probe has processes to restart; other code keeps answering 404.
        if site.deployed and site.state == "Running":
            site.backend.restart(soft=soft)

    # --- lifecycle --------------------------------------------------------------------

    def _restart(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        query = _query(request)
        record = RestartRecord(site.name, query)
        self.restarts.append(record)
        # softRestart=true restarts "only if necessary": soft_restart_restarts says if it is.
        if not record.soft or self.soft_restart_restarts:
            self._restart_processes(site, soft=record.soft)
        return 200, [], b""

    def _stop(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        site.backend.stop()
        site.state = "Stopped"
        return 200, [], b""

    def _start(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        site.backend.start()
        site.state = "Running"
        return 200, [], b""

    def _instances(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        scm = f"https://{site.scm_host_name}"
        value = [
            {
                "id": f"{self._site_id(site)}/instances/{instance_id}",
                "name": instance_id,
                "type": "Microsoft.Web/sites/instances",
                "location": site.location,
                "properties": {
                    "state": "READY",
                    "statusUrl": f"{scm}/api/instances/{instance_id}/status",
                    "detectorUrl": f"{scm}/api/instances/{instance_id}/detectors",
                    "consoleUrl": f"{scm}/api/instances/{instance_id}/console",
                },
            }
            for instance_id in site.backend.instances()
        ]
        return _json(200, {"value": value, "nextLink": None})

    # --- plans ------------------------------------------------------------------------

    def _find_plan(self, match: re.Match[str]) -> SimulatedPlan | Reply:
        rg, name = match["rg"], match["plan"]
        if rg.lower() not in self._groups:
            return _group_not_found(rg)
        plan = self._plans.get((rg.lower(), name.lower()))
        return plan or _resource_not_found("Microsoft.Web/serverFarms", name, rg)

    def _get_plan(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        plan = self._find_plan(match)
        return plan if isinstance(plan, tuple) else _json(200, self._plan_json(plan))

    def _put_plan(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        rg, name = match["rg"], match["plan"]
        group = self._groups.get(rg.lower())
        if group is None:
            return _group_not_found(rg)
        body = _json_body(request)
        if not isinstance(body, dict):
            return body
        existing = self._plans.get((rg.lower(), name.lower()))
        sku = body.get("sku") or {}
        sku_name: str = sku.get("name") or (existing.sku if existing else "")
        capacity = sku.get("capacity") or (existing.capacity if existing else 1)
        if not body.get("location"):
            return _arm_error(400, "LocationRequired", "The location property is required.")
        try:
            most = _sku_facts(sku_name)[2]
        except ValueError as exc:
            return _arm_error(400, "InvalidSku", str(exc))
        if not 1 <= capacity <= most:
            message = f"The {sku_name} tier allows 1 to {most} workers, not {capacity}."
            return _arm_error(400, "BadRequest", message)
        reserved = bool((body.get("properties") or {}).get("reserved"))

        def finish() -> None:
            plan = self._plans.get((rg.lower(), name.lower()))
            if plan is None:
                plan = SimulatedPlan(group.name, name, body["location"], "", 0, reserved, {})
                self._plans[(rg.lower(), name.lower())] = plan
            resized = bool(plan.sku) and plan.sku.lower() != sku_name.lower()
            # A plan's OS is fixed when it is created: reserved on an update changes nothing.
            plan.sku, plan.capacity, plan.tags = sku_name, capacity, dict(body.get("tags") or {})
            self.plan_history.append((plan.name, plan.sku, plan.capacity))
            for site in self._sites.values():
                if site.plan is plan:
                    self._match_capacity(site)
                    if resized:  # another size runs on other workers
                        site.backend.replace_instances()

        return self._accepted(finish)

    def _delete_plan(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        plan = self._find_plan(match)
        if isinstance(plan, tuple):
            return plan
        apps = [site.name for site in self._sites.values() if site.plan is plan]
        if apps:
            message = f"Server farm '{plan.name}' cannot be deleted: it hosts {', '.join(apps)}."
            return _arm_error(409, "Conflict", message)
        del self._plans[(plan.resource_group.lower(), plan.name.lower())]
        return 200, [], b""

    def _restart_sites(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        plan = self._find_plan(match)
        if isinstance(plan, tuple):
            return plan
        query = _query(request)
        soft = query.get("softRestart", "").lower() == "true"
        sites = [site for site in self._sites.values() if site.plan is plan]
        names = tuple(site.name for site in sites)
        self.plan_restarts.append(PlanRestartRecord(plan.name, names, query))
        for site in sites:
            if not soft or self.soft_restart_restarts:
                self._restart_processes(site, soft=soft)
        return 204, [], b""

    def _match_capacity(self, site: SimulatedSite) -> None:
        if site.instance_count != site.plan.capacity:
            site.backend.scale(site.plan.capacity)
            site.instance_count = site.plan.capacity

    def _plan_json(self, plan: SimulatedPlan) -> dict[str, Any]:
        tier, family, most = _sku_facts(plan.sku)
        return {
            "id": self._plan_id(plan),
            "name": plan.name,
            "type": "Microsoft.Web/serverfarms",
            "kind": "linux" if plan.reserved else "app",
            "location": plan.location,
            "tags": dict(plan.tags),
            "properties": {
                "status": "Ready",
                "subscription": self.subscription_id,
                "maximumNumberOfWorkers": most,
                "numberOfWorkers": plan.capacity,
                "geoRegion": plan.location,
                "numberOfSites": sum(site.plan is plan for site in self._sites.values()),
                "perSiteScaling": False,
                "elasticScaleEnabled": False,
                "maximumElasticWorkerCount": 1,
                "isSpot": False,
                "resourceGroup": plan.resource_group,
                "reserved": plan.reserved,
                "isXenon": False,
                "hyperV": False,
                "targetWorkerCount": 0,
                "targetWorkerSizeId": 0,
                "provisioningState": "Succeeded",
                "zoneRedundant": False,
            },
            "sku": {
                "name": plan.sku,
                "tier": tier,
                "size": plan.sku,
                "family": family,
                "capacity": plan.capacity,
            },
        }

    # --- resource groups --------------------------------------------------------------

    def _group_json(self, group: SimulatedGroup) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{self.subscription_id}/resourceGroups/{group.name}",
            "name": group.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": group.location,
            "tags": dict(group.tags),
            "properties": {"provisioningState": "Deleting" if group.deleting else "Succeeded"},
        }

    def _get_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        group = self._groups.get(match["rg"].lower())
        return _json(200, self._group_json(group)) if group else _group_not_found(match["rg"])

    def _head_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return (204 if match["rg"].lower() in self._groups else 404), [], b""

    def _put_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        body = _json_body(request)
        if not isinstance(body, dict):
            return body
        if not body.get("location"):
            return _arm_error(400, "LocationRequired", "The location property is required.")
        location = _short_location(body["location"])
        group = self._groups.get(match["rg"].lower())
        if group is None:
            group = SimulatedGroup(match["rg"], location, dict(body.get("tags") or {}))
            self._groups[match["rg"].lower()] = group
            return _json(201, self._group_json(group))
        if group.deleting:
            message = f"The resource group '{group.name}' is in deprovisioning state."
            return _arm_error(409, "ResourceGroupBeingDeleted", message)
        if group.location != location:
            message = (
                f"Invalid resource group location '{location}'. The Resource group already "
                f"exists in location '{group.location}'."
            )
            return _arm_error(409, "InvalidResourceGroupLocation", message)
        group.tags = dict(body.get("tags") or {})
        return _json(200, self._group_json(group))

    def _delete_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        group = self._groups.get(match["rg"].lower())
        if group is None:
            return _group_not_found(match["rg"])
        group.deleting = True

        def finish() -> None:
            for site in [s for s in self._sites.values() if s.resource_group == group.name]:
                self._remove_site(site)
            for key in [k for k, plan in self._plans.items() if plan.resource_group == group.name]:
                del self._plans[key]
            self._groups.pop(group.name.lower(), None)

        op = self._new_operation(finish)
        url = (
            f"{ARM_ENDPOINT}/subscriptions/{self.subscription_id}/operationresults/{op}"
            f"?api-version={RESOURCES_API_VERSION}"
        )
        return 202, self._lro_headers(("Location", url)), b""

    def _list_groups(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        groups = list(self._groups.values())
        expression = _query(request).get("$filter")
        if expression is not None:
            tag = _TAG_FILTER.match(expression)
            if tag is None:
                message = f"Unsupported $filter (simulated: tagName/tagValue only): {expression}"
                return _arm_error(400, "InvalidFilter", message)
            name, value = tag["name"].replace("''", "'"), tag["value"]

            def wanted(group: SimulatedGroup) -> bool:
                tags = {k.lower(): v for k, v in group.tags.items()}
                if name.lower() not in tags:
                    return False
                return value is None or tags[name.lower()] == value.replace("''", "'")

            groups = [group for group in groups if wanted(group)]
        return _json(200, {"value": [self._group_json(g) for g in groups], "nextLink": None})

    # --- long-running operations ------------------------------------------------------

    def _new_operation(self, finish: Callable[[], None]) -> str:
        op = str(uuid.uuid4())
        self._operations[op] = _Operation(self.lro_polls, finish)
        return op

    def _accepted(self, finish: Callable[[], None]) -> Reply:
        op = self._new_operation(finish)
        url = (
            f"{ARM_ENDPOINT}/subscriptions/{self.subscription_id}/providers/Microsoft.Web/"
            f"operationresults/{op}?api-version={WEB_API_VERSION}"
        )
        return 202, self._lro_headers(("Azure-AsyncOperation", url)), b""

    def _lro_headers(self, link: tuple[str, str]) -> list[tuple[str, str]]:
        return [link, *self._retry_after()]

    def _retry_after(self) -> list[tuple[str, str]]:
        if self.lro_retry_after is None:
            return []
        return [("Retry-After", str(self.lro_retry_after))]

    def _advance(self, op_id: str) -> _Operation | None:
        """Count one poll of the operation; run its change when it becomes done."""
        op = self._operations.get(op_id)
        if op is not None and not op.done:
            if op.polls_left > 0:
                op.polls_left -= 1
            else:
                op.finish()
                op.done = True
        return op

    def _poll_async_operation(
        self, request: requests.PreparedRequest, match: re.Match[str]
    ) -> Reply:
        op = self._advance(match["op"])
        if op is None:
            return _arm_error(404, "NotFound", f"No operation {match['op']}.")
        body = {"id": urlsplit(request.url or "").path, "name": match["op"], "startTime": _now()}
        if op.done:
            return _json(200, {**body, "status": "Succeeded", "endTime": _now()})
        return _json(200, {**body, "status": "InProgress"}, self._retry_after())

    def _poll_location(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        op = self._advance(match["op"])
        if op is None:
            return _arm_error(404, "NotFound", f"No operation {match['op']}.")
        if op.done:
            return 200, [], b""
        return 202, self._lro_headers(("Location", request.url or "")), b""

    # --- Kudu -------------------------------------------------------------------------

    def _scm_site(self, host: str) -> SimulatedSite:
        for site in self._sites.values():
            if site.scm_host_name == host.lower():
                return site
        raise requests.ConnectionError(f"simulated DNS: no such host {host!r}")

    def _kudu_refusal(self, request: requests.PreparedRequest) -> Reply | None:
        token = _bearer(request, KUDU_SCOPE)
        if token is None:
            return 401, [("WWW-Authenticate", "Bearer")], b"Unauthorized"
        self.kudu_tokens.append(token)
        return None

    def _publish(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._scm_site(match["host"])
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        query = {k.lower(): v for k, v in _query(request).items()}
        if query.get("type", "").lower() != "zip":
            return 400, [], b"simulated OneDeploy: only type=zip is supported"
        if self._conflicts > 0:
            self._conflicts -= 1
            message = b"There is a deployment currently in progress. Please try again later."
            return 409, [("Content-Type", "text/plain")], message
        data = _body_bytes(request)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                deployment_id = ""
                if DEPLOYMENT_ID_FILE in names:
                    deployment_id = archive.read(DEPLOYMENT_ID_FILE).decode().strip()
        except zipfile.BadZipFile:
            return 400, [], b"The request body is not a ZIP file."
        deployment = KuduDeployment(
            id=uuid.uuid4().hex,
            site=site,
            package=ProbePackage(deployment_id=deployment_id, data=data),
            fails=self._fail_next_deployment,
            received_time=_now(),
        )
        self._fail_next_deployment = False
        self.deployments.append(deployment)
        if query.get("async", "").lower() == "true":
            location = f"https://{site.scm_host_name}/api/deployments/{deployment.id}"
            return 202, [("Location", location)], b""
        while not deployment.complete:
            self._advance_deployment(deployment)
        return (200, [], b"") if deployment.status == KUDU_SUCCESS else (400, [], b"Failed")

    def _find_deployment(self, match: re.Match[str]) -> KuduDeployment | None:
        site = self._scm_site(match["host"])
        mine = [d for d in self.deployments if d.site is site]
        if match["dep"].lower() == "latest":
            return mine[-1] if mine else None
        return next((d for d in mine if d.id == match["dep"]), None)

    def _deployment(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        deployment = self._find_deployment(match)
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        if deployment is None:
            return 404, [], b"Not Found"
        self._advance_deployment(deployment)
        scm = f"https://{deployment.site.scm_host_name}"
        return _json(
            200,
            {
                "id": deployment.id,
                "status": deployment.status,
                "status_text": {KUDU_BUILDING: "Building"}.get(deployment.status, ""),
                "author_email": "N/A",
                "author": "N/A",
                "deployer": "OneDeploy",
                "message": "OneDeploy",
                "progress": "",
                "received_time": deployment.received_time,
                "start_time": deployment.received_time,
                "end_time": deployment.end_time,
                "last_success_end_time": deployment.end_time
                if deployment.status == KUDU_SUCCESS
                else None,
                "complete": deployment.complete,
                "active": deployment.status == KUDU_SUCCESS,
                "is_temp": False,
                "is_readonly": True,
                "url": f"{scm}/api/deployments/{deployment.id}",
                "log_url": f"{scm}/api/deployments/{deployment.id}/log",
                "site_name": deployment.site.name,
            },
        )

    def _log(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        deployment = self._find_deployment(match)
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        if deployment is None:
            return 404, [], b"Not Found"
        entries = [
            {"log_time": deployment.received_time, "id": str(i), "message": line, "type": 0}
            for i, line in enumerate(deployment.log)
        ]
        return _json(200, entries)

    def _advance_deployment(self, deployment: KuduDeployment) -> None:
        if deployment.complete:
            return
        if deployment.status < KUDU_BUILDING:
            deployment.status = KUDU_BUILDING
            deployment.log.append("Received the ZIP; building.")
            return
        if deployment.fails:
            deployment.log.append("Deployment failed (fault injected by the simulator).")
            deployment.status = KUDU_FAILED
        else:
            try:
                self._deploy_package(deployment.site, deployment.package)
            except BackendError as exc:
                deployment.log.append(f"Deployment failed: {exc}")
                deployment.status = KUDU_FAILED
            else:
                deployment.log.append("Deployment successful.")
                deployment.status = KUDU_SUCCESS
        deployment.end_time = _now()

    def _deploy_package(self, site: SimulatedSite, package: ProbePackage) -> None:
        with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
            has_app = "app.py" in archive.namelist()
        site.backend.deploy(package)
        site.deployed = has_app

    # --- the app's front end ----------------------------------------------------------

    def _probe(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        host = match["host"].lower()
        site = next((s for s in self._sites.values() if s.default_host_name == host), None)
        if site is None:
            raise requests.ConnectionError(f"simulated DNS: no such host {host!r}")
        parts = urlsplit(request.url or "")
        if parts.scheme == "http" and site.https_only:
            return 301, [("Location", urlunsplit(("https", *parts[1:])))], b""
        if site.state == "Running" and not site.deployed:
            return 404, [("Content-Type", "text/html")], _NOT_FOUND_HTML
        forwarded = request.copy()
        forwarded.url = urlunsplit(("https", site.backend.host, *parts[2:]))
        cookies = self._front_end_cookies(request, site)
        forwarded.headers.pop("Cookie", None)
        if cookies:
            forwarded.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        answer = site.backend.session.get_adapter(forwarded.url).send(forwarded)
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() != "content-length"]
        served = _instance_in(answer)
        if site.client_affinity and served and served != cookies.get("ARRAffinity"):
            domain = f"Path=/;HttpOnly;Secure;Domain={site.default_host_name}"
            headers.append(("Set-Cookie", f"ARRAffinity={served};{domain}"))
            headers.append(("Set-Cookie", f"ARRAffinitySameSite={served};SameSite=None;{domain}"))
        return answer.status_code, headers, answer.content

    def _front_end_cookies(
        self, request: requests.PreparedRequest, site: SimulatedSite
    ) -> dict[str, str]:
        """The cookies ARR acts on: the first of each name, no affinity when it is off."""
        cookies: dict[str, str] = {}
        for part in request.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if not name:
                continue
            if name in cookies:
                # A session that kept ARR's Set-Cookie sends it before a pinned request's own
                # cookie. Which one ARR obeys is not documented; taking the first makes the
                # harness fail here rather than by luck on Azure.
                self.conflicting_cookies += cookies[name] != value
                continue
            cookies[name] = value
        if not site.client_affinity:
            cookies = {k: v for k, v in cookies.items() if not k.startswith("ARRAffinity")}
        return cookies

    # --- identifiers ------------------------------------------------------------------

    def _plan_id(self, plan: SimulatedPlan) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{plan.resource_group}"
            f"/providers/Microsoft.Web/serverfarms/{plan.name}"
        )

    def _site_id(self, site: SimulatedSite) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{site.resource_group}"
            f"/providers/Microsoft.Web/sites/{site.name}"
        )


def _json(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    content_type = ("Content-Type", "application/json; charset=utf-8")
    return status, [content_type, *(headers or [])], json.dumps(body).encode()


def _arm_error(status: int, code: str, message: str) -> Reply:
    return _json(status, {"error": {"code": code, "message": message}})


def _group_not_found(rg: str) -> Reply:
    return _arm_error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")


def _resource_not_found(resource_type: str, name: str, rg: str) -> Reply:
    message = (
        f"The Resource '{resource_type}/{name}' under resource group '{rg}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    )
    return _arm_error(404, "ResourceNotFound", message)


def _query(request: requests.PreparedRequest) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.url or "").query, keep_blank_values=True))


def _bearer(request: requests.PreparedRequest, scope: str) -> str | None:
    """The Bearer token sent, if any and if not marked as issued for another scope."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    _, marked, audience = token.partition(SCOPE_MARK)
    return None if marked and audience != scope else token


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    body: Any = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        return body.encode()
    return bytes(body or b"")


def _json_body(request: requests.PreparedRequest) -> dict[str, Any] | Reply:
    try:
        body = json.loads(_body_bytes(request) or b"{}")
    except ValueError:
        return _arm_error(400, "InvalidRequestContent", "The request content is not valid JSON.")
    if not isinstance(body, dict):
        return _arm_error(400, "InvalidRequestContent", "The request content is not an object.")
    return body


def _instance_in(answer: requests.Response) -> str | None:
    """The instance id a probe answer names, if it is JSON that names one."""
    try:
        body = answer.json()
    except ValueError:
        return None
    value = body.get("instance_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _sku_facts(name: str) -> tuple[str, str, int]:
    for pattern, tier, family, most in _SKUS:
        if pattern.fullmatch(name):
            return tier, family, most
    raise ValueError(f"The SKU '{name}' is not simulated.")


def _short_location(location: str) -> str:
    return location.replace(" ", "").lower()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
