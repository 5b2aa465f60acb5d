"""Filesystem persistence probe for Azure App Service for Linux.

Deployed as ``gunicorn --bind=0.0.0.0:8000 "app:create_app()"``. It writes checksummed
marker files to an allowlist of paths, reads them back, and reports mount facts and I/O
latency, so a harness can tell which paths survive a lifecycle event. It also appends
numbered records to one shared file (concurrent writers, H4) and streams large files
through a path (throughput, H5). It depends on the standard library and Flask only and
never imports the plugin that deploys it.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import hashlib
import hmac
import json
import math
import os
import re
import socket
import stat
import statistics
import time
import types
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

import flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, HTTPException, MethodNotAllowed, NotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

PROBE_API = 2
# Logical paths the experiment probes, not scratch space.
DEFAULT_PATHS = ("/home/data", "/tmp/data", "/var/local/data")  # noqa: S108
MARKER_NAME = "persistence-test.json"
CHECKSUM_NAME = "persistence-test.sha256"
TOKEN_HEADER = "X-Probe-Token"  # noqa: S105 - a header name, not a secret
MAX_MARKER_BYTES = 64 * 1024
MAX_MOUNTINFO_BYTES = 256 * 1024
MAX_ALLOWLIST = 32
MAX_PATH_PARAMS = 16
MAX_DEPLOYMENT_ID = 128
SIZE_BOUNDS = (1, 1_048_576)
ITERATIONS_BOUNDS = (1, 100)
APPEND_NAME = "concurrent-append.log"
RECORDS_BOUNDS = (1, 10_000)
LOCK_MODES = ("none", "flock")
MAX_APPEND_ERRORS = 10
MAX_APPEND_FILE_BYTES = 64 * 1024 * 1024
# A record is at most 194 bytes; a longer line cannot be one and is not parsed.
MAX_RECORD_LINE = 1024
MAX_CHECK_WRITERS = 32
# Fixed, so every record has one exact encoding and a torn one never passes for whole.
RECORD_PAD = "0123456789abcdef" * 8
MIB = 1024 * 1024
DEFAULT_MAX_THROUGHPUT_MIB = 128
MAX_THROUGHPUT_BOUNDS = (1, 1024)
DEFAULT_THROUGHPUT_SIZES = (1, 16, 128)
MAX_THROUGHPUT_SIZES = 8
THROUGHPUT_ITERATIONS_BOUNDS = (1, 5)
# Left free beyond the scratch file, so a throughput run never fills the app's storage; a
# quarter of the file system at most, so a small tmpfs (Docker's 64 MiB /dev/shm) still
# measures the sizes that fit in it.
THROUGHPUT_HEADROOM_MIB = 64

_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_WRITER_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_FILE_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
# A bounded digit count, so int() never parses an absurdly long string.
_INT_RE = re.compile(r"[+-]?[0-9]{1,30}")
_OCTAL_ESCAPE_RE = re.compile(r"\\([0-7]{3})")
_NEW_FILE = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
# O_NONBLOCK so that a FIFO planted at the name fails the open instead of hanging it.
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.ENOSYS}


@dataclass(frozen=True)
class ProbeConfig:
    """Everything the probe reports or touches, resolved once at start-up."""

    paths: tuple[str, ...] = DEFAULT_PATHS
    token: str | None = None
    instance_id: str | None = None
    hostname: str = ""
    pid: int = 0
    process_start: float = 0.0
    deployment_id: str | None = None
    #: The PROBE_SETTINGS_MARK app setting as this process started with it: the harness changes
    #: it (app_setting_change) and a probe reporting the new value proves the change applied.
    settings_mark: str | None = None
    mounts: Mapping[str, str] = field(default_factory=lambda: {"/": "/"})
    mountinfo_path: str = "/proc/self/mountinfo"
    max_throughput_mib: int = DEFAULT_MAX_THROUGHPUT_MIB

    def __post_init__(self) -> None:
        validate_paths(self.paths, "ProbeConfig.paths")
        low, high = MAX_THROUGHPUT_BOUNDS
        limit = self.max_throughput_mib
        if isinstance(limit, bool) or not isinstance(limit, int) or not low <= limit <= high:
            raise ValueError(
                f"ProbeConfig.max_throughput_mib is {limit!r}; "
                f"give an integer from {low} to {high}."
            )
        for path in self.paths:
            physical_path(path, self.mounts)  # fail at start-up, not on the first request
        # A read-only view, so nothing can redirect where the probe writes after start-up.
        object.__setattr__(self, "mounts", types.MappingProxyType(dict(self.mounts)))

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, *, app_dir: str | None = None
    ) -> ProbeConfig:
        """Read the configuration from environment variables and the deployed package."""
        env = os.environ if environ is None else environ
        raw_paths = env.get("PROBE_PATHS", "").strip()
        paths = (
            validate_paths([entry.strip() for entry in raw_paths.split(",")], "PROBE_PATHS")
            if raw_paths
            else DEFAULT_PATHS
        )
        return cls(
            paths=paths,
            token=env.get("PROBE_TOKEN") or None,
            instance_id=env.get("WEBSITE_INSTANCE_ID") or None,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            process_start=time.time(),
            deployment_id=_deployment_id(
                env, app_dir or os.path.dirname(os.path.abspath(__file__))
            ),
            max_throughput_mib=_max_throughput_mib(env),
            settings_mark=_settings_mark(env),
        )


def _settings_mark(env: Mapping[str, str]) -> str | None:
    # Reported back, so only a short token of safe characters, never an arbitrary value.
    raw = env.get("PROBE_SETTINGS_MARK", "").strip()
    return raw if _NONCE_RE.fullmatch(raw) else None


def _max_throughput_mib(env: Mapping[str, str]) -> int:
    raw = env.get("PROBE_MAX_THROUGHPUT_MIB", "").strip()
    if not raw:
        return DEFAULT_MAX_THROUGHPUT_MIB
    low, high = MAX_THROUGHPUT_BOUNDS
    if _INT_RE.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise ValueError(
            f"PROBE_MAX_THROUGHPUT_MIB is '{_clip(raw)}'; give an integer from {low} to {high} "
            "(MiB)."
        )
    return int(raw)


def _deployment_id(env: Mapping[str, str], app_dir: str) -> str | None:
    # The DEPLOYMENT_ID file wins over PROBE_DEPLOYMENT_ID: it ships inside the package, so
    # it names the code really running, while an app setting can lag behind a deploy.
    try:
        with open(os.path.join(app_dir, "DEPLOYMENT_ID"), "rb") as file:
            from_file = file.read(4096).decode("utf-8", "replace").strip()
    except OSError:
        from_file = ""
    value = from_file or env.get("PROBE_DEPLOYMENT_ID", "").strip()
    return value[:MAX_DEPLOYMENT_ID] or None


def validate_paths(paths: Iterable[str], source: str) -> tuple[str, ...]:
    """Return the paths as a tuple, or raise ValueError naming the first invalid entry."""
    checked = tuple(paths)
    if not 1 <= len(checked) <= MAX_ALLOWLIST:
        raise ValueError(f"{source} lists {len(checked)} paths; give 1 to {MAX_ALLOWLIST}.")
    for path in checked:
        problem = _path_problem(path)
        if problem is None and checked.count(path) > 1:
            problem = "is listed twice"
        if problem is not None:
            raise ValueError(
                f"{source} entry '{_clip(path)}' {problem}; each entry must be a distinct "
                "absolute, normalised path without '..' components."
            )
    return checked


def _path_problem(path: str) -> str | None:
    if not path.startswith("/"):
        return "is not absolute"
    if ".." in path.split("/"):
        return "contains a '..' component"
    # normpath keeps a leading '//' (implementation-defined in POSIX), so refuse it here.
    if os.path.normpath(path) != path or path.startswith("//") or "\0" in path:
        return "is not normalised"
    return None


def _covers(prefix: str, path: str) -> bool:
    # Whole components only, so /home never covers /homework.
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def physical_path(logical: str, mounts: Mapping[str, str]) -> str:
    """Map a logical path onto a physical one through the longest covering mount prefix."""
    covering = [prefix for prefix in mounts if prefix.startswith("/") and _covers(prefix, logical)]
    if not covering:
        raise ValueError(f"no mount prefix covers '{_clip(logical)}'; add a '/' entry to mounts.")
    prefix = max(covering, key=lambda p: len(p.rstrip("/")))
    rest = logical[len(prefix.rstrip("/")) :].lstrip("/")
    return os.path.join(mounts[prefix], rest) if rest else mounts[prefix]


@dataclass(frozen=True)
class MountEntry:
    """One line of /proc/self/mountinfo."""

    mount_id: int
    parent_id: int
    major_minor: str
    root: str
    mount_point: str
    options: str
    optional_fields: tuple[str, ...]
    fstype: str
    source: str
    super_options: str


def _unescape(text: str) -> str:
    return _OCTAL_ESCAPE_RE.sub(lambda match: chr(int(match.group(1), 8)), text)


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse mountinfo text (proc(5) format), skipping lines that do not follow it."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        # The optional fields end at a lone '-'; fstype and source must follow it.
        separator = fields.index("-", 6) if "-" in fields[6:] else len(fields)
        if len(fields) < separator + 3 or not (fields[0].isdecimal() and fields[1].isdecimal()):
            continue
        entries.append(
            MountEntry(
                mount_id=int(fields[0]),
                parent_id=int(fields[1]),
                major_minor=fields[2],
                root=_unescape(fields[3]),
                mount_point=_unescape(fields[4]),
                options=fields[5],
                optional_fields=tuple(fields[6:separator]),
                fstype=fields[separator + 1],
                source=_unescape(fields[separator + 2]),
                super_options=" ".join(fields[separator + 3 :]),
            )
        )
    return entries


def find_mount(entries: Sequence[MountEntry], path: str) -> MountEntry | None:
    """Return the mount covering path: the longest mount point, the latest if stacked."""
    best: MountEntry | None = None
    for entry in entries:
        if _covers(entry.mount_point, path) and (
            best is None or len(entry.mount_point) >= len(best.mount_point)
        ):
            best = entry
    return best


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


class _InvalidParameter(BadRequest):
    """A query parameter the probe refuses; its description is the 400 answer."""


class _Refusal(OSError):
    """Something the probe refuses to touch although the file system raised no error."""


def _clip(value: str, limit: int = 64) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _utc_iso(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _describe(error: OSError) -> str:
    if isinstance(error, _Refusal) or not error.strerror:
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error.strerror}"


@contextlib.contextmanager
def _data_dir(directory: str, *, create: bool) -> Iterator[int]:
    # Everything below works relative to this descriptor, and O_NOFOLLOW refuses a symlink
    # planted in place of the data directory: the probe never writes outside the allowlist.
    if create:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except NotADirectoryError:
        if os.path.islink(directory):  # Linux reports ENOTDIR here, which would mislead
            raise _Refusal("the data folder is a symbolic link; it is not followed") from None
        raise
    try:
        yield dir_fd
    finally:
        os.close(dir_fd)


def _replace_file(dir_fd: int, name: str, data: bytes) -> None:
    # Write a fresh file and rename it over the name: a symlink planted at the name is
    # replaced, never followed, and a reader never sees a half-written marker.
    temp = f".{name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(temp, os.O_WRONLY | _NEW_FILE, 0o644, dir_fd=dir_fd)
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
            raise _Refusal(f"{name} is not a regular file")
        data = file.read(MAX_MARKER_BYTES + 1)
    if len(data) > MAX_MARKER_BYTES:
        raise _Refusal(f"marker file larger than {MAX_MARKER_BYTES} bytes")
    return data


def write_marker(config: ProbeConfig, path: str, nonce: str | None) -> dict[str, Any]:
    """Write a fresh marker and its checksum to one allowlisted path."""
    payload = {
        "instance_id": config.instance_id,
        "hostname": config.hostname,
        "pid": config.pid,
        "timestamp_utc": _utc_iso(time.time()),
        "marker": uuid.uuid4().hex,  # unique per write, so no two writes leave equal files
        "nonce": nonce,
    }
    data = json.dumps(payload, indent=2).encode("utf-8")
    checksum = hashlib.sha256(data).hexdigest()
    try:
        with _data_dir(physical_path(path, config.mounts), create=True) as dir_fd:
            _replace_file(dir_fd, MARKER_NAME, data)
            _replace_file(dir_fd, CHECKSUM_NAME, checksum.encode("ascii"))
            _fsync_directory(dir_fd)
    except OSError as error:
        return {"path": path, "error": _describe(error)}
    return {"path": path, "checksum": checksum, "payload": payload}


def read_marker(config: ProbeConfig, path: str, nonce: str | None) -> dict[str, Any]:
    """Read one path's marker back and check it against its stored checksum and the nonce."""
    stored: str | None = None
    try:
        with _data_dir(physical_path(path, config.mounts), create=False) as dir_fd:
            data = _read_small_file(dir_fd, MARKER_NAME)
            with contextlib.suppress(FileNotFoundError):
                stored = _read_small_file(dir_fd, CHECKSUM_NAME).decode("ascii", "replace").strip()
    except FileNotFoundError:
        return {"path": path, "exists": False}
    except OSError as error:
        return {"path": path, "error": _describe(error)}
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


