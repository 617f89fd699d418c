"""What says a file is as a build last saw it: one key for input and output files alike.

Size, modification and inode change times in ns, and inode. No tool can set the change
time back (git's index relies on it too), so an edit is seen even when the size and
modification time are put back (cp -p, touch -r, rsync -t).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class FileKey(NamedTuple):
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


def key_of(info: os.stat_result) -> FileKey:
    return FileKey(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def as_left(path: str | Path, was: FileKey) -> bool:
    """Whether the file at `path` still has the key a build left it with."""
    try:
        return key_of(os.stat(path)) == was
    except OSError:
        return False
