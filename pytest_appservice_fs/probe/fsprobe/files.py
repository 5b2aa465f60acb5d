"""Safe file access inside the allowlist, shared by every endpoint that touches files."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

MIB = 1024 * 1024
#: Flags that create a new file and never follow a symlink planted at its name.
NEW_FILE = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


class Refusal(OSError):
    """Something the probe refuses to touch although the file system raised no error."""


def describe(error: OSError) -> str:
    """The error as the probe reports it: its message, without the physical path."""
    if isinstance(error, Refusal) or not error.strerror:
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error.strerror}"


@contextlib.contextmanager
def data_dir(directory: str, *, create: bool) -> Iterator[int]:
    """A descriptor of the data folder (made first if create), never through a symlink."""
    # Everything below works relative to this descriptor, and O_NOFOLLOW refuses a symlink
    # planted in place of the data directory: the probe never writes outside the allowlist.
    if create:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except NotADirectoryError:
        if os.path.islink(directory):  # Linux reports ENOTDIR here, which would mislead
            raise Refusal("the data folder is a symbolic link; it is not followed") from None
        raise
    try:
        yield dir_fd
    finally:
        os.close(dir_fd)
