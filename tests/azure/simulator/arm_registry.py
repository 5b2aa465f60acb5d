"""Microsoft.ContainerRegistry and Microsoft.Authorization: registries, ACR Tasks runs, the
build context's blob, and role assignments.

Answers for ``.../providers/Microsoft.ContainerRegistry/registries/{name}`` (PUT, GET),
``listBuildSourceUploadUrl``, ``scheduleRun`` and ``runs/{runId}``; for the build context's
blob PUT at the upload URL; and for ``{scope}/providers/Microsoft.Authorization/
roleAssignments/{name}`` PUT. Follows Azure/azure-rest-api-specs:

- specification/containerregistry/resource-manager/Microsoft.ContainerRegistry: Registries_Create
  (stable, containerregistry.json: a long-running PUT answering 200 or 201; ``loginServer``
  ``<name>.azurecr.io``; Sku Basic, Standard, Premium; ``adminUserEnabled``), and in
  preview/2019-06-01-preview/containerregistry_build.json Registries_GetBuildSourceUploadUrl
  (SourceUploadDefinition: ``uploadUrl``, ``relativePath``), Registries_ScheduleRun (a
  long-running POST answering the Run: 200 or 202) with a DockerBuildRequest (``type``,
  ``imageNames``, ``isPushEnabled``, ``dockerFilePath``, ``sourceLocation``, ``platform.os``),
  and Runs_Get (RunStatus: Queued, Started, Running, Succeeded, Failed, Canceled, Error,
  Timeout).
- specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/
  authorization-RoleAssignmentsCalls.json: RoleAssignments_Create (201; properties
  ``roleDefinitionId``, ``principalId``, ``principalType``; 403 AuthorizationFailed for a
  caller without Microsoft.Authorization/roleAssignments/write).

Modelling choices worth knowing when a test fails:

- A registry PUT answers 200 with ``provisioningState: Succeeded`` at once (the spec allows it).
- The upload URL is a SAS URL on the loopback address (``https://127.0.0.1:10000/...``, where
  a storage emulator would listen), so an unmocked upload never leaves the machine; its blob
  PUT needs ``sig`` and ``x-ms-blob-type: BlockBlob``, as Blob storage's Put Blob does.
- A run advances one step per GET: Queued, then Running, then Succeeded (the image is pushed:
  its build context's files, ``DEPLOYMENT_ID`` included, are what a container of it runs) or
  Failed (``fail_next_build``, or a context without its Dockerfile).
- A pull is allowed when the site pulls with its managed identity
  (``acrUseManagedIdentityCreds``) and its principal holds AcrPull on the registry's scope (or
  above), or the registry was seeded with anonymous pull.
"""

from __future__ import annotations

import io
import posixpath
import re
import secrets
import tarfile
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import requests

from tests.azure.simulator.arm import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    arm_error,
    arm_routes,
    find_in_group,
    group_not_found,
    json_body,
    reply_with,
    resource_not_found,
)
from tests.azure.simulator.state import (
    END,
    AppServiceState,
    Reply,
    Route,
    SimulatedSite,
    body_bytes,
    json_reply,
    now,
    request_query,
)

ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
#: Where upload URLs point: the loopback address, never a real storage account.
UPLOAD_HOST = "127.0.0.1:10000"
_REGISTRY = RESOURCE_GROUP + r"/providers/Microsoft\.ContainerRegistry/registries/(?P<reg>[^/?#]+)"
_BLOB = rf"^https://{re.escape(UPLOAD_HOST)}/(?P<reg>[^/?#]+)/(?P<path>source/[^?#]+)"
_ROLE = SUBSCRIPTION + (
    r"(?P<scope>(?:/[^?#]*?)?)/providers/Microsoft\.Authorization/roleAssignments/(?P<ra>[^/?#]+)"
)
_STEPS = ("Queued", "Running")


@dataclass
class SimulatedRun:
    """An ACR Tasks run: the image it builds, from which uploaded context, and how far."""

    run_id: str
    image: str
    source: str
    fails: bool
    looks: int = 0
    status: str = "Queued"


