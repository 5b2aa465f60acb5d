"""Harness overhead of the local live suite: its wall time against the bare Docker work.

Runs the local live evidence suite (the lab's four events with H1-H3, the paths beyond the lab
and the container cells; the later events, and the latency, H4 and H5 measurements are left
out, as the raw replay has no counterpart for them)
with `python -m pytest -m live --backend local` in a fresh process (images already built),
then, in the same invocation, replays the Docker operations that run caused with no harness
around them, each step timed until the probe proves it took effect: create the app
(volume, deploy-unpack, first container, /health answering), restart, recreate (stop/start),
deploy, add an instance, scale back, remove everything. Prints one JSON object as its last
line; targets are reported, not asserted:

- events, triggers: distinct events in the suite's JUnit evidence, and how often they were
  fired (distinct marker nonces: one per firing, across xdist workers too); equal when each
  event was fired once.
- workers: pytest-xdist workers of the suite run (--workers; 0: serial); with
  --compare-serial, serial_total_seconds (the same suite serially, in this invocation) and
  speedup = serial_total_seconds / total_seconds.
- total_seconds: the suite's wall time, pytest start-up included (target: at most 20 s).
- raw_seconds: the sum of the raw steps, setup and teardown included.
- overhead_ratio: total_seconds / raw_seconds (target: at most 1.5); what it costs to run the
  experiment through pytest, markers, evidence and proofs rather than by hand.
- per_event: the suite's event_seconds (the trigger call) and ready_seconds (trigger to
  proof) next to the raw step doing the same Docker work (restart; recreate for stop_start;
  deploy; add_instance for scale_out).
- raw_steps: every raw step; suite_testcase_seconds: the sum of the JUnit testcase times
  (fixture setup and teardown included), so total minus it is pytest's own start and finish.

With --runs N each figure is the median over the runs (the ratio is the median of the per-run
ratios) and `values` holds every figure's per-run list. The raw phase labels what it creates
like the local backend does, under its own run id, and removes it all, also on failure or
Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import docker.errors
import requests
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from pytest_appservice_fs.backends.docker_images import (
    DEBIAN_BASE_IMAGE,
    DEFAULT_BASE_IMAGE,
    default_cache_dir,
    resolve_base_image,
    runtime_image,
)

# The raw phase replays the backend's own deploy script and owner label: the
# unpack must be the same work, and a crashed bench's leftovers must be swept like a run's.
from pytest_appservice_fs.backends.local import (
    DEPLOY_SCRIPT,
    DEPLOY_SECONDS,
    PROBE_PORT,
    PROJECT,
    STOP_SECONDS,
    docker_client,
    label,
    new_instance_id,
    owner_tag,
    remove_resources,
    tar_archive,
)
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.probe_package import ProbePackage, build_package, default_probe_dir

ROOT = Path(__file__).resolve().parents[1]
SUITE_SECONDS = 600
#: How long an interrupted suite may take to tear its app down before it is killed.
SUITE_INTERRUPT_SECONDS = 60
STEP_SECONDS = 60.0
POLL_SECONDS = 0.02
REQUEST_SECONDS = 2.0
#: How long an interrupted Docker request is given to land before the second clean-up pass.
SETTLE_SECONDS = 0.5
APP_NAME = "bench-raw"
CODE_DIR = "/home/site/wwwroot"
TARGETS = {"total_seconds": 20, "overhead_ratio": 1.5}
#: Which suite event does the same Docker work as a raw step.
EVENT_OF_STEP = {
    "restart": "restart",
    "recreate": "stop_start",
    "deploy": "deploy",
    "add_instance": "scale_out",
}

Figures = dict[str, Any]


class BenchError(Exception):
    """The benchmark cannot produce figures; the message is one sentence saying why."""


@dataclass(frozen=True)
class SuiteRun:
    """What one run of the live suite took and what its JUnit evidence says."""

    wall_seconds: float
    testcase_seconds: float
    trigger_counts: dict[str, int]
    event_seconds: dict[str, float | None]
    ready_seconds: dict[str, float | None]


#: The evidence run the targets speak of: the lab's 4 events (those the raw replay has steps
#: for), H1-H3, the paths beyond the lab and the container cells. Latency, H4 and H5 measure
#: I/O (hundreds of MiB for H5) that the raw replay has no counterpart for.
EVIDENCE_SUITE = (
    "pytest_appservice_fs/suite/test_container_lifecycle.py",
    "pytest_appservice_fs/suite/test_h1_home_persists.py",
    "pytest_appservice_fs/suite/test_h2_local_paths_lost.py",
    "pytest_appservice_fs/suite/test_h3_scale_out_visibility.py",
    "pytest_appservice_fs/suite/test_paths_beyond_lab.py",
)
EVIDENCE_EVENTS = ("--events", ",".join(EVENT_OF_STEP.values()))


def run_suite(junit: Path, workers: int = 0) -> SuiteRun:
    """One full local live run in a fresh process, timed from start to exit; with workers,
    under pytest-xdist with one app per worker."""
    # The command `make live` runs (the live suite needs no hypothesis plugin).
    command = [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest", "-m", "live"]
    command += ["--backend", "local", "-p", "no:cacheprovider", "-q", f"--junitxml={junit}"]
    command += ["-n", str(workers)] if workers else []
    command += [*EVIDENCE_EVENTS, *EVIDENCE_SUITE]
    started = time.perf_counter()
    returncode, output = _run_bounded(command)
    seconds = time.perf_counter() - started
    if returncode != 0:
        sys.stderr.write(output[-3000:])
        raise BenchError(f"the local live suite failed (exit {returncode}); no figures.")
    return _read_junit(junit, seconds)


def _run_bounded(command: list[str]) -> tuple[int, str]:
    # Its own session, so that a Ctrl-C reaches the suite once, from us, and its teardown of
    # the app is not cut short by a second interrupt.
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, arguments built above
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=SUITE_SECONDS)
    except subprocess.TimeoutExpired:
        _interrupt(process)
        raise BenchError(f"the local live suite did not finish within {SUITE_SECONDS} s.") from None
    except BaseException:
        _interrupt(process)
        raise
    return process.returncode, output


def _interrupt(process: subprocess.Popen[str]) -> None:
    """Let pytest tear its app down as after a Ctrl-C; kill it if that takes too long."""
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=SUITE_INTERRUPT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def _read_junit(junit: Path, wall_seconds: float) -> SuiteRun:
    if not junit.is_file():
        raise BenchError(f"the live suite passed but wrote no JUnit file at {junit}.")
    tree = ET.parse(junit)  # noqa: S314 - written by the pytest run we started
    firings: dict[str, set[str]] = {}
    event_seconds: dict[str, float | None] = {}
    ready_seconds: dict[str, float | None] = {}
    testcase_seconds = 0.0
    for testcase in tree.iter("testcase"):
        testcase_seconds += float(testcase.get("time") or 0)
        properties = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        event = properties.get("event")
        if not event or event == "none":  # latency and H5 measure; they fire no event
            continue
        # Every firing writes markers with a fresh nonce: distinct nonces count the firings,
        # also across xdist workers (each of which counts only its own).
        firings.setdefault(event, set()).add(properties.get("nonce") or "")
        event_seconds.setdefault(event, _float_or_none(properties.get("event_seconds")))
        ready_seconds.setdefault(event, _float_or_none(properties.get("ready_seconds")))
    if not firings:
        raise BenchError(f"the JUnit file {junit} has no testcase with an event property.")
    trigger_counts = {event: len(nonces) for event, nonces in firings.items()}
    return SuiteRun(wall_seconds, testcase_seconds, trigger_counts, event_seconds, ready_seconds)


def _float_or_none(text: str | None) -> float | None:
    return float(text) if text else None


class StepFailed(BenchError):
    """A raw step was not proven before its deadline."""


@dataclass
class _Instance:
    instance_id: str
    container: Any = None
    port: str = ""


@dataclass
class RawReplay:
    """The Docker operations of one live run, with nothing of the harness around them."""

    client: Any
    image: str
    probe_dir: Path
    run_id: str = field(
        default_factory=lambda: (
            f"bench-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"
        )
    )
    steps: dict[str, float] = field(default_factory=dict)
    _owner: str = field(default_factory=owner_tag)
    _sequence: int = 0

    @property
    def volume(self) -> str:
        """The app's /home volume, named as the local backend names it."""
        return f"appservice-fs-{self.run_id}-{APP_NAME}-home".lower()

    def run(self) -> dict[str, float]:
        """Every step, timed until the probe proves it; returns seconds per step."""
        # Packages are built before the clock starts: the suite builds them between events.
        first, second = build_package(self.probe_dir), build_package(self.probe_dir)
        primary = _Instance(new_instance_id())
        self._step("create", lambda: self._create(primary, first))

        before = self._identity(primary)
        self._step("restart", lambda: self._restart(primary, before))

        before = self._identity(primary)
        self._step("recreate", lambda: self._recreate(primary, first, before))

        self._step("deploy", lambda: self._deploy(primary, second))

        extra = _Instance(new_instance_id())
        self._step("add_instance", lambda: self._add_instance(extra, second))
        self._step("scale_back", lambda: self._scale_back(primary, extra))
        self._step("remove", lambda: self._remove_all([primary, extra]))
        return dict(self.steps)

    def remove_leftovers(self, *, interrupted: bool) -> int:
        """Remove whatever of this replay still exists (after a failure or an interrupt)."""
        labels = {label("run"): self.run_id, label("app"): APP_NAME}
        removed = remove_resources(self.client, labels)
        if interrupted:
            # A request cut short on our side may still be creating a container in the daemon.
            time.sleep(SETTLE_SECONDS)
            removed += remove_resources(self.client, labels)
        return removed

    def _step(self, name: str, action: Callable[[], None]) -> None:
        started = time.perf_counter()
        action()
        self.steps[name] = time.perf_counter() - started

    def _create(self, primary: _Instance, package: ProbePackage) -> None:
        self.client.volumes.create(self.volume, labels=self._labels("home"))
        self._unpack(package)
        self._start(primary, package)
        self._await(primary, "/health", lambda body: body.get("status") == "ok", "health ok")

    def _restart(self, primary: _Instance, before: Mapping[str, Any]) -> None:
        primary.container.restart(timeout=STOP_SECONDS)
        primary.port = self._port_of(primary.container)  # Docker may bind a new host port
        process = _process_key(before)
        self._await(
            primary, "/identity", lambda now: _process_key(now) != process, "a new probe process"
        )

    def _recreate(
        self, primary: _Instance, package: ProbePackage, before: Mapping[str, Any]
    ) -> None:
        self._stop_and_remove(primary)
        self._start(primary, package)
        hostname = before.get("hostname")
        self._await(
            primary, "/identity", lambda now: now.get("hostname") != hostname, "a new container"
        )

    def _deploy(self, primary: _Instance, package: ProbePackage) -> None:
        self._unpack(package)
        self._stop_and_remove(primary)
        self._start(primary, package)
        wanted = package.deployment_id
        self._await(
            primary,
            "/identity",
            lambda now: now.get("deployment_id") == wanted,
            f"deployment {wanted}",
        )

    def _add_instance(self, extra: _Instance, package: ProbePackage) -> None:
        self._start(extra, package)
        wanted = extra.instance_id
        self._await(
            extra, "/identity", lambda now: now.get("instance_id") == wanted, "the new instance"
        )

    def _scale_back(self, primary: _Instance, extra: _Instance) -> None:
        self._stop_and_remove(extra)
        # Scaling in is done when the remaining instance still serves.
        self._await(primary, "/health", lambda body: body.get("status") == "ok", "health ok")

    def _remove_all(self, instances: list[_Instance]) -> None:
        for instance in instances:
            if instance.container is not None:
                instance.container.remove(force=True)
                instance.container = None
        self.client.volumes.get(self.volume).remove(force=True)

    def _unpack(self, package: ProbePackage) -> None:
        # The same work as LocalBackend._unpack: a short-lived container replaces wwwroot.
        deployer = self.client.containers.create(
            self.image,
            ["python3", "-c", DEPLOY_SCRIPT],
            volumes={self.volume: {"bind": "/home", "mode": "rw"}},
            labels=self._labels("deployer"),
            network_disabled=True,
        )
        try:
            deployer.put_archive("/tmp", tar_archive({"appservice-fs-package.zip": package.data}))  # noqa: S108
            deployer.start()
            result = deployer.wait(timeout=DEPLOY_SECONDS)
            if result.get("StatusCode") != 0:
                output = deployer.logs().decode("utf-8", "replace").strip()[-500:]
                raise StepFailed(f"the deploy-unpack failed: {output or result}")
        finally:
            deployer.remove(force=True)

    def _start(self, instance: _Instance, package: ProbePackage) -> None:
        self._sequence += 1
        instance.container = self.client.containers.run(
            self.image,
            package.startup_command(CODE_DIR),
            detach=True,
            name=f"appservice-fs-{self.run_id}-{APP_NAME}-{instance.instance_id[:8]}-"
            f"{self._sequence}",
            environment={
                "WEBSITE_INSTANCE_ID": instance.instance_id,
                "WEBSITE_SITE_NAME": APP_NAME,
            },
            labels=self._labels("instance", instance=instance.instance_id),
            ports={PROBE_PORT: ("127.0.0.1", None)},
            volumes={self.volume: {"bind": "/home", "mode": "rw"}},
        )
        instance.port = self._port_of(instance.container)

    def _stop_and_remove(self, instance: _Instance) -> None:
        container, instance.container = instance.container, None
        try:
            container.stop(timeout=STOP_SECONDS)
            container.remove(force=True)
        except docker.errors.NotFound:
            pass  # gone already is as good as removed

    def _port_of(self, container: Any) -> str:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(PROBE_PORT) or []
        if not bindings:
            raise StepFailed(f"container {container.short_id} has no port bound for the probe.")
        return str(bindings[0]["HostPort"])

    def _identity(self, instance: _Instance) -> dict[str, Any]:
        """The probe's /identity answer, read outside the timed steps."""
        return self._await(instance, "/identity", lambda _: True, "an identity")

    def _await(
        self,
        instance: _Instance,
        endpoint: str,
        accept: Callable[[dict[str, Any]], bool],
        awaited: str,
    ) -> dict[str, Any]:
        """Poll the probe every POLL_SECONDS until an answer is accepted; return that answer."""
        url = f"http://127.0.0.1:{instance.port}{endpoint}"
        last_seen = ["nothing yet"]

        def attempt() -> dict[str, Any] | None:
            try:
                response = requests.get(url, timeout=REQUEST_SECONDS)
                body: dict[str, Any] = response.json() if response.status_code == 200 else {}
            except (requests.RequestException, ValueError) as exc:
                # Refused or reset while gunicorn starts: what a starting container looks like.
                last_seen[0] = type(exc).__name__
                return None
            last_seen[0] = json.dumps(body)[:200] if body else f"HTTP {response.status_code}"
            return body if body and accept(body) else None

        retrying = Retrying(
            stop=stop_after_delay(STEP_SECONDS),
            wait=wait_fixed(POLL_SECONDS),
            retry=retry_if_result(lambda answer: answer is None),
        )
        try:
            answer = retrying(attempt)
        except RetryError:
            answer = None
        if answer is None:
            raise StepFailed(
                f"{url} did not show {awaited} within {STEP_SECONDS:g} s; last seen: {last_seen[0]}"
            )
        return answer

    def _labels(self, role: str, **extra: str) -> dict[str, str]:
        return {
            label("project"): PROJECT,
            label("app"): APP_NAME,
            label("run"): self.run_id,
            label("role"): role,
            label("owner"): self._owner,
            label("keep"): "false",
            **{label(k): v for k, v in extra.items()},
        }


