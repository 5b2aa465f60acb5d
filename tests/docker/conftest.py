"""Docker integration tests of the local backend: a reachable Engine, run ids of their own,
and cleanup of everything labelled with them, even when a test fails.

Other runs may share the Docker daemon, so nothing here counts or removes resources
globally: every run a test starts gets its own ``--run-id`` and is found by that label.
"""

from __future__ import annotations

import contextlib
import gc
import secrets
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest
import requests
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from pytest_appservice_fs.backends.local import label
from tests.junit_cases import copy_live_suite, read_junit

#: Bound for any one pytest run a test starts; a full local run takes about 5 s.
RUN_TIMEOUT = 180.0

#: A conftest for a pytester folder: when DOCKERTEST_HOLD_MARK names a file, the local
#: backend's stop() touches it and then holds for up to DOCKERTEST_HOLD_SECONDS before
#: stopping, so a test can interrupt or kill the run in the middle of the stop_start event.
#: When DOCKERTEST_TEARDOWN_MARK names a file, teardown() touches it and holds for
#: DOCKERTEST_TEARDOWN_SECONDS before removing anything, so a test can signal it there.
HOLD_CONFTEST = """
import os
import time
from pathlib import Path

from pytest_appservice_fs.backends.local import LocalBackend

_original_stop = LocalBackend.stop
_original_teardown = LocalBackend.teardown


def _held_stop(self):
    Path(os.environ["DOCKERTEST_HOLD_MARK"]).touch()
    deadline = time.monotonic() + float(os.environ.get("DOCKERTEST_HOLD_SECONDS", "30"))
    while time.monotonic() < deadline:
        time.sleep(0.05)
    _original_stop(self)


def _held_teardown(self):
    Path(os.environ["DOCKERTEST_TEARDOWN_MARK"]).touch()
    deadline = time.monotonic() + float(os.environ.get("DOCKERTEST_TEARDOWN_SECONDS", "3"))
    while time.monotonic() < deadline:
        time.sleep(0.05)
    _original_teardown(self)


def pytest_configure(config):
    if os.environ.get("DOCKERTEST_HOLD_MARK"):
        LocalBackend.stop = _held_stop
    if os.environ.get("DOCKERTEST_TEARDOWN_MARK"):
        LocalBackend.teardown = _held_teardown


def pytest_unconfigure(config):
    LocalBackend.stop = _original_stop
    LocalBackend.teardown = _original_teardown
"""


@pytest.fixture(scope="session", autouse=True)
def docker_client() -> Iterator[Any]:
    """A Docker client that has answered; the whole directory fails (not skips) without one."""
    client, reason = _connect()
    if client is None:
        pytest.fail(
            f"Docker is not reachable ({reason}). Tests marked docker run only with -m docker, "
            "which says a Docker Engine is there: start it (as root: dockerd &, or make docker) "
            "or point DOCKER_HOST at it.",
            pytrace=False,
        )
    yield client
    client.close()


def _connect() -> tuple[Any, str]:
    with warnings.catch_warnings():
        # docker-py leaves the socket of a refused connection to the garbage collector; its
        # ResourceWarning would turn into an error at exit and bury the reason given here.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=60)
            client.ping()
        except (docker.errors.DockerException, requests.RequestException) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        else:
            return client, ""
        gc.collect()
    return None, reason


def labelled(client: Any, run_id: str) -> dict[str, list[str]]:
    """Names of the containers and volumes that carry the run's label."""
    filters = {"label": [f"{label('run')}={run_id}"]}
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters=filters)],
        "volumes": [v.name for v in client.volumes.list(filters=filters)],
    }


def remove_labelled(client: Any, run_id: str) -> None:
    """Remove every container, then every volume, that carries the run's label."""
    filters = {"label": [f"{label('run')}={run_id}"]}
    for container in client.containers.list(all=True, filters=filters):
        # Removed meanwhile (by a sweep, a teardown) is as good as removed here.
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    for volume in client.volumes.list(filters=filters):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)


@pytest.fixture
def new_run_id(docker_client: Any) -> Iterator[Callable[[], str]]:
    """Hand out fresh run ids; whatever carries any of them is removed at teardown."""
    issued: list[str] = []

    def issue() -> str:
        run_id = f"dockertest-{secrets.token_hex(5)}"
        issued.append(run_id)
        return run_id

    yield issue
    for run_id in issued:
        remove_labelled(docker_client, run_id)


