"""How a run ends on signals: SIGTERM as Ctrl-C, a second Ctrl-C during teardown, an interrupted
image build, and what it tells in the terminal (kept under -n, swept from dead runs)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import docker.errors
import pytest

from pytest_appservice_fs.backends.local import LocalBackend, sweep_dead_runs
from pytest_appservice_fs.engine.model import Event
from tests.docker.conftest import HeldRun, labelled, run_local, wait_until
from tests.junit_cases import live_outcomes

pytestmark = pytest.mark.docker

NOTHING = {"containers": [], "volumes": []}
TWO_EVENTS = live_outcomes([Event.RESTART, Event.STOP_START], unsupported=LocalBackend.unsupported)


def test_sigterm_during_an_event_removes_everything(
    held_run: Callable[..., HeldRun], run_id: str, docker_client: Any
) -> None:
    """SIGTERM (timeout, docker stop, CI cancellation) ends the run as Ctrl-C does: nothing left."""
    run = held_run(run_id)
    run.wait_for_stop_start()
    assert len(labelled(docker_client, run_id)["containers"]) == 1
    code = run.send(signal.SIGTERM)
    assert code == pytest.ExitCode.INTERRUPTED, run.text()
    assert "Traceback (most recent call last)" not in run.text()
    assert labelled(docker_client, run_id) == NOTHING, run.text()


def test_second_ctrl_c_during_teardown_does_not_abandon_it(
    held_run: Callable[..., HeldRun], run_id: str, docker_client: Any
) -> None:
    """A second SIGINT while the app is being removed is noted in one line; the removal ends."""
    run = held_run(run_id, hold_teardown=True)
    run.wait_for_stop_start()
    run.process.send_signal(signal.SIGINT)
    run.wait_for_teardown()
    code = run.send(signal.SIGINT)
    text = run.text()
    assert code == pytest.ExitCode.INTERRUPTED, text
    assert "SIGINT during teardown: still removing run" in text
    assert "Traceback (most recent call last)" not in text
    assert labelled(docker_client, run_id) == NOTHING, text


#: A build that stops in a RUN step after committing a layer, for the interrupted-build test:
#: its first LABEL marks every image of the build with the test's run id.
SLOW_DOCKERFILE = """\
FROM {base}
LABEL dockertest.build={run_id}
COPY requirements.txt /opt/probe-runtime/requirements.txt
RUN sleep 120
"""

#: Builds the probe runtime as the local backend does, with SLOW_DOCKERFILE (argv[4]).
BUILD_SCRIPT = """
import sys
from pathlib import Path
from types import SimpleNamespace

from pytest_appservice_fs.backends import docker_images, local

run_id, cache, started, docker_images.DOCKERFILE = sys.argv[1:5]
backend = local.LocalBackend(app_name="build", run_id=run_id, cache_dir=Path(cache))
backend._client = local.docker_client()
Path(started).touch()
backend._runtime_image(SimpleNamespace(requirements=("# " + run_id + "\\n").encode()))
"""


def test_interrupted_build_leaves_no_image_after_the_sweep(
    pytester: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """A probe-runtime build killed halfway leaves untagged images; the next sweep removes
    them (they carry the dead run's labels)."""
    script = pytester.path / "build.py"
    script.write_text(BUILD_SCRIPT)
    dockerfile = SLOW_DOCKERFILE.replace("{run_id}", run_id)
    cache, started = pytester.path / "cache", pytester.path / "started"
    process = pytester.popen(
        [sys.executable, str(script), run_id, str(cache), str(started), dockerfile],
        stdin=None,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Its RUN step has a container once every layer before it is committed.
        wait_until(lambda: bool(_build_containers(docker_client, run_id)), 120, "RUN starting")
        process.kill()
        process.wait()
        # The daemon stops the build once its client is gone; what it committed stays.
        wait_until(lambda: not _build_containers(docker_client, run_id), 60, "the build ending")
        assert _build_images(docker_client, run_id), "the build left no image to sweep"
        sweep_dead_runs(docker_client)
        assert _build_images(docker_client, run_id) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for image in reversed(_build_images(docker_client, run_id)):
            with contextlib.suppress(docker.errors.APIError):
                docker_client.api.remove_image(image, force=True)


def _build_images(client: Any, run_id: str) -> list[str]:
    images = client.api.images(all=True, filters={"label": f"dockertest.build={run_id}"})
    return [image["Id"] for image in images]


def _build_containers(client: Any, run_id: str) -> list[str]:
    filters = {"label": f"dockertest.build={run_id}"}
    return [c.id for c in client.containers.list(all=True, filters=filters, sparse=True)]


def test_kept_resources_under_xdist_are_told_for_every_worker(
    live_suite: pytest.Pytester, run_id: str, docker_client: Any
) -> None:
    """--keep-resources -n 2: the summary names every worker's app, each with its commands."""
    result, _ = run_local(
        live_suite,
        run_id,
        *("--events", "restart,stop_start", "--keep-resources", "-n", "2"),
        subprocess_run=True,
    )
    result.assert_outcomes(**TWO_EVENTS)
    volumes = labelled(docker_client, run_id)["volumes"]
    assert len(volumes) == 2, volumes
    kept = [line for line in result.stdout.lines if line.startswith("kept the local app")]
    assert len(set(kept)) == 2, result.stdout.str()


def test_sweep_tells_the_terminal_which_dead_run_it_removed(
    held_run: Callable[..., HeldRun],
    live_suite: pytest.Pytester,
    new_run_id: Callable[[], str],
    docker_client: Any,
) -> None:
    """The next run names the dead run whose leftovers it removed, in one terminal line."""
    killed_id, next_id = new_run_id(), new_run_id()
    run = held_run(killed_id)
    run.wait_for_stop_start()
    assert run.send(signal.SIGKILL) == -signal.SIGKILL
    result, _ = run_local(live_suite, next_id, "--events", "restart", subprocess_run=True)
    swept = [line for line in result.stdout.lines if f"of dead run {killed_id}" in line]
    assert len(swept) == 1, result.stdout.str()
    assert labelled(docker_client, killed_id) == NOTHING
