"""ProbeConfig, its environment reading and the logical-to-physical path mapping."""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import probe, probe_app

if TYPE_CHECKING:
    from pathlib import Path

MOUNTS = {"/": "/x/layer", "/home": "/x/home"}


@pytest.mark.parametrize(
    ("logical", "expected"),
    [
        ("/home/data", "/x/home/data"),
        ("/home", "/x/home"),
        ("/tmp/data", "/x/layer/tmp/data"),
        ("/var/local/data", "/x/layer/var/local/data"),
        ("/homework/data", "/x/layer/homework/data"),
        ("/", "/x/layer"),
    ],
)
def test_physical_path_uses_the_longest_whole_component_prefix(logical: str, expected: str) -> None:
    assert probe.config.physical_path(logical, MOUNTS) == expected


def test_physical_path_prefers_deeper_mounts_whatever_their_order() -> None:
    mounts = {"/home/data": "/deep", "/home": "/x/home", "/": "/x/layer"}
    assert probe.config.physical_path("/home/data/sub", mounts) == "/deep/sub"
    assert probe.config.physical_path("/home/other", mounts) == "/x/home/other"


def test_physical_path_accepts_a_prefix_with_a_trailing_slash() -> None:
    assert probe.config.physical_path("/home/data", {"/": "/r", "/home/": "/h"}) == "/h/data"


def test_physical_path_without_a_covering_mount_is_an_error() -> None:
    with pytest.raises(ValueError, match="no mount prefix covers '/tmp/data'"):
        probe.config.physical_path("/tmp/data", {"/home": "/x/home"})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text("abcdefgh.-_", min_size=1, max_size=8), min_size=1, max_size=5))
def test_physical_path_under_root_mount_keeps_the_rest_of_the_path(parts: list[str]) -> None:
    logical = "/" + "/".join(parts)
    expected_root = "/x/home" if parts[0] == "home" else "/x/layer"
    rest = parts[1:] if parts[0] == "home" else parts
    assert probe.config.physical_path(logical, MOUNTS) == os.path.join(expected_root, *rest)


def test_from_environ_defaults(tmp_path: Path) -> None:
    before = time.time()
    config = probe_app.ProbeConfig.from_environ({}, app_dir=str(tmp_path))
    assert config.paths == ("/home/data", "/tmp/data", "/var/local/data")
    assert config.token is None
    assert config.instance_id is None
    assert config.deployment_id is None
    assert config.hostname == socket.gethostname()
    assert config.pid == os.getpid()
    assert before <= config.process_start <= time.time()
    assert dict(config.mounts) == {"/": "/"}
    assert config.mountinfo_path == "/proc/self/mountinfo"


def test_from_environ_reads_token_and_instance(tmp_path: Path) -> None:
    environ = {"PROBE_TOKEN": "s3cret", "WEBSITE_INSTANCE_ID": "f" * 64}
    config = probe_app.ProbeConfig.from_environ(environ, app_dir=str(tmp_path))
    assert config.token == "s3cret"
    assert config.instance_id == "f" * 64


def test_from_environ_empty_token_means_no_token(tmp_path: Path) -> None:
    config = probe_app.ProbeConfig.from_environ({"PROBE_TOKEN": ""}, app_dir=str(tmp_path))
    assert config.token is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/a", ("/a",)),
        ("/a/b, /c ,/d", ("/a/b", "/c", "/d")),
        ("  ", ("/home/data", "/tmp/data", "/var/local/data")),
        (",".join(f"/p{i}" for i in range(32)), tuple(f"/p{i}" for i in range(32))),
    ],
)
def test_from_environ_reads_probe_paths(
    tmp_path: Path, raw: str, expected: tuple[str, ...]
) -> None:
    config = probe_app.ProbeConfig.from_environ({"PROBE_PATHS": raw}, app_dir=str(tmp_path))
    assert config.paths == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("data", "'data' is not absolute"),
        ("/a/../etc", "'/a/../etc' contains a '..' component"),
        ("/a/", "'/a/' is not normalised"),
        ("/a//b", "'/a//b' is not normalised"),
        ("/a/./b", "'/a/./b' is not normalised"),
        ("//a", "'//a' is not normalised"),
        ("/a,,/b", "'' is not absolute"),
        ("/a,/a", "'/a' is listed twice"),
        (",".join(f"/p{i}" for i in range(33)), "lists 33 paths; give 1 to 32"),
    ],
)
def test_from_environ_refuses_invalid_probe_paths(tmp_path: Path, raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match="PROBE_PATHS") as info:
        probe_app.ProbeConfig.from_environ({"PROBE_PATHS": raw}, app_dir=str(tmp_path))
    assert problem in str(info.value)


