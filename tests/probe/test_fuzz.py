"""Every endpoint's parameters fuzzed with hostile values: never a 5xx, never a file outside.

Each endpoint gets about 50 examples of any of its parameters (and unknown ones), each given
0 to 6 times, with values such as '..', absolute paths outside the allowlist, NUL, very long
strings, unicode and huge or negative numbers. A link planted above one allowlisted folder
(/var/local) points at a folder outside, which must stay as it was.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import TOKEN, probe, probe_app, snapshot

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Examples run per endpoint (recorded as the JUnit property 'examples').
EXAMPLES: Counter[str] = Counter()

HOSTILE = [
    "..",
    "../..",
    "/",
    "/etc",
    "/etc/passwd",
    "/home",
    "/home/data/",
    "/home/data/..",
    "/home/data/../../etc",
    "/tmp/data/./x",
    "//tmp/data",
    "/tmp/data\x00",
    "\x00",
    "",
    " ",
    ".",
    ".hidden",
    "persistence-test.json",
    "persistence-test.sha256",
    "concurrent-append.log",
    "a/b",
    "w",
    "flock",
    "none",
    "1",
    "0",
    "-1",
    "1,1,1",
    "1," * 40,
    "9" * 40,
    "1e3",
    "0x10",
    "\uff12",  # a fullwidth digit 2: int() would take it, the probe must not
    "x" * 10_000,
    "/" + "a/" * 2000,
    "ü/../é",
]
NUMBERS = st.integers(min_value=-(2**80), max_value=2**80).map(str)
VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(["/home/data", "/tmp/data", "/var/local/data"]),
    NUMBERS,
    st.text(st.characters(exclude_categories=["Cs"]), max_size=80),
)


def _queries(endpoint: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = [*probe.web._ROUTES[endpoint][1], "bogus", "Path"]
    return st.lists(st.tuples(st.sampled_from(names), VALUES), max_size=6)


@pytest.mark.parametrize("endpoint", sorted(probe.web._ROUTES))
def test_fuzzed_parameters_never_answer_5xx_nor_touch_anything_outside(
    make_config: Callable[..., Any],
    data_roots: dict[str, Path],
    physical: dict[str, Path],
    tmp_path: Path,
    endpoint: str,
    record_property: Callable[[str, object], None],
) -> None:
    """Whatever the parameters, the answer is below 500 and only allowlisted folders change."""
    client = probe_app.create_app(make_config(token=TOKEN, max_throughput_mib=1)).test_client()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("precious")
    (data_roots["/"] / "var").mkdir(parents=True)
    (data_roots["/"] / "var" / "local").symlink_to(outside)
    allowed = [physical["/home/data"], physical["/tmp/data"]]
    # The folders a write creates on the way to an allowlisted one may appear too.
    created = {str(parent) for folder in allowed for parent in folder.parents}

    def outside_allowlist() -> dict[str, str]:
        return {
            path: what
            for path, what in snapshot(tmp_path).items()
            if path not in created
            and not any(path == str(folder) or path.startswith(f"{folder}/") for folder in allowed)
        }

    before = outside_allowlist()

    @FUZZ
    @given(query=_queries(endpoint))
    def fuzz(query: list[tuple[str, str]]) -> None:
        EXAMPLES[endpoint] += 1
        response = client.get(endpoint, query_string=query, headers={"X-Probe-Token": TOKEN})
        assert response.status_code < 500, (query, response.json)
        assert isinstance(response.json, dict)
        assert outside_allowlist() == before, query

    fuzz()
    record_property("examples", EXAMPLES[endpoint])
    assert EXAMPLES[endpoint] >= 25  # hypothesis ran (it stops early only when it runs out)
