"""How long the local backend's teardown takes for a two-instance app.

    python bench/bench_teardown.py [--runs 5] [--instances 2]

Each run creates a local app (volume, probe deployed), scales it to ``--instances`` running
containers, waits until each answers /health, then times ``LocalBackend.teardown()`` alone.
Prints one JSON object: the median and every run's seconds, and the target (under 3 s: GitHub
Actions sends SIGTERM 7.5 s after its SIGINT, and teardown must end well before). Needs Docker
and a base image (make base-image); everything is labelled with the bench's own run ids and
removed, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time

from tenacity import (
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from pytest_appservice_fs.backends.local import LocalBackend, docker_client, label
from pytest_appservice_fs.engine.probe_client import ProbeUnavailable
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir

TARGET_SECONDS = 3.0
READY_SECONDS = 60.0


def teardown_once(instances: int) -> float:
    """Seconds that teardown of one app with ``instances`` running containers takes."""
    run_id = f"bench-teardown-{secrets.token_hex(4)}"
    backend = LocalBackend(app_name="bench", run_id=run_id)
    try:
        backend.create()
        backend.deploy(build_package(default_probe_dir()))
        backend.scale(instances)
        for instance_id in backend.instances():
            _wait_ready(backend, instance_id)
        started = time.perf_counter()
        backend.teardown()
        seconds = time.perf_counter() - started
    finally:
        backend.teardown()  # safe twice: removes what a failed run left
    filters = {"label": [f"{label('run')}={run_id}"]}
    client = docker_client()
    left = client.containers.list(all=True, filters=filters) + client.volumes.list(filters=filters)
    if left:
        raise SystemExit(f"teardown left {len(left)} resource(s) of {run_id}")
    return seconds


def _wait_ready(backend: LocalBackend, instance_id: str) -> None:
    # Bounded: a container that never answers fails the bench instead of hanging it; retried
    # while the container starts (no port yet, or /health not answering yet).
    retrying = Retrying(
        stop=stop_after_delay(READY_SECONDS),
        wait=wait_fixed(0.2),
        retry=retry_if_exception_type(ProbeUnavailable) | retry_if_result(lambda ok: not ok),
        reraise=True,
    )
    retrying(lambda: backend.probe(instance_id).health())


def main() -> None:
    """Time ``--runs`` teardowns and print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--instances", type=int, default=2)
    options = parser.parse_args()
    seconds = [teardown_once(options.instances) for _ in range(options.runs)]
    median = statistics.median(seconds)
    print(
        json.dumps(
            {
                "instances": options.instances,
                "runs": options.runs,
                "median_seconds": round(median, 3),
                "seconds": [round(s, 3) for s in seconds],
                "target_seconds": TARGET_SECONDS,
                "within_target": median < TARGET_SECONDS,
            }
        )
    )


if __name__ == "__main__":
    main()
