"""/io-latency: fsync'd write and read latency of small payloads in one path."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any

from .files import NEW_FILE, Refusal, data_dir, describe

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .config import ProbeConfig


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """Summarise latency samples: min, max, median, mean and nearest-rank p95."""
    ordered = sorted(samples_ms)
    summary = {
        "min": ordered[0],
        "max": ordered[-1],
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "p95": ordered[math.ceil(0.95 * len(ordered)) - 1],
    }
    return {name: round(value, 4) for name, value in summary.items()}


def _timed_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    action()
    return (time.perf_counter_ns() - start) / 1_000_000


def measure_latency(config: ProbeConfig, path: str, size: int, iterations: int) -> dict[str, Any]:
    """Time fsync'd writes and reads of size bytes in a scratch file in one path."""
    data = os.urandom(size)
    name = f".io-latency.{uuid.uuid4().hex}.tmp"

    def write_once() -> None:
        written = 0
        while written < size:
            written += os.pwrite(fd, data[written:], written)
        os.fsync(fd)

    def read_once() -> None:
        chunks = [os.pread(fd, size, 0)]
        while chunks[-1] and sum(map(len, chunks)) < size:
            chunks.append(os.pread(fd, size, sum(map(len, chunks))))
        if b"".join(chunks) != data:
            raise Refusal("read back different bytes than were written")

    try:
        with contextlib.ExitStack() as cleanup:
            dir_fd = cleanup.enter_context(data_dir(config.mounts, path, create=True))
            fd = os.open(name, os.O_RDWR | NEW_FILE, 0o600, dir_fd=dir_fd)
            cleanup.callback(os.unlink, name, dir_fd=dir_fd)
            cleanup.callback(os.close, fd)
            writes = [_timed_ms(write_once) for _ in range(iterations)]
            reads = [_timed_ms(read_once) for _ in range(iterations)]
    except OSError as error:
        return {"path": path, "error": describe(error)}
    return {
        "path": path,
        "write_ms": latency_stats(writes),
        "read_ms": latency_stats(reads),
        "iterations": iterations,
    }
