"""Large-file throughput (H5): /throughput and its configured maximum size."""

from __future__ import annotations

import errno
import os
import re
import tracemalloc
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import HOSTNAME, INSTANCE_ID, TOKEN, probe_app, tree

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from flask.testing import FlaskClient

ALLOWLIST = "/home/data, /tmp/data, /var/local/data"
SIZE_KEYS = {"size_mib", "write_seconds", "read_seconds", "write_mib_s", "read_mib_s"}
PROPERTY = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def make_client(make_config: Callable[..., Any]) -> Callable[[int], FlaskClient]:
    """A test client for a probe whose largest throughput file is the given MiB."""

    def make(max_throughput_mib: int) -> FlaskClient:
        config = make_config(max_throughput_mib=max_throughput_mib)
        client: FlaskClient = probe_app.create_app(config).test_client()
        return client

    return make


def throughput(client: FlaskClient, **query: Any) -> dict[str, Any]:
    """GET /throughput, which must answer 200, and return its JSON body."""
    response = client.get("/throughput", query_string=query)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    assert isinstance(response.json, dict)
    body: dict[str, Any] = response.json
    return body


def test_sizes_are_written_read_back_and_verified(
    make_client: Callable[[int], FlaskClient], physical: dict[str, Path]
) -> None:
    """Each size gets medians of positive times and rates, a good checksum, and no leftovers."""
    body = throughput(make_client(2), path="/tmp/data", sizes="2,1", iterations="3")
    assert (body["instance_id"], body["hostname"]) == (INSTANCE_ID, HOSTNAME)
    assert (body["sizes_mib"], body["iterations"]) == ([2, 1], 3)
    result = body["results"]["/tmp/data"]
    assert (result["path"], result["iterations"]) == ("/tmp/data", 3)
    assert [entry["size_mib"] for entry in result["sizes"]] == [2, 1]
    for entry in result["sizes"]:
        assert set(entry) == SIZE_KEYS | {"checksum_ok"}
        assert entry["checksum_ok"] is True
        for key in SIZE_KEYS - {"size_mib"}:
            assert entry[key] > 0
    assert os.listdir(physical["/tmp/data"]) == []  # every scratch file is gone


def test_defaults_are_one_iteration_of_the_default_sizes_up_to_the_maximum(
    make_client: Callable[[int], FlaskClient],
) -> None:
    """Default sizes are 1, 16 and 128 MiB, leaving out those above the configured maximum."""
    assert throughput(make_client(1), path="/tmp/data")["sizes_mib"] == [1]
    body = throughput(make_client(16), path="/var/local/data")
    assert (body["sizes_mib"], body["iterations"]) == ([1, 16], 1)
    sizes = body["results"]["/var/local/data"]["sizes"]
    assert [(entry["size_mib"], entry["checksum_ok"]) for entry in sizes] == [(1, True), (16, True)]


def test_every_selected_path_is_measured_and_repeats_are_dropped(
    make_client: Callable[[int], FlaskClient],
) -> None:
    """Paths answer in request order, once each; repeated sizes are measured once."""
    query = {"path": ["/home/data", "/tmp/data", "/home/data"], "sizes": "1,1"}
    body = throughput(make_client(1), **query)
    assert body["sizes_mib"] == [1]
    assert list(body["results"]) == ["/home/data", "/tmp/data"]
    for result in body["results"].values():
        assert [entry["checksum_ok"] for entry in result["sizes"]] == [True]


def test_memory_stays_bounded_while_streaming_16_mib(
    make_client: Callable[[int], FlaskClient], physical: dict[str, Path]
) -> None:
    """A 16 MiB write and read peak at a few MiB of Python allocations: the file streams."""
    client = make_client(16)
    tracemalloc.start()
    try:
        body = throughput(client, path="/tmp/data", sizes="16", iterations="2")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert body["results"]["/tmp/data"]["sizes"][0]["checksum_ok"] is True
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes"
    assert os.listdir(physical["/tmp/data"]) == []


