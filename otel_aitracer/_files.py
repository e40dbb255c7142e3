"""Files we create hold prompts: readable by their owner only, and never through a planted link.

Directories we create are 0700 and files 0600, whatever the umask. A spool directory
that another user owns, or that others may write to, could be used to read or redirect
what we write, so it is refused; so is a spool file that is a symbolic link.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnsafePath(OSError):
    """A path we will not write prompts to."""


def private_dir(path: Path, *, must_own: bool = False) -> None:
    """Create ``path`` (0700) if missing; with ``must_own``, refuse one owned by another user or writable by others."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    if not must_own:
        return
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePath(f"{path} is a symlink")
    if info.st_uid != os.geteuid():
        raise UnsafePath(f"{path} is owned by uid {info.st_uid}, not by this user")
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise UnsafePath(f"{path} is writable by other users")


def private_file(path: Path, *, refuse_symlink: bool = False) -> None:
    """Create ``path`` empty with mode 0600 if missing (never through a symlink when ``refuse_symlink``)."""
    if refuse_symlink and path.is_symlink():
        raise UnsafePath(f"{path} is a symlink")
    flags = os.O_CREAT | os.O_WRONLY | (os.O_NOFOLLOW if refuse_symlink else 0)
    if not path.exists():
        os.close(os.open(path, flags | os.O_EXCL, 0o600))
