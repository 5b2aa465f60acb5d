"""ZIP deploy through Kudu's OneDeploy API, authenticated with a Microsoft Entra token.

Follows KuduLite (Azure-App-Service/KuduLite) and `az webapp deploy` (Azure/azure-cli,
src/azure-cli/azure/cli/command_modules/appservice/custom.py, 2.91.0):

- Pinning, as az does for a Linux web app (`_warmup_kudu_and_get_cookie_internal`): the app's
  first ARM instance by name is warmed up with `GET /api/deployments?warmup=true` (200, 201 or
  202 is warm) and the cookies `ARRAffinity` and `ARRAffinitySameSite` naming it go with the
  publish and with every poll. A warm-up that never succeeds leaves the deploy unpinned, as az
  does ("the deployment will proceed without pre-warmup").
- `POST /api/publish?type=zip&async=true` answers 202 with a `Location` of
  `/api/deployments/latest?deployer=OneDeploy&time=...` (PushDeploymentController.OneDeploy).
  A deployment's log is its URL's path and `/log`, without the query: Kudu's
  `UriHelper.MakeRelative` ("We don't care about the query string").
- 409 has several causes (Kudu.Services/Resources.resx), told apart by the body: another
  deployment holds the deployment lock ("There is a deployment currently in progress. Please
  try again when it completes.") or an auto swap is ongoing, both retried until a deadline; a
  run-from-package setting naming a URL ("Run-From-Zip is set to a remote URL using
  WEBSITE_RUN_FROM_PACKAGE or WEBSITE_USE_ZIP app setting.") never clears, so it stops at once.
- Polling reads `status` alone, as az's `_check_zip_deployment_status` does: 4 (Success) ends
  it, 3 (Failed) fails it, anything else is polled again. `complete` is no end: Kudu reports
  status 0 (Pending) while the deployment lock is held, even for a complete deployment
  (DeploymentController.GetResult), and `latest` answers 202 while one is pending.
- 401 or 403 stop at once: SCM basic auth is off by default for new apps, so a bearer token for
  https://appservice.azure.com is used (az: `get_bearer_token`, the cloud's
  `app_service_resource_id`), and Kudu wants the `Microsoft.Web/sites/publish/Action`
  permission, for example through the Website Contributor role (MicrosoftDocs/azure-docs,
  articles/app-service/resources-kudu.md: "The assigned role must include permission for the
  `Microsoft.Web/sites/publish/Action` resource provider operation").
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
    wait_fixed,
)

from pytest_appservice_fs.backends.protocol import BackendError

log = logging.getLogger(__name__)

KUDU_SCOPE = "https://appservice.azure.com/.default"
DEPLOY_SUCCESS = 4
DEPLOY_FAILED = 3
#: Kudu.Contracts/Deployment/DeployStatus.cs, for the log.
DEPLOY_STATUS_NAMES = {0: "Pending", 1: "Building", 2: "Deploying", 3: "Failed", 4: "Success"}
#: Worth another try: throttling, or Kudu restarting. A 409 depends on its body.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: What a warm-up answers when the instance is up (az: `_warmup_kudu_and_get_cookie_internal`).
WARM_STATUSES = frozenset({200, 201, 202})
#: The permission Kudu checks for a Microsoft Entra identity.
PUBLISH_PERMISSION = "Microsoft.Web/sites/publish/Action"

#: Kudu's 409 answers (Kudu.Services/Resources.resx): words that tell them apart, whether the
#: cause clears by itself, and the cause in our words.
_CONFLICTS = (
    ("deployment currently in progress", True, "another deployment holds the deployment lock"),
    ("auto swap deployment currently ongoing", True, "an auto swap deployment is ongoing"),
    (
        "run-from-zip is set to a remote url",
        False,
        "the app setting WEBSITE_RUN_FROM_PACKAGE (or WEBSITE_USE_ZIP) points at a URL",
    ),
)


class TokenSource(Protocol):
    """What Kudu needs of a credential: azure-core's TokenCredential.get_token."""

    def get_token(self, *scopes: str) -> Any:
        """An access token (with ``.token``) for ``scopes``."""
        ...


class DeployError(BackendError):
    """A deployment that failed or could not be started."""


class _Retry(Exception):
    """A Kudu answer worth retrying; the message is the reason, logged before each retry."""


