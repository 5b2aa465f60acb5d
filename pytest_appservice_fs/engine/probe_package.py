"""The probe as a deployable ZIP package with a fresh deployment id."""

from __future__ import annotations

import importlib.resources
import io
import re
import secrets
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Files of a probe folder that go into the package besides its Python modules (see
#: ``probe_files``); anything else there is left out.
PROBE_FILES = ("requirements.txt",)
DEPLOYMENT_ID_FILE = "DEPLOYMENT_ID"
#: The WSGI target of the project's probe (an app factory) and of the lab's (a module-level app).
FACTORY_TARGET = "app:create_app()"
LAB_TARGET = "app:app"
#: Where a custom container keeps the probe's code: outside /home, which App Service storage
#: (when on) mounts over whatever the image had there.
IMAGE_CODE_DIR = "/opt/probe/app"
#: The port the probe image listens on unless App Service passes WEBSITES_PORT or PORT.
IMAGE_PORT = 8000

#: The probe as a custom container (Web App for Containers): its code and DEPLOYMENT_ID (the
#: image's build id, which the probe reports) baked in; it serves on the port App Service
#: passes (WEBSITES_PORT, else PORT, else 8000). INSTALL_REQUIREMENTS=false builds on a base
#: that has the requirements already (the local emulator's runtime image: no network needed).
IMAGE_DOCKERFILE = f"""\
ARG BASE_IMAGE=python:3.11-slim
FROM ${{BASE_IMAGE}}
ARG INSTALL_REQUIREMENTS=true
COPY requirements.txt {IMAGE_CODE_DIR}/requirements.txt
RUN if [ "$INSTALL_REQUIREMENTS" = "true" ]; then \\
      python3 -m pip install --no-cache-dir --disable-pip-version-check \\
        -r {IMAGE_CODE_DIR}/requirements.txt; \\
    fi
COPY . {IMAGE_CODE_DIR}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8
EXPOSE {IMAGE_PORT}
CMD exec gunicorn --bind="0.0.0.0:${{WEBSITES_PORT:-${{PORT:-{IMAGE_PORT}}}}}" --workers=1 \\
    --timeout=120 --graceful-timeout=5 --chdir={IMAGE_CODE_DIR} "{FACTORY_TARGET}"
"""


class ProbePackageError(ValueError):
    """A probe folder that cannot be packaged."""


@dataclass(frozen=True)
class ProbePackage:
    """A ZIP of the probe whose DEPLOYMENT_ID file proves which deployment is running."""

    deployment_id: str
    data: bytes
    wsgi_target: str = FACTORY_TARGET
    requirements: bytes = b""

    def __repr__(self) -> str:
        return f"ProbePackage(deployment_id={self.deployment_id!r}, {len(self.data)} bytes)"

    def startup_command(self, code_dir: str) -> list[str]:
        """The gunicorn command line that serves this probe from ``code_dir``.

        One worker, so that the process the harness sees is the one that serves: a restart
        is proven by that process changing.
        """
        return [
            "gunicorn",
            "--bind=0.0.0.0:8000",
            "--workers=1",
            "--timeout=120",
            "--graceful-timeout=5",
            f"--chdir={code_dir}",
            self.wsgi_target,
        ]


#: A probe build id as build_package makes one (16 hexadecimal digits): an --image's tag.
BUILD_ID = re.compile(r"[0-9a-f]{16}\Z")


def image_build_id(reference: str) -> str | None:
    """The build id an image reference's tag names (``registry/probe:0123456789abcdef``), or
    None when its tag is not one (or it has no tag)."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag or "@" in reference:
        return None
    return tag if BUILD_ID.match(tag) else None


def image_context(package: ProbePackage) -> bytes:
    """The probe image's build context as a gzipped tar: ``Dockerfile`` (``IMAGE_DOCKERFILE``)
    and the package's files, DEPLOYMENT_ID included, as ``docker build -`` and ACR Tasks
    (``az acr build``) take it. Deterministic: the same package gives the same bytes.

    Raises ProbePackageError for the lab's probe (a module-level app, code runtime only).
    """
    if package.wsgi_target != FACTORY_TARGET:
        raise ProbePackageError(
            "the lab's probe runs as code only; a container image is built from the bundled probe."
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        files = {name: archive.read(name) for name in sorted(archive.namelist())}
    # mtime 0 and a fixed gzip header time keep the bytes a function of the content.
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in {"Dockerfile": IMAGE_DOCKERFILE.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return _fixed_gzip_time(buffer.getvalue())


def _fixed_gzip_time(data: bytes) -> bytes:
    # Bytes 4..7 of a gzip member are its MTIME: zero means "not given".
    return data[:4] + b"\0\0\0\0" + data[8:]


def default_probe_dir() -> Path:
    """The probe shipped as package data (``pytest_appservice_fs/probe/``), as a folder.

    Raises ProbePackageError when the installation lacks it, or keeps it where no folder can
    be read (a zipped import): ``--probe-dir`` then names one.
    """
    folder = importlib.resources.files("pytest_appservice_fs").joinpath("probe")
    if not isinstance(folder, Path) or not (folder / "app.py").is_file():
        raise ProbePackageError(
            f"the bundled probe is not a folder with app.py ({folder}): the installation is "
            "incomplete; reinstall pytest-appservice-fs or give --probe-dir."
        )
    return folder


def build_package(probe_dir: Path, deployment_id: str | None = None) -> ProbePackage:
    """Zip the probe's files (``probe_files``) with a new deployment id."""
    if not (probe_dir / "app.py").is_file():
        raise ProbePackageError(f"probe folder {probe_dir} has no app.py.")
    deployment_id = deployment_id or secrets.token_hex(8)
    app_source = (probe_dir / "app.py").read_text(encoding="utf-8", errors="replace")
    # The lab's probe exposes a module-level Flask app; the project's probe an app factory.
    target = FACTORY_TARGET if "def create_app(" in app_source else LAB_TARGET
    requirements_file = probe_dir / "requirements.txt"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in probe_files(probe_dir):
            archive.writestr(_entry(name), (probe_dir / name).read_bytes())
        archive.writestr(_entry(DEPLOYMENT_ID_FILE), deployment_id + "\n")
    return ProbePackage(
        deployment_id=deployment_id,
        data=buffer.getvalue(),
        wsgi_target=target,
        requirements=requirements_file.read_bytes() if requirements_file.is_file() else b"",
    )


def probe_files(probe_dir: Path) -> list[str]:
    """The probe folder's files that go into the package, as sorted '/'-separated names.

    They are PROBE_FILES and every Python module at the folder's top or in a package below it
    (a folder with ``__init__.py``, as the bundled probe's ``fsprobe``); ``__pycache__`` and
    hidden names are left out. The sorted order keeps the package's bytes a function of its
    content.
    """
    names = [name for name in PROBE_FILES if (probe_dir / name).is_file()]
    return sorted([*names, *_modules(probe_dir, "")])


def _modules(folder: Path, prefix: str) -> Iterator[str]:
    for path in folder.iterdir():
        if path.name.startswith((".", "__pycache__")):
            continue
        if path.suffix == ".py" and path.is_file():
            yield prefix + path.name
        elif path.is_dir() and (path / "__init__.py").is_file():
            yield from _modules(path, f"{prefix}{path.name}/")


def _entry(name: str) -> zipfile.ZipInfo:
    # A fixed timestamp keeps a package's bytes a function of its content and deployment id.
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info
