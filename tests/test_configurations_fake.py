"""The fake backend under every configuration (runtime, App Service storage, mounts): the
backend itself, then whole live runs through the plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.configuration import Configuration, Mount, MountKind, Runtime
from pytest_appservice_fs.engine.expectations import HOME, TMP, UPLOADS, AppendCell, matrix_for
from pytest_appservice_fs.engine.model import AppendOutcome, Event
from pytest_appservice_fs.engine.probe_client import ProbeClient
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.measurements.appends import (
    AppendMeasurement,
    append_file,
    judge_appends,
    measure_appends,
    writer_name,
)
from tests.junit_cases import copy_live_suite, live_outcomes, read_junit

SHARE = Mount("/mnt/share", MountKind.FILES)
READ_ONLY = Mount("/mnt/ro", MountKind.BLOB)
PATHS = (HOME, TMP, UPLOADS, SHARE.path, READ_ONLY.path)
CONTAINER_OFF = Configuration(Runtime.CONTAINER, app_service_storage=False)
H4_FILE = append_file("flock", "run-1")
H4_RECORDS = 50

MakeBackend = Callable[..., FakeBackend]


@pytest.fixture
def make_backend(tmp_path: Path) -> Iterator[MakeBackend]:
    """Created and deployed fake backends whose probe allows PATHS; torn down afterwards."""
    made: list[FakeBackend] = []

    def make(configuration: Configuration, **kwargs: Any) -> FakeBackend:
        backend = FakeBackend(
            tmp_path / f"app{len(made)}",
            configuration=configuration,
            app_settings={"PROBE_PATHS": ",".join(PATHS)},
            **kwargs,
        )
        made.append(backend)
        backend.create()
        backend.deploy(build_package(default_probe_dir()))
        return backend

    yield make
    for backend in made:
        backend.teardown()


def _write(backend: FakeBackend, paths: tuple[str, ...], nonce: str = "n1") -> str:
    """Write markers at ``paths`` on the only instance; every write must succeed."""
    (instance,) = backend.instances()
    _, written = backend.probe(instance).write(nonce, paths)
    assert all(w.checksum for w in written.values()), written
    return instance


def _found(backend: FakeBackend, instance: str, paths: tuple[str, ...]) -> set[str]:
    _, read = backend.probe(instance).read("n1", paths)
    return {p for p, marker in read.items() if marker.exists and marker.nonce_matches}


# --- App Service storage -----------------------------------------------------------------


@pytest.mark.parametrize(("storage", "kept"), [(True, {HOME}), (False, set())])
def test_home_after_stop_start_follows_app_service_storage(
    make_backend: MakeBackend, storage: bool, kept: set[str]
) -> None:
    """/home keeps its marker across new containers with storage on, and not with it off."""
    backend = make_backend(Configuration(app_service_storage=storage))
    instance = _write(backend, (HOME, TMP))
    backend.restart()
    assert _found(backend, instance, (HOME, TMP)) == {HOME, TMP}  # the same container
    backend.stop()
    backend.start()
    assert _found(backend, instance, (HOME, TMP)) == kept


@pytest.mark.parametrize(("storage", "seen"), [(True, {HOME}), (False, set())])
def test_home_across_instances_follows_app_service_storage(
    make_backend: MakeBackend, storage: bool, seen: set[str]
) -> None:
    """A second instance sees the first one's /home marker only with storage on."""
    backend = make_backend(Configuration(app_service_storage=storage))
    first = _write(backend, (HOME,))
    backend.scale(2)
    (second,) = [i for i in backend.instances() if i != first]
    assert _found(backend, second, (HOME,)) == seen
    assert _found(backend, first, (HOME,)) == {HOME}


def test_storage_off_shows_no_home_share_in_the_mounts(make_backend: MakeBackend) -> None:
    """With storage off /home is on the container's overlay, as mountinfo says."""
    off = make_backend(Configuration(app_service_storage=False))
    on = make_backend(Configuration())
    assert off.probe().mounts([HOME])[HOME]["fstype"] == "overlay"
    assert on.probe().mounts([HOME])[HOME]["fstype"] == "cifs"


# --- mounts ------------------------------------------------------------------------------


def test_a_blob_mount_refuses_writes_with_erofs(make_backend: MakeBackend) -> None:
    """The probe's write to a Blob mount fails with EROFS and leaves nothing; beside it, an
    Azure Files mount takes the write."""
    backend = make_backend(Configuration(mounts=(SHARE, READ_ONLY)))
    _, written = backend.probe().write("n1", (SHARE.path, READ_ONLY.path))
    assert written[SHARE.path].checksum
    assert written[READ_ONLY.path].errno == "EROFS"
    assert written[READ_ONLY.path].refused
    assert not any((backend.root / "mounts").glob("blob-*/*"))
    assert any((backend.root / "mounts").glob("files-*/*"))
    facts = backend.probe().mounts([SHARE.path, READ_ONLY.path])
    assert facts[READ_ONLY.path]["mount_point"] == READ_ONLY.path


