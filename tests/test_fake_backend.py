"""The fake backend: App Service's storage model in temp folders, running the real probe."""

from __future__ import annotations

import io
import re
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pytest_appservice_fs.backends.fake import FakeBackend, FakeFaults
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.configuration import Configuration, Mount, MountKind, Runtime
from pytest_appservice_fs.engine.expectations import HOME, LAB_PATHS, TMP, VAR_LOCAL
from pytest_appservice_fs.engine.probe_client import ProbeClient, ProbeError, ProbeTiming
from pytest_appservice_fs.engine.probe_package import (
    ProbePackage,
    build_package,
    default_probe_dir,
    image_context,
)

HEX64 = re.compile(r"[0-9a-f]{64}")
HEX12 = re.compile(r"[0-9a-f]{12}")
TOKEN = "fake-backend-probe-token"

MakeBackend = Callable[..., FakeBackend]


@pytest.fixture
def make_backend(tmp_path: Path) -> Iterator[MakeBackend]:
    """Build created and deployed fake backends; tear them all down afterwards."""
    made: list[FakeBackend] = []

    def make(**kwargs: Any) -> FakeBackend:
        backend = FakeBackend(tmp_path / f"app{len(made)}", **kwargs)
        made.append(backend)
        backend.create()
        backend.deploy(build_package(default_probe_dir()))
        return backend

    yield make
    for backend in made:
        backend.teardown()


@pytest.fixture
def backend(make_backend: MakeBackend) -> FakeBackend:
    """One created and deployed fake app without faults."""
    return make_backend()


def _only_instance(backend: FakeBackend) -> str:
    instances = backend.instances()
    assert len(instances) == 1
    return instances[0]


def _write(backend: FakeBackend, instance_id: str, nonce: str = "n1") -> dict[str, str]:
    _, written = backend.probe(instance_id).write(nonce, LAB_PATHS)
    checksums = {path: marker.checksum for path, marker in written.items()}
    assert checksums, written
    assert all(checksums.values()), written
    return checksums  # type: ignore[return-value]


def _survivors(backend: FakeBackend, instance_id: str, nonce: str = "n1") -> set[str]:
    """The paths whose marker from ``nonce`` is still there, intact."""
    _, read = backend.probe(instance_id).read(nonce, LAB_PATHS)
    return {
        path
        for path, marker in read.items()
        if marker.exists and marker.checksum_valid and marker.nonce_matches
    }


def _raw_status(backend: FakeBackend, endpoint: str = "/health") -> int:
    return backend.session.get(f"https://{backend.host}{endpoint}", timeout=1).status_code


# --- identity ----------------------------------------------------------------------------


def test_create_and_deploy_give_one_instance(backend: FakeBackend) -> None:
    """One instance with a 64-hex id, served by a container whose hostname is 12 hex."""
    instance_id = _only_instance(backend)
    assert HEX64.fullmatch(instance_id)
    identity = backend.probe(instance_id).identity()
    assert identity is not None
    assert identity.instance_id == instance_id
    assert identity.hostname is not None
    assert HEX12.fullmatch(identity.hostname)
    assert identity.hostname == backend.container_of(instance_id)
    assert identity.pid is not None
    assert identity.process_start is not None


def test_deployment_id_reported_by_the_probe(tmp_path: Path) -> None:
    """The probe reports the deployment id of the package deployed."""
    backend = FakeBackend(tmp_path / "app")
    try:
        backend.create()
        assert backend.instances() != []
        assert backend.container_of(backend.instances()[0]) is None  # nothing deployed yet
        backend.deploy(build_package(default_probe_dir(), deployment_id="first-deploy"))
        identity = backend.probe(_only_instance(backend)).identity()
        assert identity is not None
        assert identity.deployment_id == "first-deploy"
    finally:
        backend.teardown()


