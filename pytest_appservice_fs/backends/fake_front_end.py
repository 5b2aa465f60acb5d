"""The fake backend's front end: a requests transport that plays App Service's for one app
(routing by ARR affinity cookie, else round robin; HTTP 503 while nothing serves). No socket
is opened: any host other than the app's own fails."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


class Routes(Protocol):
    """What the front end asks of the app behind it."""

    host: str

    def answers_unavailable(self) -> bool:
        """Whether this request is answered with HTTP 503 (an injected fault)."""
        ...

    def app_for(self, affinity: str | None) -> Any:
        """The Flask app of the container that answers (by affinity, else round robin), or
        None when none serves."""
        ...


class FrontEnd(BaseAdapter):
    """A requests transport that plays App Service's front end for one fake app."""

    def __init__(self, routes: Routes) -> None:
        super().__init__()
        self._routes = routes

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        """Answer ``request`` from the container it is routed to."""
        url = urlsplit(request.url or "")
        if url.hostname != self._routes.host:
            # The fake never touches the network; an unexpected address is a harness bug.
            raise requests.ConnectionError(f"the fake backend has no route to {url.hostname!r}")
        if self._routes.answers_unavailable():
            return _response(request, 503, b"Service Unavailable")
        cookies = SimpleCookie(request.headers.get("Cookie", ""))
        affinity = cookies["ARRAffinity"].value if "ARRAffinity" in cookies else None
        app = self._routes.app_for(affinity)
        if app is None:
            return _response(request, 503, b"Service Unavailable")
        answer = app.test_client().open(
            url.path or "/",
            method=request.method or "GET",
            query_string=url.query,
            headers={k: v for k, v in request.headers.items() if k.lower() != "cookie"},
        )
        return _response(request, answer.status_code, answer.get_data(), dict(answer.headers))

    def close(self) -> None:
        """Nothing to release: no sockets were opened."""


def _response(
    request: requests.PreparedRequest,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers = CaseInsensitiveDict(headers or {})
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response