def test_deployment_id_file_wins_over_the_environment(tmp_path: Path) -> None:
    (tmp_path / "DEPLOYMENT_ID").write_text("  from-file\n")
    environ = {"PROBE_DEPLOYMENT_ID": "from-env"}
    config = probe_app.ProbeConfig.from_environ(environ, app_dir=str(tmp_path))
    assert config.deployment_id == "from-file"


def test_deployment_id_from_the_environment_without_a_file(tmp_path: Path) -> None:
    environ = {"PROBE_DEPLOYMENT_ID": " from-env "}
    config = probe_app.ProbeConfig.from_environ(environ, app_dir=str(tmp_path))
    assert config.deployment_id == "from-env"


def test_blank_deployment_id_file_falls_back_to_the_environment(tmp_path: Path) -> None:
    (tmp_path / "DEPLOYMENT_ID").write_text(" \n")
    environ = {"PROBE_DEPLOYMENT_ID": "from-env"}
    config = probe_app.ProbeConfig.from_environ(environ, app_dir=str(tmp_path))
    assert config.deployment_id == "from-env"


def test_deployment_id_is_capped_at_128_characters(tmp_path: Path) -> None:
    (tmp_path / "DEPLOYMENT_ID").write_text("d" * 300)
    config = probe_app.ProbeConfig.from_environ({}, app_dir=str(tmp_path))
    assert config.deployment_id == "d" * 128


def test_deployment_id_file_defaults_to_the_folder_of_app_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert os.path.dirname(probe_app.__file__) == probe.config.PACKAGE_ROOT
    # Pretend app.py lives in tmp_path, so the test never writes next to the real probe.
    monkeypatch.setattr(probe.config, "PACKAGE_ROOT", str(tmp_path))
    (tmp_path / "DEPLOYMENT_ID").write_text("next-to-app-py")
    config = probe_app.ProbeConfig.from_environ({"PROBE_DEPLOYMENT_ID": "from-env"})
    assert config.deployment_id == "next-to-app-py"


def test_config_refuses_invalid_paths_and_uncovered_paths() -> None:
    with pytest.raises(ValueError, match=r"ProbeConfig\.paths entry 'relative' is not absolute"):
        probe_app.ProbeConfig(paths=("relative",))
    with pytest.raises(ValueError, match="no mount prefix covers '/tmp/data'"):
        probe_app.ProbeConfig(mounts={"/home": "/x/home"})


def test_config_mounts_cannot_be_changed_after_creation() -> None:
    mounts = {"/": "/x/layer"}
    config = probe_app.ProbeConfig(mounts=mounts)
    mounts["/home"] = "/elsewhere"
    assert dict(config.mounts) == {"/": "/x/layer"}
    with pytest.raises(TypeError):
        config.mounts["/home"] = "/elsewhere"  # type: ignore[index]


def test_create_app_without_config_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_TOKEN", "from-env-token")
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "b" * 64)
    monkeypatch.delenv("PROBE_PATHS", raising=False)
    client = probe_app.create_app().test_client()
    assert client.get("/identity").status_code == 401
    response = client.get("/identity", headers={"X-Probe-Token": "from-env-token"})
    assert response.status_code == 200
    assert response.json["instance_id"] == "b" * 64
    assert response.json["pid"] == os.getpid()
