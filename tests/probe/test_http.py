"""The probe's HTTP surface: authentication, validation, errors and response headers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import HOSTNAME, INSTANCE_ID, PID, TOKEN, probe, probe_app, tree

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from flask.testing import FlaskClient

ALLOWLIST = "/home/data, /tmp/data, /var/local/data"
PROTECTED = ["/identity", "/write", "/read", "/mount-info", "/io-latency?iterations=1"]


def test_health_answers_ok(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_health_needs_no_token(token_client: FlaskClient) -> None:
    response = token_client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_identity_reports_the_configured_process(client: FlaskClient) -> None:
    response = client.get("/identity")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "instance_id": INSTANCE_ID,
        "hostname": HOSTNAME,
        "pid": PID,
        "process_start_utc": "2023-11-14T22:13:20.123456Z",
        "process_start_epoch": 1_700_000_000.123456,
        "deployment_id": "deploy-1",
        "settings_mark": None,
        "probe_api": 2,
        "paths": ["/home/data", "/tmp/data", "/var/local/data"],
    }


def test_identity_never_rereads_the_environment(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "c" * 64)
    assert client.get("/identity").json["instance_id"] == INSTANCE_ID


@pytest.mark.parametrize("url", PROTECTED)
@pytest.mark.parametrize("headers", [{}, {"X-Probe-Token": "wrong"}, {"X-Probe-Token": ""}])
def test_protected_endpoints_refuse_a_missing_or_wrong_token(
    token_client: FlaskClient, url: str, headers: dict[str, str], tmp_path: Path
) -> None:
    response = token_client.get(url, headers=headers)
    assert response.status_code == 401
    assert response.json == {"error": "missing or invalid probe token"}
    assert response.headers["Cache-Control"] == "no-store"
    assert tree(tmp_path) == {"mountinfo"}  # a refused /write wrote nothing


def test_token_comparison_is_exact(token_client: FlaskClient) -> None:
    for near_miss in (TOKEN.upper(), TOKEN + " ", TOKEN[:-1], f"Bearer {TOKEN}"):
        assert (
            token_client.get("/identity", headers={"X-Probe-Token": near_miss}).status_code == 401
        )


@pytest.mark.parametrize("url", PROTECTED)
def test_protected_endpoints_accept_the_right_token(token_client: FlaskClient, url: str) -> None:
    response = token_client.get(url, headers={"X-Probe-Token": TOKEN})
    assert response.status_code == 200
    assert response.json["instance_id"] == INSTANCE_ID
    assert response.json["hostname"] == HOSTNAME


def test_the_token_is_never_echoed(token_client: FlaskClient) -> None:
    requests: list[tuple[str, dict[str, str]]] = [
        ("/health", {}),
        ("/identity", {}),
        ("/identity", {"X-Probe-Token": "wrong"}),
        *[(url, {"X-Probe-Token": TOKEN}) for url in PROTECTED],
        ("/read?bogus=1", {"X-Probe-Token": TOKEN}),
        ("/no-such-endpoint", {"X-Probe-Token": TOKEN}),
    ]
    for url, headers in requests:
        response = token_client.get(url, headers=headers)
        assert TOKEN not in response.get_data(as_text=True), url
        assert response.headers, url
        assert all(TOKEN not in value for value in response.headers.values()), url


def test_unknown_endpoint_answers_json_404(client: FlaskClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["error"].startswith("no endpoint at '/nope'; endpoints: /health,")


def test_other_methods_answer_json_405(client: FlaskClient, tmp_path: Path) -> None:
    response = client.post("/write")
    assert response.status_code == 405
    assert response.json == {"error": "method POST is not allowed on /write; use GET"}
    assert "GET" in response.headers["Allow"]
    assert tree(tmp_path) == {"mountinfo"}


def test_an_unexpected_error_answers_json_500(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(probe.web, "mount_report", broken)
    response = probe_app.create_app(make_config()).test_client().get("/mount-info")
    assert response.status_code == 500
    assert response.json == {"error": "Internal Server Error"}
    assert response.headers["Cache-Control"] == "no-store"


def test_request_bodies_are_limited(make_config: Callable[..., Any]) -> None:
    app = probe_app.create_app(make_config())
    assert app.config["MAX_CONTENT_LENGTH"] <= 4096


@pytest.mark.parametrize(
    ("endpoint", "query", "message"),
    [
        ("/health", "x=1", "'x'; valid for /health: none."),
        ("/identity", "nonce=abc", "'nonce'; valid for /identity: none."),
        ("/write", "x=1&nonces=a", "'x', 'nonces'; valid for /write: nonce, path."),
        ("/read", "Path=/tmp/data", "'Path'; valid for /read: nonce, path."),
        ("/mount-info", "nonce=a", "'nonce'; valid for /mount-info: path."),
        ("/io-latency", "count=3", "'count'; valid for /io-latency: size, iterations, path."),
    ],
)
def test_unknown_query_parameters_are_refused(
    client: FlaskClient, tmp_path: Path, endpoint: str, query: str, message: str
) -> None:
    response = client.get(f"{endpoint}?{query}")
    assert response.status_code == 400
    assert response.json == {"error": f"unknown query parameter(s) {message}"}
    assert tree(tmp_path) == {"mountinfo"}


def test_parameters_given_twice_are_refused(client: FlaskClient) -> None:
    response = client.get("/read?nonce=a&nonce=b")
    assert response.status_code == 400
    assert response.json == {"error": "parameter 'nonce' may be given once, got 2 values."}
    assert client.get("/io-latency?size=1&size=2").status_code == 400


@pytest.mark.parametrize(
    "bad",
    ["/etc", "/home", "/home/data/", "/home/data/../../etc", "home/data", "/HOME/DATA", ""],
)
@pytest.mark.parametrize("endpoint", ["/write", "/read", "/mount-info", "/io-latency"])
def test_paths_outside_the_allowlist_are_refused_and_untouched(
    client: FlaskClient, tmp_path: Path, endpoint: str, bad: str
) -> None:
    response = client.get(endpoint, query_string={"path": ["/tmp/data", bad]})
    assert response.status_code == 400
    assert response.json == {"error": f"path '{bad}' is not in the probe's allowlist: {ALLOWLIST}"}
    assert tree(tmp_path) == {"mountinfo"}  # not even the valid path was touched


def test_long_bad_values_are_clipped_in_messages(client: FlaskClient) -> None:
    bad = "/" + "x" * 200
    message = client.get("/read", query_string={"path": bad}).json["error"]
    assert f"path '{bad[:64]}...' is not in" in message
    assert bad[:65] not in message


def test_at_most_16_path_parameters(client: FlaskClient) -> None:
    response = client.get("/read", query_string={"path": ["/tmp/data"] * 17})
    assert response.status_code == 400
    assert response.json == {"error": "parameter 'path' given 17 times; at most 16 allowed."}
    assert client.get("/read", query_string={"path": ["/tmp/data"] * 16}).status_code == 200


def test_repeated_paths_are_answered_once_in_request_order(client: FlaskClient) -> None:
    query = {"path": ["/var/local/data", "/home/data", "/var/local/data"]}
    response = client.get("/read", query_string=query)
    assert list(response.json["results"]) == ["/var/local/data", "/home/data"]


def test_default_results_follow_the_allowlist_order(
    make_config: Callable[..., Any],
) -> None:
    config = make_config(paths=("/var/local/data", "/home/data", "/tmp/data"))
    response = probe_app.create_app(config).test_client().get("/read")
    assert list(response.json["results"]) == ["/var/local/data", "/home/data", "/tmp/data"]


def test_nothing_is_written_to_the_real_logical_paths(client: FlaskClient, tmp_path: Path) -> None:
    markers = [os.path.join(path, "persistence-test.json") for path in probe.config.DEFAULT_PATHS]
    before = [os.path.lexists(marker) for marker in markers]
    assert client.get("/write").status_code == 200
    assert client.get("/io-latency?iterations=1").status_code == 200
    assert [os.path.lexists(marker) for marker in markers] == before
    assert {entry.split("/")[0] for entry in tree(tmp_path)} == {"mountinfo", "home", "layer"}


def test_head_never_writes_a_marker(client: FlaskClient, tmp_path: Path) -> None:
    """HEAD, which Werkzeug allows wherever GET is, is refused on every endpoint but /health."""
    response = client.head("/write")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert not list(tmp_path.rglob("persistence-test.json"))
    assert client.head("/health").status_code == 200
