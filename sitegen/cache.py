"""The persistent cache in `.cache/`: what a later build in a new process can reuse.

It holds converted Markdown (keyed by a digest of the text, its place, the engine's
version and source, and the converter's settings), rendered outputs with the digests of
everything they read, and the state the shortcuts of shortcut.py compare against. Each
file carries the engine key and a checksum: a damaged or stale file is reported as a
warning, ignored and rebuilt, never trusted. The cache only speeds builds up; deleting
`.cache/` is always safe.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO

from .engine import ENGINE_KEY
from .errors import Location, Report

FOLDER = ".cache/sitegen"
MAGIC = b"sitegen-cache-1\n"


def _installed(package: str) -> str:
    """An installed package's identity, without importing it: a digest of its
    __init__.py, which states its version. (The shortcuts never need Jinja, and in a
    fresh process importing it would cost more than their whole work.)"""
    spec = importlib.util.find_spec(package)
    data = Path(spec.origin).read_bytes() if spec is not None and spec.origin else b""
    return f"{package}-{hashlib.blake2b(data, digest_size=8).hexdigest()}"


# What made a cache file: the engine's source and the libraries that shape its output
KEY = "|".join([ENGINE_KEY, *(_installed(p) for p in ("jinja2", "markdown", "nh3", "yaml"))])


class DiskCache:
    """Named pickled values under the project's .cache/ folder, checked on load."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / FOLDER

    def load(self, name: str, report: Report) -> Any:
        """The value saved under `name`, or None if missing, stale or damaged."""
        path = self.folder / f"{name}.pickle"
        try:
            data = path.read_bytes()
        except OSError:
            return None
        rel = f"{FOLDER}/{name}.pickle"
        try:
            if not data.startswith(MAGIC):
                raise ValueError("not a cache file")
            header_end = data.index(b"\n", len(MAGIC))
            key, checksum = data[len(MAGIC) : header_end].decode().rsplit(" ", 1)
            payload = memoryview(data)[header_end + 1 :]  # a view: no copy of a large file
            if hashlib.sha256(payload).hexdigest() != checksum:
                raise ValueError("checksum mismatch")
            if key != KEY:
                return None  # made by another version of the engine: stale, not damaged
            return pickle.loads(payload)
        except Exception as exc:
            report.warning(
                Location(rel),
                f"cache file is damaged ({exc}) and was ignored",
                "nothing to do: it is rebuilt; delete .cache/ if this repeats",
            )
            return None

    def save(self, name: str, value: Any) -> None:
        """Write atomically: a crash mid-write leaves the old file or none, never half.

        The pickle is streamed to the file and hashed on the way, so a large cache is
        never held in memory as bytes; the checksum is filled into the header last.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{name}.pickle"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as file:
            header = MAGIC + f"{KEY} ".encode()
            file.write(header + b"0" * 64 + b"\n")
            hashing = _HashingWriter(file)
            pickle.dump(value, hashing, protocol=pickle.HIGHEST_PROTOCOL)
            file.seek(len(header))
            file.write(hashing.digest.hexdigest().encode())
        os.replace(tmp, path)


class _HashingWriter:
    """A file's write(), also feeding a SHA-256 of everything written."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.file.write(data)
