"""What each output read while it rendered, and whether it must be rendered again.

Templates see the site through a recording proxy: every attribute and every mapping key
they read is noted with a digest of its value. An output is stale when a later site gives
a different digest for any key it read, or when its page or one of its templates changed.
Digests are stable across processes (no hash randomisation), so records can be cached.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.meta

Key = tuple[str, ...]
PAGE_LIST: Key = ("attr", "pages")
_ABSENT = "<absent>"
# Each kind of key, and how many parts its keys have (the kind first).
KEY_PARTS = {"attr": 2, "item": 3, "keys": 2, "page": 2, "template": 2}


def valid_key(parts: Any) -> Key:
    """A key read back from the cache, checked: ValueError unless a build could write it."""
    key = tuple(parts)
    if not (
        key
        and KEY_PARTS.get(key[0]) == len(key)
        and type(key[1]) is str
        and all(part is None or type(part) in (str, int, float, bool) for part in key[2:])
    ):
        raise ValueError(f"not a dependency key: {key!r:.80}")
    return key


_OF_THE_MODEL = ("attr", "item", "page")


def _encode(value: Any, out: _Digester) -> None:
    """A canonical text form of a model value: sets and mappings sorted, dataclasses named.

    The kind of each type is worked out once (`_kind`): this runs for every value every
    page reads, and a chain of isinstance checks per value was a fifth of rendering.
    Parts go straight into the digester's list (a method call per part cost more than
    the hashing); collections hand a full batch over to be hashed as they go.
    """
    parts = out.parts
    kind = type(value)
    if kind is str:
        parts.append(f"s{len(value)}:{value}")
        return
    how = _KINDS.get(kind) or _kind(kind)
    if how == "digest":
        parts.append(value.__digest__())
    elif how == "str":
        parts.append(f"s{len(value)}:{value}")
    elif how == "repr":
        parts.append(repr(value))
    elif how == "mapping":
        parts.append("{")
        for key in sorted(value, key=repr):
            _encode(key, out)
            _encode(value[key], out)
            if len(parts) >= _Digester.BATCH:
                out.flush()
        parts.append("}")
    elif how == "set":
        parts.append("<")
        for item in sorted(value, key=repr):
            _encode(item, out)
            if len(parts) >= _Digester.BATCH:
                out.flush()
        parts.append(">")
    elif how == "sequence":
        parts.append("[")
        for item in value:
            _encode(item, out)
            if len(parts) >= _Digester.BATCH:
                out.flush()
        parts.append("]")
    else:  # a dataclass: the digest of its name and fields, made once per object
        parts.append(_record(value, out.memo))


def _record(value: Any, memo: DigestMemo | None) -> str:
    """A dataclass instance's digest: its name and fields, or what `memo` holds for it."""
    known = memo.get(value) if memo is not None else None
    if known is None:
        kind = type(value)
        inner = _Digester(memo)
        inner.parts.append(kind.__name__ + "(")
        for name in _FIELDS[kind]:
            inner.parts.append(name + "=")
            _encode(getattr(value, name), inner)
        inner.parts.append(")")
        known = inner.hexdigest()
        if memo is not None:
            memo.put(value, known)
    return known


_KINDS: dict[type, str] = {}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _kind(kind: type) -> str:
    """How values of a type are encoded, in the order the checks must be made."""
    if hasattr(kind, "__digest__"):
        how = "digest"
    elif issubclass(kind, str):
        how = "str"
    elif kind is type(None) or issubclass(kind, bool | int | float | dt.date):
        how = "repr"
    elif dataclasses.is_dataclass(kind):
        how = "dataclass"
        _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    elif issubclass(kind, Mapping):
        how = "mapping"
    elif issubclass(kind, set | frozenset):
        how = "set"
    elif issubclass(kind, tuple | list):
        how = "sequence"
    else:
        how = "repr"
    _KINDS[kind] = how
    return how


