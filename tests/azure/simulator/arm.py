"""Azure Resource Manager (``https://management.azure.com``): what every ARM call shares.

Answers for ARM's front door (a Bearer token for ``ARM_SCOPE``, an ``api-version``, a known
subscription), its error bodies, its long-running operations and their polling, and the
Microsoft.Resources resource groups: PUT, GET, HEAD, DELETE as a long-running operation, and
list with ``tagName`` / ``tagValue`` filters. Microsoft.Web sites and plans are in
``arm_sites`` and ``arm_plans``, which use the helpers here.

Follows the Microsoft.Resources REST spec (Azure/azure-rest-api-specs,
``specification/resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01/
resources.json``) and the Microsoft.Web one for ``operationresults``
(``specification/web/resource-manager/Microsoft.Web/AppService/stable/2025-05-01``).

Modelling choices worth knowing when a test fails:

- A long-running operation takes effect when a poll reports it done (after ``lro_polls``
  ``InProgress`` answers), not at the PUT or DELETE: a caller that does not wait sees no change.
  With ``lro_polls=0`` the first poll is done, so no client ever waits for its polling interval.
- A Microsoft.Web site or plan PUT answers 202 with ``Location`` by default, as the spec
  declares (Site.tsp and AppServicePlan.tsp: ``ArmAcceptedLroResponse<LroHeaders =
  ArmLroLocationHeader<FinalResult = ...>>``); ``lro_header="Azure-AsyncOperation"`` answers
  with that header instead. The Location URL's path (the resource's ``/operationresults/{id}``)
  is not settled by the spec. Polled there: 202 while in progress, then 200 with the resource.
- A failed operation (``fail_next_operation``): the Azure-AsyncOperation poll answers
  ``{"status": "Failed", "error": {...}}``; the Location poll answers 200 with the plan body at
  ``provisioningState: Failed`` for a plan, and Microsoft.Web's error body (400) for a site.
- Errors: ARM's front door (no token, no api-version, unknown subscription, unknown group or
  resource) answers ``{"error": {"code", "message"}}``, as recorded for a missing plan
  (Azure/azure-sdk-for-python, sdk/appservice/azure-mgmt-web/tests/recordings/
  test_cli_mgmt_web.test_web.yaml, with ``x-ms-failure-cause: gateway``); Microsoft.Web itself
  answers its top-level ``{"Code", "Message", "Target", "Details", "Innererror"}``
  (test_cli_mgmt_web_app.test_web_app.yaml: "Cannot find ServerFarm with name ...").
- ``expire_tokens()`` makes ARM refuse every later request with 401
  ``ExpiredAuthenticationToken`` (the body quoted in Azure/apiops#671).
- Any non-empty Bearer token is accepted, except one marked (``SCOPE_MARK``) as issued for
  another scope: ARM wants ``ARM_SCOPE``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import requests

from tests.azure.simulator.state import (
    ARM_ENDPOINT,
    ARM_SCOPE,
    END,
    RESOURCES_API_VERSION,
    WEB_API_VERSION,
    AppServiceState,
    Handler,
    Reply,
    Route,
    SimulatedGroup,
    bearer,
    body_bytes,
    json_reply,
    now,
    request_query,
    short_location,
)

#: URL prefixes of a subscription and of a resource group in it.
SUBSCRIPTION = r"^https://management\.azure\.com/subscriptions/(?P<sub>[^/?#]+)"
RESOURCE_GROUP = SUBSCRIPTION + r"/resourcegroups/(?P<rg>[^/?#]+)"

_TAG_FILTER = re.compile(
    r"^\s*tagName\s+eq\s+'(?P<name>(?:[^']|'')*)'"
    r"(?:\s+and\s+tagValue\s+eq\s+'(?P<value>(?:[^']|'')*)')?\s*$",
    re.IGNORECASE,
)


@dataclass
class Operation:
    """A long-running operation: polls still to answer InProgress, and the change it makes.

    ``result`` gives the resource body a Location poll answers once done; ``failure`` the
    (code, message) it fails with, and then ``finish`` never runs.
    """

    polls_left: int
    finish: Callable[[], None]
    done: bool = False
    result: Callable[[], dict[str, Any]] | None = None
    failure: tuple[str, str] | None = None


def arm_routes(state: AppServiceState, routes: list[tuple[str, str, Handler]]) -> list[Route]:
    """ARM routes from (method, URL regex without its end, handler), behind ARM's refusal."""

    def refuse(request: requests.PreparedRequest, match: re.Match[str]) -> Reply | None:
        return refusal(state, request, match)

    return [
        Route(method, pattern + END, "arm", handler, refuse) for method, pattern, handler in routes
    ]


