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
        self.memo = None

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


@dataclass(frozen=True)
class _Page:
    url: str
    title: str


class _PagedSite:
    def __init__(self, *pages: _Page) -> None:
        self.pages = pages
        self.page_by_url = {page.url: page for page in pages}
        self.title = "T"


def _list_digest(site: _PagedSite) -> str:
    return deps.Values(site, site.page_by_url, lambda name: "").digest(deps.PAGE_LIST)


def test_page_list_digest_follows_every_page_and_their_order() -> None:
    a, b = _Page("a/", "A"), _Page("b/", "B")
    assert _list_digest(_PagedSite(a, b)) == _list_digest(_PagedSite(_Page("a/", "A"), b))
    assert _list_digest(_PagedSite(a, b)) != _list_digest(_PagedSite(a, _Page("b/", "B2")))
    assert _list_digest(_PagedSite(a, b)) != _list_digest(_PagedSite(b, a))
    assert _list_digest(_PagedSite(a, b)) != _list_digest(_PagedSite(a))


def test_seeded_page_digests_stand_in_and_nothing_else_is_taken() -> None:
    """A render worker's page digests are used as they are; other keys are made here."""
    site = _PagedSite(_Page("a/", "A"), _Page("b/", "B"))
    worker = deps.Values(site, site.page_by_url, lambda name: "")
    made = {key: worker.digest(key) for key in (("page", "a/"), ("page", "b/"))}
    here = deps.Values(site, site.page_by_url, lambda name: "")
    here.seed({**made, ("attr", "title"): "not this"})
    assert here.digest(deps.PAGE_LIST) == worker.digest(deps.PAGE_LIST)
    assert here.digest(("attr", "title")) == deps.digest("T")

    stale = deps.Values(site, site.page_by_url, lambda name: "")
    stale.seed({("page", "a/"): "from another site"})
    assert stale.digest(deps.PAGE_LIST) != worker.digest(deps.PAGE_LIST)
