"""Watch the project's source folders and report which files changed.

On Linux this uses inotify directly (through ctypes): events arrive at once, unlike
livereload's 800 ms polling. Writes count when the file is closed (IN_CLOSE_WRITE), so a
truncate-then-write save is seen once, complete; renames, creations and deletions count
too, and new folders are watched as they appear. Elsewhere a polling fallback is used.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from .layout import not_content

IN_MODIFY_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_ISDIR = 0x40000000
IN_Q_OVERFLOW = 0x00004000
IN_ONLYDIR = 0x01000000
MASK = (
    IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_MODIFY_ATTRIB
)
_EVENT = struct.Struct("iIII")


ROOT_MASK = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR


def _written_after(path: Path) -> bool:
    """Whether a file just created is still being written (its IN_CLOSE_WRITE comes
    later): it has bytes and one name. A hard link (`ln a.md b.md`) is complete at once,
    and no write follows it."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_size > 0 and info.st_nlink == 1


class InotifyWatcher:
    """Blocking reads of inotify events for a set of folder trees (Linux)."""

    def __init__(self, root: Path, folders: Iterable[str]) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._libc = libc
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.root = root
        self._folders = frozenset(folders)
        self._dirs: dict[int, Path] = {}
        # The project folder itself, for its source folders: one moved away and another
        # put in its place (mv content content.old; cp -r ...) is watched anew.
        self._root_wd = libc.inotify_add_watch(self._fd, os.fsencode(root), ROOT_MASK)
        for folder in self._folders:
            self._add_tree(root / folder)

    def _add_tree(self, folder: Path) -> None:
        if not folder.is_dir():
            return
        for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
            if any(not_content(part) for part in path.relative_to(self.root).parts):
                continue
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), MASK)
            if wd >= 0:
                self._dirs[wd] = path

    def _drop_tree(self, folder: Path) -> None:
        """Stop watching the folders that were under `folder` (they moved away with it)."""
        for wd, path in list(self._dirs.items()):
            if path == folder or path.is_relative_to(folder):
                self._libc.inotify_rm_watch(self._fd, wd)
                del self._dirs[wd]

    def read(self, timeout: float | None) -> list[str] | None:
        """Changed paths (project-relative), [] on timeout; None means 'rescan all'."""
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return []
        try:
            data = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return []
        changed: list[str] = []
        offset = 0
        while offset < len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            raw_name = data[offset + _EVENT.size : offset + _EVENT.size + length]
            offset += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                return None
            name = raw_name.rstrip(b"\0").decode(errors="replace")
            if wd == self._root_wd:
                if name in self._folders:  # a source folder came, went or was replaced
                    self._drop_tree(self.root / name)
                    if mask & (IN_CREATE | IN_MOVED_TO):
                        self._add_tree(self.root / name)
                    return None  # every file may have changed: look at all of them
                continue
            folder = self._dirs.get(wd)
            if folder is None:
                continue
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                self._dirs.pop(wd, None)
                continue
            if not name or not_content(name):
                continue
            path = folder / name
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO):
                    self._add_tree(path)
                    changed.extend(
                        p.relative_to(self.root).as_posix() for p in path.rglob("*") if p.is_file()
                    )
                changed.append(path.relative_to(self.root).as_posix())
                continue
            if mask & IN_CREATE and _written_after(path):
                continue  # a real write follows with IN_CLOSE_WRITE
            changed.append(path.relative_to(self.root).as_posix())
        return changed

    def close(self) -> None:
        os.close(self._fd)


class PollingWatcher:
    """Compares modification times every 100 ms: the fallback where inotify is missing."""

    def __init__(self, root: Path, folders: Iterable[str]) -> None:
        self.root = root
        self.folders = tuple(folders)
        self._seen = self._scan()

    def _scan(self) -> dict[str, tuple[int, int]]:
        found = {}
        for folder in self.folders:
            base = self.root / folder
            if base.is_dir():
                for path in base.rglob("*"):
                    rel = path.relative_to(self.root).as_posix()
                    if path.is_file() and not any(not_content(p) for p in Path(rel).parts):
                        st = path.stat()
                        found[rel] = (st.st_mtime_ns, st.st_size)
        return found

    def read(self, timeout: float | None) -> list[str] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            time.sleep(0.1)
            now = self._scan()
            changed = sorted(
                k for k in now.keys() | self._seen.keys() if now.get(k) != self._seen.get(k)
            )
            self._seen = now
            if changed or (deadline is not None and time.monotonic() >= deadline):
                return changed

    def close(self) -> None:
        pass


def make_watcher(root: Path, folders: Iterable[str]) -> InotifyWatcher | PollingWatcher:
    """The fastest watcher this system offers."""
    if sys.platform.startswith("linux"):
        try:
            return InotifyWatcher(root, folders)
        except OSError:
            pass
    return PollingWatcher(root, folders)
