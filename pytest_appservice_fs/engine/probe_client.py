"""HTTP client for the probe: bounded retries, optional pinning to one instance.

``ProbeClient`` owns every endpoint of the probe: markers (``/write``, ``/read``), identity,
mounts, and the measurements' endpoints, whose answers are typed (``probe_answers``).
"""

from __future__ import annotations

import http.cookiejar
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from pytest_appservice_fs.contract import TOKEN_HEADER
from pytest_appservice_fs.engine.model import Identity, MarkerRead, MarkerWrite
from pytest_appservice_fs.engine.probe_answers import (
    AppendAnswer,
    AppendCheckAnswer,
    LatencyAnswer,
    ThroughputAnswer,
    append_answer,
    append_check_answer,
    latency_answer,
    throughput_answer,
)

log = logging.getLogger(__name__)

#: What a probe answers while its container or App Service's front end is (re)starting.
RETRY_STATUSES = frozenset({502, 503, 504})


class ProbeError(RuntimeError):
    """The probe answered, but not with what the harness needs."""


class ProbeUnavailable(ProbeError):
    """The probe did not answer usefully before the retry deadline."""


class ProbeEndpointMissing(ProbeError):
    """The probe has no such endpoint: it is the lab's original probe, with less evidence."""


class _Transient(Exception):
    """A failure worth retrying; the message is the reason, logged before each retry."""


@dataclass(frozen=True)
class ProbeTiming:
    """How long one request may take and how long to keep retrying transient failures."""

    request_timeout: float = 30.0
    retry_deadline: float = 120.0
    wait_initial: float = 0.5
    wait_max: float = 5.0


def probe_session() -> requests.Session:
    """A session for probe requests that never stores cookies.

    App Service's front end answers with ARR affinity Set-Cookie headers; stored in the
    session, they would pin every later request and clash with an explicit pin.
    """
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


