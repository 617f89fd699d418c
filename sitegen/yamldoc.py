"""YAML parsing that keeps the line and column of every key and value.

PyYAML's composer gives nodes with marks; we build plain Python values from them and
keep a map from key path to position, so that later stages can point at the exact line.
Aliases are refused (they make "billion laughs" expansions possible and are never needed
in content), as are duplicate keys (PyYAML would silently keep the last one).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Location, Report, printable

try:  # The C loader is several times faster where libyaml is available.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

KeyPath = tuple[str | int, ...]
_BOOL = "tag:yaml.org,2002:bool"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
# Numbers YAML 1.1 reads in ways no writer means: a leading zero (octal), colons (base
# 60), underscores, 0b binary. We read them as text, as written (YAML 1.2 reads the last
# three as text too, and 0123 as 123); every other scalar is read as YAML 1.1 reads it.
_YAML11_NUMBER = re.compile(r"[-+]?(0[0-9_]+|0b[01_]+|[0-9][0-9_]*(:[0-9_]+)+(\.[0-9_]*)?|.*_.*)")
# Content needs four levels at most. libyaml's composer recurses once per level in C (it
# crashes the process past some 100,000 levels) and so does `build` below, in Python.
MAX_DEPTH = 50


@dataclass(frozen=True)
class YamlDoc:
    """Parsed YAML plus where each value (and each mapping key) came from."""

    path: str
    data: Any
    value_marks: Mapping[KeyPath, tuple[int, int]]
    key_marks: Mapping[KeyPath, tuple[int, int]]
    # How each key YAML reads as more than its text (1, true, null, 1.50) was written:
    # messages quote that.
    key_texts: Mapping[KeyPath, str] = field(default_factory=dict)
    # The same for each value whose text form is not as written (TRUE, 1.50, 0x1F).
    value_texts: Mapping[KeyPath, str] = field(default_factory=dict)

    def at(self, keypath: KeyPath = ()) -> Location:
        """The location of the value at `keypath`, or of its nearest parent."""
        return self._find(self.value_marks, keypath)

    def key_at(self, keypath: KeyPath) -> Location:
        """The location of the key that names `keypath` (falls back to the value)."""
        if keypath in self.key_marks:
            line, col = self.key_marks[keypath]
            return Location(self.path, line, col)
        return self.at(keypath)

    def key_text(self, keypath: KeyPath) -> str:
        """The key that names `keypath` as the writer wrote it (`true`, not True)."""
        return self.key_texts.get(keypath, str(keypath[-1]) if keypath else "")

    def value_text(self, keypath: KeyPath) -> str | None:
        """The scalar at `keypath` as the writer wrote it, where its value's text form
        differs (`TRUE`, not True; `1.50`, not 1.5); None where it does not."""
        return self.value_texts.get(keypath)

    def _find(self, marks: Mapping[KeyPath, tuple[int, int]], keypath: KeyPath) -> Location:
        while keypath not in marks and keypath:
            keypath = keypath[:-1]
        line, col = marks.get(keypath, (1, 1))
        return Location(self.path, line, col)

    def to_json(self) -> list[Any]:
        """As plain JSON values, for the cache (`from_json` gives it back exactly)."""
        return [
            self.path,
            _pack(self.data),
            [[list(k), *mark] for k, mark in self.value_marks.items()],
            [[list(k), *mark] for k, mark in self.key_marks.items()],
            [[list(k), text] for k, text in self.key_texts.items()],
            [[list(k), text] for k, text in self.value_texts.items()],
        ]

    @classmethod
    def from_json(cls, value: Any) -> YamlDoc:
        """From `to_json`; ValueError (or a TypeError) if it is not what it gives."""
        path, data, values, keys, texts, value_texts = value
        if not isinstance(path, str):
            raise ValueError("a YAML document's path is not text")
        return cls(
            path,
            _unpack(data),
            _marks(values),
            _marks(keys),
            _key_texts(texts),
            _key_texts(value_texts),
        )


# Tags for what JSON has no form of; scalars JSON has (text, numbers, true, false, null)
# are bare, everything else is [tag, payload].
_PACKED = {list: "l", tuple: "t", dict: "m", dt.date: "d", dt.datetime: "dt", bytes: "b"}


def _pack(value: Any) -> Any:
    """A value YAML gave, as JSON values; in the cache, so unpacked it is the same value
    of the same types (a tuple stays a tuple, a date a date, a number key a number)."""
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return value
    tag = _PACKED[kind]  # KeyError: nothing YAML's safe loader makes
    if tag in ("l", "t"):
        return [tag, [_pack(item) for item in value]]
    if tag == "m":
        return [tag, [[_pack(k), _pack(v)] for k, v in value.items()]]
    if tag == "b":
        return [tag, base64.b64encode(value).decode()]
    return [tag, value.isoformat()]


def _unpack(value: Any) -> Any:
    if value is None or type(value) in (str, int, float, bool):
        return value
    tag, payload = value
    if tag in ("l", "t"):
        items = [_unpack(item) for item in payload]
        return items if tag == "l" else tuple(items)
    if tag == "m":
        return {_unpack(k): _unpack(v) for k, v in payload}
    if tag == "b":
        return base64.b64decode(payload, validate=True)
    if tag == "d":
        return dt.date.fromisoformat(payload)
    if tag == "dt":
        return dt.datetime.fromisoformat(payload)
    raise ValueError(f"not a packed YAML value: {tag!r:.20}")


def _keypath(value: Any) -> KeyPath:
    if not all(part is None or type(part) in (str, int, bool) for part in value):
        raise ValueError("a YAML key path holds something other than keys")
    return tuple(value)


def _marks(value: Any) -> dict[KeyPath, tuple[int, int]]:
    marks = {}
    for keypath, line, col in value:
        if not (type(line) is int and type(col) is int):
            raise ValueError("a YAML position is not two numbers")
        marks[_keypath(keypath)] = (line, col)
    return marks


def _key_texts(value: Any) -> dict[KeyPath, str]:
    """Keys or values as written, by key path, from the cache."""
    texts = {}
    for keypath, text in value:
        if not isinstance(text, str):
            raise ValueError("a YAML key or value as written is not text")
        texts[_keypath(keypath)] = text
    return texts


class _AliasFound(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _Unreadable(Exception):
    """A scalar PyYAML's constructor cannot make a value of (it raises what it meets)."""

    def __init__(self, node: yaml.ScalarNode, problem: Exception) -> None:
        self.node, self.problem = node, problem


