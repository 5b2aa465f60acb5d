"""ARM's Microsoft.Web server farms: App Service plans, their SKU, workers and restarts.

Answers for ``.../providers/Microsoft.Web/serverfarms/{name}``: GET, PUT as a long-running
operation, DELETE, and ``restartSites``. Follows the Microsoft.Web REST spec
(Azure/azure-rest-api-specs,
``specification/web/resource-manager/Microsoft.Web/AppService/stable/2025-05-01``,
AppServicePlans).

Modelling choices worth knowing when a test fails:

- A new ``sku.capacity`` scales every app on the plan; a new ``sku.name`` moves them to new
  workers: every instance gets a new id and a new container
  (``FakeBackend.replace_instances``); /home stays.
- A plan is Linux only when created with ``properties.reserved`` true, whatever its ``kind``.
- ``restartSites`` restarts every app of the plan as a site restart does.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.azure.simulator.arm import (
    RESOURCE_GROUP,
    accepted,
    arm_error,
    arm_routes,
    group_not_found,
    json_body,
    reply_with,
    resource_not_found,
    web_error,
)
from tests.azure.simulator.state import (
    AppServiceState,
    PlanRestartRecord,
    Reply,
    Route,
    SimulatedPlan,
    request_query,
)

_PLAN = RESOURCE_GROUP + r"/providers/Microsoft\.Web/serverfarms/(?P<plan>[^/?#]+)"
#: SKU name pattern -> (tier, family, most workers).
_SKUS = (
    (re.compile(r"F1", re.I), "Free", "F", 1),
    (re.compile(r"B[1-3]", re.I), "Basic", "B", 3),
    (re.compile(r"S[1-3]", re.I), "Standard", "S", 10),
    (re.compile(r"P[1-3]v2", re.I), "PremiumV2", "Pv2", 30),
    # P0v3 has a tier of its own, as az names it (azure-cli appservice utils.py
    # get_sku_tier: "if name in ['P0V3']: return 'PREMIUM0V3'").
    (re.compile(r"P0v3", re.I), "Premium0V3", "Pv3", 30),
    (re.compile(r"P[1-3]v3", re.I), "PremiumV3", "Pv3", 30),
)


def sku_facts(name: str) -> tuple[str, str, int]:
    """The SKU's (tier, family, most workers); ValueError for a SKU the simulator lacks."""
    for pattern, tier, family, most in _SKUS:
        if pattern.fullmatch(name):
            return tier, family, most
    raise ValueError(f"The SKU '{name}' is not simulated.")


class ArmPlans:
    """The Microsoft.Web/serverfarms routes, answering from and changing the shared state."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The plan URLs and their handlers."""
        return arm_routes(
            self.state,
            [
                ("GET", _PLAN, self._get_plan),
                ("PUT", _PLAN, self._put_plan),
                ("DELETE", _PLAN, self._delete_plan),
                ("POST", _PLAN + "/restartSites", self._restart_sites),
            ],
        )

    def _find_plan(self, match: re.Match[str]) -> SimulatedPlan | Reply:
        rg, name = match["rg"], match["plan"]
        if rg.lower() not in self.state.groups:
            return group_not_found(rg)
        plan = self.state.plans.get((rg.lower(), name.lower()))
        return plan or resource_not_found("Microsoft.Web/serverFarms", name, rg)

    def _get_plan(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return reply_with(self._find_plan(match), self._plan_json)

    def _put_plan(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        rg, name = match["rg"], match["plan"]
        group = self.state.groups.get(rg.lower())
        if group is None:
            return group_not_found(rg)
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        self.state.plan_puts.append(body)
        existing = self.state.plans.get((rg.lower(), name.lower()))
        sku = body.get("sku") or {}
        sku_name: str = sku.get("name") or (existing.sku if existing else "")
        capacity = sku.get("capacity") or (existing.capacity if existing else 1)
        if not body.get("location"):
            return arm_error(400, "LocationRequired", "The location property is required.")
        try:
            most = sku_facts(sku_name)[2]
        except ValueError as exc:
            return web_error(400, "InvalidSku", str(exc))
        if not 1 <= capacity <= most:
            message = f"The {sku_name} tier allows 1 to {most} workers, not {capacity}."
            return web_error(400, "BadRequest", message)
        reserved = bool((body.get("properties") or {}).get("reserved"))

        def finish() -> None:
            plan = self.state.plans.get((rg.lower(), name.lower()))
            if plan is None:
                plan = SimulatedPlan(group.name, name, body["location"], "", 0, reserved, {})
                self.state.plans[(rg.lower(), name.lower())] = plan
            resized = bool(plan.sku) and plan.sku.lower() != sku_name.lower()
            # A plan's OS is fixed when it is created: reserved on an update changes nothing.
            plan.sku, plan.capacity, plan.tags = sku_name, capacity, dict(body.get("tags") or {})
            self.state.plan_history.append((plan.name, plan.sku, plan.capacity))
            for site in self.state.sites.values():
                if site.plan is plan:
                    self.state.match_capacity(site)
                    if resized:  # another size runs on other workers
                        site.backend.replace_instances()

        def result() -> dict[str, Any]:
            plan = self.state.plans.get((rg.lower(), name.lower()))
            if plan is None:  # a create that failed: the plan as it was asked for
                plan = SimulatedPlan(
                    group.name, name, body["location"], sku_name, capacity, reserved, {}
                )
            return self._plan_json(plan)

        return accepted(self.state, request, finish, result)

    def _delete_plan(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        plan = self._find_plan(match)
        if isinstance(plan, tuple):
            return plan
        apps = [site.name for site in self.state.sites.values() if site.plan is plan]
        if apps:
            message = f"Server farm '{plan.name}' cannot be deleted: it hosts {', '.join(apps)}."
            return web_error(409, "Conflict", message)
        del self.state.plans[(plan.resource_group.lower(), plan.name.lower())]
        return 200, [], b""

    def _restart_sites(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        plan = self._find_plan(match)
        if isinstance(plan, tuple):
            return plan
        query = request_query(request)
        soft = query.get("softRestart", "").lower() == "true"
        sites = [site for site in self.state.sites.values() if site.plan is plan]
        names = tuple(site.name for site in sites)
        self.state.plan_restarts.append(PlanRestartRecord(plan.name, names, query))
        for site in sites:
            if not soft or self.state.soft_restart_restarts:
                self.state.restart_processes(site, soft=soft)
        return 204, [], b""

    def _plan_json(self, plan: SimulatedPlan) -> dict[str, Any]:
        tier, family, most = sku_facts(plan.sku)
        return {
            "id": self.state.plan_id(plan),
            "name": plan.name,
            "type": "Microsoft.Web/serverfarms",
            "kind": "linux" if plan.reserved else "app",
            "location": plan.location,
            "tags": dict(plan.tags),
            "properties": {
                "status": "Ready",
                "subscription": self.state.subscription_id,
                "maximumNumberOfWorkers": most,
                "numberOfWorkers": plan.capacity,
                "geoRegion": plan.location,
                "numberOfSites": sum(site.plan is plan for site in self.state.sites.values()),
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
