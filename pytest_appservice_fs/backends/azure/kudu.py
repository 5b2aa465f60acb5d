"""ZIP deploy through Kudu's OneDeploy API, authenticated with a Microsoft Entra token.

`POST https://<scm host>/api/publish?type=zip&async=true` answers 202 with a `Location` to
poll; a deployment's `status` 4 is success and 3 failure (with a `log_url`). Another
deployment in progress answers 409, which is retried for a bounded time. SCM basic auth is
off by default for new apps, so a bearer token for https://appservice.azure.com is used.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
    wait_fixed,
)

from pytest_appservice_fs.backends.protocol import BackendError

log = logging.getLogger(__name__)

KUDU_SCOPE = "https://appservice.azure.com/.default"
DEPLOY_SUCCESS = 4
DEPLOY_FAILED = 3
#: Worth another try: a deployment in progress, throttling, or Kudu restarting.
RETRY_STATUSES = frozenset({409, 429, 502, 503, 504})


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
    """How long to retry starting a deployment and to wait for it to finish."""

    request_timeout: float = 120.0
    start_deadline: float = 300.0
    finish_deadline: float = 1800.0
    poll_interval: float = 5.0
    wait_initial: float = 2.0
    wait_max: float = 30.0


class KuduClient:
    """Deploys ZIP packages to one app's SCM site."""

    def __init__(
        self,
        scm_host: str,
        credential: TokenSource,
        *,
        session: requests.Session | None = None,
        timing: KuduTiming = KuduTiming(),
    ) -> None:
        self.scm_host = scm_host
        self._credential = credential
        self._session = session or requests.Session()
        self._timing = timing

    def __repr__(self) -> str:
        return f"KuduClient({self.scm_host!r})"

    def deploy_zip(self, data: bytes) -> dict[str, Any]:
        """Deploy a ZIP and wait until Kudu reports success; DeployError otherwise."""
        status_url = self._start(data)
        return self._wait(status_url)

    def _headers(self) -> dict[str, str]:
        # The token is fetched per request (the credential caches it) and never logged.
        token = self._credential.get_token(KUDU_SCOPE).token
        return {"Authorization": f"Bearer {token}"}

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
            if response.status_code in RETRY_STATUSES:
                reason = "another deployment is in progress" if response.status_code == 409 else ""
                raise _Retry(f"HTTP {response.status_code} {reason}".strip())
            if response.status_code == 401:
                raise DeployError(
                    f"Kudu at {self.scm_host} refused the Microsoft Entra token (HTTP 401); "
                    "the identity needs the Website Contributor role on the app."
                )
            if response.status_code not in (200, 202):
                raise DeployError(
                    f"Kudu at {self.scm_host} refused the deployment: HTTP "
                    f"{response.status_code} {response.text[:200]}"
                )
            return (
                response.headers.get("Location")
                or f"https://{self.scm_host}/api/deployments/latest"
            )

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
                f"{self._timing.start_deadline:g} s: {exc}"
            ) from None

    def _wait(self, status_url: str) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def look() -> dict[str, Any] | None:
            body: dict[str, Any]
            try:
                response = self._session.get(
                    status_url, headers=self._headers(), timeout=self._timing.request_timeout
                )
            except (requests.ConnectionError, requests.Timeout):
                return None
            if response.status_code != 200:
                return None  # 202 while accepted, 5xx while Kudu restarts: look again
            try:
                body = response.json()
            except ValueError:
                return None  # a front-end error page while Kudu restarts: look again
            last.clear()
            last.update(body)
            complete = body.get("complete") or body.get("status") in (DEPLOY_SUCCESS, DEPLOY_FAILED)
            return body if complete else None

        started = time.monotonic()
        retrying = Retrying(
            stop=stop_after_delay(self._timing.finish_deadline),
            wait=wait_fixed(self._timing.poll_interval),
            retry=retry_if_result(lambda body: body is None),
        )
        try:
            body = retrying(look) or {}
        except RetryError as exc:
            raise DeployError(
                f"the deployment did not finish within {self._timing.finish_deadline:g} s "
                f"(last status {last.get('status')}, {last.get('status_text', '')!r}); "
                f"see {status_url}"
            ) from exc
        if body.get("status") != DEPLOY_SUCCESS:
            log_url = body.get("log_url") or f"{status_url}/log"
            raise DeployError(
                f"the deployment failed (status {body.get('status')}, "
                f"{body.get('status_text') or 'no status text'}); its log: {log_url}"
            )
        log.info("deployed in %.0f s: %s", time.monotonic() - started, body.get("id"))
        return body


def _log_retry(what: str) -> Any:
    def before_sleep(state: RetryCallState) -> None:
        reason = state.outcome.exception() if state.outcome else None
        log.info("retrying %s (attempt %d): %s", what, state.attempt_number, reason)

    return before_sleep
