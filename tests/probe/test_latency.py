"""I/O latency: statistics, bounds and per-path results."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from .conftest import HOSTNAME, INSTANCE_ID, probe

if TYPE_CHECKING:
    from pathlib import Path

    from flask.testing import FlaskClient

STAT_KEYS = {"min", "max", "median", "mean", "p95"}


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([2.5], {"min": 2.5, "max": 2.5, "median": 2.5, "mean": 2.5, "p95": 2.5}),
        ([5, 1, 4, 2, 3], {"min": 1, "max": 5, "median": 3, "mean": 3, "p95": 5}),
        ([4, 1], {"min": 1, "max": 4, "median": 2.5, "mean": 2.5, "p95": 4}),
        (list(range(1, 21)), {"min": 1, "max": 20, "median": 10.5, "mean": 10.5, "p95": 19}),
        (list(range(1, 101)), {"min": 1, "max": 100, "median": 50.5, "mean": 50.5, "p95": 95}),
    ],
)
def test_latency_stats_use_nearest_rank_p95(
    samples: list[float], expected: dict[str, float]
) -> None:
    assert probe.latency.latency_stats(samples) == expected


def test_io_latency_defaults(client: FlaskClient, physical: dict[str, Path]) -> None:
    response = client.get("/io-latency")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert (body["instance_id"], body["hostname"]) == (INSTANCE_ID, HOSTNAME)
    assert body["payload_bytes"] == 4096
    assert list(body["results"]) == ["/home/data", "/tmp/data", "/var/local/data"]
    for path, result in body["results"].items():
        assert result["path"] == path
        assert result["iterations"] == 10
        for kind in ("write_ms", "read_ms"):
            stats = result[kind]
            assert set(stats) == STAT_KEYS
            assert 0 <= stats["min"] <= stats["median"] <= stats["p95"] <= stats["max"]
            assert stats["min"] <= stats["mean"] <= stats["max"]
        assert os.listdir(physical[path]) == []  # the scratch file is gone


def test_io_latency_honours_size_iterations_and_path(client: FlaskClient) -> None:
    body = client.get("/io-latency?size=1048576&iterations=2&path=/tmp/data").json
    assert body["payload_bytes"] == 1_048_576
    assert list(body["results"]) == ["/tmp/data"]
    assert body["results"]["/tmp/data"]["iterations"] == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("size=0", "parameter 'size' value '0' must be an integer from 1 to 1048576."),
        ("size=1048577", "parameter 'size' value '1048577' must be an integer from 1 to 1048576."),
        ("size=4k", "parameter 'size' value '4k' must be an integer from 1 to 1048576."),
        ("size=", "parameter 'size' value '' must be an integer from 1 to 1048576."),
        ("size=1.5", "parameter 'size' value '1.5' must be an integer from 1 to 1048576."),
        ("iterations=0", "parameter 'iterations' value '0' must be an integer from 1 to 100."),
        ("iterations=101", "parameter 'iterations' value '101' must be an integer from 1 to 100."),
        ("iterations=-1", "parameter 'iterations' value '-1' must be an integer from 1 to 100."),
    ],
)
def test_io_latency_refuses_out_of_range_values(
    client: FlaskClient, tmp_path: Path, query: str, message: str
) -> None:
    response = client.get(f"/io-latency?{query}")
    assert response.status_code == 400
    assert response.json == {"error": message}
    assert [entry.name for entry in tmp_path.iterdir()] == ["mountinfo"]


def test_io_latency_reports_a_failing_path_and_measures_the_others(
    client: FlaskClient, data_roots: dict[str, Path]
) -> None:
    data_roots["/home"].mkdir()
    (data_roots["/home"] / "data").write_text("not a folder")
    results = client.get("/io-latency?iterations=1").json["results"]
    assert results["/home/data"] == {"path": "/home/data", "error": "FileExistsError: File exists"}
    assert results["/tmp/data"]["iterations"] == 1
