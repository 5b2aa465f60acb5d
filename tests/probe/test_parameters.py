"""Property-based checks of query parameter validation."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from flask.testing import FlaskClient

ALLOWLIST = ("/home/data", "/tmp/data", "/var/local/data")
NONCE_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# Surrogates cannot travel in a URL; everything else can.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
PROPERTY = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SIZE_MESSAGE = re.compile(
    r"parameter 'size' value '.*' must be an integer from 1 to 1048576\.", re.S
)
ITERATIONS_MESSAGE = re.compile(
    r"parameter 'iterations' value '.*' must be an integer from 1 to 100\.", re.S
)


@PROPERTY
@given(size=st.one_of(st.integers(max_value=0), st.integers(min_value=1_048_577)))
def test_any_size_out_of_bounds_is_refused(client: FlaskClient, size: int) -> None:
    response = client.get("/io-latency", query_string={"size": str(size), "iterations": "1"})
    assert response.status_code == 400
    assert SIZE_MESSAGE.fullmatch(response.json["error"])


@PROPERTY
@given(iterations=st.one_of(st.integers(max_value=0), st.integers(min_value=101)))
def test_any_iteration_count_out_of_bounds_is_refused(client: FlaskClient, iterations: int) -> None:
    response = client.get("/io-latency", query_string={"iterations": str(iterations)})
    assert response.status_code == 400
    assert ITERATIONS_MESSAGE.fullmatch(response.json["error"])


@PROPERTY
@given(value=TEXT.filter(lambda text: not re.fullmatch(r"[+-]?[0-9]+", text)))
def test_a_size_that_is_not_an_integer_is_refused(client: FlaskClient, value: str) -> None:
    response = client.get("/io-latency", query_string={"size": value})
    assert response.status_code == 400
    assert SIZE_MESSAGE.fullmatch(response.json["error"])


@PROPERTY
@given(
    size=st.one_of(st.integers(1, 65_536), st.sampled_from([1_048_576])),
    iterations=st.integers(1, 3),
)
def test_any_size_and_count_in_bounds_are_measured(
    client: FlaskClient, size: int, iterations: int
) -> None:
    query = {"size": str(size), "iterations": str(iterations), "path": "/tmp/data"}
    response = client.get("/io-latency", query_string=query)
    assert response.status_code == 200
    assert response.json["payload_bytes"] == size
    result = response.json["results"]["/tmp/data"]
    assert result["iterations"] == iterations
    for kind in ("write_ms", "read_ms"):
        stats = result[kind]
        assert 0 <= stats["min"] <= stats["median"] <= stats["p95"] <= stats["max"]
        assert stats["min"] <= stats["mean"] <= stats["max"]


@PROPERTY
@given(path=TEXT.filter(lambda text: text not in ALLOWLIST))
def test_any_path_outside_the_allowlist_is_refused(client: FlaskClient, path: str) -> None:
    for endpoint in ("/read", "/mount-info"):
        response = client.get(endpoint, query_string={"path": path})
        assert response.status_code == 400
        clipped = path if len(path) <= 64 else path[:64] + "..."
        assert response.json == {
            "error": f"path '{clipped}' is not in the probe's allowlist: {', '.join(ALLOWLIST)}"
        }


@PROPERTY
@given(nonce=st.one_of(TEXT, st.text(sorted(NONCE_ALPHABET), max_size=70)))
def test_a_nonce_is_refused_exactly_when_invalid(client: FlaskClient, nonce: str) -> None:
    valid = 1 <= len(nonce) <= 64 and set(nonce) <= NONCE_ALPHABET
    response = client.get("/read", query_string={"nonce": nonce, "path": "/tmp/data"})
    if valid:
        assert response.status_code == 200
        assert response.json["nonce"] == nonce
    else:
        assert response.status_code == 400
        assert response.json["error"].startswith("parameter 'nonce' value '")
        assert response.json["error"].endswith(
            "use 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'."
        )


@pytest.mark.parametrize(
    ("nonce", "status"),
    [
        ("a" * 64, 200),
        ("Az09_-", 200),
        ("a" * 65, 400),
        ("", 400),
        ("abc\n", 400),
        ("a b", 400),
        ("é", 400),
        ("a/b", 400),
    ],
)
def test_nonce_boundaries(client: FlaskClient, nonce: str, status: int) -> None:
    response = client.get("/read", query_string={"nonce": nonce, "path": "/tmp/data"})
    assert response.status_code == status