def test_a_files_mount_is_shared_and_kept(make_backend: MakeBackend) -> None:
    """An Azure Files mount keeps its marker across new containers and shows it to a new
    instance, with storage off too."""
    backend = make_backend(Configuration(app_service_storage=False, mounts=(SHARE,)))
    first = _write(backend, (SHARE.path, HOME))
    backend.stop()
    backend.start()
    assert _found(backend, first, (SHARE.path, HOME)) == {SHARE.path}
    backend.scale(2)
    (second,) = [i for i in backend.instances() if i != first]
    assert _found(backend, second, (SHARE.path,)) == {SHARE.path}


def test_add_mount_recreates_the_containers(make_backend: MakeBackend) -> None:
    """Adding a mount starts new containers, which see it; a second mount at the same path
    is refused."""
    backend = make_backend(Configuration())
    (instance,) = backend.instances()
    before = backend.container_of(instance)
    _, refused = backend.probe().write("n1", (READ_ONLY.path,))
    assert refused[READ_ONLY.path].checksum  # not a mount yet: the container's own folder
    backend.add_mount(READ_ONLY)
    assert backend.container_of(instance) != before
    assert backend.operations.counts["add_mount"] == 1
    _, written = backend.probe().write("n2", (READ_ONLY.path,))
    assert written[READ_ONLY.path].errno == "EROFS"
    with pytest.raises(BackendError, match="mount at /mnt/ro already"):
        backend.add_mount(Mount(READ_ONLY.path, MountKind.FILES))


# --- runtime -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runtime", "kept"), [(Runtime.CODE, set()), (Runtime.CONTAINER, {UPLOADS})]
)
def test_deploy_replaces_wwwroot_only_for_code(
    make_backend: MakeBackend, runtime: Runtime, kept: set[str]
) -> None:
    """A code deploy replaces wwwroot (uploads lost); a container deploy is a new image and
    leaves wwwroot. Either way the new containers report the package's deployment id."""
    backend = make_backend(Configuration(runtime))
    instance = _write(backend, (UPLOADS,))
    before = backend.container_of(instance)
    package = build_package(default_probe_dir())
    backend.deploy(package)
    assert backend.container_of(instance) != before
    identity = backend.probe(instance).identity()
    assert identity is not None
    assert identity.deployment_id == package.deployment_id
    assert _found(backend, instance, (UPLOADS,)) == kept


def test_a_container_app_runs_the_image_not_wwwroot(make_backend: MakeBackend) -> None:
    """A container app's code is its image's: wwwroot stays empty, one image is kept."""
    backend = make_backend(CONTAINER_OFF)
    backend.deploy(build_package(default_probe_dir()))
    assert not any((backend.root / "home" / "site" / "wwwroot").iterdir())
    (image,) = (backend.root / "images").iterdir()
    assert (image / "Dockerfile").is_file()
    assert (image / "app.py").is_file()


# --- H4 with /home not shared -------------------------------------------------------------


def _append_log(backend: FakeBackend, instance: str, *, shared: bool) -> Path:
    """The H4 file the probe of ``instance`` appends to: on the /home share, or in the
    container's own layer when /home is not shared."""
    if shared:
        return backend.root / "home" / "data" / H4_FILE
    return (
        backend.root
        / "containers"
        / str(backend.container_of(instance))
        / "home"
        / "data"
        / H4_FILE
    )


def _measure_h4(
    backend: FakeBackend, lock: str = "flock", before_check: Callable[[], None] | None = None
) -> AppendMeasurement:
    """H4 on both instances, ``before_check`` run once when the file is first checked."""
    if before_check is None:
        return measure_appends(
            backend, backend.instances(), path=HOME, lock=lock, records=H4_RECORDS, file=H4_FILE
        )
    real = ProbeClient.append_check
    pending = [before_check]

    def check(self: ProbeClient, **kwargs: Any) -> Any:
        while pending:
            pending.pop()()
        return real(self, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProbeClient, "append_check", check)
        return measure_appends(
            backend, backend.instances(), path=HOME, lock=lock, records=H4_RECORDS, file=H4_FILE
        )


def _judge_h4(measurement: AppendMeasurement, expected: AppendOutcome) -> Any:
    cell = AppendCell(measurement.lock, expected)
    return judge_appends(measurement, cell, backend="fake", run_id="run-1", facts={})


