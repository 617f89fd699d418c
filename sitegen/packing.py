"""How the engine holds HTML it keeps (converted Markdown, the preview's pages): packed
with zlib at its fastest level, which packs HTML about as small as its best, much faster.
The same bytes always pack the same, so two versions can be compared packed."""

from __future__ import annotations

import zlib


def pack(data: bytes) -> bytes:
    return zlib.compress(data, 1)


def unpack(packed: bytes) -> bytes:
    """`pack` undone; zlib.error if it is not what `pack` gives."""
    return zlib.decompress(packed)
