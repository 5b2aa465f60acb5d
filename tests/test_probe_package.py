"""The probe as a deployable ZIP with a deployment id."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from pytest_appservice_fs.engine.probe_package import (
    DEPLOYMENT_ID_FILE,
    FACTORY_TARGET,
    LAB_TARGET,
    ProbePackageError,
    build_package,
    default_probe_dir,
)

REPO_PROBE = Path(__file__).resolve().parents[1] / "pytest_appservice_fs" / "probe"
LAB_PROBE = Path(__file__).resolve().parent / "data" / "lab_probe"


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
    """The repository's probe packages with its real app.py, requirements.txt and every module
    of its fsprobe package; app.py stays at the top, as App Service looks for it there."""
    package = build_package(default_probe_dir(), deployment_id="d")
    entries = _entries(package.data)
    modules = sorted(p.relative_to(REPO_PROBE).as_posix() for p in REPO_PROBE.rglob("*.py"))
    assert "fsprobe/web.py" in modules
    assert sorted(set(entries) - {"requirements.txt", DEPLOYMENT_ID_FILE}) == modules
    for name in modules:
        assert entries[name] == (REPO_PROBE / name).read_bytes()
    assert entries["requirements.txt"] == (REPO_PROBE / "requirements.txt").read_bytes()
    assert b"def create_app(" in entries["app.py"]
    assert package.wsgi_target == FACTORY_TARGET


def test_package_holds_modules_and_their_packages_only(tmp_path: Path) -> None:
    """Top-level modules and package folders (with __init__.py) go in, sorted; other folders,
    caches and hidden files stay out."""
    folder = _probe_dir(tmp_path)
    (folder / "helpers.py").write_text("X = 1\n")
    (folder / ".hidden.py").write_text("secret\n")
    (folder / "core" / "sub").mkdir(parents=True)
    (folder / "core" / "__init__.py").write_text("")
    (folder / "core" / "web.py").write_text("Y = 2\n")
    (folder / "core" / "sub" / "__init__.py").write_text("")
    (folder / "core" / "__pycache__").mkdir()
    (folder / "core" / "__pycache__" / "web.cpython-311.pyc").write_bytes(b"\0")
    (folder / "venv").mkdir()
    (folder / "venv" / "site.py").write_text("not a package\n")
    with zipfile.ZipFile(io.BytesIO(build_package(folder, deployment_id="d").data)) as archive:
        names = archive.namelist()
    assert names == [
        "app.py",
        "core/__init__.py",
        "core/sub/__init__.py",
        "core/web.py",
        "helpers.py",
        "requirements.txt",
        DEPLOYMENT_ID_FILE,
    ]


def test_lab_probe_is_served_as_a_module_level_app() -> None:
    """The lab's one-file probe (module-level ``app``) still gets the ``app:app`` target."""
    package = build_package(LAB_PROBE, deployment_id="d")
    assert package.wsgi_target == LAB_TARGET
    assert set(_entries(package.data)) == {"app.py", "requirements.txt", DEPLOYMENT_ID_FILE}