_KINDS = {
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:null": "an empty value",
    "tag:yaml.org,2002:binary": "binary data",
}


def _unreadable(
    exc: _Unreadable, loader: Any, path: str, line_offset: int
) -> tuple[Location, str, str]:
    """What to tell a writer about a value YAML reads as a date or number it cannot be."""
    node = exc.node
    line, col = _pos(node, line_offset)
    value = node.value
    shown = printable(value if len(value) <= 40 else value[:40] + "...")
    kind = _KINDS.get(node.tag, "a value of its kind")
    if loader.resolve(yaml.ScalarNode, value, (True, False)) != node.tag:  # a !! tag
        return (
            Location(path, line, col),
            f"'{shown}' cannot be read as {kind}, as its tag asks",
            "remove the tag (the !! part), or quote the value if it is text",
        )
    if node.tag == "tag:yaml.org,2002:timestamp":
        return (
            Location(path, line, col),
            f"'{shown}' is not a real date",
            "check the year, month and day (there is no 30 February), or quote it if it is text",
        )
    if node.tag == "tag:yaml.org,2002:int":
        return (
            Location(path, line, col),
            f"'{shown}' is a number of {len(value)} digits",
            "a number this long is not content; quote it if it is text",
        )
    return (
        Location(path, line, col),
        f"'{shown}' cannot be read as {kind}",
        "quote it if it is text",
    )


class _DuplicateKey(Exception):
    def __init__(self, node: yaml.Node, first: yaml.Node) -> None:
        self.node, self.first = node, first


def _written(node: yaml.Node) -> str:
    """A key as its writer wrote it (a collection as a key is shown as such)."""
    return node.value if isinstance(node, yaml.ScalarNode) else repr(node.value)[:40]


def _pos(node: yaml.Node, line_offset: int) -> tuple[int, int]:
    return node.start_mark.line + 1 + line_offset, node.start_mark.column + 1


