"""The probe as a deployable ZIP with a deployment id."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from pytest_appservice_fs.engine.probe_package import (
    DEPLOYMENT_ID_FILE,
    ProbePackageError,
    build_package,
    default_probe_dir,
)

REPO_PROBE = Path(__file__).resolve().parents[1] / "pytest_appservice_fs" / "probe"


def _probe_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "app.py").write_text("print('probe')\n")
    (folder / "requirements.txt").write_text("flask>=3.0\n")
    (folder / "notes.md").write_text("not shipped\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    return folder


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_package_holds_app_requirements_and_deployment_id(tmp_path: Path) -> None:
    """The ZIP holds app.py, requirements.txt and DEPLOYMENT_ID with the id, nothing else."""
    package = build_package(_probe_dir(tmp_path), deployment_id="dep-42")
    assert package.deployment_id == "dep-42"
    assert _entries(package.data) == {
        "app.py": b"print('probe')\n",
        "requirements.txt": b"flask>=3.0\n",
        DEPLOYMENT_ID_FILE: b"dep-42\n",
    }


def test_package_without_requirements_is_fine(tmp_path: Path) -> None:
    """requirements.txt is optional; app.py and DEPLOYMENT_ID are always there."""
    folder = _probe_dir(tmp_path)
    (folder / "requirements.txt").unlink()
    assert set(_entries(build_package(folder).data)) == {"app.py", DEPLOYMENT_ID_FILE}


def test_fresh_deployment_id_each_call(tmp_path: Path) -> None:
    """Without an id, each package gets a new 16-hex one, written into DEPLOYMENT_ID."""
    folder = _probe_dir(tmp_path)
    first, second = build_package(folder), build_package(folder)
    assert first.deployment_id != second.deployment_id
    for package in (first, second):
        assert len(package.deployment_id) == 16
        int(package.deployment_id, 16)
        assert _entries(package.data)[DEPLOYMENT_ID_FILE] == package.deployment_id.encode() + b"\n"
    assert first.data != second.data


def test_same_content_and_id_give_same_bytes(tmp_path: Path) -> None:
    """The bytes depend only on content and id, not on file times."""
    folder = _probe_dir(tmp_path)
    first = build_package(folder, deployment_id="fixed")
    (folder / "app.py").touch()
    second = build_package(folder, deployment_id="fixed")
    assert first.data == second.data


def test_changed_content_changes_bytes(tmp_path: Path) -> None:
    """Different app.py content gives a different package."""
    folder = _probe_dir(tmp_path)
    first = build_package(folder, deployment_id="fixed")
    (folder / "app.py").write_text("print('other')\n")
    assert build_package(folder, deployment_id="fixed").data != first.data


def test_folder_without_app_is_refused(tmp_path: Path) -> None:
    """A folder without app.py raises ProbePackageError naming the folder."""
    with pytest.raises(ProbePackageError, match=r"has no app\.py"):
        build_package(tmp_path)


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    """A folder that does not exist raises ProbePackageError too."""
    with pytest.raises(ProbePackageError):
        build_package(tmp_path / "nowhere")


def test_repr_shows_id_and_size_not_bytes(tmp_path: Path) -> None:
    """repr(package) shows the id and size, never the content."""
    package = build_package(_probe_dir(tmp_path), deployment_id="dep-1")
    assert repr(package) == f"ProbePackage(deployment_id='dep-1', {len(package.data)} bytes)"


def test_default_probe_dir_is_the_repository_probe() -> None:
    """In a checkout, default_probe_dir() is the repository's probe/ folder."""
    assert default_probe_dir() == REPO_PROBE
    assert (default_probe_dir() / "app.py").is_file()


def test_default_probe_packages_the_real_probe() -> None:
    """The repository's probe packages with its real app.py and requirements.txt."""
    entries = _entries(build_package(default_probe_dir(), deployment_id="d").data)
    assert entries["app.py"] == (REPO_PROBE / "app.py").read_bytes()
    assert entries["requirements.txt"] == (REPO_PROBE / "requirements.txt").read_bytes()
    assert b"def create_app(" in entries["app.py"]
