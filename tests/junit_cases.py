"""The live suite in pytester runs: copying it in, and reading its JUnit evidence back (one
dict of properties per case)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

LIVE_SUITE = Path(__file__).resolve().parents[1] / "tests_live"


def copy_live_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """Copy the project's live suite into a pytester folder, with the JUnit family it needs."""
    for source in LIVE_SUITE.glob("test_*.py"):
        pytester.makepyfile(**{source.stem: source.read_text(encoding="utf-8")})
    pytester.makeini("[pytest]\njunit_family = xunit1\n")
    return pytester


def read_junit(path: Path, *, latency: bool = False) -> list[dict[str, str]]:
    """Each testcase of a JUnit file as its properties plus its name, outcome and message.

    Latency and H5 testcases are left out unless asked for: most tests look at the matrix.
    """
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        if props.get("hypothesis") in ("latency", "H5") and not latency:
            continue
        props["_name"] = case.get("name", "")
        props["_outcome"] = next(
            (child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed"
        )
        props["_message"] = next(
            (child.get("message", "") for child in case if child.tag in ("failure", "error")), ""
        )
        cases.append(props)
    return cases


def cell(cases: list[dict[str, str]], event: str, path: str) -> dict[str, str]:
    """The one testcase of a cell."""
    found = [c for c in cases if c.get("event") == event and c.get("path") == path]
    assert len(found) == 1, f"expected one testcase for {event} {path}, found {len(found)}"
    return found[0]
