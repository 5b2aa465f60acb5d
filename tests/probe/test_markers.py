"""Writing and reading markers: content, checksums, nonces, and hostile file systems."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import HOSTNAME, INSTANCE_ID, PID, probe_app

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from flask.testing import FlaskClient

PATHS = ["/home/data", "/tmp/data", "/var/local/data"]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def write(client: FlaskClient, **query: Any) -> dict[str, Any]:
    response = client.get("/write", query_string=query)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json
    return body


def read(client: FlaskClient, **query: Any) -> dict[str, Any]:
    response = client.get("/read", query_string=query)
    assert response.status_code == 200
    body: dict[str, Any] = response.json
    return body


def test_write_stores_payload_and_checksum_in_every_path(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    body = write(client, nonce="run-1")
    assert body["action"] == "write"
    assert body["instance_id"] == INSTANCE_ID
    assert body["hostname"] == HOSTNAME
    assert body["nonce"] == "run-1"
    assert list(body["results"]) == PATHS
    for path, result in body["results"].items():
        folder = physical[path]
        data = (folder / "persistence-test.json").read_bytes()
        assert result["path"] == path
        assert result["checksum"] == hashlib.sha256(data).hexdigest()
        assert (folder / "persistence-test.sha256").read_text() == result["checksum"]
        assert json.loads(data) == result["payload"]
        payload = result["payload"]
        assert set(payload) == {
            "instance_id",
            "hostname",
            "pid",
            "timestamp_utc",
            "marker",
            "nonce",
        }
        assert (payload["instance_id"], payload["hostname"], payload["pid"]) == (
            INSTANCE_ID,
            HOSTNAME,
            PID,
        )
        assert payload["nonce"] == "run-1"
        assert TIMESTAMP.fullmatch(payload["timestamp_utc"])
        # Only the two marker files remain: no temporary file is left behind.
        assert sorted(os.listdir(folder)) == ["persistence-test.json", "persistence-test.sha256"]
        assert folder.stat().st_mode & 0o777 == 0o755 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_every_write_is_unique(client: FlaskClient) -> None:
    first = write(client, path="/tmp/data")["results"]["/tmp/data"]
    second = write(client, path="/tmp/data")["results"]["/tmp/data"]
    assert first["payload"]["marker"] != second["payload"]["marker"]
    assert first["checksum"] != second["checksum"]


def test_write_without_nonce_stores_null(client: FlaskClient) -> None:
    body = write(client, path="/home/data")
    assert body["nonce"] is None
    assert body["results"]["/home/data"]["payload"]["nonce"] is None


def test_write_touches_only_the_selected_path(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    assert list(write(client, path="/var/local/data")["results"]) == ["/var/local/data"]
    assert (physical["/var/local/data"] / "persistence-test.json").exists()
    assert not physical["/home/data"].exists()
    assert not physical["/tmp/data"].exists()


def test_read_before_any_write_finds_nothing(client: FlaskClient) -> None:
    body = read(client, nonce="n1")
    assert body["action"] == "read"
    assert body["nonce"] == "n1"
    assert body["results"] == {path: {"path": path, "exists": False} for path in PATHS}


def test_read_after_write_verifies_checksum_and_nonce(client: FlaskClient) -> None:
    written = write(client, nonce="run-1")["results"]
    body = read(client, nonce="run-1")
    assert (body["instance_id"], body["hostname"]) == (INSTANCE_ID, HOSTNAME)
    for path in PATHS:
        checksum = written[path]["checksum"]
        assert body["results"][path] == {
            "path": path,
            "exists": True,
            "payload": written[path]["payload"],
            "checksum_valid": True,
            "actual_checksum": checksum,
            "stored_checksum": checksum,
            "nonce_matches": True,
        }


def test_read_with_another_nonce_does_not_match(client: FlaskClient) -> None:
    write(client, nonce="run-1")
    result = read(client, nonce="run-2", path="/home/data")["results"]["/home/data"]
    assert result["checksum_valid"] is True
    assert result["nonce_matches"] is False


def test_read_without_nonce_reports_no_nonce_match(client: FlaskClient) -> None:
    write(client, nonce="run-1")
    result = read(client, path="/home/data")["results"]["/home/data"]
    assert result["exists"] is True
    assert "nonce_matches" not in result


def test_a_marker_written_without_nonce_never_matches_one(client: FlaskClient) -> None:
    write(client)
    assert read(client, nonce="run-1")["results"]["/tmp/data"]["nonce_matches"] is False


def test_a_corrupted_payload_fails_the_checksum(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    written = write(client, nonce="run-1")["results"]["/home/data"]
    marker = physical["/home/data"] / "persistence-test.json"
    corrupted = marker.read_bytes().replace(b'"pid": 4242', b'"pid": 4243')
    marker.write_bytes(corrupted)
    result = read(client, nonce="run-1", path="/home/data")["results"]["/home/data"]
    assert result["checksum_valid"] is False
    assert result["stored_checksum"] == written["checksum"]
    assert result["actual_checksum"] == hashlib.sha256(corrupted).hexdigest()
    assert result["payload"]["pid"] == 4243
    assert result["nonce_matches"] is True


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_00])
def test_a_marker_that_is_not_a_json_object_has_a_null_payload(
    client: FlaskClient, physical: dict[str, Path], content: bytes
) -> None:
    write(client, path="/tmp/data")
    (physical["/tmp/data"] / "persistence-test.json").write_bytes(content)
    result = read(client, nonce="x", path="/tmp/data")["results"]["/tmp/data"]
    assert result["exists"] is True
    assert result["payload"] is None
    assert result["checksum_valid"] is False
    assert result["actual_checksum"] == hashlib.sha256(content).hexdigest()
    assert result["nonce_matches"] is False


def test_a_missing_checksum_file_is_reported_as_null(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    write(client, path="/tmp/data")
    (physical["/tmp/data"] / "persistence-test.sha256").unlink()
    result = read(client, path="/tmp/data")["results"]["/tmp/data"]
    assert result["exists"] is True
    assert result["stored_checksum"] is None
    assert result["checksum_valid"] is False


def test_a_stale_marker_from_an_earlier_run_is_intact_but_not_ours(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    payload = json.dumps({"instance_id": "0" * 64, "marker": "old", "nonce": "earlier"}).encode()
    folder = physical["/home/data"]
    folder.mkdir(parents=True)
    (folder / "persistence-test.json").write_bytes(payload)
    (folder / "persistence-test.sha256").write_text(hashlib.sha256(payload).hexdigest() + "\n")
    result = read(client, nonce="current", path="/home/data")["results"]["/home/data"]
    assert result["checksum_valid"] is True
    assert result["nonce_matches"] is False
    assert result["payload"]["marker"] == "old"


def test_a_marker_mixed_from_two_writes_fails_the_checksum(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    folder = physical["/tmp/data"]
    write(client, nonce="first", path="/tmp/data")
    old_marker = (folder / "persistence-test.json").read_bytes()
    write(client, nonce="second", path="/tmp/data")
    (folder / "persistence-test.json").write_bytes(old_marker)
    result = read(client, nonce="first", path="/tmp/data")["results"]["/tmp/data"]
    assert result["checksum_valid"] is False
    assert result["nonce_matches"] is True


@pytest.mark.parametrize("name", ["persistence-test.json", "persistence-test.sha256"])
def test_write_replaces_a_planted_symlink_instead_of_following_it(
    client: FlaskClient, physical: dict[str, Path], tmp_path: Path, name: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = physical["/tmp/data"]
    folder.mkdir(parents=True)
    (folder / name).symlink_to(victim)
    result = write(client, path="/tmp/data")["results"]["/tmp/data"]
    assert "error" not in result
    assert victim.read_text() == "precious"
    assert not (folder / name).is_symlink()
    assert read(client, path="/tmp/data")["results"]["/tmp/data"]["checksum_valid"] is True


@pytest.mark.parametrize("name", ["persistence-test.json", "persistence-test.sha256"])
def test_read_refuses_a_planted_symlink(
    client: FlaskClient, physical: dict[str, Path], tmp_path: Path, name: str
) -> None:
    write(client, path="/tmp/data")
    folder = physical["/tmp/data"]
    target = tmp_path / "elsewhere"
    (folder / name).rename(target)
    (folder / name).symlink_to(target)
    result = read(client, path="/tmp/data")["results"]["/tmp/data"]
    assert result == {"path": "/tmp/data", "error": "OSError: Too many levels of symbolic links"}


def test_a_symlinked_data_directory_is_refused(
    client: FlaskClient, data_roots: dict[str, Path], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (data_roots["/home"]).mkdir()
    (data_roots["/home"] / "data").symlink_to(outside)
    refused = {
        "path": "/home/data",
        "error": "the data folder is a symbolic link; it is not followed",
    }
    assert write(client, path="/home/data")["results"]["/home/data"] == refused
    assert read(client, path="/home/data")["results"]["/home/data"] == refused
    latency = client.get("/io-latency?path=/home/data&iterations=1").json
    assert latency["results"]["/home/data"] == refused
    assert list(outside.iterdir()) == []


def test_an_oversized_marker_is_not_read(client: FlaskClient, physical: dict[str, Path]) -> None:
    write(client, path="/tmp/data")
    (physical["/tmp/data"] / "persistence-test.json").write_bytes(b" " * (64 * 1024 + 1))
    result = read(client, path="/tmp/data")["results"]["/tmp/data"]
    assert result == {"path": "/tmp/data", "error": "marker file larger than 65536 bytes"}


def test_a_marker_of_exactly_64_kib_is_read(client: FlaskClient, physical: dict[str, Path]) -> None:
    write(client, path="/tmp/data")
    (physical["/tmp/data"] / "persistence-test.json").write_bytes(b" " * (64 * 1024))
    assert read(client, path="/tmp/data")["results"]["/tmp/data"]["exists"] is True


def test_a_fifo_at_the_marker_name_does_not_hang_the_read(
    client: FlaskClient, physical: dict[str, Path]
) -> None:
    physical["/tmp/data"].mkdir(parents=True)
    os.mkfifo(physical["/tmp/data"] / "persistence-test.json")
    result = read(client, path="/tmp/data")["results"]["/tmp/data"]
    assert result == {"path": "/tmp/data", "error": "persistence-test.json is not a regular file"}


def test_a_failing_path_does_not_stop_the_others(
    client: FlaskClient, data_roots: dict[str, Path], physical: dict[str, Path]
) -> None:
    data_roots["/"].mkdir()
    (data_roots["/"] / "tmp").write_text("a file where a folder should be")
    results = write(client, nonce="n")["results"]
    assert results["/tmp/data"] == {
        "path": "/tmp/data",
        "error": "NotADirectoryError: Not a directory",
        "errno": "ENOTDIR",
    }
    assert "checksum" in results["/home/data"]
    assert "checksum" in results["/var/local/data"]
    read_back = read(client, nonce="n")["results"]
    assert read_back["/tmp/data"] == {
        "path": "/tmp/data",
        "error": "NotADirectoryError: Not a directory",
    }
    assert read_back["/home/data"]["nonce_matches"] is True


def test_write_reports_the_configured_identity_not_the_real_one(
    make_config: Callable[..., Any],
) -> None:
    config = make_config(instance_id=None, hostname="other-host", pid=7)
    payload = write(probe_app.create_app(config).test_client(), path="/tmp/data")
    assert payload["instance_id"] is None
    assert payload["results"]["/tmp/data"]["payload"]["hostname"] == "other-host"
    assert payload["results"]["/tmp/data"]["payload"]["pid"] == 7


def _fsync_failing_on_directories(code: int) -> Callable[[int], None]:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    return fsync


def test_a_file_system_without_directory_fsync_still_gets_markers(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", _fsync_failing_on_directories(errno.EINVAL))
    result = write(client, nonce="n", path="/home/data")["results"]["/home/data"]
    assert "checksum" in result
    assert read(client, nonce="n", path="/home/data")["results"]["/home/data"]["nonce_matches"]


def test_a_real_directory_fsync_failure_is_reported(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", _fsync_failing_on_directories(errno.EIO))
    result = write(client, path="/home/data")["results"]["/home/data"]
    assert result == {
        "path": "/home/data",
        "error": "OSError: Input/output error",
        "errno": "EIO",
    }
