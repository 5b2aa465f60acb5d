"""The probe's code, one module per job; ``app.py`` beside this folder loads it.

``contract`` holds the wire names and bounds (the harness keeps an equal copy), ``config`` the
configuration and path mapping, ``files`` safe file access, ``markers``, ``mounts``,
``latency``, ``throughput`` and ``appends`` what each endpoint does, ``params`` the query
parameters and ``web`` the Flask app. Modules import each other relatively only, so that the
package runs under whatever name its loader gives it.
"""

from __future__ import annotations

from .config import ProbeConfig
from .web import create_app

__all__ = ["ProbeConfig", "create_app"]