def refusal(
    state: AppServiceState, request: requests.PreparedRequest, match: re.Match[str]
) -> Reply | None:
    """ARM's answer to a request without a token, ``api-version`` or known subscription."""
    token = bearer(request, ARM_SCOPE)
    if token is None:
        message = "The 'Authorization' header is missing or not a token for ARM."
        return arm_error(401, "AuthenticationFailed", message)
    if state.tokens_expired:
        message = (
            f"The access token expiry UTC time '{now()}' is earlier than current UTC time "
            f"'{now()}'."
        )
        return arm_error(401, "ExpiredAuthenticationToken", message)
    state.arm_tokens.append(token)
    if not request_query(request).get("api-version"):
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if match["sub"].lower() != state.subscription_id.lower():
        message = f"The subscription '{match['sub']}' could not be found."
        return arm_error(404, "SubscriptionNotFound", message)
    return None


# --- error bodies ---------------------------------------------------------------------


def arm_error(status: int, code: str, message: str) -> Reply:
    """An ARM error answer: ``{"error": {"code", "message"}}``."""
    return json_reply(status, {"error": {"code": code, "message": message}})


def web_error(status: int, code: str, message: str) -> Reply:
    """A Microsoft.Web error answer, in the shape of the recorded one (module docstring)."""
    body = {
        "Code": code,
        "Message": message,
        "Target": None,
        "Details": [
            {"Message": message},
            {"Code": code},
            {"ErrorEntity": {"Code": code, "Message": message}},
        ],
        "Innererror": None,
    }
    return json_reply(status, body)


def group_not_found(rg: str) -> Reply:
    """The 404 for a resource group that does not exist."""
    return arm_error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")


