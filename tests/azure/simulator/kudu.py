"""Kudu, the app's SCM host (``<app>.scm.azurewebsites.net``): OneDeploy and its deployments.

Answers for OneDeploy ``/api/publish?type=zip`` (sync, or ``async=true`` answering 202 with a
``Location``), ``/api/deployments`` (the list, which ``?warmup=true`` also reads),
``/api/deployments/{id|latest}`` and its ``/log``. Only Entra Bearer tokens for ``KUDU_SCOPE``
are accepted (SCM basic auth is off, as on new apps); a token marked (``SCOPE_MARK``) as issued
for another scope is a 401, one marked ``NO_PUBLISH_PERMISSION`` is a 403.

Follows KuduLite (Azure-App-Service/KuduLite, the Kudu of Linux apps):

- ``Kudu.Contracts/Deployment/DeployStatus.cs``: 0 Pending, 1 Building, 2 Deploying, 3 Failed,
  4 Success.
- ``Kudu.Services/Deployment/PushDeploymentController.cs`` (``OneDeploy``): an async publish
  answers 202 with ``Location: /api/deployments/latest?deployer=OneDeploy&time=<UTC,
  yyy-MM-dd_HH-mm-ssZ>``; the 409s carry the words of ``Kudu.Services/Resources.resx``.
- ``Kudu.Core/Deployment/FetchDeploymentManager.cs`` (``FetchDeploy``): a
  ``WEBSITE_RUN_FROM_PACKAGE`` (or, when that is empty, ``WEBSITE_USE_ZIP``) starting with ``http``
  (``DeploymentSettingsExtension.RunFromRemoteZip``) refuses every deployment with 409 before
  the deployment lock is tried; a held lock is 409 "in progress".
- ``Kudu.Services/Deployment/DeploymentController.cs`` (``GetResult``): ``latest`` answers
  202 with status 0 and ``Location`` the request's URL while a deployment is neither Success
  nor Failed; any answer while the deployment lock is held says status 0 (Pending), even for
  a deployment that is ``complete``; ``url`` is the request's path and ``log_url`` that path
  and ``/log``, without the query (``UriHelper.MakeRelative``).

Modelling choices worth knowing when a test fails:

- A deployment advances one step per status GET: building, then done with the lock still held
  (status 0, ``complete`` true), then the lock released (status 3 or 4).
- Which status a valid token without ``Microsoft.Web/sites/publish/Action`` gets (401 or 403)
  is decided before Kudu and is not settled by its source; 403 here.
- ARR on the SCM host: the ARRAffinity cookie's instance serves, else the next in turn
  (``frontend.arr_instance``); each deployment records the instances that served it
  (``served_by``). Deployments live on ``/home``, shared by every instance, so any instance
  answers for any deployment.
- Faults: 409 "in progress" (``deploy_conflicts``), failed deployments (``deploy_fails_next``).
- Not simulated: Oryx builds, Kudu basic auth, the instance and console APIs that
  ``/instances`` links to.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.probe_package import DEPLOYMENT_ID_FILE, ProbePackage
from tests.azure.simulator.frontend import arr_instance
from tests.azure.simulator.state import (
    END,
    KUDU_SCOPE,
    AppServiceState,
    Reply,
    Route,
    SimulatedSite,
    bearer,
    body_bytes,
    json_reply,
    now,
    request_query,
)

#: Kudu's DeployStatus values.
KUDU_PENDING, KUDU_BUILDING, KUDU_FAILED, KUDU_SUCCESS = 0, 1, 3, 4
#: Kudu's 409 answers, word for word (Kudu.Services/Resources.resx).
DEPLOYMENT_IN_PROGRESS = (
    "There is a deployment currently in progress. Please try again when it completes."
)
RUN_FROM_REMOTE_ZIP = (
    "Run-From-Zip is set to a remote URL using WEBSITE_RUN_FROM_PACKAGE or WEBSITE_USE_ZIP app "
    "setting. Deployment is not supported in this configuration."
)
#: A fake token carrying this is a valid Entra token of an identity without the permission.
NO_PUBLISH_PERMISSION = "|lacks=Microsoft.Web/sites/publish/Action"

_SCM = r"^https://(?P<host>[^/?#]*\.scm\.[^/?#]*azurewebsites\.net)"
_HEADERS = list[tuple[str, str]]


@dataclass
class KuduDeployment:
    """A OneDeploy deployment, how far it has got, and which instances served it."""

    id: str
    site: SimulatedSite
    package: ProbePackage
    fails: bool
    received_time: str
    status: int = KUDU_PENDING
    end_time: str | None = None
    #: Kudu's deployment lock, held from the publish until one status read after the end.
    lock_held: bool = True
    log: list[str] = field(default_factory=list)
    #: The instance that took the publish, then each one that answered a status or log GET.
    served_by: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether Kudu would report the deployment finished."""
        return self.status in (KUDU_FAILED, KUDU_SUCCESS)


