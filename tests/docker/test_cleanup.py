"""What a run leaves on the Docker daemon when it is interrupted, killed or asked to keep it."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from pytest_appservice_fs.backends.local import LocalBackend
from pytest_appservice_fs.engine.model import Event
from tests.docker.conftest import HeldRun, labelled, run_local
from tests.junit_cases import live_outcomes

pytestmark = pytest.mark.docker

#: What a run of --events restart reports on the local backend.
RESTART_ONLY = live_outcomes([Event.RESTART], unsupported=LocalBackend.unsupported)

NOTHING = {"containers": [], "volumes": []}


def test_ctrl_c_during_an_event_removes_everything(
    held_run: Callable[..., HeldRun], run_id: str, docker_client: Any
) -> None:
    """SIGINT in the middle of stop_start ends the run as interrupted with nothing left."""
    run = held_run(run_id)
    run.wait_for_stop_start()
    made = labelled(docker_client, run_id)
    assert len(made["containers"]) == 1, made
    assert len(made["volumes"]) == 1, made
    code = run.send(signal.SIGINT)
    assert code == pytest.ExitCode.INTERRUPTED, run.text()
    assert "KeyboardInterrupt" in run.text()
    assert labelled(docker_client, run_id) == NOTHING, run.text()


def test_next_run_sweeps_a_killed_run(
    held_run: Callable[..., HeldRun],
    live_suite: pytest.Pytester,
    new_run_id: Callable[[], str],
    docker_client: Any,
) -> None:
    """A run killed with SIGKILL leaves its app behind; the next run on the daemon removes it."""
    killed_id, next_id = new_run_id(), new_run_id()
    run = held_run(killed_id)
    run.wait_for_stop_start()
    assert run.send(signal.SIGKILL) == -signal.SIGKILL
    left = labelled(docker_client, killed_id)
    assert len(left["containers"]) == 1, left
    assert len(left["volumes"]) == 1, left

    result, _ = run_local(live_suite, next_id, "--events", "restart")
    result.assert_outcomes(**RESTART_ONLY)
    assert labelled(docker_client, killed_id) == NOTHING
    assert labelled(docker_client, next_id) == NOTHING


def test_kept_run_is_not_swept_and_its_removal_command_works(
    live_suite: pytest.Pytester, new_run_id: Callable[[], str], docker_client: Any
) -> None:
    """A --keep-resources run survives a later run's sweep; its removal commands remove it."""
    kept_id, next_id = new_run_id(), new_run_id()
    # A subprocess, so that the kept run's owner is dead when the next run sweeps.
    kept, _ = run_local(
        live_suite, kept_id, "--events", "restart", "--keep-resources", subprocess_run=True
    )
    kept.assert_outcomes(**RESTART_ONLY)
    left = labelled(docker_client, kept_id)
    assert len(left["containers"]) == 1, left
    assert len(left["volumes"]) == 1, left

    after, _ = run_local(live_suite, next_id, "--events", "restart")
    after.assert_outcomes(**RESTART_ONLY)
    assert labelled(docker_client, kept_id) == left
    assert labelled(docker_client, next_id) == NOTHING

    message = LocalBackend(app_name=f"local-{kept_id}", run_id=kept_id).kept_resources()
    removal = subprocess.run(
        ["bash", "-c", _removal_command(message, kept_id)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert removal.returncode == 0, removal.stderr
    assert labelled(docker_client, kept_id) == NOTHING


def test_kept_run_prints_how_to_remove_it(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """A --keep-resources run prints the docker commands that inspect and remove what it kept."""
    kept, _ = run_local(
        live_suite, run_id, "--events", "restart", "--keep-resources", subprocess_run=True
    )
    kept.assert_outcomes(**RESTART_ONLY)
    assert len(labelled(docker_client, run_id)["volumes"]) == 1
    output = kept.stdout.str()
    run_filter = f"label=io.github.pytest-appservice-fs.run={run_id}"
    assert f"docker ps -a --filter {run_filter}" in output
    assert f"docker volume ls --filter {run_filter}" in output
    _removal_command(output, run_id)


def _removal_command(message: str, run_id: str) -> str:
    """The removal command in a kept-resources message, checked to name the run's label."""
    match = re.search(r"remove with `([^`]+)`", message)
    assert match, message
    command = match.group(1)
    run_filter = f"label=io.github.pytest-appservice-fs.run={run_id}"
    assert f"docker ps -aq --filter {run_filter} | xargs -r docker rm -f" in command
    assert f"docker volume ls -q --filter {run_filter} | xargs -r docker volume rm" in command
    return command


def test_removal_command_works_when_only_the_volume_was_kept(
    run_id: str, docker_client: Any
) -> None:
    """The printed removal command also removes a kept app that has no container left."""
    backend = LocalBackend(app_name="volume-only", run_id=run_id, keep=True)
    backend.create()
    assert len(labelled(docker_client, run_id)["volumes"]) == 1
    removal = subprocess.run(
        ["bash", "-c", _removal_command(backend.kept_resources(), run_id)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert removal.returncode == 0, removal.stderr
    assert labelled(docker_client, run_id) == NOTHING
