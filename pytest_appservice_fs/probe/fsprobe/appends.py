"""/append, /append-check and /append-reset: numbered records appended to one shared file by
concurrent writers (H4), and the file's tally of lost, duplicated and torn records."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from .contract import APPEND_RECORDS_MAX, WRITER_PATTERN
from .files import MIB, Refusal, data_dir, describe

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from .config import ProbeConfig

#: The file /append writes when no ``file`` is given.
APPEND_NAME = "concurrent-append.log"
MAX_APPEND_ERRORS = 10
MAX_APPEND_FILE_BYTES = 64 * 1024 * 1024
# A record is at most 194 bytes; a longer line cannot be one and is not parsed.
MAX_RECORD_LINE = 1024
MAX_CHECK_WRITERS = 32
# Fixed, so every record has one exact encoding and a torn one never passes for whole.
RECORD_PAD = "0123456789abcdef" * 8
# O_NONBLOCK so that a FIFO planted at the name fails the open instead of hanging it.
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK


def append_record(writer: str, seq: int) -> bytes:
    """One line of a concurrent-append file, exactly as /append writes it."""
    record = {"writer": writer, "seq": seq, "pad": RECORD_PAD}
    return json.dumps(record, separators=(",", ":")).encode("ascii") + b"\n"


@contextlib.contextmanager
def _record_lock(fd: int, mode: str) -> Iterator[None]:
    # flock, not fcntl byte-range locks: App Service mounts /home with `nobrl`, which turns
    # byte-range locks off. With nobrl the CIFS client has no flock handler either, so the
    # kernel grants the lock locally: it orders writers on one host, and whether it orders
    # two instances is exactly what the experiment measures.
    if mode != "flock":
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def append_records(
    config: ProbeConfig, path: str, name: str, *, writer: str, records: int, lock: str
) -> dict[str, Any]:
    """Append numbered records to one file, each with a single write and an fsync."""
    errors: list[str] = []
    appended = bytes_written = 0
    # Wall-clock bounds, so the harness can tell whether two instances' writes overlapped.
    started_epoch = time.time()
    start = time.perf_counter_ns()
    try:
        with data_dir(config.mounts, path, create=True) as dir_fd:
            fd = os.open(name, _APPEND_FLAGS, 0o644, dir_fd=dir_fd)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise Refusal(f"{name} is not a regular file")
                for seq in range(records):
                    record = append_record(writer, seq)
                    try:
                        with _record_lock(fd, lock):
                            # One write per record: O_APPEND makes the offset and the write
                            # one step locally; a retried remainder would tear the record.
                            count = os.write(fd, record)
                            bytes_written += count
                            if count != len(record):
                                raise Refusal(f"short write, {count} of {len(record)} bytes")
                            os.fsync(fd)
                    except OSError as error:
                        errors.append(f"record {seq}: {describe(error)}")
                        # A failing share would otherwise time out record after record.
                        if len(errors) == MAX_APPEND_ERRORS:
                            break
                    else:
                        appended += 1
            finally:
                os.close(fd)
    except OSError as error:
        errors.append(describe(error))
    return {
        "path": path,
        "file": name,
        "writer": writer,
        "records": appended,
        "lock": lock,
        "bytes_written": bytes_written,
        "seconds": round((time.perf_counter_ns() - start) / 1e9, 6),
        "started_epoch": started_epoch,
        "finished_epoch": time.time(),
        "errors": errors[:MAX_APPEND_ERRORS],
    }


def _parse_record(line: bytes) -> tuple[str, int] | None:
    try:
        parsed = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict):
        return None
    writer, seq = parsed.get("writer"), parsed.get("seq")
    if not (isinstance(writer, str) and WRITER_PATTERN.fullmatch(writer)):
        return None
    if type(seq) is not int or not 0 <= seq < APPEND_RECORDS_MAX:
        return None
    # Only the exact bytes /append writes count: a record with bytes lost or changed inside
    # its padding still parses, but it is torn.
    return (writer, seq) if line == append_record(writer, seq) else None


def _snapshot_lines(file: BinaryIO, size: int) -> Iterator[bytes | None]:
    # Only the bytes there when the check began: a record being appended meanwhile would
    # otherwise count as a torn last line. A line too long to be a record yields None and
    # is skipped without being held in memory.
    remaining = size
    while remaining > 0:
        line = file.readline(min(MAX_RECORD_LINE + 1, remaining))
        if not line:
            return  # truncated meanwhile
        remaining -= len(line)
        if len(line) <= MAX_RECORD_LINE:
            yield line
            continue
        while not line.endswith(b"\n") and remaining > 0:
            line = file.readline(min(MIB, remaining))
            if not line:
                break
            remaining -= len(line)
        yield None


@dataclass
class _WriterTally:
    """What one writer's records in an append file add up to."""

    records: int = 0
    # Per sequence number: 0 unseen, 1 seen once, 2 seen more than once.
    seen: bytearray = field(default_factory=lambda: bytearray(APPEND_RECORDS_MAX))

    def add(self, seq: int) -> None:
        self.records += 1
        self.seen[seq] = min(self.seen[seq] + 1, 2)

    def summary(self) -> dict[str, Any]:
        top = max((seq for seq, count in enumerate(self.seen) if count), default=None)
        lost = 0 if top is None else self.seen[: top + 1].count(0)
        return {
            "records": self.records,
            "lost": lost,
            "duplicated": self.seen.count(2),
            "max_seq": top,
        }


def check_appends(
    config: ProbeConfig, path: str, name: str, writers: Sequence[str] | None
) -> dict[str, Any]:
    """Count one append file's records per writer: lost, duplicated, and torn lines."""
    tallies = {writer: _WriterTally() for writer in writers or ()}
    lines = torn = untracked = 0
    try:
        with data_dir(config.mounts, path, create=False) as dir_fd:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as file:
                info = os.fstat(file.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise Refusal(f"{name} is not a regular file")
                if info.st_size > MAX_APPEND_FILE_BYTES:
                    raise Refusal(
                        f"{name} is larger than {MAX_APPEND_FILE_BYTES} bytes; it is not read"
                    )
                for line in _snapshot_lines(file, info.st_size):
                    lines += 1
                    record = _parse_record(line) if line is not None else None
                    if record is None:
                        torn += 1
                        continue
                    tally = tallies.get(record[0])
                    # Writers beyond the requested ones (or beyond the first 32 seen) are
                    # counted, not tracked, so that the answer stays bounded.
                    if tally is None and (writers is not None or len(tallies) == MAX_CHECK_WRITERS):
                        untracked += 1
                        continue
                    tallies.setdefault(record[0], tally or _WriterTally()).add(record[1])
    except OSError as error:
        return {"path": path, "file": name, "error": describe(error)}
    return {
        "path": path,
        "file": name,
        "lines": lines,
        "torn": torn,
        "writers": {writer: tally.summary() for writer, tally in tallies.items()},
        "untracked_records": untracked,
    }


def remove_append_file(config: ProbeConfig, path: str, name: str) -> dict[str, Any]:
    """Remove one append file (that name only) from one path."""
    try:
        with data_dir(config.mounts, path, create=False) as dir_fd:
            os.unlink(name, dir_fd=dir_fd)  # a symlink at the name is removed, not followed
    except FileNotFoundError:
        return {"path": path, "file": name, "removed": False}
    except OSError as error:
        return {"path": path, "file": name, "error": describe(error)}
    return {"path": path, "file": name, "removed": True}
