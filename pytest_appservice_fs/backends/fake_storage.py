"""The fake backend's folders: Azure Storage mounts (a Blob one read-only) and the mount table
that names them, container images, the probe loaded from a folder (wwwroot or an image), and
markers left over from an "earlier run" (a fault).

The fake gives each probe process a map from logical paths to folders (``ProbeConfig.mounts``)
instead of real mounts; what a mount's kind changes is emulated at that level.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import io
import json
import os
import secrets
import shutil
import sys
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.contract import CHECKSUM_NAME, MARKER_NAME
from pytest_appservice_fs.engine.configuration import Mount, MountKind

#: Flags with which opening a file changes the file system.
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class ReadOnlyView:
    """The ``os`` module as a probe process sees it when some of its folders are read-only
    mounts (Azure Blob): a call that would change anything under one fails with EROFS, as the
    kernel answers on a file system mounted ``ro``; every other call is ``os``'s own.

    Why not file modes: root ignores them, and the offline tests may run as root. The probe
    reaches files only through ``os``, by absolute paths or relative to folder descriptors it
    opened through this view, so the view knows where each call lands.
    """

    def __init__(self, read_only: Iterable[Path]) -> None:
        self._roots = tuple(os.path.realpath(root) for root in read_only)
        # Descriptor -> the path it was opened at, for calls relative to it (dir_fd=).
        self._opened: dict[int, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        """``os.open``; EROFS for a write, create or truncate under a read-only mount."""
        where = self._where(path, dir_fd)
        if flags & _WRITING:
            self._refuse(where)
        fd = os.open(path, flags, mode, dir_fd=dir_fd)
        self._opened[fd] = where
        return fd

    def close(self, fd: int) -> None:
        """``os.close``, forgetting where ``fd`` was opened."""
        self._opened.pop(fd, None)
        os.close(fd)

    def mkdir(self, path: str, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        """``os.mkdir``; an existing name is EEXIST first, as the kernel checks it first."""
        where = self._where(path, dir_fd)
        if not os.path.lexists(where):
            self._refuse(where)
        os.mkdir(path, mode, dir_fd=dir_fd)

    def makedirs(self, name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
        """``os.makedirs``; refused under a read-only mount unless the folder is there."""
        if not (exist_ok and os.path.isdir(name)):
            self._refuse(os.path.realpath(name))
        os.makedirs(name, mode, exist_ok)

    def unlink(self, path: str, *, dir_fd: int | None = None) -> None:
        """``os.unlink``; refused under a read-only mount."""
        self._refuse(self._where(path, dir_fd))
        os.unlink(path, dir_fd=dir_fd)

    remove = unlink

    def rmdir(self, path: str, *, dir_fd: int | None = None) -> None:
        """``os.rmdir``; refused under a read-only mount."""
        self._refuse(self._where(path, dir_fd))
        os.rmdir(path, dir_fd=dir_fd)

    def replace(
        self,
        src: str,
        dst: str,
        *,
        src_dir_fd: int | None = None,
        dst_dir_fd: int | None = None,
    ) -> None:
        """``os.replace``; refused when either side is under a read-only mount."""
        self._refuse(self._where(src, src_dir_fd))
        self._refuse(self._where(dst, dst_dir_fd))
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    rename = replace

    def _where(self, path: str, dir_fd: int | None) -> str:
        if dir_fd is None or os.path.isabs(path):
            return os.path.realpath(path)
        return os.path.join(self._opened.get(dir_fd, "?"), path)

    def _refuse(self, where: str) -> None:
        if any(where == root or where.startswith(root + os.sep) for root in self._roots):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))


def mount_folder(root: Path, mount: Mount) -> Path:
    """The folder that holds ``mount``'s files for every instance of the app."""
    digest = hashlib.sha256(mount.path.encode()).hexdigest()[:12]
    return root / "mounts" / f"{mount.kind.value}-{digest}"


