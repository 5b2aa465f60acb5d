"""What runs a simulated site: code from wwwroot or a custom container's image, on the storage
its configuration gives it.

Answers for no Azure component itself: ``arm_sites`` configures it from the site's config
(``linuxFxVersion``, ``azureStorageAccounts``) and app settings, and the front end sends it the
app's requests. It is the fake backend (``FakeBackend``) with three differences, each from a
documented platform fact (sources in ``engine/configuration.py``'s docstring):

- App Service storage off (``WEBSITES_ENABLE_APP_SERVICE_STORAGE=false``): ``/home`` is the
  container's own folder, lost when the container is recreated, never seen by another instance.
  Without the setting, storage is on here (what Azure defaults to for a custom container is
  not settled by the sources read).
- A custom container (``linuxFxVersion=DOCKER|<image>``) runs the probe from the image's
  files (its build context, as ``arm_registry`` built it), so the deployment id it reports is
  the image's ``DEPLOYMENT_ID``: a deploy that did not change the image is caught.
- An Azure Storage mount is one folder shared by every instance (its share or container). A
  Blob mount is read-only: every write under it fails with EROFS, raised by a per-process
  stand-in for the probe's ``os`` module (the probe runs in this interpreter, so the folder
  cannot be made read-only to it alone; root ignores file modes).
"""

from __future__ import annotations

import errno
import os
import secrets
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_appservice_fs.backends.fake import FakeBackend, _Container, _Process
from pytest_appservice_fs.backends.fake import _load_module as load_module
from pytest_appservice_fs.backends.fake import _mountinfo as mountinfo_text
from pytest_appservice_fs.backends.fake import _unload_module as unload_module
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.expectations import SHM

STORAGE_SETTING = "WEBSITES_ENABLE_APP_SERVICE_STORAGE"
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SiteBackend(FakeBackend):
    """A site's instances and containers; runs code or an image, with its mounts."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        #: The running image's files (its build context), or None for code from wwwroot.
        self.image_dir: Path | None = None
        #: Mount path -> (shared folder, read only).
        self.mounts: dict[str, tuple[Path, bool]] = {}

    def run(self, image_dir: Path | None, mounts: dict[str, tuple[Path, bool]]) -> None:
        """Run ``image_dir`` (None: code) with ``mounts``: the containers are recreated."""
        self.image_dir, self.mounts = image_dir, dict(mounts)
        self._recreate_all()

    def restart_containers(self) -> None:
        """Restart by recreating every container (a custom container's restart)."""
        self.operations.add("restart")
        self._recreate_all()

    @property
    def code_dir(self) -> Path:
        """Where the probe's app.py is loaded from."""
        return self.image_dir or self._home / "site" / "wwwroot"

    @property
    def storage_on(self) -> bool:
        """Whether /home is the app's share (the setting, on when absent)."""
        return self.app_settings.get(STORAGE_SETTING, "true").lower() != "false"

    def _new_container(self, instance_id: str) -> _Container:
        layer = self.root / "containers" / secrets.token_hex(6)
        layer.mkdir(parents=True)
        container = _Container(layer.name, instance_id, layer)
        if (self.code_dir / "app.py").is_file():
            container.process = self._start_process(container)
        return container

    def _start_process(self, container: _Container) -> _Process:
        pid = next(self._pids)
        home = self._home if self.storage_on else container.layer / "home"
        home.mkdir(parents=True, exist_ok=True)
        code = self.code_dir
        module_name = f"_appservice_fs_sim_probe_{container.container_id}_{pid}"
        module = load_module(module_name, code / "app.py")
        if not hasattr(module, "create_app"):
            unload_module(module_name)
            raise BackendError("the simulated site runs only the project's probe.")
        environ = {
            **self.app_settings,
            "WEBSITE_INSTANCE_ID": container.instance_id,
            "WEBSITE_SITE_NAME": self.app_name,
            "HOSTNAME": container.container_id,
        }
        shm = container.layer.parent / f"{container.container_id}-shm-{pid}"
        shm.mkdir()
        info = container.layer.parent / f"{container.container_id}.mountinfo"
        info.write_text(mountinfo_text(home_mounted=self.storage_on))
        mounts = {"/": str(container.layer), "/home": str(home), SHM: str(shm)}
        mounts.update({path: str(folder) for path, (folder, _) in self.mounts.items()})
        config = replace(
            module.ProbeConfig.from_environ(environ, app_dir=str(code)),
            hostname=container.container_id,
            pid=pid,
            mounts=mounts,
            mountinfo_path=str(info),
        )
        app = module.create_app(config)
        read_only = [str(folder) for folder, ro in self.mounts.values() if ro]
        if read_only:
            _refuse_writes(module_name, read_only)
        return _Process(app, module_name, pid, home)


class ReadOnlyOs:
    """The ``os`` module as a process sees it through read-only mounts: writes under any of
    ``roots`` fail with EROFS, as on a file system mounted ``ro``; everything else is ``os``."""

    def __init__(self, roots: list[str]) -> None:
        self._roots = [os.path.realpath(root) for root in roots]

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def _refused(self, path: Any, dir_fd: int | None) -> bool:
        if isinstance(path, int):
            return False
        base = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None else ""
        full = os.path.realpath(os.path.join(base, os.fsdecode(path)))
        return any(full == root or full.startswith(root + os.sep) for root in self._roots)

    def _erofs(self, path: Any) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def mkdir(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        """EROFS under a read-only root (EEXIST first, as Linux checks the name first)."""
        if self._refused(path, dir_fd):
            if os.path.lexists(path if dir_fd is None else f"/proc/self/fd/{dir_fd}/{path}"):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
            raise self._erofs(path)
        os.mkdir(path, mode, dir_fd=dir_fd)

    def makedirs(self, name: Any, mode: int = 0o777, exist_ok: bool = False) -> None:
        """EROFS for a folder to make under a read-only root."""
        if self._refused(name, None) and not os.path.isdir(name):
            raise self._erofs(name)
        os.makedirs(name, mode, exist_ok)

    def open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        """EROFS for an open that may write under a read-only root."""
        if flags & _WRITE_FLAGS and self._refused(path, dir_fd):
            raise self._erofs(path)
        return os.open(path, flags, mode, dir_fd=dir_fd)

    def _guarded(self, name: str, *paths: tuple[Any, int | None]) -> None:
        for path, dir_fd in paths:
            if self._refused(path, dir_fd):
                raise self._erofs(path)

    def replace(
        self, src: Any, dst: Any, *, src_dir_fd: Any = None, dst_dir_fd: Any = None
    ) -> None:
        """EROFS when either name is under a read-only root."""
        self._guarded("replace", (src, src_dir_fd), (dst, dst_dir_fd))
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    rename = replace

    def unlink(self, path: Any, *, dir_fd: int | None = None) -> None:
        """EROFS under a read-only root."""
        self._guarded("unlink", (path, dir_fd))
        os.unlink(path, dir_fd=dir_fd)

    remove = unlink


def _refuse_writes(module_name: str, roots: list[str]) -> None:
    """Give each of the process's probe modules a read-only view of ``roots``."""
    guard = ReadOnlyOs(roots)
    for name, loaded in list(sys.modules.items()):
        mine = name.startswith(module_name + ".") and isinstance(loaded, ModuleType)
        if mine and getattr(loaded, "os", None) is os:
            loaded.os = guard  # type: ignore[attr-defined]
