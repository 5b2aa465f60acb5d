"""The app's front end on its default host (``<app>.azurewebsites.net``): ARR before the app.

Answers for every request to an app's default host: host routing (an unknown host fails as
DNS would, with ``requests.ConnectionError``), the HTTPS redirect of ``httpsOnly``, ARR
affinity cookies, and forwarding to the ``FakeBackend`` that runs what Kudu deployed; the
fake's own front end then picks the instance the ARRAffinity cookie names.

Follows the Microsoft.Web REST spec's site properties ``httpsOnly`` and
``clientAffinityEnabled`` (Azure/azure-rest-api-specs,
``specification/web/resource-manager/Microsoft.Web/AppService/stable/2025-05-01``) and the
affinity cookies ``ARRAffinity`` and ``ARRAffinitySameSite`` that the README records.

Modelling choices worth knowing when a test fails:

- Until a package with an ``app.py`` is deployed, the app runs "other code": 404 on every path.
  A stopped app answers as the fake does (503).
- With ``clientAffinityEnabled`` false the front end ignores ARRAffinity cookies; with it true a
  JSON answer that names an instance other than the cookie's sets the ARRAffinity cookies, as
  ARR does. Of two cookies with one name the first wins (see ``conflicting_cookies``).
- Requests are served side by side, not one at a time as ARM and Kudu are.
- The SCM host (``kudu``) picks its instance with the same cookies through ``arr_instance``:
  the ARRAffinity cookie's instance, else the next one in turn, whose cookies it then sets.
  Whether ARR on the SCM host obeys ``clientAffinityEnabled`` is not settled; it always pins
  here, which ``az webapp deploy`` relies on (azure-cli appservice custom.py
  ``_warmup_kudu_and_get_cookie_internal`` sends ``ARRAffinity`` and ``ARRAffinitySameSite``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import requests

from tests.azure.simulator.state import END, AppServiceState, Reply, Route, SimulatedSite

#: What App Service serves for any path of an app that runs no code of ours.
_NOT_FOUND_HTML = b"<html><body><h1>404 Not Found</h1></body></html>"
_APP = r"^(?P<scheme>https?)://(?P<host>(?![^/?#]*\.scm\.)[^/?#]+\.azurewebsites\.net)"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class FrontEnd:
    """The default hosts' routes: every method on every path, forwarded to the site's fake."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """Every method on every app host path, all answered by the front end."""
        app = _APP + r"(?P<path>/[^?#]*)?" + END
        return [Route(method, app, "probe", self._probe) for method in _METHODS]

    def _probe(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        host = match["host"].lower()
        site = next((s for s in self.state.sites.values() if s.default_host_name == host), None)
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
            headers.extend(affinity_set_cookies(served, site.default_host_name))
        return answer.status_code, headers, answer.content

    def _front_end_cookies(
        self, request: requests.PreparedRequest, site: SimulatedSite
    ) -> dict[str, str]:
        """The cookies ARR acts on: the first of each name, no affinity when it is off."""
        cookies = first_cookies(request, self.state)
        if not site.client_affinity:
            cookies = {k: v for k, v in cookies.items() if not k.startswith("ARRAffinity")}
        return cookies


def first_cookies(request: requests.PreparedRequest, state: AppServiceState) -> dict[str, str]:
    """The request's cookies, the first of each name; a name again with another value counts."""
    cookies: dict[str, str] = {}
    for part in request.headers.get("Cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if not name:
            continue
        if name in cookies:
            # A session that kept ARR's Set-Cookie sends it before a pinned request's own
            # cookie. Which one ARR obeys is not documented; taking the first makes the
            # harness fail here rather than by luck on Azure.
            state.conflicting_cookies += cookies[name] != value
            continue
        cookies[name] = value
    return cookies


def affinity_set_cookies(instance_id: str, host: str) -> list[tuple[str, str]]:
    """The Set-Cookie headers with which ARR pins a client on ``host`` to ``instance_id``."""
    domain = f"Path=/;HttpOnly;Secure;Domain={host}"
    return [
        ("Set-Cookie", f"ARRAffinity={instance_id};{domain}"),
        ("Set-Cookie", f"ARRAffinitySameSite={instance_id};SameSite=None;{domain}"),
    ]


def arr_instance(
    request: requests.PreparedRequest, state: AppServiceState, instances: list[str], turn: int
) -> tuple[str, list[tuple[str, str]]]:
    """The instance ARR sends a request to, and the Set-Cookie headers of its answer.

    The ARRAffinity cookie's instance when it names one of ``instances``; else the one at
    ``turn`` (round robin), whose affinity cookies the answer sets. No instances: "".
    """
    pinned = first_cookies(request, state).get("ARRAffinity")
    if pinned is not None and pinned in instances:
        return pinned, []
    if not instances:
        return "", []
    served = instances[turn % len(instances)]
    host = urlsplit(request.url or "").hostname or ""
    return served, affinity_set_cookies(served, host)


def _instance_in(answer: requests.Response) -> str | None:
    """The instance id a probe answer names, if it is JSON that names one."""
    try:
        body = answer.json()
    except ValueError:
        return None
    value = body.get("instance_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None
