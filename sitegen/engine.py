"""The engine's identity: its version and a digest of its source.

Part of every cache key, so a changed engine never reuses what an older one made. Kept
apart from the converter so that a build that needs no conversion (shortcut.py) can
know the key without importing Python-Markdown.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import __version__


def _engine_key() -> str:
    digest = hashlib.blake2b(digest_size=8)
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.read_bytes())
    return f"{__version__}-{digest.hexdigest()}"


ENGINE_KEY = _engine_key()