def test_facts_are_empty(backend: FakeBackend) -> None:
    """The fake has no region or SKU to report."""
    assert dict(backend.facts) == {}
    assert backend.name == "fake"


def test_mount_facts_look_like_app_service(backend: FakeBackend) -> None:
    """/home is a CIFS share and the local paths are the overlay layer, as on App Service."""
    body = backend.probe(_only_instance(backend)).get("/mount-info")
    paths = body["paths"]
    assert paths[HOME]["fstype"] == "cifs"
    assert "nobrl" in paths[HOME]["super_options"]
    assert paths[TMP]["fstype"] == "overlay"
    assert paths[VAR_LOCAL]["fstype"] == "overlay"


# --- events ------------------------------------------------------------------------------


def test_restart_keeps_container_and_local_files(backend: FakeBackend) -> None:
    """A restart starts a new process in the same container: every marker survives."""
    instance_id = _only_instance(backend)
    probe = backend.probe(instance_id)
    before = probe.identity()
    _write(backend, instance_id)
    backend.restart()
    after = probe.identity()
    assert before is not None
    assert after is not None
    assert after.hostname == before.hostname
    assert after.instance_id == before.instance_id
    assert after.pid != before.pid
    assert after.process_start != before.process_start
    assert _survivors(backend, instance_id) == set(LAB_PATHS)


def test_stop_start_recreates_container(backend: FakeBackend) -> None:
    """Stop and start: new container on the same instance; only /home keeps its marker."""
    instance_id = _only_instance(backend)
    before = backend.probe(instance_id).identity()
    _write(backend, instance_id)
    backend.stop()
    assert backend.instances() == []
    assert _raw_status(backend) == 503
    backend.start()
    assert backend.instances() == [instance_id]
    after = backend.probe(instance_id).identity()
    assert before is not None
    assert after is not None
    assert after.instance_id == instance_id
    assert after.hostname != before.hostname
    assert HEX12.fullmatch(after.hostname or "")
    assert _survivors(backend, instance_id) == {HOME}
    _, read = backend.probe(instance_id).read("n1", [TMP, VAR_LOCAL])
    assert not read[TMP].exists
    assert not read[VAR_LOCAL].exists


def test_deploy_recreates_containers_with_new_deployment(backend: FakeBackend) -> None:
    """A deploy recreates the container, reports the new deployment id, and keeps /home."""
    instance_id = _only_instance(backend)
    before = backend.probe(instance_id).identity()
    _write(backend, instance_id)
    package = build_package(default_probe_dir())
    backend.deploy(package)
    after = backend.probe(instance_id).identity()
    assert before is not None
    assert after is not None
    assert after.deployment_id == package.deployment_id != before.deployment_id
    assert after.hostname != before.hostname
    assert after.instance_id == instance_id
    assert _survivors(backend, instance_id) == {HOME}


