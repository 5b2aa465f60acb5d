"""The local backend under each configuration: App Service storage on or off, Azure Storage
mounts, and the container runtime (issue 15)."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors
import pytest

from pytest_appservice_fs.backends.docker_images import (
    APP_REPOSITORY,
    DEBIAN_BASE_IMAGE,
    LABEL_PREFIX,
)
from pytest_appservice_fs.backends.local import LocalBackend, label
from pytest_appservice_fs.engine.configuration import Configuration, Mount, MountKind, Runtime
from pytest_appservice_fs.engine.expectations import HOME
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from tests.docker.conftest import labelled

pytestmark = pytest.mark.docker

BAKED_MARKER = "/home/baked/marker.txt"
SHARE = "/mnt/share"
BLOB = "/mnt/blob"
#: The probe's allowlist in these tests: /home's marker path and the mounts'.
PROBE_PATHS = ",".join((HOME, SHARE, BLOB))
#: An image on the Debian base with a file under /home, as a user's image may have.
BAKED_DOCKERFILE = f"""\
FROM {DEBIAN_BASE_IMAGE}
RUN mkdir -p /home/baked && echo baked > {BAKED_MARKER}
"""


@pytest.fixture(scope="module")
def baked_base(docker_client: Any) -> Iterator[str]:
    """A base image with a file at /home/baked/marker.txt; removed after the module, with
    the probe runtime images built on it."""
    tag = f"pytest-appservice-fs/test-baked-home:{secrets.token_hex(5)}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(BAKED_DOCKERFILE)
        archive.addfile(info, io.BytesIO(BAKED_DOCKERFILE.encode()))
    context.seek(0)
    docker_client.images.build(
        fileobj=context,
        custom_context=True,
        tag=tag,
        pull=False,
        network_mode="none",
        rm=True,
        labels={label("project"): "pytest-appservice-fs", label("role"): "test-base"},
    )
    yield tag
    # Children first: the runtime images built on the base, then the base itself.
    runtimes = docker_client.images.list(filters={"label": [f"{LABEL_PREFIX}.base={tag}"]})
    for image in [*runtimes, docker_client.images.get(tag)]:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(image.id)


@pytest.fixture
def new_app(run_id: str) -> Iterator[Callable[..., LocalBackend]]:
    """Create and deploy local apps (the bundled probe) under a configuration; each is torn
    down after the test."""
    apps: list[LocalBackend] = []

    def create(configuration: Configuration, *, base_image: str | None = None) -> LocalBackend:
        backend = LocalBackend(
            app_name=f"config-{len(apps)}",
            run_id=run_id,
            app_settings={"PROBE_PATHS": PROBE_PATHS},
            base_image=base_image,
            configuration=configuration,
        )
        apps.append(backend)
        backend.create()
        backend.deploy(build_package(default_probe_dir()))
        return backend

    yield create
    for backend in apps:
        backend.teardown()


def containers_of(client: Any, run_id: str) -> list[Any]:
    """The running containers of the run's app instances."""
    filters = {"label": [f"{label('run')}={run_id}", f"{label('role')}=instance"]}
    return list(client.containers.list(filters=filters))


def app_images(client: Any, run_id: str) -> list[str]:
    """Tags of the run's app images (the container runtime's, one per deploy)."""
    images = client.images.list(filters={"label": [f"{label('run')}={run_id}"]})
    return [tag for image in images for tag in image.tags if tag.startswith(APP_REPOSITORY)]


def hostnames(backend: LocalBackend) -> list[str | None]:
    """Each instance's hostname as its probe reports it, oldest instance first."""
    return [_identity(backend, instance).hostname for instance in backend.instances()]


def _identity(backend: LocalBackend, instance: str | None = None) -> Any:
    identity = backend.probe(instance).identity()
    assert identity is not None
    return identity


@pytest.mark.parametrize("runtime", list(Runtime))
@pytest.mark.parametrize(
    ("storage", "visible"),
    [pytest.param(True, False, id="storage-on"), pytest.param(False, True, id="storage-off")],
)
def test_image_home_is_hidden_by_app_service_storage(
    new_app: Callable[..., LocalBackend],
    baked_base: str,
    docker_client: Any,
    run_id: str,
    runtime: Runtime,
    storage: bool,
    visible: bool,
) -> None:
    """A file the image has under /home is hidden when App Service storage is mounted over
    /home, and there when /home is the container's own folder."""
    new_app(Configuration(runtime, storage), base_image=baked_base)
    [container] = containers_of(docker_client, run_id)
    found = container.exec_run(["test", "-e", BAKED_MARKER]).exit_code == 0
    assert found is visible, f"{BAKED_MARKER} visible: {found}, storage on: {storage}"


