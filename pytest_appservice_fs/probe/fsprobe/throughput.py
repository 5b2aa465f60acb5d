"""/throughput: large files streamed through one path, write and read timed per size (H5)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import statistics
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from .files import MIB, NEW_FILE, data_dir, describe

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .config import ProbeConfig

#: The sizes measured when a request names none (those up to the probe's maximum).
DEFAULT_THROUGHPUT_SIZES = (1, 16, 128)
# Left free beyond the scratch file, so a throughput run never fills the app's storage; a
# quarter of the file system at most, so a small tmpfs (Docker's 64 MiB /dev/shm) still
# measures the sizes that fit in it.
THROUGHPUT_HEADROOM_MIB = 64


def _write_scratch(dir_fd: int, name: str, size_mib: int, chunk: bytes) -> tuple[int, str]:
    # Only the writes and the fsync are timed, not hashing, which would dominate on a fast
    # disk. The same chunk is written size_mib times: memory stays at one chunk.
    digest = hashlib.sha256()
    elapsed = 0
    fd = os.open(name, os.O_WRONLY | NEW_FILE, 0o600, dir_fd=dir_fd)
    try:
        for _ in range(size_mib):
            view = memoryview(chunk)
            start = time.perf_counter_ns()
            while view:
                view = view[os.write(fd, view) :]
            elapsed += time.perf_counter_ns() - start
            digest.update(chunk)
        start = time.perf_counter_ns()
        os.fsync(fd)
        elapsed += time.perf_counter_ns() - start
        # Advice only: drop the file's cached pages so that the read measures the storage
        # more than this host's page cache (the storage's own caches remain).
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return elapsed, digest.hexdigest()


def _read_scratch(dir_fd: int, name: str, buffer: bytearray) -> tuple[int, str, int]:
    digest = hashlib.sha256()
    elapsed = total = 0
    view = memoryview(buffer)
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        while True:
            start = time.perf_counter_ns()
            count = os.readv(fd, [buffer])
            elapsed += time.perf_counter_ns() - start
            if not count:
                break
            digest.update(view[:count])
            total += count
    finally:
        view.release()
        os.close(fd)
    return elapsed, digest.hexdigest(), total


# MiB promised to throughput requests under way, per file system (st_dev), and the lock
# under which a request checks the free space and adds its size: two requests at once could
# otherwise both see room for their file and together eat into the headroom. The lock is
# this process's (the probe runs one gunicorn worker, and the fake backend serves from
# threads); two instances sharing /home each keep their own.
_reservations_lock = threading.Lock()
_reserved_mib: dict[int, int] = {}


def _shortfall(usage: os.statvfs_result, size_mib: int, reserved_mib: int) -> str | None:
    free_mib = usage.f_bavail * usage.f_frsize // MIB
    headroom = min(THROUGHPUT_HEADROOM_MIB, usage.f_blocks * usage.f_frsize // MIB // 4)
    if size_mib + headroom + reserved_mib <= free_mib:
        return None
    needed = f"{size_mib} MiB plus {headroom} MiB headroom needed, {free_mib} MiB free"
    if reserved_mib:
        return f"{needed}, {reserved_mib} MiB of it reserved by throughput requests under way"
    return needed


@contextlib.contextmanager
def _room_for(dir_fd: int, size_mib: int) -> Iterator[str | None]:
    """Reserve size_mib on the folder's file system while the block runs, and yield None;
    or yield why there is no room (free space less the headroom and others' reservations)."""
    device = os.fstat(dir_fd).st_dev
    with _reservations_lock:
        shortfall = _shortfall(os.fstatvfs(dir_fd), size_mib, _reserved_mib.get(device, 0))
        if shortfall is None:
            _reserved_mib[device] = _reserved_mib.get(device, 0) + size_mib
    if shortfall is not None:
        yield shortfall
        return
    try:
        yield None
    finally:
        with _reservations_lock:
            _reserved_mib[device] -= size_mib
            if not _reserved_mib[device]:
                del _reserved_mib[device]


def _measure_size(
    dir_fd: int, name: str, size_mib: int, *, iterations: int, chunk: bytes, buffer: bytearray
) -> dict[str, Any]:
    # Checked before each size, so a size that does not fit is skipped and the next (often
    # smaller) ones are still measured.
    with _room_for(dir_fd, size_mib) as shortfall:
        if shortfall is not None:
            return {"size_mib": size_mib, "skipped": shortfall}
        return _measure_reserved(
            dir_fd, name, size_mib, iterations=iterations, chunk=chunk, buffer=buffer
        )


def _measure_reserved(
    dir_fd: int, name: str, size_mib: int, *, iterations: int, chunk: bytes, buffer: bytearray
) -> dict[str, Any]:
    writes, reads, checksums_ok = [], [], True
    for _ in range(iterations):
        try:
            write_ns, written = _write_scratch(dir_fd, name, size_mib, chunk)
            read_ns, read_back, total = _read_scratch(dir_fd, name, buffer)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)
        writes.append(max(write_ns, 1) / 1e9)
        reads.append(max(read_ns, 1) / 1e9)
        checksums_ok = checksums_ok and written == read_back and total == size_mib * MIB
    return {
        "size_mib": size_mib,
        "write_seconds": round(statistics.median(writes), 6),
        "read_seconds": round(statistics.median(reads), 6),
        "write_mib_s": round(statistics.median(size_mib / s for s in writes), 3),
        "read_mib_s": round(statistics.median(size_mib / s for s in reads), 3),
        "checksum_ok": checksums_ok,
    }


def measure_throughput(
    config: ProbeConfig,
    path: str,
    *,
    sizes_mib: Sequence[int],
    iterations: int,
    chunk: bytes,
    buffer: bytearray,
) -> dict[str, Any]:
    """Stream files of each size through one path in 1 MiB chunks, timing write and read; a
    size that would leave too little free space is skipped, with the reason."""
    name = f".throughput.{uuid.uuid4().hex}.tmp"
    try:
        with data_dir(config.mounts, path, create=True) as dir_fd:
            sizes = [
                _measure_size(dir_fd, name, size, iterations=iterations, chunk=chunk, buffer=buffer)
                for size in sizes_mib
            ]
    except OSError as error:
        return {"path": path, "error": describe(error)}
    return {"path": path, "iterations": iterations, "sizes": sizes}
