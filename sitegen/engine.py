"""The engine's identity: its version, a digest of its source, and what it runs on.

Part of every cache key, so a changed engine, Python or library never reuses what another
made. Kept apart from the converter so that a build that needs no conversion can know the
key without importing Python-Markdown or Jinja.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from . import __version__

# Every installed distribution whose code shapes what a build writes.
SHAPING_LIBRARIES = ("jinja2", "markupsafe", "markdown", "nh3", "pyyaml", "pagefind")


def engine_key(folder: Path = Path(__file__).parent) -> str:
    """The engine's version and a digest of its modules' source (those in `folder`): any
    edit of the engine is a new key, whatever its version says."""
    digest = hashlib.blake2b(digest_size=8)
    for module in sorted(folder.glob("*.py")):
        digest.update(module.read_bytes())
    return f"{__version__}-{digest.hexdigest()}"


def python_key(
    version: tuple[int, ...] = tuple(sys.version_info[:3]),
    implementation: str = sys.implementation.name,
) -> str:
    """The Python that runs the engine: another one may convert or order things
    differently, so what it made is never reused."""
    return "python-{}.{}.{}-{}".format(*version[:3], implementation)


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def installed_versions(names: tuple[str, ...], path: list[str] | None = None) -> dict[str, str]:
    """Each distribution's installed version, from the `NAME-VERSION.dist-info` folder the
    installer left on sys.path (the packaging spec's layout); "absent" if none.

    Why not importlib.metadata: importing it costs more than a build with nothing to do.
    A distribution installed twice counts as the first found, as Python imports it.
    """
    wanted = {_normalised(n): n for n in names}
    found: dict[str, str] = {}
    for folder in sys.path if path is None else path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in sorted(entries):
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            name, _, version = entry.rsplit(".", 1)[0].partition("-")
            original = wanted.get(_normalised(name))
            if original is not None and original not in found:
                found[original] = version
    return {n: found.get(n, "absent") for n in names}


def build_key(
    libraries: tuple[str, ...] = SHAPING_LIBRARIES,
    engine: str | None = None,
    python: str | None = None,
) -> str:
    """The engine (ENGINE_KEY, or `engine`), the Python that runs it (python_key, or
    `python`) and each shaping library's installed version."""
    versions = installed_versions(libraries)
    parts = [engine or ENGINE_KEY, python or python_key()]
    return "|".join([*parts, *(f"{n}-{v}" for n, v in versions.items())])


ENGINE_KEY = engine_key()
BUILD_KEY = build_key()
