"""Safe file access inside the allowlist, shared by every endpoint that touches files."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import TYPE_CHECKING

from .config import mount_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

MIB = 1024 * 1024
#: Flags that create a new file and never follow a symlink planted at its name.
NEW_FILE = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
#: What Linux answers when O_NOFOLLOW meets a link: ELOOP, or ENOTDIR with O_DIRECTORY.
_LINK_ERRNOS = {errno.ELOOP, errno.ENOTDIR}


class Refusal(OSError):
    """Something the probe refuses to touch although the file system raised no error."""


def describe(error: OSError) -> str:
    """The error as the probe reports it: its message, without the physical path."""
    if isinstance(error, Refusal) or not error.strerror:
        return str(error) or type(error).__name__
    return f"{type(error).__name__}: {error.strerror}"


def errno_name(error: OSError) -> str | None:
    """The error's errno as its symbolic name (``EROFS``), or None when it has none (a
    Refusal)."""
    if isinstance(error, Refusal) or not error.errno:
        return None
    return errno.errorcode.get(error.errno)


def _open_folder(parent_fd: int, name: str, *, create: bool, logical: str, last: bool) -> int:
    # One component, relative to its parent's descriptor: a link at the name is refused,
    # never followed, so nothing planted above the data folder can redirect the probe.
    in_the_way: FileExistsError | None = None
    if create:
        try:
            os.mkdir(name, 0o755, dir_fd=parent_fd)
        except FileExistsError as error:
            in_the_way = error
    try:
        return os.open(name, _FOLDER, dir_fd=parent_fd)
    except OSError as error:
        if error.errno not in _LINK_ERRNOS:
            raise
        if not stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode):
            if in_the_way is not None and last:
                raise in_the_way from None  # a file at the data folder's name, as makedirs says
            raise
    if last:
        raise Refusal("the data folder is a symbolic link; it is not followed")
    raise Refusal(
        f"the folder '{logical}' on the way to the data folder is a symbolic link; "
        "it is not followed"
    )


@contextlib.contextmanager
def data_dir(mounts: Mapping[str, str], path: str, *, create: bool) -> Iterator[int]:
    """A descriptor of the logical path's data folder (made first if create), reached
    without following a symlink at any component below its mount's folder.

    Raises FileNotFoundError (a folder is missing and create is False), Refusal (a component
    is a symbolic link) or another OSError from the file system.
    """
    # The mount's own folder is the probe's configuration ('/' on App Service, so there every
    # component is checked); each logical component below it is opened relative to its parent
    # with O_NOFOLLOW, so that a link anywhere along the path is refused: the probe never
    # creates, opens or removes a file outside its allowlist.
    prefix, root, components = mount_of(path, mounts)
    if create:
        os.makedirs(root, mode=0o755, exist_ok=True)
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        logical = prefix.rstrip("/")
        for index, name in enumerate(components):
            logical += "/" + name
            last = index == len(components) - 1
            child = _open_folder(dir_fd, name, create=create, logical=logical, last=last)
            os.close(dir_fd)
            dir_fd = child
        yield dir_fd
    finally:
        os.close(dir_fd)
