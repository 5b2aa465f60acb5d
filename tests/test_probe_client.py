"""The probe client against scripted HTTP answers, mocked at the requests transport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from pytest_appservice_fs.engine.model import Identity, MarkerRead, MarkerWrite
from pytest_appservice_fs.engine.probe_client import (
    TOKEN_HEADER,
    ProbeClient,
    ProbeEndpointMissing,
    ProbeError,
    ProbeTiming,
    ProbeUnavailable,
)

BASE = "https://probe.example.test"
TOKEN = "sup3r-secret-probe-token"
PINNED = "a" * 64
OTHER = "b" * 64
FAST = ProbeTiming(request_timeout=1.0, retry_deadline=0.3, wait_initial=0.01, wait_max=0.05)
LONG = ProbeTiming(request_timeout=1.0, retry_deadline=5.0, wait_initial=0.01, wait_max=0.02)

#: A scripted answer: (status, JSON body or raw bytes), or an exception to raise.
Answer = tuple[int, Any] | Exception


class ScriptedTransport(BaseAdapter):
    """A requests transport that answers from a script and records every request."""

    def __init__(self, answers: list[Answer] | Callable[[requests.PreparedRequest], Answer]):
        super().__init__()
        self._answers = answers
        self.requests: list[requests.PreparedRequest] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.requests.append(request)
        if callable(self._answers):
            answer = self._answers(request)
        else:
            # The last answer repeats, so a retry loop sees a steady state.
            answer = self._answers[min(len(self.requests), len(self._answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        """Nothing to close."""


def _client(
    answers: list[Answer] | Callable[[requests.PreparedRequest], Answer],
    *,
    token: str | None = None,
    instance_id: str | None = None,
    timing: ProbeTiming = FAST,
) -> tuple[ProbeClient, ScriptedTransport]:
    transport = ScriptedTransport(answers)
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    client = ProbeClient(
        BASE + "/", session=session, token=token, instance_id=instance_id, timing=timing
    )
    return client, transport


def _identity_body(instance_id: str = PINNED, **extra: Any) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "hostname": "0123456789ab",
        "pid": 42,
        "process_start_utc": "2026-04-10T00:00:00.000000Z",
        "deployment_id": "dep-1",
        **extra,
    }


def _cookies(request: requests.PreparedRequest) -> dict[str, str]:
    cookie = SimpleCookie(request.headers.get("Cookie", ""))
    return {name: morsel.value for name, morsel in cookie.items()}


# --- headers and cookies -----------------------------------------------------------------


def test_token_header_sent_when_set() -> None:
    """With a token, every probe request carries it in X-Probe-Token."""
    client, transport = _client([(200, _identity_body())], token=TOKEN)
    client.identity()
    assert transport.requests[0].headers[TOKEN_HEADER] == TOKEN


def test_no_token_header_without_token() -> None:
    """Without a token, no X-Probe-Token header is sent."""
    client, transport = _client([(200, _identity_body())])
    client.identity()
    assert TOKEN_HEADER not in transport.requests[0].headers


def test_pinned_client_sends_both_affinity_cookies() -> None:
    """A pinned client sends ARRAffinity and ARRAffinitySameSite equal to the instance id."""
    client, transport = _client([(200, _identity_body())], instance_id=PINNED)
    client.identity()
    assert _cookies(transport.requests[0]) == {
        "ARRAffinity": PINNED,
        "ARRAffinitySameSite": PINNED,
    }


def test_unpinned_client_sends_no_cookies() -> None:
    """An unpinned client sends no affinity cookies, and accepts any instance."""
    client, transport = _client([(200, _identity_body(OTHER))])
    assert client.identity() == Identity(
        OTHER, "0123456789ab", 42, "2026-04-10T00:00:00.000000Z", "dep-1"
    )
    assert "Cookie" not in transport.requests[0].headers


def test_base_url_trailing_slash_is_dropped() -> None:
    """The base URL's trailing slash does not double up in request URLs."""
    client, transport = _client([(200, _identity_body())])
    client.identity()
    assert transport.requests[0].url == f"{BASE}/identity"


# --- retries -----------------------------------------------------------------------------