def test_deploy_refuses_entries_outside_wwwroot(backend: FakeBackend) -> None:
    """A package entry that climbs out of wwwroot is refused with BackendError."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escaped.py", "x = 1\n")
    with pytest.raises(BackendError, match="points outside wwwroot"):
        backend.deploy(ProbePackage(deployment_id="evil", data=buffer.getvalue()))
    assert not (backend.root / "home" / "site" / "escaped.py").exists()


def test_scale_out_adds_an_instance_sharing_home(backend: FakeBackend) -> None:
    """scale(2) adds a new 64-hex instance that sees /home markers but no local ones."""
    first = _only_instance(backend)
    _write(backend, first)
    backend.scale(2)
    instances = backend.instances()
    assert len(instances) == 2
    assert instances[0] == first
    second = instances[1]
    assert HEX64.fullmatch(second)
    assert second != first
    identity = backend.probe(second).identity()
    assert identity is not None
    assert identity.instance_id == second
    assert identity.hostname != backend.container_of(first)
    assert _survivors(backend, second) == {HOME}
    assert _survivors(backend, first) == set(LAB_PATHS)


def test_scale_in_removes_the_newest_instance(backend: FakeBackend) -> None:
    """scale(1) after scale(2) removes the newer instance and keeps the first."""
    first = _only_instance(backend)
    backend.scale(2)
    second = backend.instances()[1]
    backend.scale(1)
    assert backend.instances() == [first]
    assert backend.container_of(second) is None


def test_unpinned_requests_are_spread_over_instances(backend: FakeBackend) -> None:
    """Without affinity cookies, the front end spreads requests over every instance."""
    backend.scale(2)
    unpinned = backend.probe()
    answered = set()
    for _ in range(4):
        identity = unpinned.identity()
        assert identity is not None
        answered.add(identity.instance_id)
    assert answered == set(backend.instances())


def test_scale_to_zero_is_refused(backend: FakeBackend) -> None:
    """Scaling below one instance is a BackendError."""
    with pytest.raises(BackendError, match="cannot scale to 0 instances"):
        backend.scale(0)


# --- network and token -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://example.com/identity", "http://127.0.0.1:8000/health", "https://fake.invalid/"]
)
def test_other_hosts_raise_connection_error(backend: FakeBackend, url: str) -> None:
    """The fake's session refuses every host but the app's own: no socket is opened."""
    with pytest.raises(requests.ConnectionError, match="no route to"):
        backend.session.get(url, timeout=1)


def test_probe_token_is_enforced(make_backend: MakeBackend) -> None:
    """With PROBE_TOKEN set, the backend's own client works and a client without it gets 401."""
    backend = make_backend(app_settings={"PROBE_TOKEN": TOKEN})
    instance_id = _only_instance(backend)
    assert backend.probe(instance_id).identity() is not None
    stranger = ProbeClient(
        f"https://{backend.host}",
        session=backend.session,
        instance_id=instance_id,
        timing=ProbeTiming(retry_deadline=0.5, wait_initial=0.01, wait_max=0.02),
    )
    with pytest.raises(ProbeError) as excinfo:
        stranger.identity()
    assert "HTTP 401" in str(excinfo.value)
    assert TOKEN not in str(excinfo.value)
    assert _raw_status(backend, "/identity") == 401
    assert _raw_status(backend, "/health") == 200


def test_app_name_with_capitals_is_reachable(make_backend: MakeBackend) -> None:
    """--app-name accepts capitals, so the fake must answer an app named MyApp."""
    backend = make_backend(app_name="MyApp")
    assert _raw_status(backend) == 200


# --- faults ------------------------------------------------------------------------------


def test_fault_home_not_persistent(make_backend: MakeBackend) -> None:
    """home_not_persistent: a /home marker is gone after a restart."""
    backend = make_backend(faults=FakeFaults(home_not_persistent=True))
    instance_id = _only_instance(backend)
    _write(backend, instance_id)
    backend.restart()
    survivors = _survivors(backend, instance_id)
    assert HOME not in survivors
    assert survivors == {TMP, VAR_LOCAL}
    body = backend.probe(instance_id).get("/mount-info")
    assert body["paths"][HOME]["fstype"] == "overlay"


def test_fault_noop_restart(make_backend: MakeBackend) -> None:
    """noop_restart: the restart is accepted (and counted) but the process stays the same."""
    backend = make_backend(faults=FakeFaults(noop_restart=True))
    probe = backend.probe(_only_instance(backend))
    before = probe.identity()
    backend.restart()
    after = probe.identity()
    assert before is not None
    assert after is not None
    assert after.pid == before.pid
    assert after.process_start == before.process_start
    assert backend.operations.counts["restart"] == 1


def test_fault_transient_503s(make_backend: MakeBackend) -> None:
    """transient_503s=N: the front end answers 503 exactly N times after each event."""
    backend = make_backend(faults=FakeFaults(transient_503s=2))
    # The initial deploy is an event too.
    assert [_raw_status(backend) for _ in range(3)] == [503, 503, 200]
    backend.restart()
    assert [_raw_status(backend) for _ in range(4)] == [503, 503, 200, 200]


