"""In-process fake of App Service's storage model, running the real probe app.

Each app has one shared ``/home`` folder; each container has its own writable layer (a
folder standing for ``/``). The probe code is loaded from the app's ``/home/site/wwwroot``,
as App Service runs what was deployed, and is reached through requests with a transport
adapter that plays App Service's front end (ARR affinity cookies included). No socket is
opened: any URL other than the app's own fails.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import json
import logging
import secrets
import shutil
import sys
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.cookies import SimpleCookie
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming, WithoutPlan
from pytest_appservice_fs.contract import CHECKSUM_NAME, MARKER_NAME
from pytest_appservice_fs.engine.expectations import LAB_PATHS, SHM
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeTiming, probe_session

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
    ) -> None:
        self.root = root
        self._labels = dict(labels or {})
        self.app_name = app_name
        self.app_settings = dict(app_settings or {})
        self.faults = faults
        self.timing = timing
        self.operations = _Operations()
        # Host names compare in lower case, as URLs carry them.
        self.host = f"{app_name.lower()}.fake.invalid"
        self._home = root / "home"
        self._instances: list[str] = []
        self._containers: dict[str, _Container] = {}  # instance id -> its container
        self._running = False
        self._pids = itertools.count(100)
        self._unavailable_answers = 0
        self._round_robin = itertools.count()
        self.session = probe_session()
        self.session.mount("http://", _FrontEnd(self))
        self.session.mount("https://", _FrontEnd(self))

    @property
    def facts(self) -> Mapping[str, str]:
        """The fake has no region or SKU of its own: only the labels it was given."""
        return dict(self._labels)

    def create(self) -> None:
        """Create the app's shared /home and its first instance."""
        self.operations.add("create")
        (self._home / "site" / "wwwroot").mkdir(parents=True, exist_ok=True)
        self._instances.append(_new_instance_id())
        self._running = True

    def deploy(self, package: ProbePackage) -> None:
        """Unpack the package into /home/site/wwwroot and recreate the containers."""
        self.operations.add("deploy")
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

    def restart(self, *, soft: bool | None = None) -> None:
        """Restart each probe process in its container; the writable layers stay (a soft
        restart is emulated the same way)."""
        self.operations.add("restart_soft" if soft else "restart")
        if self.faults.noop_restart:
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
            local = [p for p in self._paths() if not _under(p, "/home")]
            _plant_stale_markers([layer / p.lstrip("/") for p in local])
        container = _Container(container_id, instance_id, layer)
        if (self._home / "site" / "wwwroot" / "app.py").is_file():
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
        home = self._home
        if self.faults.home_not_persistent:
            home = self._fresh_home(container, pid)
        wwwroot = self._home / "site" / "wwwroot"
        module_name = f"_appservice_fs_fake_probe_{container.container_id}_{pid}"
        module = _load_module(module_name, wwwroot / "app.py")
        if not hasattr(module, "create_app") or not hasattr(module, "ProbeConfig"):
            _unload_module(module_name)
            # A lab probe writes to the real /home/data, /tmp/data: never in this process.
            raise BackendError(
                "the fake backend runs only probes with create_app(ProbeConfig), which it can "
                "point at temporary folders; run a lab probe with --backend local."
            )
        environ = {
            **self.app_settings,
            "WEBSITE_INSTANCE_ID": container.instance_id,
            "WEBSITE_SITE_NAME": self.app_name,
            "HOSTNAME": container.container_id,
        }
        # /dev/shm is a tmpfs mounted at each container start: a restart empties it.
        shm = container.layer.parent / f"{container.container_id}-shm-{pid}"
        shm.mkdir()
        mountinfo = container.layer.parent / f"{container.container_id}.mountinfo"
        mountinfo.write_text(_mountinfo(home_mounted=not self.faults.home_not_persistent))
        config = replace(
            module.ProbeConfig.from_environ(environ, app_dir=str(wwwroot)),
            hostname=container.container_id,
            pid=pid,
            process_start=time.time(),
            mounts={"/": str(container.layer), "/home": str(home), SHM: str(shm)},
            mountinfo_path=str(mountinfo),
        )
        return _Process(module.create_app(config), module_name, pid, home)

    def _stop_process(self, container: _Container) -> None:
        if container.process is not None:
            _unload_module(container.process.module_name)
            shm = container.layer.parent / f"{container.container_id}-shm-{container.process.pid}"
            shutil.rmtree(shm, ignore_errors=True)
            container.process = None

    def _fresh_home(self, container: _Container, pid: int) -> Path:
        # Stands for a /home that is not the app's share: empty but for the deployed code.
        home = self.root / "unmounted-home" / f"{container.container_id}-{pid}"
        shutil.copytree(self._home / "site", home / "site")
        if self.faults.stale_marker:
            shared = [p for p in self._paths() if _under(p, "/home")]
            _plant_stale_markers([home / p.removeprefix("/home").lstrip("/") for p in shared])
        return home

    def _paths(self) -> list[str]:
        configured = self.app_settings.get("PROBE_PATHS", "")
        return [p.strip() for p in configured.split(",") if p.strip()] or list(LAB_PATHS)

    def _settle(self) -> None:
        self._unavailable_answers = self.faults.transient_503s

    def _route(self, affinity: str | None) -> _Container | None:
        """Pick the container that answers, as ARR does: by affinity, else round robin."""
        if not self._running:
            return None
        if affinity in self._containers:
            return self._containers[affinity]
        serving = [self._containers[i] for i in self._instances if i in self._containers]
        if not serving:
            return None
        return serving[next(self._round_robin) % len(serving)]


