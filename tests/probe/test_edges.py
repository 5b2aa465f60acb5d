"""The probe's edges (issue 14): links above the data folder, methods, bodies, shared headroom."""

from __future__ import annotations

import io
import os
import threading
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import TOKEN, probe, probe_app, snapshot

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from flask.testing import FlaskClient

ROUTES = sorted(probe.web._ROUTES)
LINKED = "the folder '/tmp' on the way to the data folder is a symbolic link; it is not followed"


def _error_of(body: dict[str, Any]) -> str:
    """The refusal an endpoint reports for /tmp/data, wherever its answer puts it."""
    if "results" in body:
        result = body["results"]["/tmp/data"]
        assert set(result) == {"path", "error"}, result
        return str(result["error"])
    if "errors" in body:
        assert body["records"] == 0
        return str(body["errors"][0])
    return str(body["error"])


@pytest.mark.parametrize(
    ("endpoint", "query"),
    [
        ("/write", {}),
        ("/read", {}),
        ("/io-latency", {"iterations": "1", "size": "16"}),
        ("/throughput", {"sizes": "1"}),
        ("/append", {"writer": "w", "records": "2"}),
        ("/append-check", {}),
        ("/append-reset", {}),
    ],
)
def test_a_symlinked_ancestor_of_the_data_folder_is_refused(
    client: FlaskClient, data_roots: dict[str, Path], tmp_path: Path, endpoint: str, query: dict
) -> None:
    """A link in place of a folder above the data folder (/tmp of /tmp/data) is never
    followed: every endpoint that opens files refuses it with one error, and changes nothing
    outside."""
    outside = tmp_path / "outside"
    (outside / "data").mkdir(parents=True)
    # What a followed link would reach: a marker to read, an append file to check or remove.
    (outside / "data" / "persistence-test.json").write_text('{"nonce": null}')
    (outside / "data" / "concurrent-append.log").write_text("precious\n")
    data_roots["/"].mkdir()
    (data_roots["/"] / "tmp").symlink_to(outside)
    before = snapshot(tmp_path)
    response = client.get(endpoint, query_string={"path": "/tmp/data", **query})
    assert response.status_code == 200, response.json
    assert _error_of(response.json) == LINKED
    assert snapshot(tmp_path) == before


def test_a_symlinked_mount_root_component_deeper_down_is_refused(
    make_config: Callable[..., Any], data_roots: dict[str, Path], tmp_path: Path
) -> None:
    """A link two folders above the data folder is refused, and named by its logical path."""
    config = make_config(paths=("/var/local/data",))
    client = probe_app.create_app(config).test_client()
    outside = tmp_path / "outside"
    outside.mkdir()
    (data_roots["/"] / "var").mkdir(parents=True)
    (data_roots["/"] / "var" / "local").symlink_to(outside)
    body = client.get("/write").json
    assert body["results"]["/var/local/data"] == {
        "path": "/var/local/data",
        "error": "the folder '/var/local' on the way to the data folder is a symbolic link; "
        "it is not followed",
    }
    assert list(outside.iterdir()) == []


def test_missing_folders_are_still_created_below_the_mount(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    """Walking folder by folder still creates the data folder and its parents on a write."""
    assert client.get("/write").status_code == 200
    for folder in physical.values():
        assert (folder / "persistence-test.json").is_file()
        assert oct(folder.stat().st_mode & 0o777) == oct(0o755 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
@pytest.mark.parametrize("route", ROUTES)
def test_methods_an_endpoint_does_not_serve_answer_405(
    token_client: FlaskClient, tmp_path: Path, method: str, route: str
) -> None:
    """OPTIONS and every method but GET (and HEAD on /health) answer 405 with Allow, with or
    without the token, and touch nothing."""
    before = snapshot(tmp_path)
    for headers in ({"X-Probe-Token": TOKEN}, {}):
        response = token_client.open(route, method=method, headers=headers)
        assert response.status_code == 405, (method, route, response.status_code)
        assert response.json == {"error": f"method {method} is not allowed on {route}; use GET"}
        assert "GET" in response.headers["Allow"]
        assert "OPTIONS" not in response.headers["Allow"]
        assert response.headers["Cache-Control"] == "no-store"
    assert snapshot(tmp_path) == before


def test_the_body_limit_is_the_contracts(make_config: Callable[..., Any]) -> None:
    """Flask's MAX_CONTENT_LENGTH is the contract's REQUEST_BODY_MAX."""
    app = probe_app.create_app(make_config())
    assert app.config["MAX_CONTENT_LENGTH"] == probe.contract.REQUEST_BODY_MAX


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_over_the_limit_answers_413_and_touches_nothing(
    token_client: FlaskClient, tmp_path: Path, route: str
) -> None:
    """The probe takes no body; one over the limit is refused before anything else, also when
    sent chunked, without a length."""
    limit = probe.contract.REQUEST_BODY_MAX
    before = snapshot(tmp_path)
    headers = {"X-Probe-Token": TOKEN}
    too_big = b"x" * (limit + 1)
    response = token_client.get(route, data=too_big, headers=headers)
    assert response.status_code == 413
    assert response.json == {"error": "Request Entity Too Large"}

    # As gunicorn passes a chunked body on: no length, and the stream ends with the body.
    chunked = token_client.get(
        route,
        input_stream=io.BytesIO(too_big),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert chunked.status_code == 413
    assert snapshot(tmp_path) == before
    # A body within the limit is ignored, as before.
    assert token_client.get(route, data=b"x" * limit, headers=headers).status_code != 413
    within = token_client.get(
        route,
        input_stream=io.BytesIO(b"x" * limit),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert within.status_code != 413


def _usage(total_mib: int, free_mib: int) -> os.statvfs_result:
    total, free = total_mib * 256, free_mib * 256
    return os.statvfs_result((4096, 4096, total, free, free, 0, 0, 0, 0, 255))


def test_concurrent_throughput_requests_share_the_headroom(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room for one 1 MiB file beyond the 64 MiB headroom: while one request writes its file,
    a second one at the same time is skipped instead of eating into the headroom."""
    throughput = probe.throughput
    monkeypatch.setattr(os, "fstatvfs", lambda fd: _usage(total_mib=4096, free_mib=65))
    writing, release = threading.Event(), threading.Event()
    real_write = throughput._write_scratch
    calls = []

    def first_write_waits(*args: Any) -> tuple[int, str]:
        calls.append(args)
        if len(calls) == 1:
            writing.set()
            assert release.wait(30), "the test never released the first write"
        return real_write(*args)

    monkeypatch.setattr(throughput, "_write_scratch", first_write_waits)
    app = probe_app.create_app(make_config())
    query = {"path": "/tmp/data", "sizes": "1"}
    answers: list[Any] = []
    first = threading.Thread(
        target=lambda: answers.append(app.test_client().get("/throughput", query_string=query))
    )
    first.start()
    try:
        assert writing.wait(30), "the first request never started writing"
        second = app.test_client().get("/throughput", query_string=query).json
    finally:
        release.set()
        first.join(30)
    assert answers[0].json["results"]["/tmp/data"]["sizes"][0]["checksum_ok"] is True
    assert second["results"]["/tmp/data"]["sizes"] == [
        {
            "size_mib": 1,
            "skipped": "1 MiB plus 64 MiB headroom needed, 65 MiB free, "
            "1 MiB of it reserved by throughput requests under way",
        }
    ]
    # Released when the size is done: a request after both has the room again.
    after = app.test_client().get("/throughput", query_string=query).json
    assert "skipped" not in after["results"]["/tmp/data"]["sizes"][0]
    assert throughput._reserved_mib == {}
