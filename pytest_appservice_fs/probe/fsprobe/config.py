"""The probe's configuration, resolved once at start-up, and how logical paths map onto disk."""

from __future__ import annotations

import os
import re
import socket
import time
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .contract import (
    ALLOWLIST_MAX,
    DEFAULT_MAX_THROUGHPUT_MIB,
    DEPLOYMENT_ID_MAX,
    NONCE_PATTERN,
    SETTINGS_MARK,
    THROUGHPUT_MIB_MAX,
    path_problem,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# Logical paths the experiment probes, not scratch space.
DEFAULT_PATHS = ("/home/data", "/tmp/data", "/var/local/data")  # noqa: S108
#: The deployed package's root: app.py and DEPLOYMENT_ID sit there, this package below it.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A bounded digit count, so int() never parses an absurdly long string.
INT_PATTERN = re.compile(r"[+-]?[0-9]{1,30}")


def clip(value: str, limit: int = 64) -> str:
    """The value, cut to limit characters and marked '...' where cut: for messages."""
    return value if len(value) <= limit else value[:limit] + "..."


@dataclass(frozen=True)
class ProbeConfig:
    """Everything the probe reports or touches, resolved once at start-up."""

    paths: tuple[str, ...] = DEFAULT_PATHS
    token: str | None = None
    instance_id: str | None = None
    hostname: str = ""
    pid: int = 0
    process_start: float = 0.0
    deployment_id: str | None = None
    #: The PROBE_SETTINGS_MARK app setting as this process started with it: the harness changes
    #: it (app_setting_change) and a probe reporting the new value proves the change applied.
    settings_mark: str | None = None
    mounts: Mapping[str, str] = field(default_factory=lambda: {"/": "/"})
    mountinfo_path: str = "/proc/self/mountinfo"
    max_throughput_mib: int = DEFAULT_MAX_THROUGHPUT_MIB

    def __post_init__(self) -> None:
        validate_paths(self.paths, "ProbeConfig.paths")
        limit = self.max_throughput_mib
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= THROUGHPUT_MIB_MAX
        ):
            raise ValueError(
                f"ProbeConfig.max_throughput_mib is {limit!r}; "
                f"give an integer from 1 to {THROUGHPUT_MIB_MAX}."
            )
        for path in self.paths:
            physical_path(path, self.mounts)  # fail at start-up, not on the first request
        # A read-only view, so nothing can redirect where the probe writes after start-up.
        object.__setattr__(self, "mounts", types.MappingProxyType(dict(self.mounts)))

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, *, app_dir: str | None = None
    ) -> ProbeConfig:
        """Read the configuration from environment variables and the deployed package."""
        env = os.environ if environ is None else environ
        raw_paths = env.get("PROBE_PATHS", "").strip()
        paths = (
            validate_paths([entry.strip() for entry in raw_paths.split(",")], "PROBE_PATHS")
            if raw_paths
            else DEFAULT_PATHS
        )
        return cls(
            paths=paths,
            token=env.get("PROBE_TOKEN") or None,
            instance_id=env.get("WEBSITE_INSTANCE_ID") or None,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            process_start=time.time(),
            deployment_id=_deployment_id(env, app_dir or PACKAGE_ROOT),
            max_throughput_mib=_max_throughput_mib(env),
            settings_mark=_settings_mark(env),
        )


def _settings_mark(env: Mapping[str, str]) -> str | None:
    # Reported back, so only a short token of safe characters, never an arbitrary value.
    raw = env.get(SETTINGS_MARK, "").strip()
    return raw if NONCE_PATTERN.fullmatch(raw) else None


def _max_throughput_mib(env: Mapping[str, str]) -> int:
    raw = env.get("PROBE_MAX_THROUGHPUT_MIB", "").strip()
    if not raw:
        return DEFAULT_MAX_THROUGHPUT_MIB
    if INT_PATTERN.fullmatch(raw) is None or not 1 <= int(raw) <= THROUGHPUT_MIB_MAX:
        raise ValueError(
            f"PROBE_MAX_THROUGHPUT_MIB is '{clip(raw)}'; give an integer from 1 to "
            f"{THROUGHPUT_MIB_MAX} (MiB)."
        )
    return int(raw)


def _deployment_id(env: Mapping[str, str], app_dir: str) -> str | None:
    # The DEPLOYMENT_ID file wins over PROBE_DEPLOYMENT_ID: it ships inside the package, so
    # it names the code really running, while an app setting can lag behind a deploy.
    try:
        with open(os.path.join(app_dir, "DEPLOYMENT_ID"), "rb") as file:
            from_file = file.read(4096).decode("utf-8", "replace").strip()
    except OSError:
        from_file = ""
    value = from_file or env.get("PROBE_DEPLOYMENT_ID", "").strip()
    return value[:DEPLOYMENT_ID_MAX] or None


def validate_paths(paths: Iterable[str], source: str) -> tuple[str, ...]:
    """Return the paths as a tuple, or raise ValueError naming the first invalid entry."""
    checked = tuple(paths)
    if not 1 <= len(checked) <= ALLOWLIST_MAX:
        raise ValueError(f"{source} lists {len(checked)} paths; give 1 to {ALLOWLIST_MAX}.")
    for path in checked:
        problem = path_problem(path)
        if problem is None and checked.count(path) > 1:
            problem = "is listed twice"
        if problem is not None:
            raise ValueError(
                f"{source} entry '{clip(path)}' {problem}; each entry must be a distinct "
                "absolute, normalised path without '..' components."
            )
    return checked


def covers(prefix: str, path: str) -> bool:
    """Whether path is prefix or under it."""
    # Whole components only, so /home never covers /homework.
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def mount_of(logical: str, mounts: Mapping[str, str]) -> tuple[str, str, list[str]]:
    """The longest mount prefix covering a logical path, its physical folder, and the path's
    components below it; ValueError when no prefix covers the path."""
    covering = [prefix for prefix in mounts if prefix.startswith("/") and covers(prefix, logical)]
    if not covering:
        raise ValueError(f"no mount prefix covers '{clip(logical)}'; add a '/' entry to mounts.")
    prefix = max(covering, key=lambda p: len(p.rstrip("/")))
    rest = logical[len(prefix.rstrip("/")) :].lstrip("/")
    return prefix, mounts[prefix], rest.split("/") if rest else []


def physical_path(logical: str, mounts: Mapping[str, str]) -> str:
    """Map a logical path onto a physical one through the longest covering mount prefix."""
    _, root, components = mount_of(logical, mounts)
    return os.path.join(root, *components)
