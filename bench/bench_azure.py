"""What a run costs on Azure, modelled: the live suite on the simulated App Service with the
platform's durations scaled down, serial (-n 1) and side by side (-n 4).

The simulator takes each operation's time from ``tests/azure/simulator/timing.py`` (restart
about 60 s, stop/start about 90 s, a deploy with a build 4 min, a scale-out 3 min, ...)
times ``--scale``; the app answers 503 while the platform works. A soft restart with nothing
pending keeps the process (softRestart restarts "only if necessary"), and costs the
harness's window, --soft-restart-timeout, which is the unscaled 120 s times the scale.

Prints one JSON line: per run the wall seconds, the platform's seconds (sum, the busiest
worker's, the longest single operation), the harness's own seconds per platform operation
(wall minus the busiest worker's platform time, over its operations: real seconds, never
scaled), and the run projected to full scale (the platform's time unscaled plus the
harness's as measured). The targets are judged on the projection: -n 1 within 1.15x the
platform's sum, -n 4 within 1.3x the busiest worker's platform time, the harness's overhead
under 2 s per operation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "pytest_appservice_fs" / "suite"
#: The soft-restart window the harness waits on a no-op soft restart (unscaled seconds).
SOFT_WINDOW = 120.0

CONFTEST = """
import json
import os
from pathlib import Path

import pytest
import responses

from pytest_appservice_fs.backends.azure.kudu import KuduTiming
from pytest_appservice_fs.backends.protocol import BackendTiming
from pytest_appservice_fs.engine.probe_client import ProbeTiming
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator, PlatformTiming


@pytest.fixture(scope="session")
def appservice_azure_options(tmp_path_factory):
    timing = PlatformTiming(scale={scale!r})
    simulator = AzureSimulator(tmp_path_factory.mktemp("azure"), timing=timing)
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    simulator.install(mock)
    yield {{
        "credential": FakeCredential(),
        "client_options": {{"polling_interval": 0, "retry_backoff_factor": 0.01}},
        "timing": BackendTiming(
            default_ready_timeout=120.0,
            poll_interval=0.05,
            probe=ProbeTiming(
                request_timeout=10, retry_deadline=1, wait_initial=0.02, wait_max=0.1
            ),
        ),
        "kudu_timing": KuduTiming(poll_interval=0.05, wait_initial=0.02),
    }}
    # A soft restart with nothing pending costs the harness's window, not the platform's.
    for restart in simulator.restarts:
        if restart.query.get("softRestart") == "true":
            timing.spent.append(("soft_restart_window", {window!r}))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(f"spent-{{worker}}.json").write_text(json.dumps(timing.spent))
    mock.stop()
    mock.reset()
    simulator.teardown()
"""


def run(workers: int, scale: float) -> dict[str, float]:
    """One run of the suite with ``workers`` xdist workers; its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-azure-") as folder:
        work = Path(folder)
        for source in SUITE.glob("test_*.py"):
            (work / source.name).write_text(source.read_text(encoding="utf-8"))
        window = max(1, round(SOFT_WINDOW * scale))
        (work / "conftest.py").write_text(CONFTEST.format(scale=scale, window=float(window)))
        (work / "pytest.ini").write_text("[pytest]\n")
        command = [sys.executable, "-m", "pytest", "-m", "live", "-q", "-p", "no:cacheprovider"]
        command += ["-p", "no:hypothesispytest", "-n", str(workers)]
        command += ["--provision", "--region", "koreacentral"]
        command += ["--subscription-id", "00000000-0000-0000-0000-000000000000"]
        command += ["--soft-restart-timeout", str(window)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            command, cwd=work, env=env, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-20000:])
            raise SystemExit(f"the suite failed on the simulator (exit {done.returncode}).")
        spent = {
            path.stem.removeprefix("spent-"): [(n, s) for n, s in json.loads(path.read_text())]
            for path in work.glob("spent-*.json")
        }
    per_worker = {worker: sum(s for _, s in ops) for worker, ops in spent.items()}
    busiest = max(per_worker, key=lambda worker: per_worker[worker])
    total = sum(per_worker.values())
    operations = sum(len(ops) for ops in spent.values())
    overhead = wall - per_worker[busiest]
    return {
        "workers": workers,
        "wall_s": round(wall, 3),
        "platform_sum_s": round(total, 3),
        "platform_busiest_worker_s": round(per_worker[busiest], 3),
        "platform_longest_operation_s": round(max(s for ops in spent.values() for _, s in ops), 3),
        "operations": operations,
        "ratio_wall_to_sum": round(wall / total, 3),
        "ratio_wall_to_busiest_worker": round(wall / per_worker[busiest], 3),
        # The harness's own time per platform operation on the busiest worker (not scaled:
        # pytest's start, collection, probe requests and polling are real seconds).
        "overhead_per_operation_s": round(overhead / max(1, len(spent[busiest])), 3),
        # At full scale: the platform's time unscaled, the harness's as measured.
        "projected_wall_s": round(per_worker[busiest] / scale + overhead, 1),
        "projected_ratio_to_busiest_worker": round(
            (per_worker[busiest] / scale + overhead) / (per_worker[busiest] / scale), 4
        ),
        "projected_platform_sum_s": round(total / scale, 1),
    }


def main() -> None:
    """Run serial and side by side; print the figures and the targets."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1 / 120, help="platform time factor")
    args = parser.parse_args()
    if not 0 < args.scale <= 1:
        raise SystemExit(f"--scale got {args.scale}; valid is more than 0 and at most 1.")
    serial, parallel = run(1, args.scale), run(4, args.scale)
    figures = {
        "bench": "azure",
        "scale": round(args.scale, 6),
        "n1": serial,
        "n4": parallel,
        # Judged at full scale: the harness's seconds are real, the platform's scaled down,
        # so the scaled ratios overstate the overhead by 1/scale.
        "targets": {
            "n1_wall_within_1.15x_sum": serial["projected_ratio_to_busiest_worker"] <= 1.15,
            "n4_wall_within_1.3x_busiest_worker": parallel["projected_ratio_to_busiest_worker"]
            <= 1.3,
            "overhead_under_2s_per_operation": serial["overhead_per_operation_s"] < 2,
        },
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
