"""Fixtures for the probe app's tests: the probe runs in-process on temporary folders."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from flask.testing import FlaskClient

PROBE_APP = Path(__file__).resolve().parents[2] / "pytest_appservice_fs" / "probe" / "app.py"
TOKEN = "t0ken-that-must-never-be-echoed"
INSTANCE_ID = "a" * 64
HOSTNAME = "0123456789ab"
PID = 4242
PROCESS_START = 1_700_000_000.123456

# A synthetic mountinfo describing the logical namespace, as the fake backend writes one:
# optional fields, an escaped space, a prefix that is not a whole component (/hom) and
# lines that are not mounts at all.
MOUNTINFO = (
    "21 1 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u\n"
    "22 21 0:60 / /home rw,relatime shared:5 master:2 - cifs "
    "//acct.file.core.windows.net/my\\040share rw,vers=3.1.1,nobrl\n"
    "23 21 0:61 / /var/local rw,noatime - tmpfs tmpfs rw,size=1024k\n"
    "24 21 0:62 / /hom rw - tmpfs decoy rw\n"
    "this line is not a mount\n"
)


def _load_probe_app() -> ModuleType:
    # Loaded from its file, as the fake backend loads it, under a name that cannot clash with
    # anything installed; app.py loads its fsprobe package as probe_app.fsprobe.
    spec = importlib.util.spec_from_file_location("probe_app", PROBE_APP)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["probe_app"] = module
    spec.loader.exec_module(module)
    return module


probe_app = _load_probe_app()
#: The probe's package: its modules (config, mounts, appends, web...) as attributes.
probe = probe_app.fsprobe


@pytest.fixture
def mountinfo_file(tmp_path: Path) -> Path:
    """A synthetic mountinfo file outside the probe's data roots."""
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    return path


@pytest.fixture
def data_roots(tmp_path: Path) -> dict[str, Path]:
    """Physical folders standing for the container's '/' and the shared '/home'."""
    return {"/": tmp_path / "layer", "/home": tmp_path / "home"}


@pytest.fixture
def make_config(data_roots: dict[str, Path], mountinfo_file: Path) -> Callable[..., Any]:
    """Build a ProbeConfig on the temporary roots; keyword arguments override fields."""

    def make(**overrides: object) -> Any:
        fields: dict[str, object] = {
            "instance_id": INSTANCE_ID,
            "hostname": HOSTNAME,
            "pid": PID,
            "process_start": PROCESS_START,
            "deployment_id": "deploy-1",
            "mounts": {prefix: str(path) for prefix, path in data_roots.items()},
            "mountinfo_path": str(mountinfo_file),
        }
        fields.update(overrides)
        return probe_app.ProbeConfig(**fields)

    return make


@pytest.fixture
def client(make_config: Callable[..., Any]) -> FlaskClient:
    """A test client for a probe without a token."""
    return probe_app.create_app(make_config()).test_client()


@pytest.fixture
def token_client(make_config: Callable[..., Any]) -> FlaskClient:
    """A test client for a probe that requires TOKEN."""
    return probe_app.create_app(make_config(token=TOKEN)).test_client()


@pytest.fixture
def physical(data_roots: dict[str, Path]) -> dict[str, Path]:
    """Where each default logical path lands on disk."""
    return {
        "/home/data": data_roots["/home"] / "data",
        "/tmp/data": data_roots["/"] / "tmp" / "data",
        "/var/local/data": data_roots["/"] / "var" / "local" / "data",
    }


def tree(root: Path) -> set[str]:
    """Every path under root, relative to it."""
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with what it is: a link's target, a file's digest, or 'dir'."""
    found = {}
    for path in root.rglob("*"):
        if path.is_symlink():
            found[str(path)] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[str(path)] = "dir"
        else:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found
