"""Marker files: /write leaves a checksummed marker in a path, /read checks it back."""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import json
import os
import stat
import time
import uuid
from typing import TYPE_CHECKING, Any

from .contract import CHECKSUM_NAME, MARKER_NAME
from .files import NEW_FILE, Refusal, data_dir, describe, errno_name

if TYPE_CHECKING:
    from .config import ProbeConfig

MAX_MARKER_BYTES = 64 * 1024
_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.ENOSYS}


def utc_iso(epoch: float) -> str:
    """The moment as ISO 8601 UTC with microseconds, as markers and /identity give it."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _replace_file(dir_fd: int, name: str, data: bytes) -> None:
    # Write a fresh file and rename it over the name: a symlink planted at the name is
    # replaced, never followed, and a reader never sees a half-written marker.
    temp = f".{name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(temp, os.O_WRONLY | NEW_FILE, 0o644, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise


def _fsync_directory(dir_fd: int) -> None:
    # Makes the renames durable. Some file systems (CIFS before Linux 4.17, many FUSE ones)
    # refuse fsync on a directory; the files are fsync'd already, so the write still counts.
    try:
        os.fsync(dir_fd)
    except OSError as error:
        if error.errno not in _FSYNC_UNSUPPORTED:
            raise


def _read_small_file(dir_fd: int, name: str) -> bytes:
    # O_NONBLOCK so that a FIFO planted at the name cannot hang the worker.
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise Refusal(f"{name} is not a regular file")
        data = file.read(MAX_MARKER_BYTES + 1)
    if len(data) > MAX_MARKER_BYTES:
        raise Refusal(f"marker file larger than {MAX_MARKER_BYTES} bytes")
    return data


def write_marker(config: ProbeConfig, path: str, nonce: str | None) -> dict[str, Any]:
    """Write a fresh marker and its checksum to one allowlisted path."""
    payload = {
        "instance_id": config.instance_id,
        "hostname": config.hostname,
        "pid": config.pid,
        "timestamp_utc": utc_iso(time.time()),
        "marker": uuid.uuid4().hex,  # unique per write, so no two writes leave equal files
        "nonce": nonce,
    }
    data = json.dumps(payload, indent=2).encode("utf-8")
    checksum = hashlib.sha256(data).hexdigest()
    try:
        with data_dir(config.mounts, path, create=True) as dir_fd:
            _replace_file(dir_fd, MARKER_NAME, data)
            _replace_file(dir_fd, CHECKSUM_NAME, checksum.encode("ascii"))
            _fsync_directory(dir_fd)
    except OSError as error:
        # The errno name tells a refusal (EROFS: a read-only mount) from a failure.
        answer = {"path": path, "error": describe(error)}
        name = errno_name(error)
        return {**answer, "errno": name} if name else answer
    return {"path": path, "checksum": checksum, "payload": payload}


def read_marker(config: ProbeConfig, path: str, nonce: str | None) -> dict[str, Any]:
    """Read one path's marker back and check it against its stored checksum and the nonce."""
    stored: str | None = None
    try:
        with data_dir(config.mounts, path, create=False) as dir_fd:
            data = _read_small_file(dir_fd, MARKER_NAME)
            with contextlib.suppress(FileNotFoundError):
                stored = _read_small_file(dir_fd, CHECKSUM_NAME).decode("ascii", "replace").strip()
    except FileNotFoundError:
        return {"path": path, "exists": False}
    except OSError as error:
        return {"path": path, "error": describe(error)}
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        parsed = None
    payload = parsed if isinstance(parsed, dict) else None
    actual = hashlib.sha256(data).hexdigest()
    result: dict[str, Any] = {
        "path": path,
        "exists": True,
        "payload": payload,
        "checksum_valid": actual == stored,
        "actual_checksum": actual,
        "stored_checksum": stored,
    }
    if nonce is not None:
        result["nonce_matches"] = payload is not None and payload.get("nonce") == nonce
    return result
