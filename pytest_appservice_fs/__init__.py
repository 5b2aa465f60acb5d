"""pytest-appservice-fs: which filesystem paths on Azure App Service for Linux survive which
lifecycle events, proven with evidence."""

from __future__ import annotations

from pytest_appservice_fs.evidence import Verdict
from pytest_appservice_fs.expectations import LAB_MATRIX, ContainerCell, Expectations, PathCell
from pytest_appservice_fs.model import ContainerOutcome, Event, Observation, Outcome

__version__ = "0.1.0"

__all__ = [
    "LAB_MATRIX",
    "ContainerCell",
    "ContainerOutcome",
    "Event",
    "Expectations",
    "Observation",
    "Outcome",
    "PathCell",
    "Verdict",
    "__version__",
]