@dataclass
class SimulatedRegistry:
    """A container registry: its images (``repo:tag`` -> the gzipped tar build context it was
    built from) and runs."""

    resource_group: str
    name: str
    location: str
    sku: str
    admin_user_enabled: bool
    tags: dict[str, str]
    anonymous_pull: bool = False
    images: dict[str, bytes] = field(default_factory=dict)
    runs: dict[str, SimulatedRun] = field(default_factory=dict)

    @property
    def login_server(self) -> str:
        """The registry's host name, as images name it."""
        return f"{self.name.lower()}.azurecr.io"


def has_dockerfile(context: bytes) -> bool:
    """Whether a gzipped tar build context has a ``Dockerfile`` at its top."""
    with tarfile.open(fileobj=io.BytesIO(context), mode="r:gz") as tar:
        return any(posixpath.normpath(name) == "Dockerfile" for name in tar.getnames())


class ArmRegistry:
    """Registries, their build runs and role assignments, in the shared state."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The registry, run, role assignment and upload URLs, with their handlers."""
        arm = arm_routes(
            self.state,
            [
                ("PUT", _REGISTRY, self._put_registry),
                ("GET", _REGISTRY, self._get_registry),
                ("POST", _REGISTRY + "/listBuildSourceUploadUrl", self._upload_url),
                ("POST", _REGISTRY + "/scheduleRun", self._schedule_run),
                ("GET", _REGISTRY + r"/runs/(?P<run>[^/?#]+)", self._get_run),
                ("PUT", _ROLE, self._put_role_assignment),
            ],
        )
        return [*arm, Route("PUT", _BLOB + END, "storage", self._put_blob)]

    # --- registries -------------------------------------------------------------------

    def _find(self, match: re.Match[str]) -> SimulatedRegistry | Reply:
        return find_in_group(
            self.state,
            match,
            self.state.registries,
            "reg",
            "Microsoft.ContainerRegistry/registries",
        )

    def _registry_json(self, registry: SimulatedRegistry) -> dict[str, Any]:
        return {
            "id": self.state.registry_id(registry),
            "name": registry.name,
            "type": "Microsoft.ContainerRegistry/registries",
            "location": registry.location,
            "tags": dict(registry.tags),
            "sku": {"name": registry.sku, "tier": registry.sku},
            "properties": {
                "loginServer": registry.login_server,
                "creationDate": now(),
                "provisioningState": "Succeeded",
                "adminUserEnabled": registry.admin_user_enabled,
                "publicNetworkAccess": "Enabled",
            },
        }

    def _put_registry(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        group = self.state.groups.get(match["rg"].lower())
        if group is None:
            return group_not_found(match["rg"])
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        sku = (body.get("sku") or {}).get("name")
        if sku not in ("Basic", "Standard", "Premium"):
            return arm_error(400, "InvalidSku", f"The SKU '{sku}' is not valid.")
        if not re.fullmatch(r"[A-Za-z0-9]{5,50}", match["reg"]):
            message = f"The registry name '{match['reg']}' is not 5-50 letters and digits."
            return arm_error(400, "InvalidRegistryName", message)
        properties = body.get("properties") or {}
        registry = SimulatedRegistry(
            group.name,
            match["reg"],
            body.get("location") or group.location,
            sku,
            bool(properties.get("adminUserEnabled", False)),
            dict(body.get("tags") or {}),
        )
        self.state.registries.setdefault(match["reg"].lower(), registry)
        return json_reply(200, self._registry_json(self.state.registries[match["reg"].lower()]))

    def _get_registry(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return reply_with(self._find(match), self._registry_json)

    # --- builds -----------------------------------------------------------------------

    def _upload_url(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        registry = self._find(match)
        if isinstance(registry, tuple):
            return registry
        path = f"source/{now()[:10].replace('-', '')}/{uuid.uuid4().hex}.tar.gz"
        sas = f"sv=2021-08-06&sr=b&sp=cw&sig={secrets.token_urlsafe(16)}"
        url = f"https://{UPLOAD_HOST}/{registry.name.lower()}/{path}?{sas}"
        return json_reply(200, {"uploadUrl": url, "relativePath": path})

    def _put_blob(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        if not request_query(request).get("sig"):
            return 403, [], b"AuthenticationFailed: the SAS signature is missing."
        if request.headers.get("x-ms-blob-type") != "BlockBlob":
            return 400, [], b"MissingRequiredHeader: x-ms-blob-type"
        self.state.uploads[match["path"]] = body_bytes(request)
        modified = formatdate(usegmt=True)  # RFC 1123, as Blob storage writes it
        return 201, [("ETag", f'"{uuid.uuid4().hex}"'), ("Last-Modified", modified)], b""

    def _schedule_run(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        registry = self._find(match)
        if isinstance(registry, tuple):
            return registry
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        images = body.get("imageNames") or []
        wrong = (
            body.get("type") != "DockerBuildRequest"
            or not body.get("dockerFilePath")
            or (body.get("platform") or {}).get("os") != "Linux"
            or len(images) != 1
            or not body.get("isPushEnabled")
        )
        if wrong:
            message = "Simulated: one image, a Dockerfile, Linux and push enabled are required."
            return arm_error(400, "InvalidRunRequest", message)
        if body.get("sourceLocation") not in self.state.uploads:
            message = f"The source location '{body.get('sourceLocation')}' was not found."
            return arm_error(400, "SourceLocationNotFound", message)
        run = SimulatedRun(
            f"ca{len(registry.runs) + 1}",
            images[0],
            body["sourceLocation"],
            self.state.fail_next_build,
        )
        self.state.fail_next_build = False
        registry.runs[run.run_id] = run
        return json_reply(200, self._run_json(registry, run))

    def _run_json(self, registry: SimulatedRegistry, run: SimulatedRun) -> dict[str, Any]:
        return {
            "id": f"{self.state.registry_id(registry)}/runs/{run.run_id}",
            "name": run.run_id,
            "type": "Microsoft.ContainerRegistry/registries/runs",
            "properties": {
                "runId": run.run_id,
                "status": run.status,
                "runType": "QuickRun",
                "createTime": now(),
                "platform": {"os": "Linux"},
                "provisioningState": "Succeeded",
            },
        }

    def _get_run(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        registry = self._find(match)
        if isinstance(registry, tuple):
            return registry
        run = registry.runs.get(match["run"])
        if run is None:
            return resource_not_found(
                "Microsoft.ContainerRegistry/registries/runs", match["run"], match["rg"]
            )
        run.looks += 1
        if run.looks < len(_STEPS):
            run.status = _STEPS[run.looks]
        elif run.status not in ("Succeeded", "Failed"):
            run.status = "Failed" if run.fails else self._push(registry, run)
        return json_reply(200, self._run_json(registry, run))

    def _push(self, registry: SimulatedRegistry, run: SimulatedRun) -> str:
        """Build the run's image from its uploaded context; its status after that."""
        context = self.state.uploads[run.source]
        if not has_dockerfile(context):
            return "Failed"
        registry.images[run.image] = context
        return "Succeeded"

    # --- role assignments -------------------------------------------------------------

    def _put_role_assignment(
        self, request: requests.PreparedRequest, match: re.Match[str]
    ) -> Reply:
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        properties = body.get("properties") or {}
        principal = properties.get("principalId")
        if not any(site.principal_id == principal for site in self.state.sites.values()):
            message = f"Principal {principal} does not exist in the directory."
            return arm_error(400, "PrincipalNotFound", message)
        scope = f"/subscriptions/{match['sub']}{match['scope']}"
        self.state.role_assignments.append(
            (scope.lower(), str(properties.get("roleDefinitionId", "")).lower(), principal)
        )
        return json_reply(
            201,
            {
                "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{match['ra']}",
                "name": match["ra"],
                "type": "Microsoft.Authorization/roleAssignments",
                "properties": {**properties, "scope": scope, "createdOn": now()},
            },
        )


def pullable(state: AppServiceState, site: SimulatedSite, image: str) -> bytes | None:
    """The build context of ``image`` if ``site`` may pull it (module docstring), else None."""
    server, _, reference = image.partition("/")
    registry = next(
        (r for r in state.registries.values() if r.login_server == server.lower()), None
    )
    if registry is None or reference not in registry.images:
        return None
    if registry.anonymous_pull:
        return registry.images[reference]
    if not site.site_config.get("acrUseManagedIdentityCreds"):
        return None
    registry_id = state.registry_id(registry).lower()
    for scope, role, principal in state.role_assignments:
        covers = registry_id == scope or registry_id.startswith(scope + "/")
        if covers and role.endswith(ACR_PULL_ROLE) and principal == site.principal_id:
            return registry.images[reference]
    return None
