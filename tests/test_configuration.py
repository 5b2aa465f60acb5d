"""The configuration under test (issue 15): its options, its facts on every testcase, the
matrix it picks, and the outcomes it brings (write_refused)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pytest_appservice_fs.cli import main
from pytest_appservice_fs.config import Settings, configuration_of, resolve
from pytest_appservice_fs.engine.configuration import (
    Configuration,
    Mount,
    MountKind,
    Runtime,
    configuration_key,
    configuration_label,
)
from pytest_appservice_fs.engine.expectations import (
    CONTAINER,
    EMULATOR_MATRIX,
    HOME,
    LARGE_FILES,
    LATENCY,
    LOGFILES,
    MOUNTS,
    TMP,
    UPLOADS,
    VAR_LOCAL,
    matrix_for,
)
from pytest_appservice_fs.engine.model import (
    AppendOutcome,
    ContainerOutcome,
    Event,
    Identity,
    MarkerWrite,
    Observation,
    Outcome,
)
from pytest_appservice_fs.engine.probe_package import (
    IMAGE_CODE_DIR,
    build_package,
    default_probe_dir,
    image_build_id,
    image_context,
)
from pytest_appservice_fs.evidence.judge import judge_path
from pytest_appservice_fs.options import SettingsError

SUB = "00000000-0000-0000-0000-000000000000"
OFF = Configuration(app_service_storage=False)
CONTAINER_ON = Configuration(runtime=Runtime.CONTAINER)
CONTAINER_OFF = Configuration(runtime=Runtime.CONTAINER, app_service_storage=False)


def settings(cli: dict[str, object], environ: dict[str, str] | None = None) -> Settings:
    return resolve({"backend": "fake", **cli}, lambda _key: None, environ or {})


# --- the options -----------------------------------------------------------------------------


def test_the_default_configuration_is_the_labs() -> None:
    configuration = settings({}).configuration
    assert configuration == Configuration(Runtime.CODE, True, ())
    assert configuration.facts() == {
        "runtime": "code",
        "app_service_storage": "on",
        "mounts": "none",
    }
    assert configuration.label == "code, storage on"
    assert configuration.storage_setting == "true"


def test_the_command_line_wins_over_the_environment() -> None:
    resolved = settings(
        {"runtime": "container", "mounts": ["/mnt/b=blob", "/mnt/a=files-nfs"]},
        {"APPSERVICE_FS_RUNTIME": "code", "APPSERVICE_FS_APP_SERVICE_STORAGE": "off"},
    ).configuration
    assert resolved.runtime is Runtime.CONTAINER
    assert resolved.app_service_storage is False  # from the environment
    # Sorted by path, whatever order they were given in.
    assert resolved.mounts == (
        Mount("/mnt/a", MountKind.FILES_NFS),
        Mount("/mnt/b", MountKind.BLOB),
    )
    assert resolved.facts()["mounts"] == "/mnt/a=files-nfs,/mnt/b=blob"
    assert resolved.label == "container, storage off, /mnt/a=files-nfs,/mnt/b=blob"
    assert resolved.storage_setting == "false"


def test_the_environment_lists_mounts_with_commas() -> None:
    resolved = settings({}, {"APPSERVICE_FS_MOUNTS": "/mnt/a=files,/mnt/b=blob"})
    assert [str(m) for m in resolved.configuration.mounts] == ["/mnt/a=files", "/mnt/b=blob"]


def test_more_than_four_mounts_are_refused() -> None:
    mounts = [f"/mnt/m{index}=files" for index in range(5)]
    with pytest.raises(SettingsError, match=r"--mount got 5 mounts; valid is at most 4\."):
        settings({"mounts": mounts})


def test_mount_paths_join_the_matrix_and_the_probes_allowlist() -> None:
    resolved = settings({"mounts": ["/mnt/share=files", "/mnt/ro=blob"]})
    assert resolved.expectations.all_paths[-2:] == ("/mnt/ro", "/mnt/share")
    from pytest_appservice_fs.backends import _app_settings  # noqa: PLC0415

    app_settings = _app_settings(resolved)
    assert app_settings["PROBE_PATHS"].split(",")[-2:] == ["/mnt/ro", "/mnt/share"]
    assert app_settings["WEBSITES_ENABLE_APP_SERVICE_STORAGE"] == "true"


def test_storage_off_is_the_app_setting_the_backends_get() -> None:
    from pytest_appservice_fs.backends import _app_settings  # noqa: PLC0415

    resolved = settings({"app_service_storage": "off"})
    assert _app_settings(resolved)["WEBSITES_ENABLE_APP_SERVICE_STORAGE"] == "false"


def test_image_is_kept_for_azure_attach_mode() -> None:
    resolved = resolve(
        {
            "backend": "azure",
            "app_name": "app-1",
            "resource_group": "rg",
            "subscription_id": SUB,
            "runtime": "container",
            "image": "myregistry.azurecr.io/probe:0123456789abcdef",
        },
        lambda _key: None,
        {},
    )
    assert resolved.image == "myregistry.azurecr.io/probe:0123456789abcdef"
    assert resolved.configuration.runtime is Runtime.CONTAINER


@pytest.mark.parametrize(
    ("mounts", "words"),
    [
        (["/mnt/share"], "valid is PATH=KIND"),
        (["=files"], "valid is PATH=KIND"),
        (["/mnt/../home=files"], "valid is an absolute path of your own"),
        (["/dev/shm=files"], "a path the matrix tests already"),
        (["/proc/x=files"], "kernel or device"),
    ],
)
def test_bad_mounts_are_refused_in_one_sentence(mounts: list[str], words: str) -> None:
    with pytest.raises(SettingsError) as excinfo:
        configuration_of(None, None, mounts)
    message = str(excinfo.value)
    assert message.startswith("--mount ")
    assert words in message
    assert message.count(". ") == 0


# --- the facts every testcase carries --------------------------------------------------------


def test_evidence_without_configuration_is_the_labs_configuration() -> None:
    assert configuration_key({}) == ("code", "on", "none")
    assert configuration_label({"region": "westeurope"}) == "code, storage on"
    facts = OFF.facts()
    assert configuration_key(facts) == ("code", "off", "none")
    with_mount = Configuration(mounts=(Mount("/mnt/s", MountKind.FILES),)).facts()
    assert configuration_label(with_mount) == "code, storage on, /mnt/s=files"
    assert (
        configuration_label(with_mount)
        == Configuration(mounts=(Mount("/mnt/s", MountKind.FILES),)).label
    )


def test_mount_kinds_follow_the_microsoft_web_spec() -> None:
    # AzureStorageInfoValue: type AzureFiles|AzureBlob, protocol Smb|Http|Nfs.
    assert [(k.storage_type, k.protocol) for k in MountKind] == [
        ("AzureFiles", "Smb"),
        ("AzureFiles", "Nfs"),
        ("AzureBlob", "Http"),
    ]
    assert [k.read_only for k in MountKind] == [False, False, True]
    assert [k.keeps_unix_owners for k in MountKind] == [False, True, False]


# --- the matrix per configuration ------------------------------------------------------------


def test_the_emulator_with_storage_off_treats_home_as_the_containers_own() -> None:
    matrix = matrix_for("local", OFF)
    for path in (HOME, UPLOADS, LOGFILES):
        assert matrix.expected(Event.RESTART, path) is Outcome.PERSISTS
        assert matrix.expected(Event.STOP_START, path) is Outcome.LOST
        assert matrix.expected(Event.DEPLOY, path) is Outcome.LOST
        assert matrix.expected(Event.APP_SETTING_CHANGE, path) is Outcome.LOST
        assert matrix.expected(Event.SCALE_OUT, path) is Outcome.NOT_VISIBLE
        assert matrix.expected(Event.SCALE_IN, path) is Outcome.NOT_VISIBLE
    assert {cell.expected for cell in matrix.appends} == {AppendOutcome.NOT_SHARED}
    # What is not on /home is as with storage on.
    for event in Event:
        for path in (TMP, VAR_LOCAL, CONTAINER):
            assert matrix.expected(event, path) == EMULATOR_MATRIX.expected(event, path)


def test_a_container_apps_deploy_keeps_wwwroot_on_the_emulator() -> None:
    # A new image, not a ZIP: nothing replaces /home/site/wwwroot.
    assert matrix_for("local", CONTAINER_ON).expected(Event.DEPLOY, UPLOADS) is Outcome.PERSISTS
    assert matrix_for("local").expected(Event.DEPLOY, UPLOADS) is Outcome.LOST
    assert matrix_for("local", CONTAINER_OFF).expected(Event.DEPLOY, UPLOADS) is Outcome.LOST
    assert matrix_for("local", CONTAINER_ON).expected(Event.DEPLOY, CONTAINER) is (
        ContainerOutcome.RECREATED
    )


def test_the_four_configurations_have_their_own_matrices() -> None:
    four = (Configuration(), OFF, CONTAINER_ON, CONTAINER_OFF)
    assert len({matrix_for("azure", c).paths for c in four}) == 4
    emulated = [matrix_for("local", c) for c in four]
    # Without App Service storage a deploy recreates the containers and /home with them, be
    # it a ZIP or a new image: the emulator's two storage-off matrices are the same.
    assert emulated[1] == emulated[3]
    assert len({m.paths for m in emulated}) == 3


def test_azure_documents_storage_off_for_container_apps_only() -> None:
    container = matrix_for("azure", CONTAINER_OFF)
    # configure-custom-container: not kept across restarts, not shared across instances.
    for event in (Event.RESTART, Event.STOP_START, Event.DEPLOY):
        assert container.expected(event, HOME) is Outcome.LOST
    assert container.expected(Event.SCALE_OUT, HOME) is Outcome.NOT_VISIBLE
    assert container.expected(Event.APP_SETTING_CHANGE, HOME) is Outcome.OBSERVE
    assert {cell.expected for cell in container.appends} == {AppendOutcome.NOT_SHARED}
    code = matrix_for("azure", OFF)
    assert {code.expected(event, HOME) for event in Event} == {Outcome.OBSERVE}
    assert {cell.expected for cell in code.appends} == {AppendOutcome.OBSERVE}
    # /tmp keeps the lab's facts for code apps, whatever /home does.
    assert code.expected(Event.STOP_START, TMP) is Outcome.LOST


def test_azure_observes_a_container_app_beyond_home() -> None:
    matrix = matrix_for("azure", CONTAINER_ON)
    assert matrix.expected(Event.STOP_START, HOME) is Outcome.PERSISTS
    assert matrix.expected(Event.SCALE_OUT, HOME) is Outcome.VISIBLE
    # The lab's container and /tmp facts were seen on the built-in stack only.
    assert matrix.expected(Event.STOP_START, TMP) is Outcome.OBSERVE
    assert matrix.expected(Event.RESTART, CONTAINER) is ContainerOutcome.OBSERVE
    assert matrix_for("azure").expected(Event.STOP_START, TMP) is Outcome.LOST


@pytest.mark.parametrize("backend", ["local", "azure"])
def test_mounts_are_shared_persistent_or_read_only(backend: str) -> None:
    configuration = Configuration(
        mounts=(Mount("/mnt/smb", MountKind.FILES), Mount("/mnt/ro", MountKind.BLOB))
    )
    matrix = matrix_for(backend, configuration)
    for event in Event:
        found = Outcome.VISIBLE if event.across_instances else Outcome.PERSISTS
        assert matrix.expected(event, "/mnt/smb") is found
        assert matrix.expected(event, "/mnt/ro") is Outcome.WRITE_REFUSED
    cells = matrix.path_cells(MOUNTS, Event)
    assert len(cells) == 2 * len(Event)
    # Nothing is measured where nothing can be written.
    for hypothesis in (LATENCY, LARGE_FILES):
        measured = [cell.path for cell in matrix.cells(hypothesis, Event)]
        assert "/mnt/smb" in measured
        assert "/mnt/ro" not in measured


def test_an_override_of_a_mount_cell_applies() -> None:
    resolved = resolve(
        {"backend": "fake", "mounts": ["/mnt/nfs=files-nfs"]},
        lambda _key: None,
        {},
        expectation_lines=["stop_start /mnt/nfs = observe"],
    )
    assert resolved.expectations.expected(Event.STOP_START, "/mnt/nfs") is Outcome.OBSERVE
    assert resolved.expectations.expected(Event.RESTART, "/mnt/nfs") is Outcome.PERSISTS


# --- write_refused -----------------------------------------------------------------------------


def _observation(written: MarkerWrite, *, proven: bool = True) -> Observation:
    who = Identity("i" * 64, "host-a", pid=7, process_start="2026-12-01T00:00:00Z")
    return Observation(
        event=Event.RESTART,
        run_id="r",
        nonce="n",
        trigger_count=1,
        instance_before=who,
        instance_after=who,
        written={written.path: written},
        read={},
        proven=proven,
        proof="a new process",
    )


def test_a_refused_write_is_write_refused_with_its_errno_as_evidence() -> None:
    cell = matrix_for("local", Configuration(mounts=(Mount("/mnt/ro", MountKind.BLOB),)))
    blob = next(c for c in cell.paths if c.path == "/mnt/ro" and c.event is Event.RESTART)
    written = MarkerWrite("/mnt/ro", error="OSError: Read-only file system", errno="EROFS")
    verdict = judge_path(_observation(written), blob, backend="fake")
    assert verdict.record.observed == "write_refused"
    assert verdict.passed
    assert "Read-only file system (EROFS)" in verdict.record.explanation


@pytest.mark.parametrize("errno", [None, "EIO", "ENOSPC"])
def test_a_write_that_failed_otherwise_is_inconclusive(errno: str | None) -> None:
    written = MarkerWrite("/mnt/ro", error="OSError: something", errno=errno)
    cell = next(
        c
        for c in matrix_for(
            "local", Configuration(mounts=(Mount("/mnt/ro", MountKind.BLOB),))
        ).paths
        if c.path == "/mnt/ro" and c.event is Event.RESTART
    )
    verdict = judge_path(_observation(written), cell, backend="fake")
    assert verdict.record.observed == "inconclusive"
    assert not verdict.passed


def test_an_unproven_event_is_inconclusive_even_where_writes_are_refused() -> None:
    written = MarkerWrite("/mnt/ro", error="OSError: Read-only file system", errno="EROFS")
    cell = next(
        c
        for c in matrix_for(
            "local", Configuration(mounts=(Mount("/mnt/ro", MountKind.BLOB),))
        ).paths
        if c.path == "/mnt/ro" and c.event is Event.RESTART
    )
    verdict = judge_path(_observation(written, proven=False), cell, backend="fake")
    assert verdict.record.observed == "inconclusive"


def test_a_home_path_that_refuses_writes_fails_its_cell() -> None:
    # /home/data expects persists: a refused write there is a finding, not a pass.
    cell = next(c for c in matrix_for("local").paths if c.path == HOME and c.event is Event.RESTART)
    written = MarkerWrite(HOME, error="PermissionError: Permission denied", errno="EACCES")
    verdict = judge_path(_observation(written), cell, backend="fake")
    assert verdict.record.observed == "write_refused"
    assert not verdict.passed


# --- the commands ----------------------------------------------------------------------------


def test_matrix_prints_the_configurations_table(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["matrix", "--app-service-storage", "off", "--mount", "/mnt/ro=blob"])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("local backend; code, storage off, /mnt/ro=blob\n")
    row = next(line for line in out.splitlines() if line.startswith("| `/home/data`"))
    assert row.split(" | ")[1:4] == ["persists", "lost", "lost"]
    assert "| `/mnt/ro` | write_refused |" in out
    assert "flock: not_shared, none: not_shared." in out


def test_matrix_refuses_a_bad_mount_in_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--mount", "/home/x=files"]) == 2
    assert "error: --mount got '/home/x'" in capsys.readouterr().err


def test_image_context_writes_a_buildable_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "context"
    assert main(["image-context", str(folder)]) == 0
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {"Dockerfile", "DEPLOYMENT_ID", "app.py", "requirements.txt"} <= set(names)
    build_id = (folder / "DEPLOYMENT_ID").read_text().strip()
    assert f"build id {build_id}" in capsys.readouterr().out
    dockerfile = (folder / "Dockerfile").read_text()
    assert f"COPY . {IMAGE_CODE_DIR}" in dockerfile
    assert "${WEBSITES_PORT:-${PORT:-8000}}" in dockerfile
    # A second write into the same (now full) folder is refused.
    assert main(["image-context", str(folder)]) == 2
    assert "is not an empty folder" in capsys.readouterr().err


def test_the_image_context_is_deterministic_and_carries_the_build_id() -> None:
    package = build_package(default_probe_dir(), "b1d")
    data = image_context(package)
    assert data == image_context(package)
    assert data != image_context(build_package(default_probe_dir(), "b2d"))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as context:
        assert context.extractfile("DEPLOYMENT_ID").read() == b"b1d\n"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("reference", "build_id"),
    [
        ("myregistry.azurecr.io/probe:0123456789abcdef", "0123456789abcdef"),
        ("localhost:5000/probe:0123456789abcdef", "0123456789abcdef"),
        ("localhost:5000/probe", None),
        ("myregistry.azurecr.io/probe:latest", None),
        ("myregistry.azurecr.io/probe:0123456789ABCDEF", None),
        ("myregistry.azurecr.io/probe@sha256:" + "a" * 64, None),
    ],
)
def test_an_images_tag_names_its_build_id(reference: str, build_id: str | None) -> None:
    assert image_build_id(reference) == build_id


def test_attach_modes_image_is_deployed_as_its_build(tmp_path: Path) -> None:
    """With --image, the package the first deploy is proven by carries the tag's build id."""
    from pytest_appservice_fs.backends.fake import FakeBackend  # noqa: PLC0415
    from pytest_appservice_fs.engine.experiment import Experiment  # noqa: PLC0415

    with_image = Settings(backend="fake", run_id="r", image="r.io/probe:0123456789abcdef")
    experiment = Experiment(FakeBackend(tmp_path), with_image)
    assert experiment.controller.new_package().deployment_id == "0123456789abcdef"
    without = Experiment(FakeBackend(tmp_path), Settings(backend="fake", run_id="r"))
    assert without.controller.new_package().deployment_id != "0123456789abcdef"


def test_matrix_reads_values_as_a_run_does(capsys: pytest.CaptureFixture[str]) -> None:
    """The same words, the same refusals: capitals are read, an empty value is refused."""
    assert main(["matrix", "--runtime", "Container", "--app-service-storage", "OFF"]) == 0
    assert capsys.readouterr().out.startswith("local backend; container, storage off\n")
    assert main(["matrix", "--runtime", ""]) == 2
    assert "error: --runtime got ''; valid values are code, container." in capsys.readouterr().err
    assert main(["matrix", "--mount", " "]) == 2
    assert "--mount got ' ', an empty list" in capsys.readouterr().err


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    """`appservice-fs matrix | head -1`: a closed pipe ends the command quietly, exit 1."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest_appservice_fs.cli", "matrix"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""
