"""Wall time of the live suite on the fake backend, pytest start-up included.

Runs `python -m pytest -m live --backend fake` several times in fresh processes and prints
one JSON object as its last line: runs, the wall seconds of each, min, median and max, and
the number of live testcases that passed in each run. Target: median under 5 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once() -> tuple[float, int]:
    """One full live run; returns its wall seconds and the number of passed testcases."""
    # The command `make live BACKEND=fake` runs (the live suite needs no hypothesis plugin).
    command = [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest", "-m", "live"]
    command += ["--backend", "fake", "-q"]
    command += ["-p", "no:cacheprovider", "pytest_appservice_fs/suite"]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-3000:])
        raise SystemExit(f"the live suite failed (exit {completed.returncode}); no figures.")
    passed = re.search(r"(\d+) passed", completed.stdout)
    return seconds, int(passed.group(1)) if passed else 0


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, choices=range(1, 51), metavar="1..50")
    args = parser.parse_args()
    results = [run_once() for _ in range(args.runs)]
    seconds = [round(s, 3) for s, _ in results]
    figures = {
        "backend": "fake",
        "runs": args.runs,
        "testcases_passed": sorted({n for _, n in results}),
        "wall_seconds": seconds,
        "min_seconds": min(seconds),
        "median_seconds": round(statistics.median(seconds), 3),
        "max_seconds": max(seconds),
        "target_seconds": 5.0,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
