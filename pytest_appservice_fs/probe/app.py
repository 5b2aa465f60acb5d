"""Filesystem persistence probe for Azure App Service for Linux: the entry point.

Deployed as ``gunicorn --bind=0.0.0.0:8000 --chdir <code> "app:create_app()"``. It writes
checksummed marker files to an allowlist of paths, reads them back, and reports mount facts and
I/O latency, so a harness can tell which paths survive a lifecycle event. It also appends
numbered records to one shared file (concurrent writers, H4) and streams large files through a
path (throughput, H5). It depends on the standard library and Flask only and never imports the
plugin that deploys it. Its code is the ``fsprobe`` package beside this file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

    import flask

_PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fsprobe")


def _load_package(name: str, folder: str) -> ModuleType:
    # Loaded from its folder under a name derived from this module's, never imported as a
    # top-level 'fsprobe': the fake backend runs several probes (of different deploys,
    # perhaps) in one interpreter, each app.py under its own name, and each must run its own
    # code. The package's modules import each other relatively, so they follow the name.
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the probe's package from {folder}", name=name)
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package  # the relative imports find their parent here
    try:
        spec.loader.exec_module(package)
    except BaseException:
        for loaded in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
            del sys.modules[loaded]
        raise
    return package


if TYPE_CHECKING:
    from . import fsprobe  # the type checker sees this folder inside the plugin's package
else:
    fsprobe = _load_package(f"{__name__}.fsprobe", _PACKAGE_DIR)
ProbeConfig = fsprobe.ProbeConfig


def create_app(config: fsprobe.ProbeConfig | None = None) -> flask.Flask:
    """Build the probe app; without a config, read one from the environment."""
    app: flask.Flask = fsprobe.create_app(config)
    return app