@dataclass(frozen=True)
class KuduTiming:
    """How long to warm up, to retry starting a deployment and to wait for it to finish."""

    request_timeout: float = 120.0
    warmup_deadline: float = 300.0
    start_deadline: float = 300.0
    finish_deadline: float = 1800.0
    poll_interval: float = 5.0
    wait_initial: float = 2.0
    wait_max: float = 30.0


class KuduClient:
    """Deploys ZIP packages to one app's SCM site, pinned to ``instance_id`` when given."""

    def __init__(
        self,
        scm_host: str,
        credential: TokenSource,
        *,
        session: requests.Session | None = None,
        timing: KuduTiming = KuduTiming(),
        instance_id: str | None = None,
    ) -> None:
        self.scm_host = scm_host
        self.instance_id = instance_id
        self._credential = credential
        self._session = session or requests.Session()
        self._timing = timing
        #: The instance the requests are pinned to, once it is warm.
        self._pinned: str | None = None

    def __repr__(self) -> str:
        return f"KuduClient({self.scm_host!r})"

    def deploy_zip(self, data: bytes) -> dict[str, Any]:
        """Deploy a ZIP and wait until Kudu reports status 4; DeployError otherwise.

        Returns Kudu's last deployment record (``id``, ``status``, ``log_url``...). Raises
        DeployError, one sentence, when Kudu refuses the identity (401, 403), refuses the
        deployment for good (a run-from-package URL, another 4xx), the deployment fails
        (status 3), or a deadline of ``KuduTiming`` passes.
        """
        if self.instance_id:
            self._warm_up(self.instance_id)
        status_url = self._start(data)
        return self._wait(status_url)

    def _headers(self) -> dict[str, str]:
        # The token is fetched per request (the credential caches it) and never logged.
        token = self._credential.get_token(KUDU_SCOPE).token
        headers = {"Authorization": f"Bearer {token}"}
        if self._pinned:
            # An explicit Cookie header: requests then adds nothing from the session's jar.
            headers["Cookie"] = _affinity(self._pinned)
        return headers

    def _refused(self, status: int, what: str) -> DeployError:
        refused = f"the Microsoft Entra token for {KUDU_SCOPE} on {what}" if status == 401 else what
        return DeployError(
            f"Kudu at {self.scm_host} refused {refused} (HTTP {status}): the identity "
            f"needs {PUBLISH_PERMISSION} on the app, for example through the Website "
            "Contributor role."
        )

    def _warm_up(self, instance_id: str) -> None:
        url = f"https://{self.scm_host}/api/deployments"

        def get() -> None:
            try:
                response = self._session.get(
                    url,
                    params={"warmup": "true"},
                    headers={**self._headers(), "Cookie": _affinity(instance_id)},
                    timeout=self._timing.request_timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Retry(type(exc).__name__) from None
            if response.status_code in (401, 403):
                raise self._refused(response.status_code, "the warm-up")
            if response.status_code not in WARM_STATUSES:
                raise _Retry(f"HTTP {response.status_code}")

        retrying = Retrying(
            stop=stop_after_delay(self._timing.warmup_deadline),
            wait=wait_exponential(multiplier=self._timing.wait_initial, max=self._timing.wait_max),
            retry=retry_if_exception_type(_Retry),
            before_sleep=_log_retry(f"warming up Kudu instance {instance_id}"),
            reraise=True,
        )
        try:
            retrying(get)
        except _Retry as exc:
            log.warning(
                "Kudu instance %s did not warm up within %g s (%s); deploying unpinned, as "
                "az webapp deploy does",
                instance_id,
                self._timing.warmup_deadline,
                exc,
            )
            return
        self._pinned = instance_id
        log.info("Kudu instance %s is warm; publishing and polling are pinned to it", instance_id)

    def _start(self, data: bytes) -> str:
        url = f"https://{self.scm_host}/api/publish"

        def post() -> str:
            try:
                response = self._session.post(
                    url,
                    params={"type": "zip", "async": "true"},
                    data=data,
                    headers={**self._headers(), "Content-Type": "application/zip"},
                    timeout=self._timing.request_timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Retry(type(exc).__name__) from None
            if response.status_code == 409:
                raise self._conflict(response.text)
            if response.status_code in RETRY_STATUSES:
                raise _Retry(f"HTTP {response.status_code}")
            if response.status_code in (401, 403):
                raise self._refused(response.status_code, "the deployment")
            if response.status_code not in (200, 202):
                raise DeployError(
                    f"Kudu at {self.scm_host} refused the deployment (HTTP "
                    f"{response.status_code}: {_first_line(response.text)})."
                )
            location = response.headers.get("Location")
            latest = f"https://{self.scm_host}/api/deployments/latest"
            return urljoin(url, location) if location else latest

        retrying = Retrying(
            stop=stop_after_delay(self._timing.start_deadline),
            wait=wait_exponential(multiplier=self._timing.wait_initial, max=self._timing.wait_max),
            retry=retry_if_exception_type(_Retry),
            before_sleep=_log_retry("starting the deployment"),
            reraise=True,
        )
        try:
            return retrying(post)
        except _Retry as exc:
            raise DeployError(
                f"Kudu at {self.scm_host} did not take the deployment within "
                f"{self._timing.start_deadline:g} s ({exc})."
            ) from None

    def _conflict(self, text: str) -> Exception:
        """A 409: _Retry for a cause that clears by itself, DeployError for one that does not."""
        said = _first_line(text)
        for words, clears, cause in _CONFLICTS:
            if words in said.lower():
                if clears:
                    return _Retry(f"HTTP 409, {cause}: {said}")
                return DeployError(
                    f"Kudu at {self.scm_host} takes no deployment because {cause} (HTTP 409); "
                    "remove that setting to deploy the probe."
                )
        return DeployError(f"Kudu at {self.scm_host} refused the deployment (HTTP 409: {said}).")

    def _wait(self, status_url: str) -> dict[str, Any]:
        log_url = deployment_log_url(status_url)

        def look() -> dict[str, Any]:
            try:
                response = self._session.get(
                    status_url, headers=self._headers(), timeout=self._timing.request_timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Retry(type(exc).__name__) from None
            if response.status_code in (401, 403):
                raise self._refused(response.status_code, "the deployment status poll")
            if response.status_code not in (200, 202):
                raise _Retry(f"HTTP {response.status_code}")  # 404 before it exists, 5xx restarts
            try:
                body = response.json()
            except ValueError:
                raise _Retry(f"HTTP {response.status_code} that is not JSON") from None
            if not isinstance(body, dict):
                raise _Retry(f"HTTP {response.status_code} that is not a deployment")
            status = body.get("status")
            if status in (DEPLOY_SUCCESS, DEPLOY_FAILED):
                return body
            name = DEPLOY_STATUS_NAMES.get(status, "unknown") if isinstance(status, int) else "none"
            raise _Retry(f"status {status} ({name}), complete {body.get('complete')}")

        started = time.monotonic()
        retrying = Retrying(
            stop=stop_after_delay(self._timing.finish_deadline),
            wait=wait_fixed(self._timing.poll_interval),
            retry=retry_if_exception_type(_Retry),
            before_sleep=_log_retry("polling the deployment"),
            reraise=True,
        )
        try:
            body = retrying(look)
        except _Retry as exc:
            raise DeployError(
                f"the deployment did not finish within {self._timing.finish_deadline:g} s "
                f"(last answer: {exc}); its log: {log_url}"
            ) from None
        if body.get("status") != DEPLOY_SUCCESS:
            raise DeployError(
                f"the deployment failed (status {body.get('status')}, "
                f"{body.get('status_text') or 'no status text'}); its log: "
                f"{body.get('log_url') or log_url}"
            )
        log.info("deployed in %.0f s: %s", time.monotonic() - started, body.get("id"))
        return body


def deployment_log_url(status_url: str) -> str:
    """The log of the deployment at ``status_url``: its path and ``/log``, no query.

    ``https://h/api/deployments/latest?deployer=OneDeploy&time=t`` ->
    ``https://h/api/deployments/latest/log``, as Kudu's ``UriHelper.MakeRelative`` builds it.
    """
    parts = urlsplit(status_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/log", "", ""))


def _affinity(instance_id: str) -> str:
    return f"ARRAffinity={instance_id}; ARRAffinitySameSite={instance_id}"


def _first_line(text: str) -> str:
    """Kudu's message, unquoted (ASP.NET may send a string as JSON), first line, cut short."""
    lines = text.strip().strip('"').strip().splitlines()
    return lines[0][:200] if lines else "no message"


def _log_retry(what: str) -> Any:
    def before_sleep(state: RetryCallState) -> None:
        reason = state.outcome.exception() if state.outcome else None
        log.info("retrying %s (attempt %d): %s", what, state.attempt_number, reason)

    return before_sleep
