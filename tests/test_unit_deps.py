"""Digests of model values: stable, and the same however the value's text is batched."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sitegen import deps


@dataclass(frozen=True)
class _Item:
    name: str
    tags: frozenset[str]


class _Whole:
    """Keeps every part: the text form in one piece."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def flush(self) -> None:
        pass


def _joined(value: object) -> str:
    """The digest as the text form joined in one piece (what the batches must equal)."""
    whole = _Whole()
    deps._encode(value, whole)  # type: ignore[arg-type]
    return hashlib.blake2b("\x1f".join(whole.parts).encode(), digest_size=16).hexdigest()


def test_batched_digest_equals_one_piece_at_every_boundary() -> None:
    batch = deps._Digester.BATCH
    for count in (0, 1, batch // 3 - 1, batch // 3, batch - 1, batch, batch + 1, 3 * batch):
        value = [_Item(f"n{i}", frozenset({"a", f"t{i % 7}"})) for i in range(count)]
        assert deps.digest(value) == _joined(value), count


def test_digest_tells_values_apart() -> None:
    assert deps.digest(["a", "b"]) != deps.digest(["ab"])
    assert deps.digest({"k": 1}) != deps.digest({"k": "1"})
    assert deps.digest(_Item("x", frozenset())) == deps.digest(_Item("x", frozenset()))


class _Site:
    def __init__(self) -> None:
        self.title = "T"
        self.by_id = {"a": 1, "b": 2}


def test_recording_site_notes_each_read_once_reads_repeated() -> None:
    """The proxy keeps what it has read; a second read must not lose a later key."""
    values = deps.Values(_Site(), {}, lambda name: "")
    recorder = deps.Recorder(values)
    site = deps.RecordingSite(_Site(), recorder)
    assert site.title == site.title == "T"
    assert site.by_id["a"] == 1
    assert site.by_id.get("b") == 2  # through the kept wrapper: still noted
    assert list(recorder.read) == [
        ("attr", "title"),
        ("item", "by_id", "a"),
        ("item", "by_id", "b"),
    ]