def plant_stale_markers(folders: Iterable[Path]) -> None:
    """Leave a marker from an 'earlier run', with a valid checksum, in each folder."""
    payload = json.dumps(
        {
            "instance_id": "0" * 64,
            "hostname": "000000000000",
            "pid": 1,
            "timestamp_utc": "2020-01-01T00:00:00.000000Z",
            "marker": "left-over-from-an-earlier-run",
            "nonce": "earlier-run",
        }
    ).encode()
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER_NAME).write_bytes(payload)
        (folder / CHECKSUM_NAME).write_text(hashlib.sha256(payload).hexdigest())


def unpack_image(images: Path, context: bytes) -> Path:
    """A new container image in a folder of its own under ``images``: ``context``, a gzipped
    tar build context (Dockerfile, probe files, DEPLOYMENT_ID, as ``image_context`` makes it),
    unpacked. The folder's name is new each time.

    Raises BackendError for an entry that is no file inside the folder (nothing is kept)."""
    image = images / f"image-{secrets.token_hex(6)}"
    image.mkdir(parents=True)
    image = image.resolve()
    with tarfile.open(fileobj=io.BytesIO(context), mode="r:gz") as tar:
        for member in tar.getmembers():
            target = (image / member.name).resolve()
            source = tar.extractfile(member)
            if not member.isfile() or source is None or not target.is_relative_to(image):
                shutil.rmtree(image, ignore_errors=True)
                raise BackendError(f"build context entry {member.name!r} is not a file.")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())
    return image


def load_probe(name: str, path: Path) -> ModuleType:
    """The probe's ``app.py`` at ``path`` loaded as module ``name`` (its package's modules as
    ``name.*``). Raises BackendError when it cannot be loaded."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BackendError(f"cannot load the deployed probe from {path}.")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class body runs.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        unload_probe(name)
        raise BackendError(f"the deployed probe {path} failed to load: {exc}") from exc
    return module


def unload_probe(name: str) -> None:
    """Forget the probe loaded as ``name``, with its package's modules."""
    # The probe loads its package under its own module's name.
    for loaded in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
        del sys.modules[loaded]


def see_read_only(name: str, view: ReadOnlyView) -> None:
    """Give the probe loaded as ``name`` (its package's modules too) ``view`` as its ``os``."""
    for loaded in [m for key, m in sys.modules.items() if key.startswith(name + ".")]:
        if getattr(loaded, "os", None) is os:
            loaded.os = view  # type: ignore[attr-defined]


def mountinfo(*, home_mounted: bool, mounts: Iterable[Mount] = ()) -> str:
    """``/proc/self/mountinfo`` text for a container: its overlay root, /dev/shm, the /home
    share when it is mounted, and one line per Azure Storage mount (``ro`` for Blob). The
    lines stand for the mounts so that the probe has something to report; they are no
    evidence of what Azure's mounts look like."""
    lines = [
        "21 1 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/fake/lower,upperdir=/fake/upper",
        "23 21 0:51 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k",
    ]
    if home_mounted:
        lines.append(
            "22 21 0:60 / /home rw,relatime - cifs //fakestorage.file.core.windows.net/fake-share "
            "rw,vers=3.1.1,cache=strict,nobrl,mfsymlinks"
        )
    for number, mount in enumerate(mounts, start=30):
        fstype, source = _MOUNT_SOURCES[mount.kind]
        options = "ro" if mount.kind.read_only else "rw"
        lines.append(
            f"{number} 21 0:{number + 40} / {mount.path} {options},relatime - {fstype} "
            f"{source.format(share=f'share{number}')} {options}"
        )
    return "\n".join(lines) + "\n"


#: fstype and source per mount kind, as the fake's mountinfo names them.
_MOUNT_SOURCES: Mapping[MountKind, tuple[str, str]] = {
    MountKind.FILES: ("cifs", "//fakestorage.file.core.windows.net/{share}"),
    MountKind.FILES_NFS: ("nfs4", "fakestorage.file.core.windows.net:/fakestorage/{share}"),
    MountKind.BLOB: ("fuse", "fakestorage-blob-{share}"),
}
