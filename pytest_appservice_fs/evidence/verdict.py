"""One verdict for every kind of evidence: the record a testcase writes, and whether it passed."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_appservice_fs.evidence.records import SKIPPED, Properties, Record

#: ``observed`` when nothing can be concluded (the event was not proven, a count is missing).
INCONCLUSIVE = "inconclusive"
#: ``expected`` of a cell that records what was seen and never fails on it.
OBSERVE = "observe"


@dataclass(frozen=True)
class Verdict:
    """The judged outcome of one testcase and everything a reader needs to believe it: the
    record (written as JUnit properties; its class says the kind of evidence) and whether the
    test passes."""

    record: Record
    passed: bool

    def __repr__(self) -> str:
        record = self.record
        return (
            f"Verdict({record.hypothesis} {record.event} {record.path}: expected "
            f"{record.expected}, observed {record.observed}, "
            f"{'passed' if self.passed else 'failed'})"
        )

    @property
    def expected(self) -> str:
        """What the matrix expects (``measured`` for a measurement)."""
        return self.record.expected

    @property
    def observed(self) -> str:
        """What was observed, in the matrix's terms."""
        return self.record.observed

    @property
    def explanation(self) -> str:
        """Why: the story of the evidence in one sentence (the test's failure message)."""
        return self.record.explanation

    @property
    def skipped(self) -> bool:
        """The backend could not fire the cell's event: nothing was judged (the explanation
        says why)."""
        return self.record.observed == SKIPPED

    @property
    def properties(self) -> Properties:
        """The record's JUnit properties, in their order."""
        return self.record.to_properties()


def as_expected(record: Record) -> bool:
    """A matrix cell's rule: proven and equal to the expectation; an ``observe`` cell passes
    whenever the event was proven (what was seen is the evidence)."""
    if record.observed == INCONCLUSIVE:
        return False
    return record.expected in (OBSERVE, record.observed)