def _process_key(identity: Mapping[str, Any]) -> tuple[Any, Any]:
    return identity.get("pid"), identity.get("process_start_epoch")


def probe_runtime_image(client: Any, package: ProbePackage) -> str:
    """The runtime image tag the backend uses with its default base image, never pulling."""
    # The backend tries python:3.11-slim, then the Debian base; we take the first one present
    # so that resolving it cannot start a pull (Docker Hub may be out of reach).
    for candidate in (DEFAULT_BASE_IMAGE, DEBIAN_BASE_IMAGE):
        try:
            client.images.get(candidate)
        except docker.errors.ImageNotFound:
            continue
        base = resolve_base_image(client, candidate)
        return runtime_image(client, base, package.requirements, default_cache_dir())
    raise BenchError(
        f"neither {DEFAULT_BASE_IMAGE} nor {DEBIAN_BASE_IMAGE} is on this machine; "
        "build the images first (make base-image)."
    )


def measure_once(
    client: Any,
    workdir: Path,
    index: int,
    image: str | None,
    *,
    workers: int = 0,
    compare_serial: bool = False,
) -> tuple[Figures, str]:
    """The suite (and the serial suite, when asked), then the raw replay; returns this run's
    figures and the runtime image."""
    suite = run_suite(workdir / f"bench-{index}.xml", workers)
    serial = run_suite(workdir / f"bench-{index}-serial.xml") if compare_serial else None
    probe_dir = default_probe_dir()
    image = image or probe_runtime_image(client, build_package(probe_dir))
    replay = RawReplay(client, image, probe_dir)
    steps: dict[str, float] = {}
    try:
        steps = replay.run()
    finally:
        replay.remove_leftovers(interrupted=not steps)
    raw_seconds = sum(steps.values())
    step_of_event = {event: step for step, event in EVENT_OF_STEP.items()}
    per_event = {
        event: {
            "suite_event_seconds": suite.event_seconds.get(event),
            "suite_ready_seconds": suite.ready_seconds.get(event),
            "raw_seconds": steps.get(step_of_event.get(event, "")),
        }
        for event in [*suite.trigger_counts, *EVENT_OF_STEP.values()]
    }
    figures: Figures = {
        "events": len(suite.trigger_counts),
        "triggers": sum(suite.trigger_counts.values()),
        "total_seconds": suite.wall_seconds,
        "raw_seconds": raw_seconds,
        "overhead_ratio": suite.wall_seconds / raw_seconds,
        "suite_testcase_seconds": suite.testcase_seconds,
        "per_event": per_event,
        "raw_steps": steps,
        "workers": workers,
    }
    if serial is not None:
        figures["serial_total_seconds"] = serial.wall_seconds
        figures["serial_triggers"] = sum(serial.trigger_counts.values())
        figures["speedup"] = serial.wall_seconds / suite.wall_seconds
    return figures, image