def test_a_read_that_differs_from_the_write_fails_the_checksum(
    make_client: Callable[[int], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
    physical: dict[str, Path],
) -> None:
    """The SHA-256 of the bytes read is compared with the one of the bytes written."""
    real_readv = os.readv

    def flipping_readv(fd: int, buffers: list[bytearray]) -> int:
        count = real_readv(fd, buffers)
        if count:
            buffers[0][0] ^= 0xFF
        return count

    monkeypatch.setattr(os, "readv", flipping_readv)
    body = throughput(make_client(1), path="/tmp/data", sizes="1")
    assert body["results"]["/tmp/data"]["sizes"][0]["checksum_ok"] is False
    assert os.listdir(physical["/tmp/data"]) == []


def test_a_failing_read_is_a_per_path_error_and_the_file_is_deleted(
    make_client: Callable[[int], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
    physical: dict[str, Path],
) -> None:
    """An I/O error reports that path only, and its scratch file is still removed."""

    def failing_readv(fd: int, buffers: list[bytearray]) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "readv", failing_readv)
    body = throughput(make_client(1), path=["/tmp/data", "/home/data"], sizes="1")
    for path in ("/tmp/data", "/home/data"):
        assert body["results"][path] == {"path": path, "error": "OSError: Input/output error"}
        assert os.listdir(physical[path]) == []


def _usage(total_mib: int, free_mib: int) -> os.statvfs_result:
    """A statvfs answer for a file system of total_mib with free_mib available (4 KiB blocks)."""
    total, free = total_mib * 256, free_mib * 256
    return os.statvfs_result((4096, 4096, total, free, free, 0, 0, 0, 0, 255))


def test_a_size_that_does_not_fit_is_skipped_and_nothing_is_written(
    make_client: Callable[[int], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
    physical: dict[str, Path],
) -> None:
    """On a big file system the headroom is 64 MiB: 64 MiB free is one MiB short for 1 MiB."""
    monkeypatch.setattr(os, "fstatvfs", lambda fd: _usage(total_mib=4096, free_mib=64))
    body = throughput(make_client(1), path="/home/data", sizes="1")
    assert body["results"]["/home/data"] == {
        "path": "/home/data",
        "iterations": 1,
        "sizes": [
            {"size_mib": 1, "skipped": "1 MiB plus 64 MiB headroom needed, 64 MiB free"},
        ],
    }
    assert os.listdir(physical["/home/data"]) == []


def test_on_a_small_tmpfs_the_sizes_that_fit_are_measured_in_request_order(
    make_client: Callable[[int], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
    physical: dict[str, Path],
) -> None:
    """Docker's 64 MiB /dev/shm: 16 MiB headroom (a quarter), so 30 MiB is skipped between
    two sizes that are measured, and the rows keep the request's order."""
    monkeypatch.setattr(os, "fstatvfs", lambda fd: _usage(total_mib=64, free_mib=20))
    body = throughput(make_client(30), path="/tmp/data", sizes="1,30,2")
    sizes = body["results"]["/tmp/data"]["sizes"]
    assert [row["size_mib"] for row in sizes] == [1, 30, 2]
    assert sizes[1] == {
        "size_mib": 30,
        "skipped": "30 MiB plus 16 MiB headroom needed, 20 MiB free",
    }
    for row in (sizes[0], sizes[2]):
        assert set(row) == SIZE_KEYS | {"checksum_ok"}
        assert row["checksum_ok"] is True
    assert "error" not in body["results"]["/tmp/data"]
    assert os.listdir(physical["/tmp/data"]) == []


def test_free_space_is_checked_again_for_each_size(
    make_client: Callable[[int], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Space that runs out between sizes skips the later ones only; every size is tried."""
    answers = iter([_usage(4096, 100), _usage(4096, 60), _usage(4096, 100)])
    monkeypatch.setattr(os, "fstatvfs", lambda fd: next(answers))
    result = throughput(make_client(3), path="/tmp/data", sizes="1,2,3")["results"]["/tmp/data"]
    assert [("skipped" in row, row["size_mib"]) for row in result["sizes"]] == [
        (False, 1),
        (True, 2),
        (False, 3),
    ]


@pytest.mark.parametrize(
    ("total_mib", "free_mib", "size_mib", "headroom", "fits"),
    [
        (4096, 65, 1, 64, True),  # exactly size + headroom free
        (4096, 64, 1, 64, False),
        (256, 65, 1, 64, True),  # a quarter of 256 MiB is the full 64 MiB
        (255, 64, 1, 63, True),  # a quarter of 255 MiB, rounded down
        (64, 17, 1, 16, True),
        (64, 16, 1, 16, False),
        (3, 3, 3, 0, True),  # under 4 MiB the headroom is nothing
        (3, 2, 3, 0, False),
    ],
)
def test_the_headroom_is_64_mib_or_a_quarter_of_the_file_system(
    make_client: Callable[[int], FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
    total_mib: int,
    free_mib: int,
    size_mib: int,
    headroom: int,
    fits: bool,
) -> None:
    """A size is measured exactly when size + min(64 MiB, total / 4) fits in the free space."""
    monkeypatch.setattr(os, "fstatvfs", lambda fd: _usage(total_mib, free_mib))
    body = throughput(make_client(size_mib), path="/tmp/data", sizes=str(size_mib))
    row = body["results"]["/tmp/data"]["sizes"][0]
    if fits:
        assert row["checksum_ok"] is True
    else:
        assert row == {
            "size_mib": size_mib,
            "skipped": f"{size_mib} MiB plus {headroom} MiB headroom needed, {free_mib} MiB free",
        }


def test_a_symlinked_data_directory_is_refused(
    make_client: Callable[[int], FlaskClient], data_roots: dict[str, Path], tmp_path: Path
) -> None:
    """Throughput never writes through a link planted in place of the data folder."""
    outside = tmp_path / "outside"
    outside.mkdir()
    data_roots["/home"].mkdir()
    (data_roots["/home"] / "data").symlink_to(outside)
    body = throughput(make_client(1), path="/home/data", sizes="1")
    assert body["results"]["/home/data"] == {
        "path": "/home/data",
        "error": "the data folder is a symbolic link; it is not followed",
    }
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("path=/tmp/data&sizes=3", "parameter 'sizes' value '3' must be an integer from 1 to 2."),
        (
            "path=/tmp/data&sizes=1,2,3",
            "parameter 'sizes' value '3' must be an integer from 1 to 2.",
        ),
        ("path=/tmp/data&sizes=0", "parameter 'sizes' value '0' must be an integer from 1 to 2."),
        ("path=/tmp/data&sizes=", "parameter 'sizes' value '' must be an integer from 1 to 2."),
        ("path=/tmp/data&sizes=1,,2", "parameter 'sizes' value '' must be an integer from 1 to 2."),
        (
            "path=/tmp/data&sizes=1.5",
            "parameter 'sizes' value '1.5' must be an integer from 1 to 2.",
        ),
        (
            "path=/tmp/data&sizes=1%20",
            "parameter 'sizes' value '1 ' must be an integer from 1 to 2.",
        ),
        (
            "path=/tmp/data&sizes=1,1,1,1,1,1,1,1,1",
            "parameter 'sizes' lists 9 sizes; give 1 to 8 comma-separated integers.",
        ),
        (
            "path=/tmp/data&sizes=1&sizes=2",
            "parameter 'sizes' may be given once, got 2 values.",
        ),
        (
            "path=/tmp/data&iterations=0",
            "parameter 'iterations' value '0' must be an integer from 1 to 5.",
        ),
        (
            "path=/tmp/data&iterations=6",
            "parameter 'iterations' value '6' must be an integer from 1 to 5.",
        ),
        ("sizes=1", f"parameter 'path' is required; give one or more of: {ALLOWLIST}"),
        ("path=/etc", f"path '/etc' is not in the probe's allowlist: {ALLOWLIST}"),
        (
            "path=/tmp/data&path=/home/data/..",
            f"path '/home/data/..' is not in the probe's allowlist: {ALLOWLIST}",
        ),
        (
            "path=/tmp/data&size=1",
            "unknown query parameter(s) 'size'; valid for /throughput: path, sizes, iterations.",
        ),
    ],
)
def test_invalid_parameters_are_refused_and_nothing_is_written(
    make_client: Callable[[int], FlaskClient], tmp_path: Path, query: str, message: str
) -> None:
    """Each bad parameter answers 400 naming it, the value and what is valid."""
    response = make_client(2).get(f"/throughput?{query}")
    assert response.status_code == 400
    assert response.json == {"error": message}
    assert tree(tmp_path) == {"mountinfo"}


@PROPERTY
@given(maximum=st.integers(1, 1024), excess=st.integers(1, 10**6))
def test_any_size_over_the_configured_maximum_is_refused(
    make_client: Callable[[int], FlaskClient], tmp_path: Path, maximum: int, excess: int
) -> None:
    """Whatever the configured maximum, one MiB more is refused with that range."""
    size = maximum + excess
    response = make_client(maximum).get(f"/throughput?path=/tmp/data&sizes=1,{size}")
    assert response.status_code == 400
    assert response.json == {
        "error": f"parameter 'sizes' value '{size}' must be an integer from 1 to {maximum}."
    }
    assert tree(tmp_path) == {"mountinfo"}


def test_the_token_is_required(
    make_config: Callable[..., Any], tmp_path: Path, physical: dict[str, Path]
) -> None:
    """Without the token nothing is written; with it the sizes are measured."""
    client = probe_app.create_app(make_config(token=TOKEN, max_throughput_mib=1)).test_client()
    url = "/throughput?path=/home/data&sizes=1"
    for headers in ({}, {"X-Probe-Token": "wrong"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json == {"error": "missing or invalid probe token"}
    assert tree(tmp_path) == {"mountinfo"}
    response = client.get(url, headers={"X-Probe-Token": TOKEN})
    assert response.status_code == 200
    assert response.json["results"]["/home/data"]["sizes"][0]["checksum_ok"] is True
    assert TOKEN not in response.get_data(as_text=True)
    assert os.listdir(physical["/home/data"]) == []


def test_max_throughput_defaults_to_128_mib(tmp_path: Path) -> None:
    """Without PROBE_MAX_THROUGHPUT_MIB, or with it blank, the maximum is 128 MiB."""
    assert probe_app.ProbeConfig().max_throughput_mib == 128
    for environ in ({}, {"PROBE_MAX_THROUGHPUT_MIB": " "}):
        config = probe_app.ProbeConfig.from_environ(environ, app_dir=str(tmp_path))
        assert config.max_throughput_mib == 128


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), (" 64 ", 64), ("1024", 1024)])
def test_max_throughput_is_read_from_the_environment(
    tmp_path: Path, raw: str, expected: int
) -> None:
    """PROBE_MAX_THROUGHPUT_MIB lowers or raises the maximum within 1 to 1024."""
    environ = {"PROBE_MAX_THROUGHPUT_MIB": raw}
    config = probe_app.ProbeConfig.from_environ(environ, app_dir=str(tmp_path))
    assert config.max_throughput_mib == expected


@pytest.mark.parametrize("raw", ["0", "1025", "-1", "12MiB", "1e3", "9" * 40])
def test_an_invalid_max_throughput_setting_is_refused(tmp_path: Path, raw: str) -> None:
    """A value outside 1 to 1024 fails at start-up, naming the setting and the range."""
    with pytest.raises(ValueError, match="PROBE_MAX_THROUGHPUT_MIB is '") as info:
        probe_app.ProbeConfig.from_environ({"PROBE_MAX_THROUGHPUT_MIB": raw}, app_dir=str(tmp_path))
    assert str(info.value).endswith("; give an integer from 1 to 1024 (MiB).")


@pytest.mark.parametrize("value", [0, 1025, True, 1.5, "16"])
def test_an_invalid_max_throughput_field_is_refused(value: object) -> None:
    """ProbeConfig itself refuses a maximum that is not an integer from 1 to 1024."""
    message = re.escape(
        f"ProbeConfig.max_throughput_mib is {value!r}; give an integer from 1 to 1024."
    )
    with pytest.raises(ValueError, match=message):
        probe_app.ProbeConfig(max_throughput_mib=value)
