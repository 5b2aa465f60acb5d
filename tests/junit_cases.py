"""The live suite in pytester runs: copying it in, and reading its JUnit evidence back (one
dict of properties per case)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.engine.expectations import Expectations, PathCell, matrix_for
from pytest_appservice_fs.engine.model import Event

LIVE_SUITE = Path(__file__).resolve().parents[1] / "pytest_appservice_fs" / "suite"
#: The events the lab fired: most plugin tests run just these, to stay focused and fast.
LAB_EVENTS_ARG = ("--events", "restart,stop_start,deploy,scale_out")
#: Testcases that are measurements, not matrix cells.
MEASUREMENTS = ("latency", "H5", "H4")


def suite_hypotheses() -> list[str]:
    """The hypotheses the live suite's test files are parametrized over."""
    found = []
    for source in sorted(LIVE_SUITE.glob("test_*.py")):
        found += re.findall(r'appservice_cells\("([^"]+)"\)', source.read_text(encoding="utf-8"))
    return found


def live_outcomes(
    events: Iterable[Event] = tuple(Event),
    *,
    matrix: Expectations | None = None,
    unsupported: Mapping[Event, str] = FakeBackend.unsupported,
    failed: int = 0,
) -> dict[str, int]:
    """What a live run on the fake backend should report: every testcase the suite has for
    ``events``, the cells of events the backend cannot fire skipped, ``failed`` of the rest
    failing. Counted from the matrix, so a new cell does not need every count edited."""
    matrix = matrix or matrix_for("fake")
    chosen = tuple(events)
    ran = skipped = 0
    for hypothesis in suite_hypotheses():
        cells = matrix.cells(hypothesis, chosen)
        if not cells:
            skipped += 1  # "HYPOTHESIS has no cell for the events chosen"
            continue
        cannot = sum(1 for c in cells if getattr(c, "event", None) in unsupported)
        ran += len(cells) - cannot
        skipped += cannot
    return {"passed": ran - failed, "skipped": skipped, "failed": failed}


def matrix_cells(events: Iterable[Event], matrix: Expectations | None = None) -> int:
    """How many path and container cells the matrix has for ``events``."""
    matrix = matrix or matrix_for("fake")
    chosen = set(events)
    paths = [c for c in matrix.paths if c.event in chosen]
    return len(paths) + len([c for c in matrix.containers if c.event in chosen])


def home_cells(events: Iterable[Event], matrix: Expectations | None = None) -> list[PathCell]:
    """The path cells on the /home share for ``events``."""
    matrix = matrix or matrix_for("fake")
    chosen = set(events)
    return [c for c in matrix.paths if c.event in chosen and c.path.startswith("/home/")]


def copy_live_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """Copy the project's live suite into a pytester folder, with the JUnit family it needs."""
    for source in LIVE_SUITE.glob("test_*.py"):
        pytester.makepyfile(**{source.stem: source.read_text(encoding="utf-8")})
    pytester.makeini("[pytest]\njunit_family = xunit1\n")
    return pytester


def read_junit(path: Path, *, latency: bool = False, skipped: bool = False) -> list[dict[str, str]]:
    """Each testcase of a JUnit file as its properties plus its name, outcome and message.

    Measurements (latency, H4, H5) and skipped testcases are left out unless asked for: most
    tests look at the matrix cells that ran.
    """
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        if props.get("hypothesis") in MEASUREMENTS and not latency:
            continue
        if case.find("skipped") is not None and not skipped:
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