class _Digester:
    """Takes the parts of a value's text form and hashes them a batch at a time.

    The site's whole page list is one value some outputs read (a sitemap, an index
    page): its text form at 4000 pages is tens of MiB, which is never held at once.
    The bytes hashed are the parts joined by U+001F, as if joined in one piece.
    """

    BATCH = 4096

    def __init__(self, memo: DigestMemo | None = None) -> None:
        self.memo = memo
        self._hash = hashlib.blake2b(digest_size=16)
        self.parts: list[str] = []  # _encode appends; a batch is hashed when full
        self._separator = ""  # before the next batch: none before the first

    def flush(self) -> None:
        if self.parts:
            self._hash.update((self._separator + "\x1f".join(self.parts)).encode())
            self.parts.clear()
            self._separator = "\x1f"

    def hexdigest(self) -> str:
        self.flush()
        return self._hash.hexdigest()


def digest(value: Any, memo: DigestMemo | None = None) -> str:
    """A stable digest of an immutable model value; `memo` holds the digests of the
    dataclass objects (model records) met before, by identity."""
    kind = type(value)
    if (_KINDS.get(kind) or _kind(kind)) == "dataclass":
        return _record(value, memo)
    known = memo.get(value) if memo is not None and kind in _HELD else None
    if known is None:
        digester = _Digester(memo)
        _encode(value, digester)
        known = digester.hexdigest()
        if memo is not None and kind in _HELD:
            memo.put(value, known)
    return known


# Immutable containers whose digest the memo keeps by identity (as it does a record's)
# when they are values of their own: a page's breadcrumbs, a source's citers.
_HELD = (tuple, frozenset)


class DigestMemo:
    """The digests of model values by object, from one build to the next.

    The model is immutable and a build reuses the records of every file that did not
    change (assemble.Reuse), so a record met again has the digest it had: planning a
    build then digests only what changed. A record (a dataclass instance) is remembered
    for as long as it lives, through a weak reference, so no later object can be taken
    for it by its id; entries whose record is gone are swept out between builds once
    they may be as many as the live ones (a callback per reference cost more memory
    than the entry). A tuple cannot be referred to weakly: it is held, by the builds
    that meet it (`next_build` drops the others).
    """

    def __init__(self) -> None:
        # Two flat maps by id, not one of (reference, digest) pairs: a pair is one more
        # object per record for the garbage collector to trace, and there are as many
        # records as the model has.
        self._refs: dict[int, weakref.ref[Any]] = {}
        self._digests: dict[int, str] = {}
        self._swept = 0  # entries left by the last sweep
        self._held: dict[int, tuple[object, str]] = {}
        self._held_now: dict[int, tuple[object, str]] = {}
        self.fresh: dict[str, int] = {}  # values digested anew this build, by type name

    def __len__(self) -> int:
        """Entries held, of records alive or gone since the last sweep."""
        return len(self._refs) + len(self._held) + len(self._held_now)

    def get(self, value: object) -> str | None:
        key = id(value)
        if type(value) in _HELD:
            hit = self._held_now.get(key) or self._held.get(key)
            if hit is None or hit[0] is not value:
                return None
            self._held_now[key] = hit
            return hit[1]
        ref = self._refs.get(key)
        return self._digests[key] if ref is not None and ref() is value else None

    def put(self, value: object, known: str) -> None:
        key = id(value)
        if type(value) in _HELD:
            self._held_now[key] = (value, known)
        else:
            self._refs[key] = weakref.ref(value)
            self._digests[key] = known
        name = type(value).__name__
        self.fresh[name] = self.fresh.get(name, 0) + 1

    def next_build(self) -> None:
        self._held, self._held_now = self._held_now, {}
        self.fresh = {}
        if len(self._refs) > 2 * self._swept + 1000:
            self._refs = {k: ref for k, ref in self._refs.items() if ref() is not None}
            self._digests = {k: self._digests[k] for k in self._refs}
            self._swept = len(self._refs)