def test_answer_from_another_instance_is_retried() -> None:
    """A pinned request answered by another instance is retried until the pinned one answers."""
    client, transport = _client(
        [(200, _identity_body(OTHER)), (200, _identity_body(OTHER)), (200, _identity_body())],
        instance_id=PINNED,
        timing=LONG,
    )
    identity = client.identity()
    assert identity is not None
    assert identity.instance_id == PINNED
    assert len(transport.requests) == 3


def test_answers_from_another_instance_give_up_naming_the_endpoint() -> None:
    """Only other instances answering until the deadline: ProbeUnavailable names the endpoint."""
    client, transport = _client([(200, _identity_body(OTHER))], instance_id=PINNED)
    with pytest.raises(ProbeUnavailable) as excinfo:
        client.identity()
    message = str(excinfo.value)
    assert message.startswith(f"GET /identity on instance {PINNED[:12]} gave up after ")
    assert message.endswith(f"answered by instance {OTHER[:12]}, not the pinned one")
    assert len(transport.requests) >= 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_until_success(status: int) -> None:
    """502, 503 and 504 are transient: the client retries them and returns the answer."""
    client, transport = _client(
        [(status, b"busy"), (status, b"busy"), (200, _identity_body())], timing=LONG
    )
    identity = client.identity()
    assert identity is not None
    assert identity.pid == 42
    assert len(transport.requests) == 3


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("refused"), requests.Timeout("slow")],
    ids=["connection", "timeout"],
)
def test_connection_errors_are_retried_until_success(error: Exception) -> None:
    """Connection errors and timeouts are transient and retried."""
    client, transport = _client([error, (200, _identity_body())], timing=LONG)
    assert client.identity() is not None
    assert len(transport.requests) == 2


def test_gives_up_after_the_deadline() -> None:
    """A probe that stays unavailable makes the client give up after the deadline, saying why."""
    client, transport = _client([(503, b"busy")])
    with pytest.raises(ProbeUnavailable) as excinfo:
        client.get("/write")
    message = str(excinfo.value)
    assert message.startswith("GET /write gave up after ")
    assert message.endswith(": HTTP 503")
    seconds = float(message.split("gave up after ")[1].split(" s:", maxsplit=1)[0])
    assert 0.2 <= seconds < 2.0
    assert len(transport.requests) >= 2


def test_connection_error_gives_up_with_its_type() -> None:
    """A probe that cannot be reached gives up naming the exception type."""
    client, _ = _client([requests.ConnectionError("refused")])
    with pytest.raises(ProbeUnavailable, match=r"gave up after [0-9.]+ s: ConnectionError$"):
        client.get("/read")


def test_probe_unavailable_is_a_probe_error() -> None:
    """Callers that catch ProbeError also catch the give-up."""
    assert issubclass(ProbeUnavailable, ProbeError)
    assert issubclass(ProbeEndpointMissing, ProbeError)


