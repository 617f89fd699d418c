"""Write the site atomically: into a temporary folder, swapped in only on success.

Nothing is ever written or deleted outside the output folder (and its temporary twin
beside it); an output folder that holds the project's sources is refused, and so is an
existing folder this tool did not make.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
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


def write_site(out: Path, files: Mapping[str, bytes], copies: Mapping[str, Path]) -> None:
    """Write `files` (output path -> bytes) and `copies` (output path -> source file)."""
    out = out.resolve()
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    tmp.mkdir(parents=True)
    try:
        (tmp / MARKER).write_bytes(b"made by sitegen; replaced whole on every build\n")
        made: set[Path] = {tmp}  # folders made so far: one mkdir each, not one per file
        for rel in sorted(files):
            target = safe_target(tmp, rel)
            _make_parent(target, made)
            with open(target, "wb") as file:
                file.write(files[rel])
        for rel in sorted(copies):
            target = safe_target(tmp, rel)
            _make_parent(target, made)
            shutil.copyfile(copies[rel], target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def _make_parent(target: Path, made: set[Path]) -> None:
    if target.parent not in made:
        target.parent.mkdir(parents=True, exist_ok=True)
        made.add(target.parent)
