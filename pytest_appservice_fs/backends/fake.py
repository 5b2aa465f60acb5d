"""In-process fake of App Service's storage model, running the real probe app.

It does what the local Docker emulator does (``backends/local.py``; the expectations are
``engine/expectations.py``'s emulator matrix) under every configuration
(``engine/configuration.py``):

- each container has its own writable layer (a folder standing for ``/``);
- App Service storage on: one ``/home`` folder shared by every instance and kept across
  containers; off: ``/home`` is part of each container's layer (lost when the container is
  recreated, not seen by another instance);
- each Azure Storage mount is one folder shared by every instance; a Blob mount is read-only
  (the probe's writes there fail with EROFS, ``fake_storage.ReadOnlyView``);
- runtime ``code``: the probe is loaded from the app's ``/home/site/wwwroot``, which a deploy
  replaces; ``container``: from an image built from the probe's build context
  (``image_context``), which a deploy replaces, leaving wwwroot as it was.

``reconfigure`` changes the configuration of a running app (and may hand it an image's build
context and folders for its mounts), as the Azure simulator's sites need when their config
changes.

Requests reach the probe through a transport that plays App Service's front end
(``fake_front_end``); no socket is opened.
"""

from __future__ import annotations

import io
import itertools
import logging
import secrets
import shutil
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_appservice_fs.backends.fake_front_end import FrontEnd
from pytest_appservice_fs.backends.fake_storage import (
    ReadOnlyView,
    load_probe,
    mount_folder,
    mountinfo,
    plant_stale_markers,
    see_read_only,
    unload_probe,
    unpack_image,
)
from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming, WithoutPlan
from pytest_appservice_fs.engine.configuration import Configuration, Mount, Runtime
from pytest_appservice_fs.engine.expectations import LAB_PATHS, SHM
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeTiming, probe_session
from pytest_appservice_fs.engine.probe_package import image_context

if TYPE_CHECKING:
    from pytest_appservice_fs.engine.probe_package import ProbePackage

log = logging.getLogger(__name__)


FAKE_TIMING = BackendTiming(
    default_ready_timeout=2.0,
    poll_interval=0.01,
    probe=ProbeTiming(request_timeout=5.0, retry_deadline=3.0, wait_initial=0.01, wait_max=0.1),
    # The fake serves offline tests: one small size keeps them fast.
    throughput_sizes=(1,),
)
#: Code on the built-in stack, App Service storage on, no mounts: the lab's configuration.
DEFAULT_CONFIGURATION = Configuration()


@dataclass(frozen=True)
class FakeFaults:
    """Faults the fake can inject, so tests can prove the harness catches each one."""

    #: Every probe process gets a fresh, empty /home, as if the share were never mounted.
    home_not_persistent: bool = False
    #: A restart is accepted but nothing restarts.
    noop_restart: bool = False
    #: After each event the front end answers this many requests with HTTP 503.
    transient_503s: int = 0
    #: Fresh storage (a new container's layer, a fresh /home) holds a marker from an old run.
    stale_marker: bool = False

    @classmethod
    def from_names(cls, names: frozenset[str]) -> FakeFaults:
        """Faults from their option names (``--fake-fault``)."""
        return cls(
            home_not_persistent="home-not-persistent" in names,
            noop_restart="noop-restart" in names,
            transient_503s=3 if "transient-503" in names else 0,
            stale_marker="stale-marker" in names,
        )


@dataclass
class _Process:
    app: Any  # a flask.Flask; typed loosely so the probe's Flask stays its own business
    module_name: str
    pid: int
    #: The folder the process sees as /home.
    home: Path


@dataclass
class _Container:
    container_id: str
    instance_id: str
    layer: Path
    process: _Process | None = None


