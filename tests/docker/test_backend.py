"""The local backend driven directly, without pytest's plugin: mounts and event semantics."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_appservice_fs.backends.local import LocalBackend, label
from pytest_appservice_fs.engine.expectations import HOME, TMP, VAR_LOCAL
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir

pytestmark = pytest.mark.docker


@pytest.fixture
def deployed(run_id: str) -> Iterator[LocalBackend]:
    """A local app with the bundled probe deployed on one instance; torn down after."""
    backend = LocalBackend(app_name="engine", run_id=run_id)
    try:
        backend.create()
        backend.deploy(build_package(default_probe_dir()))
        yield backend
    finally:
        backend.teardown()


def test_home_is_the_volume_and_local_paths_the_overlay(deployed: LocalBackend) -> None:
    """/mount-info shows overlay for /tmp/data and /var/local/data, the volume's fs for /home."""
    [instance] = deployed.instances()
    facts = deployed.probe(instance).get("/mount-info")["paths"]
    assert facts[TMP]["fstype"] == "overlay", facts[TMP]
    assert facts[VAR_LOCAL]["fstype"] == "overlay", facts[VAR_LOCAL]
    assert facts[HOME]["fstype"] not in (None, "overlay"), facts[HOME]
    assert facts[HOME]["mount_point"] == "/home", facts[HOME]
    assert facts[TMP]["mount_point"] == "/", facts[TMP]


def test_probe_port_is_bound_to_loopback_only(
    deployed: LocalBackend, run_id: str, docker_client: Any
) -> None:
    """Each instance's probe port is published on 127.0.0.1 only, never on all interfaces."""
    [container] = docker_client.containers.list(filters={"label": [f"{label('run')}={run_id}"]})
    bindings = container.attrs["NetworkSettings"]["Ports"]["8000/tcp"]
    assert bindings, container.attrs["NetworkSettings"]["Ports"]
    assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}


def test_restart_keeps_the_container_and_stop_start_replaces_it(deployed: LocalBackend) -> None:
    """restart keeps hostname and /tmp marker; stop+start gives a new hostname, same instance."""
    [instance] = deployed.instances()
    before = deployed.probe(instance).identity()
    assert before is not None
    nonce = secrets.token_hex(12)
    _, written = deployed.probe(instance).write(nonce, [TMP])
    assert written[TMP].checksum, written

    deployed.restart()
    restarted = deployed.probe(instance).identity()
    assert restarted is not None
    assert restarted.hostname == before.hostname
    assert restarted.process_key != before.process_key
    _, read = deployed.probe(instance).read(nonce, [TMP])
    assert read[TMP].exists, read
    assert read[TMP].checksum_valid is True, read
    assert read[TMP].stored_checksum == written[TMP].checksum, read

    deployed.stop()
    assert deployed.instances() == []
    deployed.start()
    assert deployed.instances() == [instance]
    recreated = deployed.probe(instance).identity()
    assert recreated is not None
    assert recreated.hostname != before.hostname
    assert recreated.instance_id == before.instance_id == instance
    _, read = deployed.probe(instance).read(nonce, [TMP])
    assert not read[TMP].exists, read