def _read_mountinfo(mountinfo_path: str) -> str:
    try:
        with open(mountinfo_path, "rb") as file:
            raw = file.read(MAX_MOUNTINFO_BYTES + 1)
    except OSError:
        return ""
    if len(raw) > MAX_MOUNTINFO_BYTES:
        # Drop the cut-off last line so that it is never parsed as a (wrong) mount.
        raw = raw[: raw.rfind(b"\n", 0, MAX_MOUNTINFO_BYTES) + 1]
    return raw.decode("utf-8", "replace")


def _statvfs_nearest(path: str) -> os.statvfs_result:
    # Before the first write the data directory may not exist; its nearest existing
    # ancestor is on the file system it will be created on.
    while True:
        try:
            return os.statvfs(path)
        except FileNotFoundError:
            if os.path.dirname(path) == path:
                raise
            path = os.path.dirname(path)


_DF_LINE = "{:<24} {:>12} {:>12} {:>12} {:>5} {:<16} {}"


def mount_report(config: ProbeConfig, paths: Sequence[str]) -> dict[str, Any]:
    """Describe the file system under each path, from mountinfo and statvfs only."""
    raw = _read_mountinfo(config.mountinfo_path)
    entries = parse_mountinfo(raw)
    lines = [
        _DF_LINE.format(
            "Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted on", "Path"
        )
    ]
    facts: dict[str, Any] = {}
    for path in paths:
        entry = find_mount(entries, path)
        try:
            usage: os.statvfs_result | None = _statvfs_nearest(physical_path(path, config.mounts))
        except OSError:
            usage = None
        total = free = None
        columns = ["-"] * 4
        if usage is not None:
            total, free = usage.f_blocks * usage.f_frsize, usage.f_bavail * usage.f_frsize
            used = (usage.f_blocks - usage.f_bfree) * usage.f_frsize
            percent = f"{math.ceil(100 * used / (used + free))}%" if used + free else "-"
            columns = [str(total // 1024), str(used // 1024), str(free // 1024), percent]
        where = (entry.source, entry.mount_point) if entry else ("-", "-")
        lines.append(_DF_LINE.format(where[0], *columns, where[1], path).rstrip())
        names = ("mount_point", "fstype", "source", "options", "super_options")
        facts[path] = {
            "path": path,
            **{name: getattr(entry, name) if entry else None for name in names},
            "total_bytes": total,
            "free_bytes": free,
        }
    return {"df": "\n".join(lines) + "\n", "mount": raw, "paths": facts}


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
            raise _Refusal("read back different bytes than were written")

    try:
        with contextlib.ExitStack() as cleanup:
            dir_fd = cleanup.enter_context(
                _data_dir(physical_path(path, config.mounts), create=True)
            )
            fd = os.open(name, os.O_RDWR | _NEW_FILE, 0o600, dir_fd=dir_fd)
            cleanup.callback(os.unlink, name, dir_fd=dir_fd)
            cleanup.callback(os.close, fd)
            writes = [_timed_ms(write_once) for _ in range(iterations)]
            reads = [_timed_ms(read_once) for _ in range(iterations)]
    except OSError as error:
        return {"path": path, "error": _describe(error)}
    return {
        "path": path,
        "write_ms": latency_stats(writes),
        "read_ms": latency_stats(reads),
        "iterations": iterations,
    }


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
        with _data_dir(physical_path(path, config.mounts), create=True) as dir_fd:
            fd = os.open(name, _APPEND_FLAGS, 0o644, dir_fd=dir_fd)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise _Refusal(f"{name} is not a regular file")
                for seq in range(records):
                    record = append_record(writer, seq)
                    try:
                        with _record_lock(fd, lock):
                            # One write per record: O_APPEND makes the offset and the write
                            # one step locally; a retried remainder would tear the record.
                            count = os.write(fd, record)
                            bytes_written += count
                            if count != len(record):
                                raise _Refusal(f"short write, {count} of {len(record)} bytes")
                            os.fsync(fd)
                    except OSError as error:
                        errors.append(f"record {seq}: {_describe(error)}")
                        # A failing share would otherwise time out record after record.
                        if len(errors) == MAX_APPEND_ERRORS:
                            break
                    else:
                        appended += 1
            finally:
                os.close(fd)
    except OSError as error:
        errors.append(_describe(error))
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
    if not (isinstance(writer, str) and _WRITER_RE.fullmatch(writer)):
        return None
    if type(seq) is not int or not 0 <= seq < RECORDS_BOUNDS[1]:
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
    seen: bytearray = field(default_factory=lambda: bytearray(RECORDS_BOUNDS[1]))

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
        with _data_dir(physical_path(path, config.mounts), create=False) as dir_fd:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            with os.fdopen(fd, "rb") as file:
                info = os.fstat(file.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise _Refusal(f"{name} is not a regular file")
                if info.st_size > MAX_APPEND_FILE_BYTES:
                    raise _Refusal(
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
        return {"path": path, "file": name, "error": _describe(error)}
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
        with _data_dir(physical_path(path, config.mounts), create=False) as dir_fd:
            os.unlink(name, dir_fd=dir_fd)  # a symlink at the name is removed, not followed
    except FileNotFoundError:
        return {"path": path, "file": name, "removed": False}
    except OSError as error:
        return {"path": path, "file": name, "error": _describe(error)}
    return {"path": path, "file": name, "removed": True}


def _write_scratch(dir_fd: int, name: str, size_mib: int, chunk: bytes) -> tuple[int, str]:
    # Only the writes and the fsync are timed, not hashing, which would dominate on a fast
    # disk. The same chunk is written size_mib times: memory stays at one chunk.
    digest = hashlib.sha256()
    elapsed = 0
    fd = os.open(name, os.O_WRONLY | _NEW_FILE, 0o600, dir_fd=dir_fd)
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


def _room_shortfall(dir_fd: int, size_mib: int) -> str | None:
    usage = os.fstatvfs(dir_fd)
    free_mib = usage.f_bavail * usage.f_frsize // MIB
    headroom = min(THROUGHPUT_HEADROOM_MIB, usage.f_blocks * usage.f_frsize // MIB // 4)
    if size_mib + headroom <= free_mib:
        return None
    return f"{size_mib} MiB plus {headroom} MiB headroom needed, {free_mib} MiB free"


def _measure_size(
    dir_fd: int, name: str, size_mib: int, *, iterations: int, chunk: bytes, buffer: bytearray
) -> dict[str, Any]:
    # Checked before each size, so a size that does not fit is skipped and the next (often
    # smaller) ones are still measured.
    shortfall = _room_shortfall(dir_fd, size_mib)
    if shortfall is not None:
        return {"size_mib": size_mib, "skipped": shortfall}
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
        with _data_dir(physical_path(path, config.mounts), create=True) as dir_fd:
            sizes = [
                _measure_size(dir_fd, name, size, iterations=iterations, chunk=chunk, buffer=buffer)
                for size in sizes_mib
            ]
    except OSError as error:
        return {"path": path, "error": _describe(error)}
    return {"path": path, "iterations": iterations, "sizes": sizes}


def _config() -> ProbeConfig:
    config: ProbeConfig = flask.current_app.extensions["probe_config"]
    return config


def _single(name: str) -> str | None:
    values = flask.request.args.getlist(name)
    if len(values) > 1:
        raise _InvalidParameter(f"parameter '{name}' may be given once, got {len(values)} values.")
    return values[0] if values else None


_NAME_RULE = "use 1 to {} characters from A-Z, a-z, 0-9, '_' and '-'"
_FILE_RULE = (
    "use 1 to 64 characters from A-Z, a-z, 0-9, '_', '-' and '.', not starting with '.', "
    "and not a marker file's name"
)


def _matching(name: str, pattern: re.Pattern[str], rule: str) -> str | None:
    value = _single(name)
    if value is not None and pattern.fullmatch(value) is None:
        raise _InvalidParameter(f"parameter '{name}' value '{_clip(value)}' is invalid; {rule}.")
    return value


def _nonce() -> str | None:
    return _matching("nonce", _NONCE_RE, _NAME_RULE.format(64))


def _writer() -> str:
    rule = _NAME_RULE.format(32)
    value = _matching("writer", _WRITER_RE, rule)
    if value is None:
        raise _InvalidParameter(f"parameter 'writer' is required; {rule}.")
    return value


def _writers() -> tuple[str, ...] | None:
    value = _single("writers")
    if value is None:
        return None
    names = value.split(",") if value.count(",") < MAX_CHECK_WRITERS else []
    if not names or any(_WRITER_RE.fullmatch(name) is None for name in names):
        raise _InvalidParameter(
            f"parameter 'writers' value '{_clip(value)}' is invalid; give 1 to "
            f"{MAX_CHECK_WRITERS} comma-separated writer names, each of 1 to 32 characters "
            "from A-Z, a-z, 0-9, '_' and '-'."
        )
    return tuple(dict.fromkeys(names))


def _append_file() -> str:
    value = _matching("file", _FILE_RE, _FILE_RULE)
    if value in (MARKER_NAME, CHECKSUM_NAME):
        # Appending to or resetting a marker would destroy the persistence evidence.
        raise _InvalidParameter(f"parameter 'file' value '{value}' is invalid; {_FILE_RULE}.")
    return value or APPEND_NAME


def _choice(name: str, default: str, choices: Sequence[str]) -> str:
    value = _single(name)
    if value is None:
        return default
    if value not in choices:
        raise _InvalidParameter(
            f"parameter '{name}' value '{_clip(value)}' must be one of: {', '.join(choices)}."
        )
    return value


def _checked_int(name: str, value: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if _INT_RE.fullmatch(value) is None or not low <= int(value) <= high:
        raise _InvalidParameter(
            f"parameter '{name}' value '{_clip(value)}' must be an integer from {low} to {high}."
        )
    return int(value)


def _bounded_int(name: str, default: int, bounds: tuple[int, int]) -> int:
    value = _single(name)
    return default if value is None else _checked_int(name, value, bounds)


def _sizes_mib(maximum: int) -> tuple[int, ...]:
    value = _single("sizes")
    if value is None:
        return tuple(size for size in DEFAULT_THROUGHPUT_SIZES if size <= maximum)
    count = value.count(",") + 1  # counted before splitting, so a huge list is never split
    if count > MAX_THROUGHPUT_SIZES:
        raise _InvalidParameter(
            f"parameter 'sizes' lists {count} sizes; give 1 to {MAX_THROUGHPUT_SIZES} "
            "comma-separated integers."
        )
    sizes = [_checked_int("sizes", entry, (1, maximum)) for entry in value.split(",")]
    return tuple(dict.fromkeys(sizes))


def _not_allowed(value: str) -> _InvalidParameter:
    allowlist = ", ".join(_config().paths)
    return _InvalidParameter(f"path '{_clip(value)}' is not in the probe's allowlist: {allowlist}")


def _selected_paths(*, required: bool = False) -> tuple[str, ...]:
    allowlist = _config().paths
    values = flask.request.args.getlist("path")
    if len(values) > MAX_PATH_PARAMS:
        raise _InvalidParameter(
            f"parameter 'path' given {len(values)} times; at most {MAX_PATH_PARAMS} allowed."
        )
    for value in values:
        if value not in allowlist:
            raise _not_allowed(value)
    if required and not values:
        raise _InvalidParameter(
            f"parameter 'path' is required; give one or more of: {', '.join(allowlist)}"
        )
    return tuple(dict.fromkeys(values)) or allowlist


def _one_path() -> str:
    value = _single("path")
    if value is None:
        raise _InvalidParameter(
            f"parameter 'path' is required; give one of: {', '.join(_config().paths)}"
        )
    if value not in _config().paths:
        raise _not_allowed(value)
    return value


def _answer(**fields: Any) -> flask.Response:
    config = _config()
    return flask.jsonify({"instance_id": config.instance_id, "hostname": config.hostname, **fields})


def _error(message: str, status: int) -> flask.Response:
    response = flask.jsonify({"error": message})
    response.status_code = status
    return response


def health() -> flask.Response:
    """Answer that the process is up, without authentication."""
    return flask.jsonify({"status": "ok"})


def identity() -> flask.Response:
    """Report who answered: instance, container, process and deployment."""
    config = _config()
    return _answer(
        pid=config.pid,
        process_start_utc=_utc_iso(config.process_start),
        process_start_epoch=config.process_start,
        deployment_id=config.deployment_id,
        settings_mark=config.settings_mark,
        probe_api=PROBE_API,
        paths=list(config.paths),
    )


def write() -> flask.Response:
    """Write a fresh marker to each selected path."""
    config, nonce, paths = _config(), _nonce(), _selected_paths()
    results = {path: write_marker(config, path, nonce) for path in paths}
    return _answer(action="write", nonce=nonce, results=results)


def read() -> flask.Response:
    """Read each selected path's marker back and verify it."""
    config, nonce, paths = _config(), _nonce(), _selected_paths()
    results = {path: read_marker(config, path, nonce) for path in paths}
    return _answer(action="read", nonce=nonce, results=results)


def mount_info() -> flask.Response:
    """Report mount facts and usage for each selected path."""
    return _answer(**mount_report(_config(), _selected_paths()))


def io_latency() -> flask.Response:
    """Measure fsync'd write and read latency in each selected path."""
    size = _bounded_int("size", 4096, SIZE_BOUNDS)
    iterations = _bounded_int("iterations", 10, ITERATIONS_BOUNDS)
    config, paths = _config(), _selected_paths()
    results = {path: measure_latency(config, path, size, iterations) for path in paths}
    return _answer(payload_bytes=size, results=results)


def append() -> flask.Response:
    """Append numbered records to one file in one path (concurrent writers, H4)."""
    path, writer, name = _one_path(), _writer(), _append_file()
    records = _bounded_int("records", 100, RECORDS_BOUNDS)
    lock = _choice("lock", "none", LOCK_MODES)
    answer = append_records(_config(), path, name, writer=writer, records=records, lock=lock)
    return _answer(**answer)


def append_check() -> flask.Response:
    """Count an append file's records per writer, and its torn lines."""
    path, name, writers = _one_path(), _append_file(), _writers()
    return _answer(**check_appends(_config(), path, name, writers))


def append_reset() -> flask.Response:
    """Remove an append file from one path."""
    path, name = _one_path(), _append_file()
    return _answer(**remove_append_file(_config(), path, name))


def throughput() -> flask.Response:
    """Stream large files through each selected path and time writing and reading (H5)."""
    config = _config()
    sizes = _sizes_mib(config.max_throughput_mib)
    iterations = _bounded_int("iterations", 1, THROUGHPUT_ITERATIONS_BOUNDS)
    paths = _selected_paths(required=True)
    # One random chunk and one read buffer per request, whatever the file sizes.
    chunk, buffer = os.urandom(MIB), bytearray(MIB)
    results = {
        path: measure_throughput(
            config, path, sizes_mib=sizes, iterations=iterations, chunk=chunk, buffer=buffer
        )
        for path in paths
    }
    return _answer(sizes_mib=list(sizes), iterations=iterations, results=results)


# Route -> (view, its valid query parameters). Any other parameter is refused, so that a
# typo never passes silently.
_ROUTES: dict[str, tuple[Callable[[], flask.Response], tuple[str, ...]]] = {
    "/health": (health, ()),
    "/identity": (identity, ()),
    "/write": (write, ("nonce", "path")),
    "/read": (read, ("nonce", "path")),
    "/mount-info": (mount_info, ("path",)),
    "/io-latency": (io_latency, ("size", "iterations", "path")),
    "/append": (append, ("path", "writer", "records", "lock", "file")),
    "/append-check": (append_check, ("path", "file", "writers")),
    "/append-reset": (append_reset, ("path", "file")),
    "/throughput": (throughput, ("path", "sizes", "iterations")),
}


def _authenticate_and_check_parameters() -> flask.Response | None:
    token, request = _config().token, flask.request
    if request.method == "HEAD" and request.path != "/health":
        # Werkzeug answers HEAD wherever GET is allowed; a HEAD must never write a marker.
        response = _error(f"method HEAD is not allowed on {_clip(request.path)}; use GET", 405)
        response.headers["Allow"] = "GET"
        return response
    if token and request.path != "/health":
        provided = request.headers.get(TOKEN_HEADER, "").encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(provided, token.encode("utf-8", "surrogatepass")):
            return _error("missing or invalid probe token", 401)
    rule = request.url_rule.rule if request.url_rule is not None else ""
    valid = _ROUTES[rule][1] if rule in _ROUTES else None
    unknown = [name for name in request.args if valid is not None and name not in valid]
    if unknown:
        names = ", ".join(f"'{_clip(name)}'" for name in unknown[:5])
        allowed = ", ".join(valid or ()) or "none"
        return _error(f"unknown query parameter(s) {names}; valid for {rule}: {allowed}.", 400)
    return None


def _no_store(response: flask.Response) -> flask.Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(error: HTTPException) -> flask.Response:
    path = _clip(flask.request.path)
    if isinstance(error, NotFound):
        message = f"no endpoint at '{path}'; endpoints: {', '.join(_ROUTES)}"
    elif isinstance(error, MethodNotAllowed):
        message = f"method {_clip(flask.request.method)} is not allowed on {path}; use GET"
    elif isinstance(error, _InvalidParameter):
        message = str(error.description)
    else:
        message = error.name  # the generic description may not fit the probe
    response = _error(message, error.code or 500)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


class _InsertionOrderJSON(DefaultJSONProvider):
    # Results keep the allowlist's order, which reads better than sorted keys.
    sort_keys = False


def create_app(config: ProbeConfig | None = None) -> flask.Flask:
    """Build the probe app; without a config, read one from the environment."""
    app = flask.Flask(__name__)
    app.extensions["probe_config"] = config if config is not None else ProbeConfig.from_environ()
    app.json = _InsertionOrderJSON(app)
    # Requests carry no bodies; refuse anything bigger than a stray header-sized one.
    app.config["MAX_CONTENT_LENGTH"] = 1024
    for rule, (view, _) in _ROUTES.items():
        app.add_url_rule(rule, view_func=view, methods=["GET"])
    app.before_request(_authenticate_and_check_parameters)
    app.after_request(_no_store)
    app.register_error_handler(HTTPException, _http_error)
    return app
