"""Local backend: a Docker emulator of App Service's storage model.

Per instance, one container with its own writable layer (so /tmp and /var/local are its own),
a 64-hex WEBSITE_INSTANCE_ID and Docker's container id as hostname, as on App Service. Per
app, named volumes for what App Service keeps on shares, per the configuration under test
(``local_storage.py`` states which): with App Service storage on, one for the /home share,
mounted by every instance over the image's /home; with it off, /home is each container's
own; one more per Azure Storage mount. The code runtime runs the deployed package on a
runtime image; the container runtime runs an image built per deploy with the probe baked in.
The probe answers on a port bound to 127.0.0.1 only. Every resource carries labels naming the
project, the app and the run, so teardown (and the next run, after a crash) finds it all.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import tarfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
import requests

from pytest_appservice_fs.backends.docker_images import (
    APP_IMAGE_ROLE,
    LABEL_PREFIX,
    app_image,
    app_image_tag,
    default_cache_dir,
    remove_image,
    resolve_base_image,
    run_images,
    runtime_image,
)
from pytest_appservice_fs.backends.local_storage import AppStorage, AppVolume
from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming, WithoutPlan
from pytest_appservice_fs.engine.configuration import Configuration, Mount, Runtime
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_client import (
    ProbeClient,
    ProbeTiming,
    ProbeUnavailable,
    probe_session,
)
from pytest_appservice_fs.engine.probe_package import IMAGE_PORT, image_context

if TYPE_CHECKING:
    from pytest_appservice_fs.engine.probe_package import ProbePackage

#: One record per dead run swept; the plugin shows them in the terminal (signals.py).
sweep_log = logging.getLogger("pytest_appservice_fs.sweep")

PROJECT = "pytest-appservice-fs"
PROBE_PORT = f"{IMAGE_PORT}/tcp"
DEPLOY_SECONDS = 120
STOP_SECONDS = 5

LOCAL_TIMING = BackendTiming(
    default_ready_timeout=60.0,
    poll_interval=0.1,
    probe=ProbeTiming(request_timeout=10.0, retry_deadline=30.0, wait_initial=0.05, wait_max=0.5),
)

# Unpacks the package the way Kudu's OneDeploy does: wwwroot is replaced as a whole.
DEPLOY_SCRIPT = """
import io, os, shutil, sys, zipfile
root = '/home/site/wwwroot'
with zipfile.ZipFile('/tmp/appservice-fs-package.zip') as package:
    for name in package.namelist():
        if not os.path.realpath(os.path.join(root, name)).startswith(root + '/'):
            sys.exit('package entry points outside wwwroot: ' + name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    package.extractall(root)
"""


def label(name: str) -> str:
    """A label key in the project's namespace."""
    return f"{LABEL_PREFIX}.{name}"


def docker_client() -> Any:
    """A Docker client that has answered a ping, or BackendError naming what to start."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except docker.errors.DockerException:
        raise BackendError(
            f"Docker is not reachable at {where}; start the Docker Engine (as root: dockerd &, "
            "or make docker) or set DOCKER_HOST."
        ) from None
    return client


def preflight(base_image: str | None) -> None:
    """Check, before anything is created, that Docker answers and a base image is at hand."""
    resolve_base_image(docker_client(), base_image)


@dataclass
class _Instance:
    instance_id: str
    container: Any = None


def owner_tag() -> str:
    """This process as the owner of what it creates: a run whose process is gone is swept."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


class LocalBackend(WithoutPlan):
    """An App Service app emulated with Docker containers and a volume; satisfies Backend."""

    name = "local"
    #: Plan-level events need an App Service plan, which the emulator does not model.
    unsupported: Mapping[Event, str] = {
        Event.SKU_CHANGE: "the local emulator has no App Service plan, so no SKU to change "
        "(on Azure a scale up moves the app to other workers)",
        Event.PLAN_RESTART: "the local emulator has no App Service plan to restart",
    }

    def __init__(
        self,
        *,
        app_name: str,
        run_id: str,
        app_settings: Mapping[str, str] | None = None,
        base_image: str | None = None,
        keep: bool = False,
        labels: Mapping[str, str] | None = None,
        timing: BackendTiming = LOCAL_TIMING,
        cache_dir: Path | None = None,
        configuration: Configuration = Configuration(),  # noqa: B008 - frozen, so shared safely
    ) -> None:
        self.app_name = app_name
        self.run_id = run_id
        self.app_settings = dict(app_settings or {})
        self.timing = timing
        self._base_image = base_image
        self._keep = keep
        self._facts = dict(labels or {})
        self._cache_dir = cache_dir or default_cache_dir()
        self._client: Any = None
        self._storage = AppStorage(f"appservice-fs-{run_id}-{app_name}".lower(), configuration)
        self._instances: list[_Instance] = []
        self._running = False
        self._package: ProbePackage | None = None
        self._image: str | None = None
        self._images: dict[bytes, str] = {}
        self._sequence = 0
        self._session = probe_session()

    @property
    def facts(self) -> Mapping[str, str]:
        """The local backend has no region or SKU: only the labels it was given."""
        return dict(self._facts)

    @property
    def configuration(self) -> Configuration:
        """The configuration the app runs under (its mounts include those added since)."""
        return self._storage.configuration

    def create(self) -> None:
        """Sweep dead runs' leftovers, then create the app's volumes (``local_storage.py``)."""
        self._client = docker_client()
        sweep_dead_runs(self._client)
        for volume in self._storage.volumes():
            self._create_volume(volume)
        self._instances = [_Instance(new_instance_id())]
        self._running = True

    def deploy(self, package: ProbePackage) -> None:
        """Deploy, then recreate every container. Code runtime: unpack the package into
        /home/site/wwwroot on the app's volume, as Kudu does. Container runtime: build a new
        image with the package baked in, as a container user deploys (a new image and a
        restart). Raises BackendError (ImageError) when a build or the unpack fails."""
        runtime = self._runtime_image(package)
        if self.configuration.runtime is Runtime.CONTAINER:
            self._image = self._app_image(package, runtime)
        else:
            self._image = runtime
            self._unpack(package)
        self._package = package
        self._recreate_containers()

    def add_mount(self, mount: Mount) -> None:
        """Add an Azure Storage mount to the app: one more volume, shared by every instance,
        then every container recreated with it (App Service restarts the app when a mount is
        added or changed: learn.microsoft.com/azure/app-service/configure-connect-to-azure-
        storage). Raises BackendError when a mount is at ``mount.path`` already."""
        if self.configuration.mount_at(mount.path) is not None:
            raise BackendError(f"the app has a mount at {mount.path} already.")
        self._storage = self._storage.with_mount(mount)
        if self._client is not None:
            self._create_volume(self._storage.mount_volume(mount))
        self._recreate_containers()

    def restart(self, *, soft: bool | None = None) -> None:
        """Restart each container: the same container and writable layer, a new process.
        A soft restart is emulated the same way (Docker has no lighter restart)."""
        for instance in self._instances:
            if instance.container is not None:
                instance.container.restart(timeout=STOP_SECONDS)

    def stop(self) -> None:
        """Stop and remove every container, as App Service does when an app is stopped."""
        for instance in self._instances:
            self._remove_container(instance)
        self._running = False

    def start(self) -> None:
        """Create a new container on each instance (same instance ids)."""
        self._running = True
        self._start_containers()

    def scale(self, count: int) -> None:
        """Add instances (new ids, new containers, same volume) or remove the newest."""
        if count < 1:
            raise BackendError(f"cannot scale to {count} instances; the least is 1.")
        while len(self._instances) > count:
            self._remove_container(self._instances.pop())
        while len(self._instances) < count:
            self._instances.append(_Instance(new_instance_id()))
        self._start_containers()

    def instances(self) -> list[str]:
        """Instance ids serving the app, oldest first."""
        return [i.instance_id for i in self._instances] if self._running else []

    def set_app_setting(self, name: str, value: str) -> None:
        """Change one setting: Docker cannot change a running container's environment, so
        every container is recreated with it (same instance ids, same /home volume)."""
        self.app_settings[name] = value
        self._recreate_containers()

    def probe(self, instance_id: str | None = None) -> ProbeClient:
        """A probe client for the instance's container (each container has its own port)."""
        instance = self._instance(instance_id)
        port = self._port_of(instance)
        return ProbeClient(
            f"http://127.0.0.1:{port}",
            session=self._session,
            token=self.app_settings.get("PROBE_TOKEN") or None,
            instance_id=instance_id,
            timing=self.timing.probe,
        )

    def kept_resources(self) -> str:
        """What was kept and the commands that inspect and remove it."""
        run = f"label={label('run')}={self.run_id}"
        images = f"{run} --filter label={label('role')}={APP_IMAGE_ROLE}"
        remove = (
            f"docker ps -aq --filter {run} | xargs -r docker rm -f; "
            f"docker images -q --filter {images} | xargs -r docker rmi; "
            f"docker volume ls -q --filter {run} | xargs -r docker volume rm"
        )
        return (
            f"kept the local app {self.app_name}: inspect with `docker ps -a --filter {run}`, "
            f"`docker images --filter {images}` and `docker volume ls --filter {run}`; "
            f"remove with `{remove}`"
        )

    def teardown(self) -> None:
        """Remove every container, volume and app image of this run and app; safe to call
        twice."""
        self._running = False
        for instance in self._instances:
            instance.container = None
        if self._client is None:
            return
        remove_resources(self._client, {label("run"): self.run_id, label("app"): self.app_name})

    def _labels(self, role: str, **extra: str) -> dict[str, str]:
        return {
            label("project"): PROJECT,
            label("app"): self.app_name,
            label("run"): self.run_id,
            label("role"): role,
            label("owner"): owner_tag(),
            label("keep"): "true" if self._keep else "false",
            **{label(k): v for k, v in extra.items()},
        }

    def _create_volume(self, volume: AppVolume) -> None:
        self._client.volumes.create(volume.name, labels=self._labels(volume.role, **volume.labels))

    def _app_image(self, package: ProbePackage, runtime: str) -> str:
        tag = app_image_tag(f"{self.run_id}-{self.app_name}", package.deployment_id)
        labels = self._labels(APP_IMAGE_ROLE)
        return app_image(self._client, image_context(package), base=runtime, tag=tag, labels=labels)

    def _runtime_image(self, package: ProbePackage) -> str:
        if package.requirements not in self._images:
            base = resolve_base_image(self._client, self._base_image)
            # The build's intermediate images carry the run's labels: if the build is cut
            # short, they are this run's to remove (or a later run's sweep, once it is dead).
            self._images[package.requirements] = runtime_image(
                self._client,
                base,
                package.requirements,
                self._cache_dir,
                labels=self._labels("build"),
            )
        return self._images[package.requirements]

    def _unpack(self, package: ProbePackage) -> None:
        deployer = self._client.containers.create(
            self._image,
            ["python3", "-c", DEPLOY_SCRIPT],
            mounts=self._storage.deployer_mounts(),
            labels=self._labels("deployer"),
            network_disabled=True,
        )
        try:
            deployer.put_archive("/tmp", tar_archive({"appservice-fs-package.zip": package.data}))  # noqa: S108
            deployer.start()
            try:
                result = deployer.wait(timeout=DEPLOY_SECONDS)
            except requests.RequestException:
                raise BackendError(f"deploy did not finish within {DEPLOY_SECONDS} s.") from None
            if result.get("StatusCode") != 0:
                output = deployer.logs().decode("utf-8", "replace").strip()[-500:]
                raise BackendError(f"deploy failed: {output or result}")
        finally:
            deployer.remove(force=True)

    def _recreate_containers(self) -> None:
        for instance in self._instances:
            self._remove_container(instance)
        self._start_containers()

    def _start_containers(self) -> None:
        if not self._running or self._package is None:
            return
        for instance in self._instances:
            if instance.container is None:
                instance.container = self._run_container(instance.instance_id)

    def _run_container(self, instance_id: str) -> Any:
        if self._package is None:
            raise BackendError("no probe is deployed yet; deploy before starting containers.")
        self._sequence += 1
        environment = {
            **self.app_settings,
            "WEBSITE_INSTANCE_ID": instance_id,
            "WEBSITE_SITE_NAME": self.app_name,
        }
        command: list[str] | None = self._package.startup_command(self._storage.code_dir)
        if self.configuration.runtime is Runtime.CONTAINER:
            # The image's own CMD serves on WEBSITES_PORT, as App Service passes it; ours wins
            # over an app setting, since the published port is fixed.
            command = None
            environment["WEBSITES_PORT"] = str(IMAGE_PORT)
        return self._client.containers.run(
            self._image,
            command,
            detach=True,
            name=f"appservice-fs-{self.run_id}-{self.app_name}-{instance_id[:8]}-{self._sequence}",
            environment=environment,
            labels=self._labels("instance", instance=instance_id),
            ports={PROBE_PORT: ("127.0.0.1", None)},
            mounts=self._storage.instance_mounts(),
        )

    def _remove_container(self, instance: _Instance) -> None:
        container, instance.container = instance.container, None
        if container is None:
            return
        try:
            container.stop(timeout=STOP_SECONDS)
            container.remove(force=True)
        except docker.errors.NotFound:
            pass  # gone already is as good as removed
        except docker.errors.APIError as exc:
            raise BackendError(f"could not remove container {container.short_id}: {exc}") from None

    def _instance(self, instance_id: str | None) -> _Instance:
        for instance in self._instances:
            if instance_id is None or instance.instance_id == instance_id:
                return instance
        raise ProbeUnavailable(f"instance {str(instance_id)[:12]} is not part of the app")

    def _port_of(self, instance: _Instance) -> str:
        container = instance.container
        if container is None or not self._running:
            raise ProbeUnavailable(f"instance {instance.instance_id[:12]} has no container")
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(PROBE_PORT) or []
        if container.status != "running" or not bindings:
            raise ProbeUnavailable(
                f"container {container.short_id} is {container.status}, not serving"
            )
        return str(bindings[0]["HostPort"])


def remove_resources(client: Any, labels: Mapping[str, str]) -> int:
    """Remove containers, then volumes and images (app images and untagged build images)
    carrying all ``labels``; return how many went.

    Containers go in parallel and are killed, not stopped (``docker rm -f``): nothing of an
    app outlives its removal, and teardown must end well within the 7.5 s GitHub Actions
    leaves between its SIGINT and SIGTERM. Volumes and images go after, once no container
    mounts or runs them, in parallel too; images are not forced (``run_images``).
    """
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    # Sparse: listed without inspecting each, and one already gone is no failure: another
    # run's sweep (an xdist worker's) may remove the same leftovers at the same time.
    containers = client.containers.list(all=True, filters=filters, sparse=True)
    removed = _in_parallel([partial(_removed, container) for container in containers])
    volumes = [partial(_removed, volume) for volume in client.volumes.list(filters=filters)]
    images = [partial(remove_image, client, image["Id"]) for image in run_images(client, filters)]
    return removed + _in_parallel(volumes + images)


def _in_parallel(removals: Sequence[Callable[[], int]]) -> int:
    if not removals:
        return 0
    with ThreadPoolExecutor(max_workers=min(len(removals), 8)) as pool:
        return sum(pool.map(lambda remove: remove(), removals))


def _removed(resource: Any) -> int:
    try:
        resource.remove(force=True)
    except docker.errors.NotFound:
        return 0
    return 1


def sweep_dead_runs(client: Any) -> int:
    """Remove what runs left behind when their process died (a crash, a kill -9)."""
    filters = {"label": [f"{label('project')}={PROJECT}"]}
    dead_runs: set[tuple[str, str]] = set()
    # Sparse: a container another worker removes between the list and an inspect would
    # otherwise fail this run's start (docker's list inspects each container it lists).
    found = [
        resource.attrs.get("Labels") or resource.attrs.get("Config", {}).get("Labels") or {}
        for resource in [
            *client.containers.list(all=True, filters=filters, sparse=True),
            *client.volumes.list(filters=filters),
        ]
    ]
    found += [image.get("Labels") or {} for image in run_images(client, filters)]
    for labels in found:
        if labels.get(label("keep")) == "true" or not _owner_is_dead(labels.get(label("owner"))):
            continue
        dead_runs.add((labels.get(label("run"), ""), labels.get(label("app"), "")))
    removed = 0
    for run, app in sorted(dead_runs):
        swept = remove_resources(client, {label("run"): run, label("app"): app})
        if swept:  # none: another run's sweep (an xdist worker's) got there first
            sweep_log.warning(
                "swept %d leftover(s) of dead run %s (app %s): its process is gone",
                *(swept, run, app),
            )
        removed += swept
    return removed


def _owner_is_dead(owner: str | None) -> bool:
    if not owner or owner.count(":") < 2:
        return False
    host, pid_text, started = owner.rsplit(":", 2)
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's run: not ours to judge
    if not Path("/proc/self/stat").exists():
        return False  # cannot tell on this system: leave it
    return _process_start(int(pid_text)) != started


def _process_start(pid: int) -> str:
    # The start time tells a live owner from a reused pid.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat.rsplit(")", 1)[1].split()[19]


def tar_archive(files: Mapping[str, bytes]) -> bytes:
    """A tar archive of ``files`` (name to content), for Docker's put_archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def new_instance_id() -> str:
    """A fresh 64-hex instance id, like WEBSITE_INSTANCE_ID on App Service."""
    return secrets.token_hex(32)
