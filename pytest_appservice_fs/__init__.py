"""pytest-appservice-fs: which filesystem paths on Azure App Service for Linux survive which
lifecycle events, proven with evidence."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

#: The public names, and the module each comes from. They are imported on first use: every
#: pytest start imports this package (through the plugin), and most never need them.
_EXPORTS = {
    "LAB_MATRIX": "pytest_appservice_fs.engine.expectations",
    "ContainerCell": "pytest_appservice_fs.engine.expectations",
    "Expectations": "pytest_appservice_fs.engine.expectations",
    "PathCell": "pytest_appservice_fs.engine.expectations",
    "ContainerOutcome": "pytest_appservice_fs.engine.model",
    "Event": "pytest_appservice_fs.engine.model",
    "Observation": "pytest_appservice_fs.engine.model",
    "Outcome": "pytest_appservice_fs.engine.model",
    "Verdict": "pytest_appservice_fs.evidence.verdict",
}

if TYPE_CHECKING:
    from pytest_appservice_fs.engine.expectations import (
        LAB_MATRIX,
        ContainerCell,
        Expectations,
        PathCell,
    )
    from pytest_appservice_fs.engine.model import ContainerOutcome, Event, Observation, Outcome
    from pytest_appservice_fs.evidence.verdict import Verdict


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_appservice_fs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