def test_fault_transient_503s_are_absorbed_by_the_client(make_backend: MakeBackend) -> None:
    """The probe client retries through the 503s after an event."""
    backend = make_backend(faults=FakeFaults(transient_503s=3))
    identity = backend.probe(_only_instance(backend)).identity()
    assert identity is not None
    assert _raw_status(backend) == 200


def test_fault_stale_marker(make_backend: MakeBackend) -> None:
    """stale_marker: a new container holds a valid-checksum marker from an 'earlier run'."""
    backend = make_backend(faults=FakeFaults(stale_marker=True))
    instance_id = _only_instance(backend)
    body = backend.probe(instance_id).get("/read", {"nonce": "this-run", "path": list(LAB_PATHS)})
    results = body["results"]
    for path in (TMP, VAR_LOCAL):
        assert results[path]["exists"] is True
        assert results[path]["checksum_valid"] is True
        assert results[path]["nonce_matches"] is False
        assert results[path]["payload"]["nonce"] == "earlier-run"
    assert results[HOME]["exists"] is False


def test_faults_from_option_names() -> None:
    """--fake-fault names map onto FakeFaults, transient-503 meaning three answers."""
    faults = FakeFaults.from_names(frozenset({"noop-restart", "transient-503"}))
    assert faults == FakeFaults(noop_restart=True, transient_503s=3)
    assert FakeFaults.from_names(frozenset()) == FakeFaults()


# --- reconfigured while running (the Azure simulator's sites) -----------------------------


def _deployment_id(backend: FakeBackend) -> str | None:
    identity = backend.probe(_only_instance(backend)).identity()
    assert identity is not None
    return identity.deployment_id


def test_reconfigure_runs_the_image_given_until_another_comes(backend: FakeBackend) -> None:
    """An image's build context given to reconfigure runs on new containers, and keeps running
    through a reconfigure without one (storage off: /home's marker is gone); back to code,
    wwwroot's deployment runs again."""
    instance_id = _only_instance(backend)
    code = _deployment_id(backend)
    _write(backend, instance_id)
    container = Configuration(runtime=Runtime.CONTAINER)
    context = image_context(build_package(default_probe_dir(), deployment_id="from-a-registry"))
    backend.reconfigure(container, image=context)
    assert _deployment_id(backend) == "from-a-registry"
    assert _survivors(backend, instance_id) == {HOME}
    backend.reconfigure(Configuration(Runtime.CONTAINER, app_service_storage=False))
    assert _deployment_id(backend) == "from-a-registry"
    assert _survivors(backend, instance_id) == set()
    assert len(list((backend.root / "images").iterdir())) == 1
    backend.reconfigure(Configuration())
    assert _deployment_id(backend) == code
    assert backend.operations.counts["reconfigure"] == 3


def test_reconfigure_refuses_a_context_entry_that_is_no_file(backend: FakeBackend) -> None:
    """A build context with a folder entry is a BackendError; the app runs on as it was."""
    instance_id = _only_instance(backend)
    before = backend.container_of(instance_id)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        folder = tarfile.TarInfo("app")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    with pytest.raises(BackendError, match="entry 'app' is not a file"):
        backend.reconfigure(Configuration(runtime=Runtime.CONTAINER), image=buffer.getvalue())
    assert backend.configuration == Configuration()
    assert backend.container_of(instance_id) == before
    assert not any((backend.root / "images").iterdir())