def test_retries_are_logged_with_reason_and_without_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each retry is logged with the reason; the token never appears in the log."""
    caplog.set_level(logging.INFO, logger="pytest_appservice_fs.engine.probe_client")
    client, _ = _client([(503, b"busy"), (200, _identity_body())], token=TOKEN, timing=LONG)
    client.identity()
    retries = [r for r in caplog.records if "retrying probe request" in r.getMessage()]
    assert len(retries) == 1
    assert "attempt 1, HTTP 503" in retries[0].getMessage()
    assert TOKEN not in caplog.text


# --- errors that are not retried ---------------------------------------------------------


def test_401_is_a_probe_error_without_the_token() -> None:
    """A refused token is not retried, and the error message never shows the token."""
    client, transport = _client([(401, {"error": "bad token"})], token=TOKEN)
    with pytest.raises(ProbeError) as excinfo:
        client.get("/read")
    assert not isinstance(excinfo.value, ProbeUnavailable)
    assert str(excinfo.value) == "the probe refused the token on GET /read (HTTP 401)"
    assert TOKEN not in str(excinfo.value)
    assert TOKEN not in repr(excinfo.value)
    assert len(transport.requests) == 1


def test_identity_404_means_lab_probe() -> None:
    """A probe without /identity (the lab's) gives None, not an error."""
    client, transport = _client([(404, b"Not Found")])
    assert client.identity() is None
    assert len(transport.requests) == 1


def test_404_elsewhere_is_endpoint_missing() -> None:
    """A 404 on another endpoint raises ProbeEndpointMissing naming it."""
    client, _ = _client([(404, b"Not Found")])
    with pytest.raises(ProbeEndpointMissing, match="no /write endpoint"):
        client.get("/write")


def test_other_status_is_a_probe_error() -> None:
    """An unexpected status such as 500 is not retried and names the endpoint and status."""
    client, transport = _client([(500, b"oops")], instance_id=PINNED)
    with pytest.raises(ProbeError) as excinfo:
        client.get("/read")
    assert str(excinfo.value) == f"GET /read on instance {PINNED[:12]} answered HTTP 500"
    assert len(transport.requests) == 1


def test_non_json_answer_is_a_probe_error() -> None:
    """An answer that is not JSON is a ProbeError, not retried."""
    client, transport = _client([(200, b"<html>hello</html>")])
    with pytest.raises(ProbeError, match="answered something not JSON"):
        client.identity()
    assert len(transport.requests) == 1


def test_json_that_is_not_an_object_is_a_probe_error() -> None:
    """A JSON list instead of an object is a ProbeError."""
    client, _ = _client([(200, [1, 2])])
    with pytest.raises(ProbeError, match="JSON that is not an object"):
        client.get("/identity")


def test_repr_has_no_token() -> None:
    """repr(client) names the URL and instance but never the token."""
    client, _ = _client([], token=TOKEN, instance_id=PINNED)
    assert repr(client) == f"ProbeClient({BASE!r}, instance_id={PINNED!r})"
    assert TOKEN not in repr(client)


# --- write and read ----------------------------------------------------------------------


def _echo_paths(request: requests.PreparedRequest) -> tuple[str, list[str]]:
    query = parse_qs(urlsplit(request.url or "").query)
    return query["nonce"][0], query["path"]


def test_write_parses_checksums_and_errors() -> None:
    """write() sends the nonce and each path, and returns checksums and per-path errors."""

    def answer(request: requests.PreparedRequest) -> Answer:
        nonce, paths = _echo_paths(request)
        assert paths == ["/home/data", "/tmp/data", "/var/local/data"]
        return (
            200,
            {
                "action": "write",
                "instance_id": PINNED,
                "hostname": "0123456789ab",
                "results": {
                    "/home/data": {
                        "path": "/home/data",
                        "checksum": "c1",
                        "payload": {"nonce": nonce},
                    },
                    "/tmp/data": {"path": "/tmp/data", "checksum": "c2", "payload": {}},
                    "/var/local/data": {"path": "/var/local/data", "error": "PermissionError"},
                },
            },
        )

    client, transport = _client(answer, instance_id=PINNED)
    writer, written = client.write("n0nce", ["/home/data", "/tmp/data", "/var/local/data"])
    assert urlsplit(transport.requests[0].url or "").path == "/write"
    assert writer == Identity(PINNED, "0123456789ab")
    assert written == {
        "/home/data": MarkerWrite("/home/data", checksum="c1"),
        "/tmp/data": MarkerWrite("/tmp/data", checksum="c2"),
        "/var/local/data": MarkerWrite("/var/local/data", error="PermissionError"),
    }


def test_write_with_another_nonce_is_an_error() -> None:
    """A probe that wrote another nonce than asked records an error for that path."""
    body = {
        "instance_id": PINNED,
        "hostname": "h",
        "results": {"/tmp/data": {"checksum": "c", "payload": {"nonce": "someone-else"}}},
    }
    client, _ = _client([(200, body)])
    _, written = client.write("mine", ["/tmp/data"])
    assert written == {"/tmp/data": MarkerWrite("/tmp/data", error="probe wrote another nonce")}


def test_read_parses_each_path() -> None:
    """read() returns what each path held: intact, missing, or an error."""
    body = {
        "action": "read",
        "instance_id": PINNED,
        "hostname": "0123456789ab",
        "results": {
            "/home/data": {
                "path": "/home/data",
                "exists": True,
                "payload": {},
                "checksum_valid": True,
                "actual_checksum": "c1",
                "stored_checksum": "c1",
                "nonce_matches": True,
            },
            "/tmp/data": {"path": "/tmp/data", "exists": False},
            "/var/local/data": {"path": "/var/local/data", "error": "OSError: I/O error"},
            "/ignored": "not an object",
        },
    }
    client, transport = _client([(200, body)])
    reader, read = client.read("n0nce", ["/home/data", "/tmp/data", "/var/local/data"])
    nonce, paths = _echo_paths(transport.requests[0])
    assert nonce == "n0nce"
    assert paths == ["/home/data", "/tmp/data", "/var/local/data"]
    assert reader == Identity(PINNED, "0123456789ab")
    assert read == {
        "/home/data": MarkerRead(
            "/home/data",
            exists=True,
            checksum_valid=True,
            stored_checksum="c1",
            actual_checksum="c1",
            nonce_matches=True,
        ),
        "/tmp/data": MarkerRead("/tmp/data", exists=False),
        "/var/local/data": MarkerRead("/var/local/data", error="OSError: I/O error"),
    }


def test_lab_probe_read_has_no_nonce_verdict() -> None:
    """The lab's probe reports no nonce_matches: it stays None."""
    body = {
        "instance_id": PINNED,
        "hostname": "h",
        "results": {"/tmp/data": {"exists": True, "checksum_valid": True, "stored_checksum": "c"}},
    }
    client, _ = _client([(200, body)])
    _, read = client.read("n", ["/tmp/data"])
    assert read["/tmp/data"].nonce_matches is None
    assert read["/tmp/data"].stored_checksum == "c"


def test_answer_without_results_is_a_probe_error() -> None:
    """A write answer with no results object is a ProbeError."""
    client, _ = _client([(200, {"instance_id": PINNED, "hostname": "h"})])
    with pytest.raises(ProbeError, match="no 'results' object"):
        client.write("n", ["/tmp/data"])


# --- health ------------------------------------------------------------------------------


def test_health_true_on_200_without_token() -> None:
    """health() is True on 200 and sends no token (the endpoint is unauthenticated)."""
    client, transport = _client([(200, {"status": "ok"})], token=TOKEN, instance_id=PINNED)
    assert client.health() is True
    assert TOKEN_HEADER not in transport.requests[0].headers
    assert _cookies(transport.requests[0])["ARRAffinity"] == PINNED


@pytest.mark.parametrize(
    "answer", [(503, b"busy"), requests.ConnectionError("down")], ids=["503", "refused"]
)
def test_health_false_when_down(answer: Answer) -> None:
    """health() is False, at once, on an error status or an unreachable probe."""
    client, transport = _client([answer])
    assert client.health() is False
    assert len(transport.requests) == 1


# --- mount facts and whoami ----------------------------------------------------------------


def test_mounts_keep_type_source_and_mount_point_per_path() -> None:
    """mounts() asks /mount-info for the paths and keeps the three facts the evidence uses."""
    body = {
        "instance_id": PINNED,
        "hostname": "0123456789ab",
        "paths": {
            "/home/data": {
                "path": "/home/data",
                "fstype": "cifs",
                "source": "//acct.file.core.windows.net/share",
                "mount_point": "/home",
                "options": "rw",
                "total_bytes": 1,
            },
            "/tmp/data": {"path": "/tmp/data", "fstype": None, "source": None},
        },
    }
    client, transport = _client([(200, body)])
    facts = client.mounts(["/home/data", "/tmp/data"])
    assert facts == {
        "/home/data": {
            "fstype": "cifs",
            "source": "//acct.file.core.windows.net/share",
            "mount_point": "/home",
        },
        "/tmp/data": {},
    }
    assert transport.requests[0].path_url == "/mount-info?path=%2Fhome%2Fdata&path=%2Ftmp%2Fdata"


def test_mounts_of_a_lab_probe_are_empty() -> None:
    """The lab's /mount-info has only df and mount text: no facts, no error."""
    client, _ = _client([(200, {"instance_id": PINNED, "hostname": "h", "df": "", "mount": ""})])
    assert client.mounts(["/home/data"]) == {}


def test_whoami_reads_the_lab_mount_info_identity() -> None:
    """whoami() names the instance and container from /mount-info, which the lab probe has."""
    client, transport = _client([(200, {"instance_id": PINNED, "hostname": "abcdef012345"})])
    identity = client.whoami()
    assert (identity.instance_id, identity.hostname) == (PINNED, "abcdef012345")
    assert transport.requests[0].path_url == "/mount-info"