@pytest.mark.parametrize("runtime", list(Runtime))
@pytest.mark.parametrize("storage", [True, False], ids=["storage-on", "storage-off"])
def test_home_is_shared_across_instances_only_with_app_service_storage(
    new_app: Callable[..., LocalBackend], runtime: Runtime, storage: bool
) -> None:
    """A marker one instance writes to /home/data is seen by the other only with storage on."""
    backend = new_app(Configuration(runtime, storage))
    backend.scale(2)
    writer, reader = backend.instances()
    nonce = secrets.token_hex(12)
    _, written = backend.probe(writer).write(nonce, [HOME])
    assert written[HOME].checksum, written
    _, read = backend.probe(reader).read(nonce, [HOME])
    assert read[HOME].exists is storage, read


def test_files_mount_is_shared_and_survives_stop_start(
    new_app: Callable[..., LocalBackend],
) -> None:
    """A Files mount is one volume for both instances, kept when the containers are replaced."""
    backend = new_app(Configuration(mounts=(Mount(SHARE, MountKind.FILES),)))
    backend.scale(2)
    writer, reader = backend.instances()
    before = hostnames(backend)
    nonce = secrets.token_hex(12)
    _, written = backend.probe(writer).write(nonce, [SHARE])
    assert written[SHARE].checksum, written
    _, read = backend.probe(reader).read(nonce, [SHARE])
    assert read[SHARE].exists, read

    backend.stop()
    backend.start()
    assert set(hostnames(backend)).isdisjoint(before)
    _, read = backend.probe(reader).read(nonce, [SHARE])
    assert read[SHARE].exists, read
    assert read[SHARE].stored_checksum == written[SHARE].checksum, read


def test_blob_mount_refuses_a_write_as_read_only(new_app: Callable[..., LocalBackend]) -> None:
    """A Blob mount is read-only: the probe's write there fails with EROFS."""
    backend = new_app(Configuration(mounts=(Mount(BLOB, MountKind.BLOB),)))
    _, written = backend.probe().write(secrets.token_hex(12), [BLOB])
    assert written[BLOB].errno == "EROFS", written
    assert written[BLOB].refused, written


def test_add_mount_recreates_the_containers_and_the_mount_is_usable(
    new_app: Callable[..., LocalBackend], docker_client: Any, run_id: str
) -> None:
    """Adding a mount restarts the app on new containers, which then share the mount."""
    backend = new_app(Configuration())
    backend.scale(2)
    before = hostnames(backend)
    assert len(labelled(docker_client, run_id)["volumes"]) == 1

    backend.add_mount(Mount(SHARE, MountKind.FILES))
    assert backend.configuration.mount_at(SHARE) == Mount(SHARE, MountKind.FILES)
    assert set(hostnames(backend)).isdisjoint(before)
    assert len(labelled(docker_client, run_id)["volumes"]) == 2
    writer, reader = backend.instances()
    nonce = secrets.token_hex(12)
    _, written = backend.probe(writer).write(nonce, [SHARE])
    assert written[SHARE].checksum, written
    _, read = backend.probe(reader).read(nonce, [SHARE])
    assert read[SHARE].exists, read


def test_container_runtime_deploys_a_new_image_and_leaves_nothing(
    new_app: Callable[..., LocalBackend], docker_client: Any, run_id: str
) -> None:
    """A container app serves the image's deployment id; a deploy is a new image on new
    containers; teardown removes its images, containers and volume."""
    backend = new_app(Configuration(Runtime.CONTAINER))
    first = _identity(backend)
    [image] = app_images(docker_client, run_id)
    assert image.endswith(f"-{first.deployment_id}"), image

    package = build_package(default_probe_dir())
    backend.deploy(package)
    second = _identity(backend)
    assert second.deployment_id == package.deployment_id != first.deployment_id
    assert second.hostname != first.hostname
    assert len(app_images(docker_client, run_id)) == 2

    backend.teardown()
    assert labelled(docker_client, run_id) == {"containers": [], "volumes": []}
    assert app_images(docker_client, run_id) == []