@pytest.mark.parametrize("lock", ["flock", "none"])
def test_h4_without_shared_home_is_not_shared(make_backend: MakeBackend, lock: str) -> None:
    """Storage off: each writer's records are whole on its own instance only: not_shared,
    with the reason, each writer counted on its own instance; both files are removed."""
    backend = make_backend(Configuration(app_service_storage=False))
    backend.scale(2)
    measurement = _measure_h4(backend, lock)
    verdict = _judge_h4(measurement, AppendOutcome.NOT_SHARED)
    assert (verdict.observed, verdict.passed) == ("not_shared", True), verdict.explanation
    assert "found whole in the file on its own instance and in no other" in verdict.explanation
    assert "do not share /home, so nothing was damaged" in verdict.explanation
    assert [(w.records_found, w.lost) for w in measurement.writers] == [(H4_RECORDS, 0)] * 2
    assert (measurement.lines, measurement.torn) == (2 * H4_RECORDS, 0)
    for instance in backend.instances():
        assert not _append_log(backend, instance, shared=False).exists()
    assert _judge_h4(measurement, AppendOutcome.INTACT).passed is False


def test_h4_with_shared_home_is_never_not_shared(make_backend: MakeBackend) -> None:
    """Storage on, one writer's records all gone from the shared file: every instance sees
    the same file, so that is damage, not a file per instance."""
    backend = make_backend(Configuration())
    backend.scale(2)
    first, second = backend.instances()
    log = _append_log(backend, first, shared=True)
    victim = f'"writer":"{writer_name(1, second)}"'.encode()

    def drop_second() -> None:
        kept = [line for line in log.read_bytes().splitlines(True) if victim not in line]
        log.write_bytes(b"".join(kept))

    verdict = _judge_h4(_measure_h4(backend, before_check=drop_second), AppendOutcome.INTACT)
    assert verdict.observed == "damaged", verdict.explanation
    assert f"{H4_RECORDS} lost" in verdict.explanation


@pytest.mark.parametrize("damage", ["a record lost", "the other writer's record"])
def test_h4_without_shared_home_but_damaged_stays_damaged(
    make_backend: MakeBackend, damage: str
) -> None:
    """Storage off, but the second instance's own file lacks one of its records, or holds
    one of the first writer's: split some other way, so damaged."""
    backend = make_backend(Configuration(app_service_storage=False))
    backend.scale(2)
    first, second = backend.instances()

    def spoil() -> None:
        own = _append_log(backend, second, shared=False)
        lines = own.read_bytes().splitlines(keepends=True)
        if damage == "a record lost":
            del lines[7]
        else:
            lines.append(_append_log(backend, first, shared=False).read_bytes().splitlines(True)[0])
        own.write_bytes(b"".join(lines))

    verdict = _judge_h4(_measure_h4(backend, before_check=spoil), AppendOutcome.NOT_SHARED)
    assert (verdict.observed, verdict.passed) == ("damaged", False), verdict.explanation


# --- whole runs through the plugin -------------------------------------------------------

CONFIGURATIONS = {
    "code-on": ((), Configuration()),
    "code-off": (("--app-service-storage", "off"), Configuration(app_service_storage=False)),
    "container-on": (("--runtime", "container"), Configuration(Runtime.CONTAINER)),
    "container-off": (
        ("--runtime", "container", "--app-service-storage", "off"),
        CONTAINER_OFF,
    ),
    "code-on-mounts": (
        ("--mount", "/mnt/share=files", "--mount", "/mnt/ro=blob"),
        Configuration(mounts=(SHARE, READ_ONLY)),
    ),
}


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_every_configuration_runs_as_expected(pytester: pytest.Pytester, name: str) -> None:
    """Each configuration's whole live suite on the fake: every cell as its matrix expects,
    every testcase carrying the configuration."""
    args, configuration = CONFIGURATIONS[name]
    copy_live_suite(pytester)
    junit = pytester.path / "out.xml"
    result = pytester.runpytest(
        "-m", "live", "--backend", "fake", f"--junitxml={junit}", "-p", "no:randomly", *args
    )
    matrix = matrix_for("fake", configuration)
    result.assert_outcomes(**live_outcomes(matrix=matrix))
    cases = read_junit(junit, latency=True)
    facts = configuration.facts()
    for case in cases:
        assert {k: case.get(k) for k in facts} == facts, case["_name"]
    observed = {(c.get("event"), c.get("path")): c["observed"] for c in cases if "event" in c}
    for cell in matrix.paths:
        if cell.event not in FakeBackend.unsupported and cell.expected.value != "observe":
            assert observed[(cell.event.value, cell.path)] == cell.expected.value, cell
    h4 = [c for c in cases if c.get("hypothesis") == "H4"]
    expected_h4 = {"not_shared"} if not configuration.home_shared else {"intact", "damaged"}
    assert h4
    assert {c["observed"] for c in h4} <= expected_h4
    if configuration.mounts:
        assert {c["observed"] for c in cases if c.get("path") == READ_ONLY.path} == {
            "write_refused"
        }
    assert Event.DEPLOY.value in {c.get("event") for c in cases}