def parse_yaml(text: str, path: str, report: Report, line_offset: int = 0) -> YamlDoc | None:
    """Parse one YAML document; report malformed input at its line and return None."""
    value_marks: dict[KeyPath, tuple[int, int]] = {}
    key_marks: dict[KeyPath, tuple[int, int]] = {}
    deep = _too_deep(text)
    if deep is not None:
        report.error(
            Location(path, deep.line + 1 + line_offset, deep.column + 1),
            f"YAML nested more than {MAX_DEPTH} levels deep",
            "content needs only a few levels; check the brackets and the indentation",
        )
        return None
    key_texts: dict[KeyPath, str] = {}
    value_texts: dict[KeyPath, str] = {}
    loader = _Loader(text)
    seen: set[int] = set()

    def build(node: yaml.Node, keypath: KeyPath) -> Any:
        if id(node) in seen:
            raise _AliasFound(node)
        seen.add(id(node))
        value_marks[keypath] = _pos(node, line_offset)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            first_key_node: dict[Any, yaml.Node] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _AliasFound(key_node)
                key = build_key(key_node)
                if key in result:
                    raise _DuplicateKey(key_node, first_key_node[key])
                first_key_node[key] = key_node
                key_marks[(*keypath, key)] = _pos(key_node, line_offset)
                if key != (written := _written(key_node)):
                    key_texts[(*keypath, key)] = written
                result[key] = build(value_node, (*keypath, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*keypath, i)) for i, item in enumerate(node.value)]
        value = scalar(node)
        if value is not None and not isinstance(value, str) and str(value) != node.value:
            value_texts[keypath] = node.value
        return value

    def scalar(node: yaml.ScalarNode) -> Any:
        """A scalar's value, key or not: text as written where only YAML 1.1 reads more."""
        if node.tag == _BOOL and node.value.lower() not in ("true", "false"):
            return node.value  # YAML 1.2: 'no', 'yes', 'on', 'off' are text (code: NO)
        if node.tag in _NUMBERS and not node.style and _YAML11_NUMBER.fullmatch(node.value):
            return node.value  # YAML 1.1's 0123 (octal 83) and 1:30 (90): text, as written
        return construct(node)

    def construct(node: yaml.Node) -> Any:
        try:
            return loader.construct_object(node)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # 30 February, !!float abc, 5000 digits: not a value
            raise _Unreadable(node, exc) from None

    def build_key(node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return repr(node.value)[:40]
        key = scalar(node)
        return key if isinstance(key, str | int | bool) or key is None else str(key)

    try:
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        data = None if root is None else build(root, ())
    except _AliasFound as exc:
        line, col = _pos(exc.node, line_offset)
        report.error(
            Location(path, line, col),
            "YAML anchors, aliases and merge keys are not supported",
            "write the value out in full where it is needed",
        )
        return None
    except _Unreadable as exc:
        report.error(*_unreadable(exc, loader, path, line_offset))
        return None
    except _DuplicateKey as exc:
        line, col = _pos(exc.node, line_offset)
        first_line, _ = _pos(exc.first, line_offset)
        report.error(
            Location(path, line, col),
            f"duplicate key '{_written(exc.node)}' (first given on line {first_line})",
            "keep one of them",
        )
        return None
    except yaml.MarkedYAMLError as exc:
        where = _yaml_error_location(exc, path, line_offset)
        lines = text.split("\n")
        line_text = (
            lines[where.line - 1 - line_offset] if where.line - line_offset <= len(lines) else ""
        )
        report.error(where, *_describe_yaml_error(exc, "\t" in line_text))
        return None
    except yaml.YAMLError as exc:  # errors without a mark, e.g. from the reader
        report.error(Location(path, 1 + line_offset, 1), f"malformed YAML: {exc}", _YAML_HINT)
        return None
    return YamlDoc(path, data, value_marks, key_marks, key_texts, value_texts)


_YAML_HINT = "check the indentation, colons and quoting on this line"


def _too_deep(text: str) -> yaml.Mark | None:
    """Where the YAML first nests beyond MAX_DEPTH, found from the parser's event stream
    (which keeps its own stack and never recurses) before anything composes it."""
    if sum(map(text.count, "[{-?:")) <= MAX_DEPTH:
        return None  # every collection starts with one of these: too few to nest deeper
    try:
        return _first_too_deep(yaml.parse(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        if "nesting depth" not in str(getattr(exc, "problem", "")):
            return None  # malformed: the parse proper reports it
    # The libyaml of PyYAML 6.0.4 refuses flow collections 1000 deep while it scans
    # ahead, before it yields the event where ours stops: the pure-Python parser has no
    # such limit and finds that event, so the writer is shown the same place either way.
    try:
        return _first_too_deep(yaml.parse(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return None


def _first_too_deep(events: Iterator[yaml.Event]) -> yaml.Mark | None:
    depth = 0
    for event in events:
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return event.start_mark
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
    return None


def _yaml_error_location(exc: yaml.MarkedYAMLError, path: str, line_offset: int) -> Location:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return Location(path, 1 + line_offset, 1)
    return Location(path, mark.line + 1 + line_offset, mark.column + 1)


def _describe_yaml_error(exc: yaml.MarkedYAMLError, line_has_tab: bool) -> tuple[str, str]:
    problem = (exc.problem or "could not be parsed").strip()
    if line_has_tab or "\\t" in problem or "tab" in problem:
        return f"malformed YAML: {problem}", "YAML does not allow tabs here; indent with spaces"
    if exc.context:
        problem = f"{problem} ({exc.context.strip()})"
    return f"malformed YAML: {problem}", _YAML_HINT