class Values:
    """The current site's value, and its digest, for each dependency key, once per build.

    Records keep digests, so they can be saved in the cache and compared in a later
    process. Digests are cheap: a converted document digests as its source key, not its
    HTML, and each key is digested at most once per build, however many pages read it.
    """

    def __init__(
        self,
        site: Any,
        pages: Mapping[str, Any],
        templates: Callable[[str], str],
        memo: DigestMemo | None = None,
    ) -> None:
        self._site, self._pages, self._templates = site, pages, templates
        self._memo = memo
        self._digests: dict[Key, str] = {}

    def digest(self, key: Key) -> str:
        if key not in self._digests:
            # What a key names in the model is remembered by identity; what _lookup
            # composes anew each time (the page list, a mapping's keys) is not.
            memo = self._memo if key[0] in _OF_THE_MODEL and key != PAGE_LIST else None
            self._digests[key] = digest(self._lookup(key), memo)
        return self._digests[key]

    def seed(self, read: Mapping[Key, str]) -> None:
        """Take the page digests another process made from this same site: a forked
        render worker returns them in its records, and the index pages and generated
        outputs made here read the page list, which is composed of them."""
        for key, value in read.items():
            if key[0] == "page":
                self._digests.setdefault(key, value)

    def unchanged(self, key: Key, old: str) -> bool:
        """Whether the digest an earlier build recorded is still the current one."""
        return self.digest(key) == old

    def _lookup(self, key: Key) -> Any:
        """What the key's digest is made of: the value it names, but the page list as
        its pages' own digests in order, each made (or taken, see `seed`) once, where the
        whole list in one text form would encode every page again."""
        if key == PAGE_LIST:
            return tuple(self.digest(("page", page.url)) for page in self._site.pages)
        kind = key[0]
        # A key the site cannot answer (one read from a cache another version of the
        # site wrote) names nothing: its value is absent, which no recorded digest has.
        if kind == "attr":
            return getattr(self._site, key[1], _ABSENT)
        mapping = getattr(self._site, key[1], None) if kind in ("item", "keys") else None
        if kind == "item":
            return mapping.get(key[2], _ABSENT) if isinstance(mapping, Mapping) else _ABSENT
        if kind == "keys":
            return tuple(sorted(mapping)) if isinstance(mapping, Mapping) else _ABSENT
        if kind == "page":
            return self._pages.get(key[1], _ABSENT)
        if kind == "template":
            return self._templates(key[1])
        raise ValueError(f"unknown dependency key {key!r}")


@dataclass
class Recorder:
    """The keys one output read, with the digest each had when it was read."""

    values: Values
    read: dict[Key, str] = field(default_factory=dict)

    def note(self, key: Key) -> None:
        if key not in self.read:
            self.read[key] = self.values.digest(key)


class RecordingSite:
    """The site as templates see it: reads pass through and are noted."""

    def __init__(self, site: Any, recorder: Recorder) -> None:
        self._site, self._recorder = site, recorder

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._site, name)
        if isinstance(value, Mapping):
            value = RecordingMapping(name, value, self._recorder)
        else:
            self._recorder.note(("attr", name))
        # Kept on this proxy, so the next read of the name skips this method: it is
        # noted already, and a mapping notes each key read through the same wrapper.
        self.__dict__[name] = value
        return value


class RecordingMapping(Mapping[Any, Any]):
    """A mapping of the site whose single-key reads are noted key by key."""

    def __init__(self, name: str, mapping: Mapping[Any, Any], recorder: Recorder) -> None:
        self._name, self._mapping, self._recorder = name, mapping, recorder

    def __getitem__(self, key: Any) -> Any:
        self._recorder.note(("item", self._name, key))
        return self._mapping[key]

    def __contains__(self, key: object) -> bool:
        self._recorder.note(("item", self._name, key))  # type: ignore[arg-type]
        return key in self._mapping

    def get(self, key: Any, default: Any = None) -> Any:
        self._recorder.note(("item", self._name, key))
        return self._mapping.get(key, default)

    def __iter__(self) -> Iterator[Any]:
        self._recorder.note(("attr", self._name))
        return iter(self._mapping)

    def __len__(self) -> int:
        self._recorder.note(("keys", self._name))
        return len(self._mapping)


def template_closure(env: jinja2.Environment, name: str) -> tuple[str, ...]:
    """The template and every template it extends, includes or imports, sorted.

    A dynamic name (a variable) cannot be followed: then every template counts.
    """
    assert env.loader is not None
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source, _, _ = env.loader.get_source(env, current)
        for ref in jinja2.meta.find_referenced_templates(env.parse(source)):
            if ref is None:
                return tuple(sorted(env.list_templates()))
            todo.append(ref)
    return tuple(sorted(seen))


def is_stale(read: Mapping[Key, str], values: Values) -> bool:
    """True when any value the output read has changed."""
    return not all(values.unchanged(key, old) for key, old in read.items())