def test_mounts_in_the_folders_given_are_shared_between_apps(
    make_backend: MakeBackend, tmp_path: Path
) -> None:
    """Two apps given one folder for a Files mount see each other's markers there; a Blob
    mount in a folder given refuses the write and leaves its folder empty."""
    share, blob = "/mnt/share", "/mnt/ro"
    settings = {"PROBE_PATHS": f"{share},{blob}"}
    folders = {share: tmp_path / "share", blob: tmp_path / "container"}
    configuration = Configuration(
        mounts=(Mount(share, MountKind.FILES), Mount(blob, MountKind.BLOB))
    )
    first, second = make_backend(app_settings=settings), make_backend(app_settings=settings)
    for app in (first, second):
        app.reconfigure(configuration, mount_folders=folders)
    _, written = first.probe().write("n1", [share, blob])
    assert written[blob].errno == "EROFS"
    _, read = second.probe().read("n1", [share])
    assert read[share].exists
    assert read[share].nonce_matches
    assert any(folders[share].iterdir())
    assert not any(folders[blob].iterdir())


def test_restart_with_new_containers_keeps_only_home(backend: FakeBackend) -> None:
    """restart(new_containers=True) replaces the container on the same instance, as App
    Service restarts a custom container: only /home keeps its marker."""
    instance_id = _only_instance(backend)
    before = backend.container_of(instance_id)
    _write(backend, instance_id)
    backend.restart(new_containers=True)
    assert backend.instances() == [instance_id]
    assert backend.container_of(instance_id) not in (None, before)
    assert _survivors(backend, instance_id) == {HOME}
    assert backend.operations.counts["restart"] == 1


# --- bookkeeping -------------------------------------------------------------------------


def test_operations_are_counted(backend: FakeBackend) -> None:
    """Every operation asked of the fake is counted by name."""
    backend.restart()
    backend.stop()
    backend.start()
    backend.scale(2)
    backend.scale(1)
    assert backend.operations.counts == {
        "create": 1,
        "deploy": 1,
        "restart": 1,
        "stop": 1,
        "start": 1,
        "scale_to_2": 1,
        "scale_to_1": 1,
    }


def test_teardown_removes_root_and_is_idempotent(tmp_path: Path) -> None:
    """teardown deletes the app's folder, leaves no instance, and can run twice."""
    backend = FakeBackend(tmp_path / "app")
    backend.create()
    backend.deploy(build_package(default_probe_dir()))
    _write(backend, _only_instance(backend))
    assert (tmp_path / "app").is_dir()
    backend.teardown()
    assert not (tmp_path / "app").exists()
    assert backend.instances() == []
    backend.teardown()
    assert not (tmp_path / "app").exists()


def test_kept_resources_names_the_folder(backend: FakeBackend) -> None:
    """kept_resources says where the app is kept and how to remove it."""
    text = backend.kept_resources()
    assert str(backend.root) in text
    assert f"rm -rf {backend.root}" in text


def test_refused_package_keeps_the_deployed_probe(backend: FakeBackend) -> None:
    """A package refused for an entry outside wwwroot leaves the running deployment intact."""
    instance_id = _only_instance(backend)
    before = backend.probe(instance_id).identity()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escaped.py", "x = 1\n")
    with pytest.raises(BackendError):
        backend.deploy(ProbePackage(deployment_id="evil", data=buffer.getvalue()))
    backend.restart()
    after = backend.probe(instance_id).identity()
    assert before is not None
    assert after is not None
    assert after.deployment_id == before.deployment_id


def test_fake_refuses_a_lab_probe(tmp_path: Path) -> None:
    """A probe without create_app(ProbeConfig) would write to the real /home: refused."""
    lab_probe = Path(__file__).parent / "data" / "lab_probe"
    backend = FakeBackend(tmp_path / "app")
    loaded = {name for name in sys.modules if name.startswith("_appservice_fs_fake_probe_")}
    try:
        backend.create()
        with pytest.raises(BackendError, match="run a lab probe with --backend local"):
            backend.deploy(build_package(lab_probe))
        now = {name for name in sys.modules if name.startswith("_appservice_fs_fake_probe_")}
        assert now == loaded
    finally:
        backend.teardown()
