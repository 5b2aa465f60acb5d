"""Reading JUnit files, artifacts of other CI jobs and so untrusted: within MAX_JUNIT_BYTES,
parsed as a stream into testcases (no element tree is kept, a testcase's properties are
counted), with a DOCTYPE refused before its entities are declared: pytest never writes one,
and a file that has one wants entity expansion (billion laughs) or external entities, which a
report has no use for. Any bound crossed is a ReportError, one sentence naming the file, the
value and what is valid; the records' counts are bounded where they are read (values.py).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from pytest_appservice_fs.reports.runs import (
    Case,
    MiB,
    ReportError,
    RunReport,
    read_limited,
    run_from_cases,
)

#: The largest JUnit file read, in bytes; a run's is a few hundred KiB.
MAX_JUNIT_BYTES = 64 * MiB
#: The most properties one testcase may carry: a record's head and facts, and up to
#: MAX_ENTRIES (1000) writers of 8 properties each.
MAX_PROPERTIES = 10_000
#: JUnit's elements for outcomes other than a pass, and what the report calls them.
_OUTCOMES = {"failure": "failed", "error": "error", "skipped": "skipped"}
#: Bytes fed to the parser at a time, so that a refusal comes before the rest is parsed.
_CHUNK = MiB


def read_junit(path: Path) -> RunReport:
    """The report of the run a JUnit file describes; ReportError in one sentence when it
    cannot be read, is over MAX_JUNIT_BYTES, is not XML, has a DOCTYPE, is no JUnit file, or
    its testcases are no records."""
    target = _JUnitTarget(str(path))
    parser = ET.XMLParser(target=target)  # noqa: S314 - the target refuses a DOCTYPE
    data = memoryview(read_limited(path, MAX_JUNIT_BYTES, str(path)))
    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start : start + _CHUNK])
        parser.close()
    except ET.ParseError as exc:
        raise ReportError(f"{path} is not XML ({exc}).") from None
    cases = [Case(c.name, c.outcome or "passed", c.properties) for c in target.cases]
    return run_from_cases(cases, str(path))


@dataclass
class _OpenCase:
    name: str
    outcome: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    count: int = 0


class _JUnitTarget:
    """The parser's target: testcases as they are read, their properties (at any depth) and
    outcome (a direct child); refuses a DOCTYPE, a root other than JUnit's, and more than
    MAX_PROPERTIES properties in a testcase, as soon as it sees them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.cases: list[_OpenCase] = []
        self._open: list[_OpenCase] = []
        self._tags: list[str] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if not self._tags and tag not in ("testsuites", "testsuite"):
            raise ReportError(f"{self.source} is not a JUnit file (its root is <{tag}>).")
        parent = self._tags[-1] if self._tags else ""
        self._tags.append(tag)
        if tag == "testcase":
            name = f"{attrib.get('classname', '')}.{attrib.get('name', '')}".strip(".")
            self._open.append(_OpenCase(name))
            self.cases.append(self._open[-1])
        elif self._open and tag == "property":
            case = self._open[-1]
            case.count += 1
            if case.count > MAX_PROPERTIES:
                raise ReportError(
                    f"{self.source}: testcase {case.name!r} has {case.count} properties or more; "
                    f"a testcase has at most {MAX_PROPERTIES}."
                )
            case.properties[attrib.get("name", "")] = attrib.get("value", "")
        elif self._open and parent == "testcase" and tag in _OUTCOMES:
            self._open[-1].outcome = self._open[-1].outcome or _OUTCOMES[tag]

    def end(self, tag: str) -> None:
        self._tags.pop()
        if tag == "testcase":
            self._open.pop()

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise ReportError(
            f"{self.source} declares a DOCTYPE ({name}); a JUnit file has none, and a report "
            "reads no DTD or entity."
        )

    def close(self) -> None:
        return None
