"""The simulator a test holds: every part's routes in ``responses``, and the test's handle.

Answers for no Azure component itself: it wires ARM (``arm``, ``arm_sites``, ``arm_plans``),
Kudu (``kudu``) and the front end (``frontend``) to the transport, records every request, and
injects faults (429 with ``Retry-After``, one-off 5xx statuses) before a part answers. Tests
seed apps that exist already, inject faults and inspect what was asked through it.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import requests

from tests.azure.simulator.arm import Arm, web_error
from tests.azure.simulator.arm_plans import ArmPlans, sku_facts
from tests.azure.simulator.arm_registry import ArmRegistry, SimulatedRegistry, has_dockerfile
from tests.azure.simulator.arm_sites import ArmSites
from tests.azure.simulator.arm_storage import ArmStorage, SimulatedStorageAccount
from tests.azure.simulator.frontend import FrontEnd
from tests.azure.simulator.kudu import Kudu
from tests.azure.simulator.state import (
    DEFAULT_SUBSCRIPTION,
    AppServiceState,
    Fault,
    LroHeader,
    Part,
    RecordedRequest,
    Reply,
    Route,
    SimulatedGroup,
    SimulatedPlan,
    SimulatedSite,
    json_reply,
    short_location,
)
from tests.azure.simulator.timing import PlatformTiming

if TYPE_CHECKING:
    from pathlib import Path

    import responses

    from pytest_appservice_fs.engine.probe_package import ProbePackage


#: What the app's front end answers while the platform carries out an operation.
_BUSY: Reply = (
    503,
    [("Content-Type", "text/html")],
    b"<html><body>Service Unavailable (simulated: the platform is busy)</body></html>",
)


class AzureSimulator(AppServiceState):
    """App Service (ARM, Kudu, front end) in memory, answering through ``responses``."""

    def __init__(
        self,
        root: Path,
        *,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        lro_polls: int = 1,
        lro_retry_after: int | None = None,
        lro_header: LroHeader = "Location",
        soft_restart_restarts: bool = False,
        timing: PlatformTiming | None = None,
    ) -> None:
        super().__init__(
            root,
            subscription_id=subscription_id,
            lro_polls=lro_polls,
            lro_retry_after=lro_retry_after,
            lro_header=lro_header,
            soft_restart_restarts=soft_restart_restarts,
        )
        #: How long the platform takes per operation (none: everything at once).
        self.timing = timing or PlatformTiming()
        self._sites = ArmSites(self)
        self._parts: tuple[Part, ...] = (
            self._sites,
            ArmRegistry(self),
            ArmStorage(self),
            ArmPlans(self),
            Arm(self),
            Kudu(self),
            FrontEnd(self),
        )

    # --- wiring -------------------------------------------------------------------------

    def install(self, rsps: responses.RequestsMock) -> None:
        """Register a callback for every URL the simulator serves; the rest stays unmatched."""
        for part in self._parts:
            for route in part.routes():
                compiled = re.compile(route.pattern, re.IGNORECASE)
                callback = self._callback(route, compiled)
                # Headers as a list of pairs (responses accepts them) so Set-Cookie can repeat.
                rsps.add_callback(route.method, compiled, callback=callback, content_type=None)  # type: ignore[arg-type]

    def _callback(
        self, route: Route, pattern: re.Pattern[str]
    ) -> Callable[[requests.PreparedRequest], Reply]:
        kind = route.kind

        def answer(request: requests.PreparedRequest) -> Reply:
            url, method = request.url or "", (request.method or "GET").upper()
            match = pattern.match(url)
            assert match is not None, f"responses matched {url} to {pattern.pattern}"
            # The app's front end serves requests side by side, as App Service does (H4 sends
            # two appends at once); ARM and Kudu answer one at a time.
            serial = self.lock if kind != "probe" else contextlib.nullcontext()
            with serial:
                try:
                    with self.lock:
                        reply = self._fault_reply(method, url)
                        if reply is None and route.refusal is not None:
                            reply = route.refusal(request, match)
                        if reply is None and kind == "probe" and self.timing.busy:
                            reply = _BUSY
                        operation = self._operation(kind, method, url, request)
                    reply = reply or route.handler(request, match)
                    if operation is not None and reply[0] < 400:
                        self.timing.begin(operation)
                except requests.ConnectionError:
                    self.requests.append(RecordedRequest(kind, method, url, None))
                    raise
                self.requests.append(RecordedRequest(kind, method, url, reply[0]))
                if kind == "arm":  # ARM stamps every answer, an injected fault's too
                    reply[1].append(("x-ms-request-id", str(uuid.uuid4())))
                return reply

        return answer

    def _operation(
        self, kind: str, method: str, url: str, request: requests.PreparedRequest
    ) -> str | None:
        """The platform operation a request starts (for the timing profile), or None."""
        if kind == "probe" or not self.timing.scale:
            return None
        sku_changed = False
        if "/serverfarms/" in url.lower() and method in ("PUT", "PATCH"):
            name = url.split("?", maxsplit=1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
            plan = next((p for (_, n), p in self.plans.items() if n == name), None)
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                body = {}
            sku = (body.get("sku") or {}) if isinstance(body, dict) else {}
            if plan is None:
                return None  # a new plan: part of creating the app
            sku_changed = sku.get("name", plan.sku) != plan.sku
            if not sku_changed and sku.get("capacity", plan.capacity) == plan.capacity:
                return None
        return self.timing.operation(method, url, sku_changed=sku_changed)

    def _fault_reply(self, method: str, url: str) -> Reply | None:
        """Answer with the first injected fault that matches, and forget it."""
        for fault in self.faults:
            if fault.method == method and fault.pattern.search(url):
                self.faults.remove(fault)
                message = fault.message or f"HTTP {fault.status} injected by the simulator."
                if fault.web:
                    return web_error(fault.status, fault.code, message)
                body = {"error": {"code": fault.code, "message": message}}
                return json_reply(fault.status, body, list(fault.headers))
        return None

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
        with self.lock:
            group = self.groups.get(resource_group.lower())
            if group is None:
                group = SimulatedGroup(resource_group, short_location(location), {})
                self.groups[resource_group.lower()] = group
            linux = "linux" in kind.lower()
            plan_name = plan or f"{name}-plan"
            farm = self.plans.get((resource_group.lower(), plan_name.lower()))
            if farm is None:
                sku_facts(sku)  # refuse an unknown SKU here, not at the first request
                farm = SimulatedPlan(resource_group, plan_name, location, sku, capacity, linux, {})
                self.plans[(resource_group.lower(), plan_name.lower())] = farm
            config: dict[str, Any] = {
                "linuxFxVersion": linux_fx_version if linux else "",
                "appCommandLine": app_command_line,
            }
            if windows_fx_version is not None:
                config["windowsFxVersion"] = windows_fx_version
            site = self.create_site(
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
                self.deploy_package(site, package)
            return site

    def add_registry_image(
        self, resource_group: str, name: str, reference: str, context: bytes
    ) -> str:
        """Seed a registry (anonymous pull) holding ``reference`` (``repo:tag``) built from
        ``context``; the full image name, ``<login server>/<reference>``."""
        with self.lock:
            group = self.groups.setdefault(
                resource_group.lower(), SimulatedGroup(resource_group, "koreacentral", {})
            )
            registry = self.registries.setdefault(
                name.lower(),
                SimulatedRegistry(group.name, name, group.location, "Basic", False, {}, True),
            )
            if not has_dockerfile(context):
                raise ValueError("the build context has no Dockerfile")
            registry.images[reference] = context
            return f"{registry.login_server}/{reference}"

    def add_storage_mount(
        self, site: SimulatedSite, path: str, *, blob: bool = False, nfs: bool = False
    ) -> None:
        """Give a seeded app an Azure Storage mount at ``path`` on an account of its own."""
        with self.lock:
            index = len(self.storage_accounts)
            kind, sku = ("FileStorage", "Premium_LRS") if nfs else ("StorageV2", "Standard_LRS")
            account = SimulatedStorageAccount(
                site.resource_group, f"seeded{index}", "koreacentral", kind, sku, not nfs
            )
            self.storage_accounts[account.name] = account
            share = "data"
            if blob:
                account.containers.add(share)
            else:
                account.shares[share] = nfs
            site.storage_mounts[f"mount{index}"] = {
                "type": "AzureBlob" if blob else "AzureFiles",
                "accountName": account.name,
                "shareName": share,
                "accessKey": account.key,
                "mountPath": path,
                "protocol": "Http" if blob else ("Nfs" if nfs else "Smb"),
            }
            self._sites.apply_runtime(site)

    def fail_next_build_run(self) -> None:
        """The next ACR run ends Failed."""
        self.fail_next_build = True

    def arm_error_next(
        self, method: str, url_regex: str, status: int, code: str, message: str
    ) -> None:
        """The next ``method`` request whose URL matches answers an ARM error body."""
        self.faults.append(Fault(method.upper(), re.compile(url_regex), status, code, [], message))

    def throttle_next(self, method: str, url_regex: str, *, retry_after: int = 1) -> None:
        """The next ``method`` request whose URL matches answers 429 with ``Retry-After``."""
        headers = [("Retry-After", str(retry_after))]
        self.faults.append(
            Fault(method.upper(), re.compile(url_regex), 429, "TooManyRequests", headers)
        )

    def fail_next(self, method: str, url_regex: str, status: int = 500) -> None:
        """The next ``method`` request whose URL matches answers ``status`` (a 5xx) once."""
        if not 500 <= status <= 599:
            raise ValueError(f"fail_next takes a 5xx status, not {status}")
        self.faults.append(
            Fault(method.upper(), re.compile(url_regex), status, "InternalServerError", [])
        )

    def web_error_next(
        self, method: str, url_regex: str, status: int, code: str, message: str
    ) -> None:
        """The next ``method`` request whose URL matches answers a Microsoft.Web error body."""
        self.faults.append(
            Fault(method.upper(), re.compile(url_regex), status, code, [], message, web=True)
        )

    def fail_next_operation(self, url_regex: str, code: str, message: str) -> None:
        """The next long-running operation a request to ``url_regex`` starts fails so, once."""
        self.operation_failures.append((url_regex, code, message))

    def expire_tokens(self) -> None:
        """From now on ARM refuses every token as expired (401 ExpiredAuthenticationToken)."""
        self.tokens_expired = True

    def set_instance_state(self, instance_id: str, state: str) -> None:
        """Report the instance as READY, STOPPED or UNKNOWN in the site's instance list."""
        if state not in ("READY", "STOPPED", "UNKNOWN"):
            raise ValueError(f"{state} is no SiteRuntimeState (READY, STOPPED, UNKNOWN)")
        if state == "READY":
            self.instance_states.pop(instance_id, None)
        else:
            self.instance_states[instance_id] = state

    def deploy_conflicts(self, n: int) -> None:
        """The next ``n`` publish requests answer 409: a deployment is in progress."""
        self.publish_conflicts = n

    def deploy_fails_next(self) -> None:
        """The next deployment ends with status 3 (failed) and a log."""
        self.fail_next_deployment = True

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
        return self.sites[name.lower()]

    def plan(self, resource_group: str, name: str) -> SimulatedPlan:
        """The plan ``name`` in ``resource_group``."""
        return self.plans[(resource_group.lower(), name.lower())]

    def group(self, name: str) -> SimulatedGroup | None:
        """The resource group ``name``, or None when there is none."""
        return self.groups.get(name.lower())

    def teardown(self) -> None:
        """Tear down every fake backend the simulator created; safe to call twice."""
        for backend in self.backends:
            backend.teardown()