@dataclass
class _Operations:
    """What the fake was asked to do, so tests can check the harness fired each event once."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


class FakeBackend(WithoutPlan):
    """An App Service app simulated in temporary folders; satisfies ``Backend``."""

    name = "fake"
    #: Plan-level events need an App Service plan, which the fake does not model.
    unsupported: Mapping[Event, str] = {
        Event.SKU_CHANGE: "the fake backend has no App Service plan, so no SKU to change",
        Event.PLAN_RESTART: "the fake backend has no App Service plan to restart",
    }

    def __init__(
        self,
        root: Path,
        *,
        app_name: str = "fake-app",
        app_settings: Mapping[str, str] | None = None,
        faults: FakeFaults = FakeFaults(),
        timing: BackendTiming = FAKE_TIMING,
        labels: Mapping[str, str] | None = None,
        configuration: Configuration = DEFAULT_CONFIGURATION,
    ) -> None:
        self.root = root
        self.configuration = configuration
        self._labels = dict(labels or {})
        self.app_name = app_name
        self.app_settings = dict(app_settings or {})
        self.faults = faults
        self.timing = timing
        self.operations = _Operations()
        # Host names compare in lower case, as URLs carry them.
        self.host = f"{app_name.lower()}.fake.invalid"
        # The app's storage: /home when App Service storage is on; with it off, only where
        # the deployed code is kept (as the local emulator keeps its volume out of /home).
        self._home = root / "home"
        #: The folder of the container image a container app runs (after its first deploy).
        self._image: Path | None = None
        #: Mount path -> the folder of a mount whose storage is not the app's own.
        self._mount_folders: dict[str, Path] = {}
        self._instances: list[str] = []
        self._containers: dict[str, _Container] = {}  # instance id -> its container
        self._running = False
        self._pids = itertools.count(100)
        self._unavailable_answers = 0
        self._round_robin = itertools.count()
        self.session = probe_session()
        self.session.mount("http://", FrontEnd(self))
        self.session.mount("https://", FrontEnd(self))

    @property
    def facts(self) -> Mapping[str, str]:
        """The fake has no region or SKU of its own: only the labels it was given."""
        return dict(self._labels)

    def create(self) -> None:
        """Create the app's storage, its mounts' folders and its first instance."""
        self.operations.add("create")
        (self._home / "site" / "wwwroot").mkdir(parents=True, exist_ok=True)
        for mount in self.configuration.mounts:
            self._mount_folder(mount).mkdir(parents=True, exist_ok=True)
        self._instances.append(_new_instance_id())
        self._running = True

    def deploy(self, package: ProbePackage) -> None:
        """Deploy and recreate the containers. Code: unpack the package into
        /home/site/wwwroot, replacing it. Container: build a new image from the package's
        build context (its DEPLOYMENT_ID included); wwwroot stays as it was.

        Raises BackendError for a package entry outside wwwroot (nothing is changed), and
        ProbePackageError for a container image of the lab's probe."""
        self.operations.add("deploy")
        if self.configuration.runtime is Runtime.CONTAINER:
            self._apply(self.configuration, image_context(package))
            return
        wwwroot = self._home / "site" / "wwwroot"
        with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
            # Check every entry before touching wwwroot, so a refused package changes nothing.
            for member in archive.namelist():
                target = (wwwroot / member).resolve()
                if not target.is_relative_to(wwwroot.resolve()):
                    raise BackendError(f"package entry {member!r} points outside wwwroot.")
            shutil.rmtree(wwwroot, ignore_errors=True)
            wwwroot.mkdir(parents=True)
            archive.extractall(wwwroot)
        self._recreate_all()

    def restart(self, *, soft: bool | None = None, new_containers: bool = False) -> None:
        """Restart each probe process in its container; the writable layers stay (a soft
        restart is emulated the same way). ``new_containers``: replace each container with a
        new one on the same instance instead, as App Service restarts a custom container
        ("files outside the mounts don't persist across restarts", configure-custom-container),
        where the local emulator restarts it in place."""
        self.operations.add("restart_soft" if soft else "restart")
        if self.faults.noop_restart:
            return
        if new_containers:
            self._recreate_all()
            return
        for container in self._containers.values():
            self._stop_process(container)
            container.process = self._start_process(container)
        self._settle()

    def stop(self) -> None:
        """Remove every container, as App Service does when an app is stopped."""
        self.operations.add("stop")
        for instance_id in list(self._containers):
            self._remove_container(instance_id)
        self._running = False

    def start(self) -> None:
        """Create a new container on each instance."""
        self.operations.add("start")
        self._running = True
        self._ensure_containers()
        self._settle()

    def scale(self, count: int) -> None:
        """Add instances with new ids, or remove the newest ones."""
        if count < 1:
            raise BackendError(f"cannot scale to {count} instances; the least is 1.")
        self.operations.add(f"scale_to_{count}")
        while len(self._instances) < count:
            self._instances.append(_new_instance_id())
        while len(self._instances) > count:
            self._remove_container(self._instances.pop())
        self._ensure_containers()
        self._settle()

    def instances(self) -> list[str]:
        """Instance ids serving the app, oldest first."""
        return list(self._instances) if self._running else []

    def set_app_setting(self, name: str, value: str) -> None:
        """Change one setting; like the local emulator (Docker cannot change a running
        container's environment), every container is recreated to apply it."""
        self.operations.add("set_app_setting")
        self.app_settings[name] = value
        self._recreate_all()

    def add_mount(self, mount: Mount) -> None:
        """Add an Azure Storage mount and recreate the containers, as App Service restarts
        the app when a mount is added (configure-connect-to-azure-storage). The probe writes
        there only if its PROBE_PATHS setting lists the path.

        Raises BackendError when a mount is at that path already."""
        if self.configuration.mount_at(mount.path) is not None:
            raise BackendError(f"the app has a mount at {mount.path} already.")
        self.operations.add("add_mount")
        self._apply(replace(self.configuration, mounts=(*self.configuration.mounts, mount)))

    def reconfigure(
        self,
        configuration: Configuration,
        *,
        image: bytes | None = None,
        mount_folders: Mapping[str, Path] | None = None,
    ) -> None:
        """Run the app under ``configuration`` from now on, on new containers, as App Service
        restarts an app whose runtime, App Service storage or mounts change.

        ``image``: a container image's build context (a gzipped tar, as ``image_context``
        makes it) that a container app runs from now on; None keeps the image it runs.
        ``mount_folders``: mount path -> the folder holding that mount's files, for storage
        that is not the app's own (a storage account that outlives it, or that other apps
        mount too); a mount not named has a folder under ``root``; None keeps those given
        before. Raises BackendError for a build context entry that is no file (nothing is
        changed then)."""
        self.operations.add("reconfigure")
        if mount_folders is not None:
            self._mount_folders = dict(mount_folders)
        self._apply(configuration, image)

    def replace_instances(self) -> None:
        """Move the app to new workers (new instance ids, new containers, same /home), as a
        simulated SKU change does."""
        self.operations.add("replace_instances")
        for instance_id in list(self._containers):
            self._remove_container(instance_id)
        self._instances = [_new_instance_id() for _ in self._instances]
        self._ensure_containers()
        self._settle()

    def probe(self, instance_id: str | None = None) -> ProbeClient:
        """A probe client going through the fake front end."""
        return ProbeClient(
            f"https://{self.host}",
            session=self.session,
            token=self.app_settings.get("PROBE_TOKEN") or None,
            instance_id=instance_id,
            timing=self.timing.probe,
        )

    def kept_resources(self) -> str:
        """Where the kept folders are and how to remove them."""
        return (
            f"kept the fake app {self.app_name} in {self.root}; remove it with: rm -rf {self.root}"
        )

    def teardown(self) -> None:
        """Stop every process and delete every folder of the app."""
        for instance_id in list(self._containers):
            self._remove_container(instance_id)
        self._instances.clear()
        self._running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def container_of(self, instance_id: str) -> str | None:
        """The container id (hostname) serving ``instance_id`` now, for tests."""
        container = self._containers.get(instance_id)
        return container.container_id if container else None

    def _apply(self, configuration: Configuration, image: bytes | None = None) -> None:
        """Run under ``configuration`` (and the image built from ``image``) on new containers."""
        old = self._image
        if image is not None:
            self._image = unpack_image(self.root / "images", image)
        self.configuration = configuration
        for mount in configuration.mounts:
            self._mount_folder(mount).mkdir(parents=True, exist_ok=True)
        self._recreate_all()
        if old is not None and old != self._image:
            shutil.rmtree(old, ignore_errors=True)

    def _mount_folder(self, mount: Mount) -> Path:
        return self._mount_folders.get(mount.path) or mount_folder(self.root, mount)

    def _recreate_all(self) -> None:
        for instance_id in list(self._containers):
            self._remove_container(instance_id)
        self._ensure_containers()
        self._settle()

    def _ensure_containers(self) -> None:
        if not self._running:
            return
        for instance_id in self._instances:
            if instance_id not in self._containers:
                self._containers[instance_id] = self._new_container(instance_id)

    def _new_container(self, instance_id: str) -> _Container:
        container_id = secrets.token_hex(6)
        layer = self.root / "containers" / container_id
        layer.mkdir(parents=True)
        if self.faults.stale_marker:
            local = [p for p in self._paths() if not self._on_shared_storage(p)]
            plant_stale_markers([layer / p.lstrip("/") for p in local])
        container = _Container(container_id, instance_id, layer)
        if (self._code_dir() / "app.py").is_file():
            container.process = self._start_process(container)
        return container

    def _remove_container(self, instance_id: str) -> None:
        container = self._containers.pop(instance_id, None)
        if container is None:
            return
        self._stop_process(container)
        shutil.rmtree(container.layer, ignore_errors=True)

    def _start_process(self, container: _Container) -> _Process:
        pid = next(self._pids)
        code_dir = self._code_dir()
        module_name = f"_appservice_fs_fake_probe_{container.container_id}_{pid}"
        module = load_probe(module_name, code_dir / "app.py")
        if not hasattr(module, "create_app") or not hasattr(module, "ProbeConfig"):
            unload_probe(module_name)
            # A lab probe writes to the real /home/data, /tmp/data: never in this process.
            raise BackendError(
                "the fake backend runs only probes with create_app(ProbeConfig), which it can "
                "point at temporary folders; run a lab probe with --backend local."
            )
        read_only = [self._mount_folder(m) for m in self.configuration.mounts if m.kind.read_only]
        if read_only:
            see_read_only(module_name, ReadOnlyView(read_only))
        environ = {
            **self.app_settings,
            "WEBSITE_INSTANCE_ID": container.instance_id,
            "WEBSITE_SITE_NAME": self.app_name,
            "HOSTNAME": container.container_id,
        }
        # /dev/shm is a tmpfs mounted at each container start: a restart empties it.
        shm = container.layer.parent / f"{container.container_id}-shm-{pid}"
        shm.mkdir()
        mounts = {"/": str(container.layer), SHM: str(shm)}
        home_mounted = self.configuration.home_shared and not self.faults.home_not_persistent
        if self.configuration.home_shared:
            # Without App Service storage, /home is the container layer's own folder.
            home = (
                self._fresh_home(container, pid) if self.faults.home_not_persistent else self._home
            )
            mounts["/home"] = str(home)
        mounts.update({m.path: str(self._mount_folder(m)) for m in self.configuration.mounts})
        table = container.layer.parent / f"{container.container_id}.mountinfo"
        table.write_text(mountinfo(home_mounted=home_mounted, mounts=self.configuration.mounts))
        config = replace(
            module.ProbeConfig.from_environ(environ, app_dir=str(code_dir)),
            hostname=container.container_id,
            pid=pid,
            process_start=time.time(),
            mounts=mounts,
            mountinfo_path=str(table),
        )
        home_folder = Path(mounts.get("/home", container.layer / "home"))
        return _Process(module.create_app(config), module_name, pid, home_folder)

    def _code_dir(self) -> Path:
        """Where the probe's code is: the image's code folder for a container app (nothing
        before its first deploy), else the app's wwwroot."""
        if self.configuration.runtime is Runtime.CONTAINER:
            return self._image or self.root / "no-image-yet"
        return self._home / "site" / "wwwroot"

    def _on_shared_storage(self, path: str) -> bool:
        """Whether ``path`` is on storage the containers share (/home, when App Service
        storage is on, or a mount)."""
        mounted = [m.path for m in self.configuration.mounts]
        if self.configuration.home_shared:
            mounted.append("/home")
        return any(_under(path, prefix) for prefix in mounted)

    def _stop_process(self, container: _Container) -> None:
        if container.process is not None:
            unload_probe(container.process.module_name)
            shm = container.layer.parent / f"{container.container_id}-shm-{container.process.pid}"
            shutil.rmtree(shm, ignore_errors=True)
            container.process = None

    def _fresh_home(self, container: _Container, pid: int) -> Path:
        # Stands for a /home that is not the app's share: empty but for the deployed code.
        home = self.root / "unmounted-home" / f"{container.container_id}-{pid}"
        shutil.copytree(self._home / "site", home / "site")
        if self.faults.stale_marker:
            shared = [p for p in self._paths() if _under(p, "/home")]
            plant_stale_markers([home / p.removeprefix("/home").lstrip("/") for p in shared])
        return home

    def _paths(self) -> list[str]:
        configured = self.app_settings.get("PROBE_PATHS", "")
        return [p.strip() for p in configured.split(",") if p.strip()] or list(LAB_PATHS)

    def _settle(self) -> None:
        self._unavailable_answers = self.faults.transient_503s

    def answers_unavailable(self) -> bool:
        """Whether the front end answers this request with HTTP 503 (``transient_503s``)."""
        if self._unavailable_answers <= 0:
            return False
        self._unavailable_answers -= 1
        return True

    def app_for(self, affinity: str | None) -> Any:
        """The Flask app of the container that answers, as ARR picks it: by affinity, else
        round robin; None when no process serves."""
        if not self._running:
            return None
        container = self._containers.get(affinity or "")
        if container is None:
            serving = [self._containers[i] for i in self._instances if i in self._containers]
            if not serving:
                return None
            container = serving[next(self._round_robin) % len(serving)]
        return container.process.app if container.process else None


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _new_instance_id() -> str:
    return secrets.token_hex(32)