class Kudu:
    """The SCM host's routes, answering from and changing the shared state."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state
        self._turn = 0  # ARR's round robin over the instances, for requests not pinned

    def routes(self) -> list[Route]:
        """The Kudu URLs and their handlers."""
        deployment = _SCM + r"/api/deployments/(?P<dep>[^/?#]+)"
        return [
            Route("POST", _SCM + "/api/publish" + END, "kudu", self._publish),
            Route("GET", _SCM + "/api/deployments" + END, "kudu", self._deployments),
            Route("GET", deployment + END, "kudu", self._deployment),
            Route("GET", deployment + "/log" + END, "kudu", self._log),
        ]

    def _scm_site(self, host: str) -> SimulatedSite:
        for site in self.state.sites.values():
            if site.scm_host_name == host.lower():
                return site
        raise requests.ConnectionError(f"simulated DNS: no such host {host!r}")

    def _kudu_refusal(self, request: requests.PreparedRequest) -> Reply | None:
        token = bearer(request, KUDU_SCOPE)
        if token is None:
            return 401, [("WWW-Authenticate", "Bearer")], b"Unauthorized"
        self.state.kudu_tokens.append(token)
        if NO_PUBLISH_PERMISSION in token:
            return 403, [], b"Forbidden"
        return None

    def _instance(
        self, request: requests.PreparedRequest, site: SimulatedSite
    ) -> tuple[str, _HEADERS]:
        """The instance ARR picks for this request, and the cookies the answer sets."""
        self._turn += 1
        return arr_instance(request, self.state, site.backend.instances(), self._turn)

    def _locked(self, site: SimulatedSite) -> bool:
        return any(d.lock_held for d in self.state.deployments if d.site is site)

    def _publish(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._scm_site(match["host"])
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        instance, cookies = self._instance(request, site)
        query = {k.lower(): v for k, v in request_query(request).items()}
        if query.get("type", "").lower() != "zip":
            return 400, [], b"simulated OneDeploy: only type=zip is supported"
        run_from = site.app_settings.get("WEBSITE_RUN_FROM_PACKAGE") or site.app_settings.get(
            "WEBSITE_USE_ZIP", ""
        )
        if run_from.lower().startswith("http"):
            return (
                409,
                [("Content-Type", "text/plain; charset=utf-8")],
                RUN_FROM_REMOTE_ZIP.encode(),
            )
        if self.state.publish_conflicts > 0 or self._locked(site):
            self.state.publish_conflicts = max(0, self.state.publish_conflicts - 1)
            message = DEPLOYMENT_IN_PROGRESS.encode()
            return 409, [("Content-Type", "text/plain; charset=utf-8")], message
        data = body_bytes(request)
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
            fails=self.state.fail_next_deployment,
            received_time=now(),
            served_by=[instance],
        )
        self.state.fail_next_deployment = False
        self.state.deployments.append(deployment)
        if query.get("async", "").lower() == "true":
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H-%M-%SZ")
            location = (
                f"https://{site.scm_host_name}/api/deployments/latest"
                f"?deployer=OneDeploy&time={stamp}"
            )
            return 202, [("Location", location), *cookies], b""
        while deployment.lock_held:
            self._advance_deployment(deployment)
        status = 200 if deployment.status == KUDU_SUCCESS else 400
        return status, cookies, b"" if status == 200 else b"Failed"

    def _mine(self, site: SimulatedSite) -> list[KuduDeployment]:
        return [d for d in self.state.deployments if d.site is site]

    def _deployments(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        """The deployment list (newest first), which a ``?warmup=true`` GET also reads."""
        site = self._scm_site(match["host"])
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        _, cookies = self._instance(request, site)
        base = f"https://{site.scm_host_name}/api/deployments"
        records = [_record(d, f"{base}/{d.id}", locked=False) for d in reversed(self._mine(site))]
        return json_reply(200, records, cookies)

    def _deployment(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._scm_site(match["host"])
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        instance, cookies = self._instance(request, site)
        mine = self._mine(site)
        active = next((d for d in mine if d.lock_held), None)
        if active is not None:
            self._advance_deployment(active)
        url = (request.url or "").split("?")[0]
        if match["dep"].lower() == "latest":
            pending = next((d for d in mine if not d.complete), None)
            if pending is not None:
                # GetResult: "latest" while one is pending is 202, status Pending, no url.
                pending.served_by.append(instance)
                record = _record(pending, None, locked=True)
                return json_reply(202, record, [("Location", request.url or ""), *cookies])
            ended = [d for d in mine if d.end_time is not None]
            deployment = ended[-1] if ended else None
        else:
            deployment = next((d for d in mine if d.id == match["dep"]), None)
        if deployment is None:
            return 404, cookies, b"Not Found"
        deployment.served_by.append(instance)
        return json_reply(200, _record(deployment, url, locked=self._locked(site)), cookies)

    def _log(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._scm_site(match["host"])
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        instance, cookies = self._instance(request, site)
        mine = self._mine(site)
        if match["dep"].lower() == "latest":
            deployment = mine[-1] if mine else None
        else:
            deployment = next((d for d in mine if d.id == match["dep"]), None)
        if deployment is None:
            return 404, cookies, b"Not Found"
        deployment.served_by.append(instance)
        entries = [
            {"log_time": deployment.received_time, "id": str(i), "message": line, "type": 0}
            for i, line in enumerate(deployment.log)
        ]
        return json_reply(200, entries, cookies)

    def _advance_deployment(self, deployment: KuduDeployment) -> None:
        if deployment.complete:
            deployment.lock_held = False
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
                self.state.deploy_package(deployment.site, deployment.package)
            except BackendError as exc:
                deployment.log.append(f"Deployment failed: {exc}")
                deployment.status = KUDU_FAILED
            else:
                deployment.log.append("Deployment successful.")
                deployment.status = KUDU_SUCCESS
        deployment.end_time = now()


def _record(deployment: KuduDeployment, url: str | None, *, locked: bool) -> dict[str, object]:
    """Kudu's DeployResult as JSON; ``locked`` says Pending whatever the status (GetResult)."""
    status = KUDU_PENDING if locked else deployment.status
    return {
        "id": deployment.id,
        "status": status,
        "status_text": {KUDU_BUILDING: "Building"}.get(deployment.status, ""),
        "author_email": "N/A",
        "author": "N/A",
        "deployer": "OneDeploy",
        "message": "OneDeploy",
        "progress": "",
        "received_time": deployment.received_time,
        "start_time": deployment.received_time,
        "end_time": deployment.end_time,
        "last_success_end_time": deployment.end_time if deployment.status == KUDU_SUCCESS else None,
        "complete": deployment.complete,
        "active": deployment.status == KUDU_SUCCESS,
        "is_temp": False,
        "is_readonly": True,
        "url": url,
        "log_url": f"{url}/log" if url else None,
        "site_name": deployment.site.name,
    }
