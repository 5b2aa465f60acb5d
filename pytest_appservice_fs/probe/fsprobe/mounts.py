"""Mount facts for /mount-info: /proc/self/mountinfo parsed, and statvfs per path."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import covers, physical_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .config import ProbeConfig

MAX_MOUNTINFO_BYTES = 256 * 1024
_OCTAL_ESCAPE_RE = re.compile(r"\\([0-7]{3})")


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
        if covers(entry.mount_point, path) and (
            best is None or len(entry.mount_point) >= len(best.mount_point)
        ):
            best = entry
    return best


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