def _collect(runs: list[Any]) -> Any:
    """One tree with a list of the runs' values at each leaf."""
    if isinstance(runs[0], dict):
        return {key: _collect([run.get(key) for run in runs]) for key in runs[0]}
    return [None if value is None else round(value, 3) for value in runs]


def _medians(values: Any) -> Any:
    """The same tree with the median at each leaf (None where no run had a value)."""
    if isinstance(values, dict):
        return {key: _medians(leaf) for key, leaf in values.items()}
    present = [value for value in values if value is not None]
    if not present:
        return None
    median = statistics.median(present)
    return (
        int(median)
        if float(median).is_integer() and isinstance(present[0], int)
        else round(median, 3)
    )


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through the finally blocks that remove what the bench created.
    raise SystemExit(128 + signum)


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1, choices=range(1, 11), metavar="1..10")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        choices=range(17),
        metavar="0..16",
        help="run the suite under pytest-xdist with this many workers (0: serially)",
    )
    parser.add_argument(
        "--compare-serial",
        action="store_true",
        help="with --workers, also time the serial suite in this invocation (speedup)",
    )
    args = parser.parse_args()
    if args.compare_serial and not args.workers:
        parser.error("--compare-serial needs --workers N")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        client = docker_client()
        image: str | None = None
        runs: list[Figures] = []
        with tempfile.TemporaryDirectory(prefix="bench-local-") as workdir:
            for index in range(args.runs):
                figures, image = measure_once(
                    client,
                    Path(workdir),
                    index,
                    image,
                    workers=args.workers,
                    compare_serial=args.compare_serial,
                )
                runs.append(figures)
    except (BenchError, BackendError, docker.errors.DockerException) as exc:
        raise SystemExit(f"bench_local: {exc}") from None
    except KeyboardInterrupt:
        sys.stderr.write("bench_local: interrupted; what it created was removed, no figures.\n")
        raise SystemExit(130) from None
    values = _collect(runs)
    print(
        json.dumps(
            {
                "runs": args.runs,
                **_medians(values),
                "targets": TARGETS,
                "values": values,
            }
        )
    )


if __name__ == "__main__":
    main()