class ProbeClient:
    """Talks to one probe app, pinned to one instance when ``instance_id`` is given."""

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session,
        token: str | None = None,
        instance_id: str | None = None,
        timing: ProbeTiming = ProbeTiming(),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.instance_id = instance_id
        self._session = session
        self._token = token
        self._timing = timing

    def __repr__(self) -> str:
        # The token stays out of every repr, log line and assertion message.
        return f"ProbeClient({self.base_url!r}, instance_id={self.instance_id!r})"

    def health(self) -> bool:
        """True when the probe's unauthenticated health endpoint answers ok right now."""
        try:
            response = self._session.get(
                f"{self.base_url}/health",
                headers=self._affinity(),
                timeout=self._timing.request_timeout,
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    def identity(self) -> Identity | None:
        """Who answers now; None for a lab probe, which has no identity endpoint."""
        try:
            body = self.get("/identity")
        except ProbeEndpointMissing:
            return None
        return Identity(
            instance_id=body.get("instance_id"),
            hostname=body.get("hostname"),
            pid=body.get("pid"),
            process_start=body.get("process_start_utc"),
            deployment_id=body.get("deployment_id"),
            settings_mark=body.get("settings_mark"),
        )

    def who(self) -> Identity:
        """Who answers now: /identity, or for a lab probe (no /identity) the instance and
        container /mount-info names."""
        return self.identity() or self.whoami()

    def whoami(self) -> Identity:
        """The instance and container answering, from /mount-info, which the lab probe has."""
        return _identity_of(self.get("/mount-info"))

    def mounts(self, paths: Iterable[str]) -> dict[str, dict[str, str]]:
        """Mount facts per path (file system type, source, mount point); empty for a lab probe."""
        facts = self.get("/mount-info", {"path": list(paths)}).get("paths")
        if not isinstance(facts, dict):
            return {}
        keys = ("fstype", "source", "mount_point")
        return {
            str(path): {key: str(fact[key]) for key in keys if fact.get(key)}
            for path, fact in facts.items()
            if isinstance(fact, dict)
        }

    def io_latency(self, paths: Iterable[str], *, size: int, iterations: int) -> LatencyAnswer:
        """Write (``size`` bytes, with fsync) and read latency per path on the instance that
        answers, ``iterations`` times: min, median, p95 and max in ms, or the path's error."""
        body = self.get(
            "/io-latency", {"size": size, "iterations": iterations, "path": list(paths)}
        )
        return latency_answer(body, _results(body))

    def write(self, nonce: str, paths: Iterable[str]) -> tuple[Identity, dict[str, MarkerWrite]]:
        """Write fresh markers to ``paths``; return who wrote them and each path's checksum."""
        body = self.get("/write", {"nonce": nonce, "path": list(paths)})
        results: dict[str, MarkerWrite] = {}
        for path, result in _results(body).items():
            payload = result.get("payload") or {}
            if "error" in result:
                errno = result.get("errno")
                results[path] = MarkerWrite(
                    path,
                    error=str(result["error"]),
                    errno=errno if isinstance(errno, str) and errno.isalnum() else None,
                )
            elif payload.get("nonce") not in (None, nonce):
                results[path] = MarkerWrite(path, error="probe wrote another nonce")
            else:
                results[path] = MarkerWrite(path, checksum=result.get("checksum"))
        return _identity_of(body), results

    def read(self, nonce: str, paths: Iterable[str]) -> tuple[Identity, dict[str, MarkerRead]]:
        """Read the markers at ``paths`` back; return who read them and what each held."""
        body = self.get("/read", {"nonce": nonce, "path": list(paths)})
        results: dict[str, MarkerRead] = {}
        for path, result in _results(body).items():
            if "error" in result:
                results[path] = MarkerRead(path, error=str(result["error"]))
                continue
            results[path] = MarkerRead(
                path,
                exists=bool(result.get("exists")),
                checksum_valid=result.get("checksum_valid"),
                stored_checksum=result.get("stored_checksum"),
                actual_checksum=result.get("actual_checksum"),
                nonce_matches=result.get("nonce_matches"),
            )
        return _identity_of(body), results

    def throughput(self, path: str, *, sizes: Sequence[int], iterations: int) -> ThroughputAnswer:
        """H5: each size (MiB) written and read through ``path`` on the instance that answers."""
        body = self.get(
            "/throughput",
            {"path": [path], "sizes": ",".join(str(s) for s in sizes), "iterations": iterations},
        )
        return throughput_answer(body, path)

    def append(
        self, *, path: str, file: str, writer: str, records: int, lock: str, timeout: float
    ) -> AppendAnswer:
        """H4: append ``records`` numbered records as ``writer``, each under ``lock``.

        Sent once with ``timeout`` seconds: a repeated append would append the records twice,
        so a failure is a ProbeError, never a retry.
        """
        query = {"path": path, "writer": writer, "records": records, "lock": lock, "file": file}
        return append_answer(self.get_unretried("/append", query, timeout=timeout))

    def append_check(self, *, path: str, file: str, writers: Sequence[str]) -> AppendCheckAnswer:
        """H4: count each writer's records in ``file``: found, lost, duplicated, torn lines."""
        body = self.get("/append-check", {"path": path, "file": file, "writers": ",".join(writers)})
        return append_check_answer(body, tuple(writers))

    def append_reset(self, *, path: str, file: str) -> str | None:
        """H4: remove ``file`` from ``path``; the probe's error, or None when it is gone."""
        body = self.get("/append-reset", {"path": path, "file": file})
        return str(body["error"]) if "error" in body else None

    @property
    def request_timeout(self) -> float:
        """Seconds one request may take."""
        return self._timing.request_timeout

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON endpoint, retrying transient failures until the deadline."""
        started = time.monotonic()
        retrying = Retrying(
            stop=stop_after_delay(self._timing.retry_deadline),
            # Jitter keeps several clients from retrying in step against a restarting app.
            wait=wait_exponential(multiplier=self._timing.wait_initial, max=self._timing.wait_max)
            + wait_random(0, self._timing.wait_initial),
            retry=retry_if_exception_type(_Transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._get_once, endpoint, params)
        except _Transient as exc:
            elapsed = time.monotonic() - started
            raise ProbeUnavailable(
                f"GET {endpoint}{self._on()} gave up after {elapsed:.1f} s: {exc}"
            ) from None

    def get_unretried(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, timeout: float
    ) -> dict[str, Any]:
        """GET once, for a request that is not safe to repeat (an append would append again):
        a timeout, a 5xx or an answer from another instance is an error, never a retry."""
        try:
            return self._get_once(endpoint, params, timeout=timeout)
        except _Transient as exc:
            raise ProbeUnavailable(
                f"GET {endpoint}{self._on()} failed and was not retried (it is not safe to "
                f"repeat): {exc}"
            ) from None

    def _get_once(
        self, endpoint: str, params: Mapping[str, Any] | None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        headers = {TOKEN_HEADER: self._token} if self._token else {}
        try:
            response = self._session.get(
                f"{self.base_url}{endpoint}",
                params=params,
                headers={**headers, **self._affinity()},
                timeout=timeout or self._timing.request_timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(f"{type(exc).__name__}") from None
        if response.status_code in RETRY_STATUSES:
            raise _Transient(f"HTTP {response.status_code}")
        if response.status_code == 404:
            raise ProbeEndpointMissing(f"the probe has no {endpoint} endpoint (HTTP 404)")
        if response.status_code == 401:
            raise ProbeError(f"the probe refused the token on GET {endpoint} (HTTP 401)")
        if response.status_code != 200:
            raise ProbeError(
                f"GET {endpoint}{self._on()} answered HTTP {response.status_code}"
                f"{_reason(response)}"
            )
        try:
            body = response.json()
        except ValueError:
            raise ProbeError(f"GET {endpoint}{self._on()} answered something not JSON") from None
        if not isinstance(body, dict):
            raise ProbeError(f"GET {endpoint}{self._on()} answered JSON that is not an object")
        answered = body.get("instance_id")
        if self.instance_id is not None and answered != self.instance_id:
            # ARR sends a request elsewhere while the pinned instance is not serving yet.
            raise _Transient(f"answered by instance {_short(answered)}, not the pinned one")
        return body

    def _affinity(self) -> dict[str, str]:
        # An explicit Cookie header: requests then adds nothing from the session's jar, so a
        # pinned request carries exactly one affinity (unpinned ones rely on probe_session()).
        if self.instance_id is None:
            return {}
        pinned = self.instance_id
        return {"Cookie": f"ARRAffinity={pinned}; ARRAffinitySameSite={pinned}"}

    def _on(self) -> str:
        return f" on instance {_short(self.instance_id)}" if self.instance_id else ""

    def _log_retry(self, state: RetryCallState) -> None:
        reason = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "retrying probe request (attempt %d, %s), next in %.2f s",
            state.attempt_number,
            reason,
            wait,
        )


def _reason(response: requests.Response) -> str:
    """The probe's one-sentence reason for refusing a request, when it gave one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {str(error)[:200]}" if error else ""


def _results(body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    results = body.get("results")
    if not isinstance(results, dict):
        raise ProbeError("the probe's answer has no 'results' object")
    return {str(path): value for path, value in results.items() if isinstance(value, dict)}


def _identity_of(body: Mapping[str, Any]) -> Identity:
    return Identity(instance_id=body.get("instance_id"), hostname=body.get("hostname"))


def _short(instance_id: object) -> str:
    text = str(instance_id)
    return text[:12] if len(text) > 12 else text