@pytest.fixture
def run_id(new_run_id: Callable[[], str]) -> str:
    """One fresh run id for this test, cleaned up after it."""
    return new_run_id()


@pytest.fixture
def live_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder with a copy of the live suite and a conftest that can hold stop()."""
    copy_live_suite(pytester)
    pytester.makeconftest(HOLD_CONFTEST)
    return pytester


def run_local(
    pytester: pytest.Pytester, run_id: str, *args: str, subprocess_run: bool = False
) -> tuple[pytest.RunResult, list[dict[str, str]]]:
    """Run the live suite on the local backend; return the result and each testcase."""
    junit = pytester.path / f"{run_id}.xml"
    argv = ("-m", "live", "--backend", "local", "--run-id", run_id, f"--junitxml={junit}", *args)
    if subprocess_run:
        result = pytester.runpytest_subprocess(*argv, timeout=RUN_TIMEOUT)
    else:
        result = pytester.runpytest(*argv)
    return result, read_junit(junit) if junit.exists() else []


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s for up to ``seconds``; fail naming ``what`` if never."""
    retrying = Retrying(
        stop=stop_after_delay(seconds),
        wait=wait_fixed(0.1),
        retry=retry_if_result(lambda ok: not ok),
        retry_error_callback=lambda _state: False,
    )
    if not retrying(condition):
        pytest.fail(f"{what} did not happen within {seconds:g} s", pytrace=False)


class HeldRun:
    """A live run in a subprocess, held inside the stop_start event by the HOLD_CONFTEST."""

    def __init__(
        self, pytester: pytest.Pytester, run_id: str, *args: str, hold_teardown: bool = False
    ) -> None:
        self.mark = pytester.path / f"{run_id}.stopping"
        self.teardown_mark = pytester.path / f"{run_id}.tearing-down"
        self.output = pytester.path / f"{run_id}.out"
        self._output_file = self.output.open("wb")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DOCKERTEST_HOLD_MARK", str(self.mark))
            patch.setenv("DOCKERTEST_HOLD_SECONDS", "30")
            if hold_teardown:
                patch.setenv("DOCKERTEST_TEARDOWN_MARK", str(self.teardown_mark))
            self.process = pytester.popen(
                [
                    *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "live"),
                    *("--backend", "local", "--run-id", run_id, *args),
                ],
                stdout=self._output_file,
                stderr=subprocess.STDOUT,
            )

    def wait_for_stop_start(self) -> None:
        """Block until the run is inside the stop_start event (or fail, bounded)."""
        wait_until(
            lambda: self.mark.exists() or self.process.poll() is not None,
            RUN_TIMEOUT,
            "the run reaching stop_start",
        )
        assert self.process.poll() is None, f"the run ended early:\n{self.text()}"

    def wait_for_teardown(self) -> None:
        """Block until the run is inside its backend's (held) teardown (or fail, bounded)."""
        wait_until(
            lambda: self.teardown_mark.exists() or self.process.poll() is not None,
            RUN_TIMEOUT,
            "the run reaching teardown",
        )
        assert self.process.poll() is None, f"the run ended early:\n{self.text()}"

    def send(self, signum: signal.Signals) -> int:
        """Send ``signum`` and reap the process (bounded); return its exit code."""
        self.process.send_signal(signum)
        return self.wait()

    def wait(self) -> int:
        """Reap the process, killing it if it outlives the bound; return its exit code."""
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the run did not end within 60 s:\n{self.text()}", pytrace=False)

    def text(self) -> str:
        """What the run printed so far."""
        self._output_file.flush()
        return self.output.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        """Make sure the process is gone and its output file closed."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._output_file.close()


@pytest.fixture
def held_run(
    live_suite: pytest.Pytester, new_run_id: Callable[[], str]
) -> Iterator[Callable[..., HeldRun]]:
    """Start live runs held in stop_start; each is killed, if still alive, at teardown.

    It depends on ``new_run_id`` so that its processes are gone before their resources are
    removed (teardown runs in reverse order of setup).
    """
    runs: list[HeldRun] = []

    def start(run_id: str, *args: str, hold_teardown: bool = False) -> HeldRun:
        run = HeldRun(live_suite, run_id, *args, hold_teardown=hold_teardown)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.close()
