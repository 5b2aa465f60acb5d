"""Kudu, the app's SCM host (``<app>.scm.azurewebsites.net``): OneDeploy and its deployments.

Answers for OneDeploy ``/api/publish?type=zip`` (sync, or ``async=true`` answering 202 with a
``Location``), ``/api/deployments/{id|latest}`` and its ``/log``. Only Entra Bearer tokens for
``KUDU_SCOPE`` are accepted (SCM basic auth is off, as on new apps); a token marked
(``SCOPE_MARK``) as issued for another scope is a 401.

Follows Kudu's source (github.com/projectkudu/kudu): the ``DeployStatus`` values in
``Kudu.Contracts/Deployment/DeployStatus.cs`` (0 pending, 1 building, 2 deploying, 3 failed,
4 success), OneDeploy in ``Kudu.Services/Deployment/PushDeploymentController.cs`` and
``OneDeployHelper.cs``, the deployment record in ``DeploymentController.cs``.

Modelling choices worth knowing when a test fails:

- A Kudu deployment advances one step per status GET: ``Building`` first, then done.
- Faults: 409 publish conflicts (``deploy_conflicts``), failed deployments
  (``deploy_fails_next``).
- Not simulated: Oryx builds, Kudu basic auth, the instance and console APIs that
  ``/instances`` links to.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field

import requests

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.probe_package import DEPLOYMENT_ID_FILE, ProbePackage
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
KUDU_BUILDING, KUDU_FAILED, KUDU_SUCCESS = 1, 3, 4

_SCM = r"^https://(?P<host>[^/?#]*\.scm\.[^/?#]*azurewebsites\.net)"


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


class Kudu:
    """The SCM host's routes, answering from and changing the shared state."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The Kudu URLs and their handlers."""
        deployment = _SCM + r"/api/deployments/(?P<dep>[^/?#]+)"
        return [
            Route("POST", _SCM + "/api/publish" + END, "kudu", self._publish),
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
        return None

    def _publish(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._scm_site(match["host"])
        refusal = self._kudu_refusal(request)
        if refusal:
            return refusal
        query = {k.lower(): v for k, v in request_query(request).items()}
        if query.get("type", "").lower() != "zip":
            return 400, [], b"simulated OneDeploy: only type=zip is supported"
        if self.state.publish_conflicts > 0:
            self.state.publish_conflicts -= 1
            message = b"There is a deployment currently in progress. Please try again later."
            return 409, [("Content-Type", "text/plain")], message
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
        )
        self.state.fail_next_deployment = False
        self.state.deployments.append(deployment)
        if query.get("async", "").lower() == "true":
            location = f"https://{site.scm_host_name}/api/deployments/{deployment.id}"
            return 202, [("Location", location)], b""
        while not deployment.complete:
            self._advance_deployment(deployment)
        return (200, [], b"") if deployment.status == KUDU_SUCCESS else (400, [], b"Failed")

    def _find_deployment(self, match: re.Match[str]) -> KuduDeployment | None:
        site = self._scm_site(match["host"])
        mine = [d for d in self.state.deployments if d.site is site]
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
        return json_reply(
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
        return json_reply(200, entries)

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
                self.state.deploy_package(deployment.site, deployment.package)
            except BackendError as exc:
                deployment.log.append(f"Deployment failed: {exc}")
                deployment.status = KUDU_FAILED
            else:
                deployment.log.append("Deployment successful.")
                deployment.status = KUDU_SUCCESS
        deployment.end_time = now()
