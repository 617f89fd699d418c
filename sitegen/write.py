"""Write the site atomically: into a temporary folder, swapped in only on success.

Nothing is ever written or deleted outside the output folder (and its temporary twin
beside it); an output folder that holds the project's sources is refused, and so is an
existing folder this tool did not make.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

MARKER = ".sitegen-output"
SOURCE_FOLDERS = ("content", "templates", "static")


def refuse_output(out: Path, root: Path) -> str | None:
    """Why `out` may not be used as the output folder, or None if it may."""
    out, root = out.resolve(), root.resolve()
    protected = [root, *(root / name for name in SOURCE_FOLDERS)]
    for folder in protected:
        if out == folder or folder.is_relative_to(out):
            return f"the output folder {out} would replace {folder}"
        if out.is_relative_to(folder) and folder != root:
            return f"the output folder {out} is inside the source folder {folder}"
    if out.exists() and not out.is_dir():
        return f"the output path {out} is a file"
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        return f"{out} exists and was not made by this tool; it will not be replaced"
    return None


def safe_target(base: Path, rel: str) -> Path:
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\x00" in rel:
        raise ValueError(f"refusing to write outside the output folder: {rel!r}")
    return base.joinpath(*pure.parts)


# What says a file is as it was: size in bytes, modification and inode change times in ns,
# and inode. No tool can set the change time back (git's index relies on it too), so an
# edit is seen even when the size and modification time are put back (cp -p, touch -r).
Stat = tuple[int, int, int, int]


def stat_of(info: os.stat_result) -> Stat:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def as_left(path: str | Path, was: Stat) -> bool:
    """Whether the file at `path` still has the Stat a build left it with."""
    try:
        return stat_of(os.stat(path)) == was
    except OSError:
        return False


def checksum(data: bytes) -> str:
    """A digest of an output file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class OutputFolder:
    """The next output folder: made beside the old one, filled, and swapped in whole.

    Files are written as soon as they are ready, so a build need not hold its output in
    memory. An output that has not changed since the last build is hard-linked from the
    old folder instead of written (`keep`), but only if that file is still as the last
    build left it (same size and modification time); otherwise it is rendered again.
    If anything fails, `discard` removes the new folder and the old one is untouched.
    """

    def __init__(self, out: Path) -> None:
        self.out = out.resolve()
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}"
        self._old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
        for leftover in (self.tmp, self._old):
            if leftover.exists():
                shutil.rmtree(leftover)
        self.tmp.mkdir(parents=True)
        self._made: set[str] = {""}  # folders made so far: one mkdir each, not one per file
        self.names: dict[str, None] = {}  # every file put in, in order
        self.write(MARKER, b"made by sitegen; replaced whole on every build\n")

    def _target(self, rel: str) -> Path:
        target = safe_target(self.tmp, rel)
        folder = rel.rpartition("/")[0]
        if folder not in self._made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        self.names[rel] = None
        return target

    def write(self, rel: str, data: bytes) -> None:
        with open(self._target(rel), "wb") as file:
            file.write(data)

    def copy(self, rel: str, source: Path) -> None:
        shutil.copyfile(source, self._target(rel))

    def adopt(self, rels: Iterable[str]) -> None:
        """Count files that forked workers put in (they write into `tmp` themselves, but
        their record of names stays in their process)."""
        self.names.update(dict.fromkeys(rels))

    def unchanged(self, rel: str, was: Stat | None) -> bool:
        """Whether the old folder's `rel` is still as the last build wrote it (`was`)."""
        return was is not None and as_left(safe_target(self.out, rel), was)

    def keep(self, rel: str) -> None:
        """Put the old folder's `rel` in the new one, as a hard link where possible."""
        old = safe_target(self.out, rel)
        try:
            os.link(old, self._target(rel))
        except OSError:  # another file system, or links unsupported: copy it, with its mtime
            shutil.copy2(old, safe_target(self.tmp, rel))

    def stats(self) -> dict[str, Stat]:
        """The Stat of every file put in, read after `commit`: the swap removes the old
        folder's links to kept files, which changes their inode change time."""
        return {rel: stat_of(os.stat(safe_target(self.out, rel))) for rel in self.names}

    def commit(self) -> None:
        """Swap the new folder in for the old one."""
        if self.out.exists():
            self.out.rename(self._old)
            self.tmp.rename(self.out)
            shutil.rmtree(self._old)
        else:
            self.tmp.rename(self.out)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
