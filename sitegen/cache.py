"""The persistent cache in `.cache/`: what a later build in a new process can reuse.

It holds converted Markdown (keyed by a digest of the text, its place, the engine's
version and source, and the converter's settings), rendered outputs with the digests of
everything they read, and a fingerprint of the inputs for the no-change shortcut. Each
file carries the engine key and a checksum: a damaged or stale file is reported as a
warning, ignored and rebuilt, never trusted. The cache only speeds builds up; deleting
`.cache/` is always safe.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import jinja2
import markdown

from .errors import Location, Report
from .markdown import ENGINE_KEY

FOLDER = ".cache/sitegen"
MAGIC = b"sitegen-cache-1\n"
KEY = f"{ENGINE_KEY}|jinja2-{jinja2.__version__}|markdown-{markdown.__version__}"


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
            payload = data[header_end + 1 :]
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
        """Write atomically: a crash mid-write leaves the old file or none, never half."""
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        header = f"{KEY} {hashlib.sha256(payload).hexdigest()}\n".encode()
        path = self.folder / f"{name}.pickle"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(MAGIC + header + payload)
        os.replace(tmp, path)


def fingerprint(root: Path, folders: tuple[str, ...], options: tuple[object, ...]) -> str:
    """A digest of every input file's path, size and modification time, and the options."""
    digest = hashlib.blake2b(repr((KEY, options)).encode(), digest_size=16)
    seen: set[str] = set()  # real folders walked: a linked loop is walked once, not forever
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(root / folder, followlinks=True):
            seen.add(os.path.realpath(dirpath))
            dirnames[:] = sorted(
                d for d in dirnames if os.path.realpath(os.path.join(dirpath, d)) not in seen
            )
            for name in sorted(filenames):
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                line = f"{dirpath}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n"
                digest.update(line.encode("utf-8", "surrogateescape"))  # any file name
    return digest.hexdigest()