def resource_not_found(resource_type: str, name: str, rg: str) -> Reply:
    """The 404 for a resource that does not exist in an existing group."""
    message = (
        f"The Resource '{resource_type}/{name}' under resource group '{rg}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    )
    return arm_error(404, "ResourceNotFound", message)


class InGroup(Protocol):
    """A resource held in a resource group."""

    @property
    def resource_group(self) -> str:
        """The name of the resource group that holds it."""
        ...


Resource = TypeVar("Resource", bound=InGroup)


def find_in_group(
    state: AppServiceState,
    match: re.Match[str],
    resources: Mapping[str, Resource],
    name_group: str,
    resource_type: str,
) -> Resource | Reply:
    """The resource the URL names (its name in the ``name_group`` match group, its group in
    ``rg``; ``resources`` keyed by lower-case name), or ARM's 404: ResourceGroupNotFound when
    the group does not exist, ResourceNotFound when the resource is missing or in another."""
    rg, name = match["rg"], match[name_group]
    if rg.lower() not in state.groups:
        return group_not_found(rg)
    resource = resources.get(name.lower())
    if resource is None or resource.resource_group.lower() != rg.lower():
        return resource_not_found(resource_type, name, rg)
    return resource


def reply_with(found: Resource | Reply, body: Callable[[Resource], Any]) -> Reply:
    """200 with ``body`` of the resource found, or the error answer found instead."""
    return found if isinstance(found, tuple) else json_reply(200, body(found))


def json_body(request: requests.PreparedRequest) -> dict[str, Any] | Reply:
    """The request's JSON object, or the 400 ARM answers when it is not one."""
    try:
        body = json.loads(body_bytes(request) or b"{}")
    except ValueError:
        return arm_error(400, "InvalidRequestContent", "The request content is not valid JSON.")
    if not isinstance(body, dict):
        return arm_error(400, "InvalidRequestContent", "The request content is not an object.")
    return body


# --- long-running operations ----------------------------------------------------------


def new_operation(
    state: AppServiceState,
    finish: Callable[[], None],
    result: Callable[[], dict[str, Any]] | None = None,
    failure: tuple[str, str] | None = None,
) -> str:
    """Start an operation that runs ``finish`` when a poll finds it done; its id."""
    op = str(uuid.uuid4())
    state.operations[op] = Operation(state.lro_polls, finish, result=result, failure=failure)
    return op


def take_failure(
    state: AppServiceState, request: requests.PreparedRequest
) -> tuple[str, str] | None:
    """The failure ``fail_next_operation`` set for this request's URL, if any, now used up."""
    for index, (pattern, code, message) in enumerate(state.operation_failures):
        if re.search(pattern, request.url or ""):
            del state.operation_failures[index]
            return code, message
    return None


def accepted(
    state: AppServiceState,
    request: requests.PreparedRequest,
    finish: Callable[[], None],
    result: Callable[[], dict[str, Any]],
) -> Reply:
    """Microsoft.Web's 202 for a PUT: a link to poll (``state.lro_header``) until it is done."""
    op = new_operation(state, finish, result, take_failure(state, request))
    if state.lro_header == "Location":
        path = urlsplit(request.url or "").path
        url = f"{ARM_ENDPOINT}{path}/operationresults/{op}?api-version={WEB_API_VERSION}"
    else:
        url = (
            f"{ARM_ENDPOINT}/subscriptions/{state.subscription_id}/providers/Microsoft.Web/"
            f"operationresults/{op}?api-version={WEB_API_VERSION}"
        )
    return 202, lro_headers(state, (state.lro_header, url)), b""


def lro_headers(state: AppServiceState, link: tuple[str, str]) -> list[tuple[str, str]]:
    """The polling link, and ``Retry-After`` if the simulator sends one."""
    return [link, *_retry_after(state)]


def _retry_after(state: AppServiceState) -> list[tuple[str, str]]:
    if state.lro_retry_after is None:
        return []
    return [("Retry-After", str(state.lro_retry_after))]


def _advance(state: AppServiceState, op_id: str) -> Operation | None:
    """Count one poll of the operation; run its change when it becomes done."""
    op = state.operations.get(op_id)
    if op is not None and not op.done:
        if op.polls_left > 0:
            op.polls_left -= 1
        else:
            if op.failure is None:
                op.finish()
            op.done = True
    return op


class Arm:
    """ARM's own routes: resource groups and the polling of long-running operations."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The resource group and operation URLs, with their handlers."""
        web_ops = SUBSCRIPTION + r"/providers/Microsoft\.Web/operationresults/(?P<op>[^/?#]+)"
        web_location = (
            RESOURCE_GROUP + r"/providers/Microsoft\.Web/(?P<type>sites|serverfarms)/[^/?#]+"
            r"/operationresults/(?P<op>[^/?#]+)"
        )
        return arm_routes(
            self.state,
            [
                ("GET", RESOURCE_GROUP, self._get_group),
                ("HEAD", RESOURCE_GROUP, self._head_group),
                ("PUT", RESOURCE_GROUP, self._put_group),
                ("DELETE", RESOURCE_GROUP, self._delete_group),
                ("GET", SUBSCRIPTION + "/resourcegroups", self._list_groups),
                ("GET", web_ops, self._poll_async_operation),
                ("GET", web_location, self._poll_web_location),
                ("GET", SUBSCRIPTION + r"/operationresults/(?P<op>[^/?#]+)", self._poll_location),
            ],
        )

    # --- polling ----------------------------------------------------------------------

    def _poll_async_operation(
        self, request: requests.PreparedRequest, match: re.Match[str]
    ) -> Reply:
        op = _advance(self.state, match["op"])
        if op is None:
            return arm_error(404, "NotFound", f"No operation {match['op']}.")
        body = {"id": urlsplit(request.url or "").path, "name": match["op"], "startTime": now()}
        if op.done and op.failure is not None:
            code, message = op.failure
            error = {"code": code, "message": message}
            return json_reply(200, {**body, "status": "Failed", "endTime": now(), "error": error})
        if op.done:
            return json_reply(200, {**body, "status": "Succeeded", "endTime": now()})
        return json_reply(200, {**body, "status": "InProgress"}, _retry_after(self.state))

    def _poll_web_location(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        op = _advance(self.state, match["op"])
        if op is None:
            return web_error(404, "NotFound", f"Cannot find operation {match['op']}.")
        if not op.done:
            return 202, lro_headers(self.state, ("Location", request.url or "")), b""
        if op.failure is not None:
            code, message = op.failure
            if match["type"].lower() != "serverfarms" or op.result is None:
                return web_error(400, code, message)
            failed = op.result()
            failed["properties"]["provisioningState"] = "Failed"
            return json_reply(200, failed)
        return (200, [], b"") if op.result is None else json_reply(200, op.result())

    def _poll_location(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        op = _advance(self.state, match["op"])
        if op is None:
            return arm_error(404, "NotFound", f"No operation {match['op']}.")
        if op.done:
            return 200, [], b""
        return 202, lro_headers(self.state, ("Location", request.url or "")), b""

    # --- resource groups --------------------------------------------------------------

    def _group_json(self, group: SimulatedGroup) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{self.state.subscription_id}/resourceGroups/{group.name}",
            "name": group.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": group.location,
            "tags": dict(group.tags),
            "properties": {"provisioningState": "Deleting" if group.deleting else "Succeeded"},
        }

    def _get_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        group = self.state.groups.get(match["rg"].lower())
        if group is None:
            return group_not_found(match["rg"])
        return json_reply(200, self._group_json(group))

    def _head_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return (204 if match["rg"].lower() in self.state.groups else 404), [], b""

    def _put_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        if not body.get("location"):
            return arm_error(400, "LocationRequired", "The location property is required.")
        location = short_location(body["location"])
        group = self.state.groups.get(match["rg"].lower())
        if group is None:
            group = SimulatedGroup(match["rg"], location, dict(body.get("tags") or {}))
            self.state.groups[match["rg"].lower()] = group
            return json_reply(201, self._group_json(group))
        if group.deleting:
            message = f"The resource group '{group.name}' is in deprovisioning state."
            return arm_error(409, "ResourceGroupBeingDeleted", message)
        if group.location != location:
            message = (
                f"Invalid resource group location '{location}'. The Resource group already "
                f"exists in location '{group.location}'."
            )
            return arm_error(409, "InvalidResourceGroupLocation", message)
        group.tags = dict(body.get("tags") or {})
        return json_reply(200, self._group_json(group))

    def _delete_group(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        state = self.state
        group = state.groups.get(match["rg"].lower())
        if group is None:
            return group_not_found(match["rg"])
        group.deleting = True

        def finish() -> None:
            for site in [s for s in state.sites.values() if s.resource_group == group.name]:
                state.remove_site(site)
            for key in [k for k, plan in state.plans.items() if plan.resource_group == group.name]:
                del state.plans[key]
            # The group's registries and storage accounts go with it.
            for held in (state.registries, state.storage_accounts):
                for key in [k for k, r in held.items() if r.resource_group == group.name]:
                    del held[key]
            state.groups.pop(group.name.lower(), None)

        op = new_operation(state, finish)
        url = (
            f"{ARM_ENDPOINT}/subscriptions/{state.subscription_id}/operationresults/{op}"
            f"?api-version={RESOURCES_API_VERSION}"
        )
        return 202, lro_headers(state, ("Location", url)), b""

    def _list_groups(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        groups = list(self.state.groups.values())
        expression = request_query(request).get("$filter")
        if expression is not None:
            tag = _TAG_FILTER.match(expression)
            if tag is None:
                message = f"Unsupported $filter (simulated: tagName/tagValue only): {expression}"
                return arm_error(400, "InvalidFilter", message)
            name, value = tag["name"].replace("''", "'"), tag["value"]

            def wanted(group: SimulatedGroup) -> bool:
                tags = {k.lower(): v for k, v in group.tags.items()}
                if name.lower() not in tags:
                    return False
                return value is None or tags[name.lower()] == value.replace("''", "'")

            groups = [group for group in groups if wanted(group)]
        body = {"value": [self._group_json(g) for g in groups], "nextLink": None}
        return json_reply(200, body)
