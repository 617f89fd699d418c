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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
import jinja2.meta

Key = tuple[str, ...]
PAGE_LIST: Key = ("attr", "pages")
_ABSENT = "<absent>"


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
    else:  # a dataclass: its name and fields
        parts.append(kind.__name__ + "(")
        for name in _FIELDS[kind]:
            parts.append(name + "=")
            _encode(getattr(value, name), out)
        parts.append(")")


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

    def __init__(self) -> None:
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


def digest(value: Any) -> str:
    """A stable digest of an immutable model value."""
    digester = _Digester()
    _encode(value, digester)
    return digester.hexdigest()


class Values:
    """The current site's value, and its digest, for each dependency key, once per build.

    Records keep digests, so they can be saved in the cache and compared in a later
    process. Digests are cheap: a converted document digests as its source key, not its
    HTML, and each key is digested at most once per build, however many pages read it.
    """

    def __init__(self, site: Any, pages: Mapping[str, Any], templates: Callable[[str], str]):
        self._site, self._pages, self._templates = site, pages, templates
        self._digests: dict[Key, str] = {}

    def digest(self, key: Key) -> str:
        if key not in self._digests:
            self._digests[key] = digest(self._lookup(key))
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
        if kind == "attr":
            return getattr(self._site, key[1])
        if kind == "item":
            return getattr(self._site, key[1]).get(key[2], _ABSENT)
        if kind == "keys":
            return tuple(sorted(getattr(self._site, key[1])))
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