class _FrontEnd(BaseAdapter):
    """A requests transport that plays App Service's front end for one fake app."""

    def __init__(self, backend: FakeBackend) -> None:
        super().__init__()
        self._backend = backend

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        if url.hostname != self._backend.host:
            # The fake never touches the network; an unexpected address is a harness bug.
            raise requests.ConnectionError(f"the fake backend has no route to {url.hostname!r}")
        if self._backend._unavailable_answers > 0:
            self._backend._unavailable_answers -= 1
            return _response(request, 503, b"Service Unavailable")
        cookies = SimpleCookie(request.headers.get("Cookie", ""))
        affinity = cookies["ARRAffinity"].value if "ARRAffinity" in cookies else None
        container = self._backend._route(affinity)
        if container is None or container.process is None:
            return _response(request, 503, b"Service Unavailable")
        client = container.process.app.test_client()
        answer = client.open(
            url.path or "/",
            method=request.method or "GET",
            query_string=url.query,
            headers={k: v for k, v in request.headers.items() if k.lower() != "cookie"},
        )
        return _response(request, answer.status_code, answer.get_data(), dict(answer.headers))

    def close(self) -> None:
        """Nothing to release: no sockets were opened."""


def _response(
    request: requests.PreparedRequest,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers = CaseInsensitiveDict(headers or {})
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BackendError(f"cannot load the deployed probe from {path}.")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class body runs.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        _unload_module(name)
        raise BackendError(f"the deployed probe {path} failed to load: {exc}") from exc
    return module


def _unload_module(name: str) -> None:
    # With its submodules: the probe loads its package under its own module's name.
    for loaded in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
        del sys.modules[loaded]


def _plant_stale_markers(folders: list[Path]) -> None:
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


def _mountinfo(*, home_mounted: bool) -> str:
    lines = [
        "21 1 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/fake/lower,upperdir=/fake/upper",
        "23 21 0:51 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k",
    ]
    if home_mounted:
        lines.append(
            "22 21 0:60 / /home rw,relatime - cifs //fakestorage.file.core.windows.net/fake-share "
            "rw,vers=3.1.1,cache=strict,nobrl,mfsymlinks"
        )
    return "\n".join(lines) + "\n"


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _new_instance_id() -> str:
    return secrets.token_hex(32)
