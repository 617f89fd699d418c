"""Read the project's files: decode them, split front matter, parse YAML.

This is the only stage that reads content from disk. It knows the layout of `content/`
(which files are pages, which are fact tables) but nothing about what the fields mean.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import urls
from .errors import Diagnostic, Location, Report
from .filekeys import FileKey
from .inputs import FOLDER_OUT, FOLDER_UNREADABLE, FileCache, Inputs
from .layout import CONTENT, STATIC, TEMPLATES
from .yamldoc import YamlDoc, parse_yaml

FRONT_MATTER_FENCE = "---"
# Python-Markdown takes a few seconds for 2 MB of prose; far larger files are mistakes.
MAX_FILE_BYTES = 2_000_000
# A page's path is its URL: each folder and file name (without .md) must fit in one.
_URL_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class MarkdownFile:
    """A Markdown page: its front matter, its body, and the line where the body starts."""

    path: str
    front: YamlDoc
    body: str
    body_line: int
    digest: str

    @property
    def url(self) -> str:
        """The URL of the page it makes, which its relative links are written against."""
        return urls.url_for_content(self.path.removeprefix(f"{CONTENT}/")) or ""

    def to_json(self) -> list[Any]:
        return [self.path, self.front.to_json(), self.body, self.body_line, self.digest]

    @classmethod
    def from_json(cls, value: Any) -> MarkdownFile:
        """From `to_json`; ValueError (or a TypeError) if it is not what it gives."""
        path, front, body, body_line, digest = value
        if not (isinstance(path, str) and isinstance(body, str) and isinstance(digest, str)):
            raise ValueError("a Markdown file's path, body or digest is not text")
        if type(body_line) is not int:
            raise ValueError("a Markdown file's body line is not a number")
        return cls(path, YamlDoc.from_json(front), body, body_line, digest)


@dataclass(frozen=True)
class Project:
    """Everything read from disk, not yet validated."""

    root: Path
    settings: YamlDoc | None
    sources: YamlDoc | None
    countries: tuple[YamlDoc, ...]
    pages: tuple[MarkdownFile, ...]
    templates: tuple[str, ...]
    static_files: tuple[str, ...]


def read_text(root: Path, rel: str, report: Report) -> str | None:
    """Decode a file as UTF-8; drop a byte-order mark; turn CRLF and CR into LF.

    Columns in messages count characters as an editor shows them (no byte-order mark).
    Only regular files of at most MAX_FILE_BYTES are read (a pipe would block the build).
    """
    try:
        info = os.stat(root / rel)
        if not stat.S_ISREG(info.st_mode):
            report.error(Location(rel), "not a regular file", "replace it with a plain file")
            return None
        if info.st_size > MAX_FILE_BYTES:
            report.error(
                Location(rel),
                f"the file is {info.st_size / 1e6:.1f} MB; a content file may be at most "
                f"{MAX_FILE_BYTES / 1e6:.0f} MB",
                "split a long page into several, and put large data in static/",
            )
            return None
        with open(root / rel, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES]
    except OSError as exc:
        report.error(Location(rel), f"cannot read file: {exc.strerror}", "check its permissions")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].removeprefix(b"\xef\xbb\xbf")
        before = before.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        report.error(
            Location(rel, line, col),
            f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})",
            "save the file as UTF-8",
        )
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        index = text.index("\x00")
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        report.error(Location(rel, line, col), "the file contains a NUL character", "remove it")
        return None
    return text


def split_front_matter(text: str, rel: str, report: Report) -> MarkdownFile | None:
    """Split `---` front matter from the Markdown body, keeping line numbers right."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != FRONT_MATTER_FENCE:
        report.error(
            Location(rel, 1, 1),
            "missing front matter",
            "start the file with a line '---', then 'title: ...', then another '---'",
        )
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() in (FRONT_MATTER_FENCE, "..."):
            front_text = "\n".join(lines[1:index])
            body = "\n".join(lines[index + 1 :])
            break
    else:
        report.error(
            Location(rel, 1, 1),
            "front matter is never closed",
            "add a line '---' after the last front matter field",
        )
        return None
    front = parse_yaml(front_text, rel, report, line_offset=1)
    if front is None:
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()
    return MarkdownFile(rel, front, body, index + 2, digest)


Parsed = MarkdownFile | YamlDoc | None
# Parses project files, (parsed, what it found) for each, in order: one by one or spread
# over processes (parallel.parse_files)
ParseMany = Callable[[Path, list[str]], list[tuple[Parsed, list[Diagnostic]]]]


def parsed_row(key: FileKey, parsed: MarkdownFile | YamlDoc) -> tuple[str, bytes] | None:
    """A parsed file as the cache keeps it, with the FileKey it was parsed at; None if
    it holds a value JSON cannot carry (then it is parsed again by the next process)."""
    try:
        value = parsed.to_json()
        kind = "md" if isinstance(parsed, MarkdownFile) else "yaml"
        return json.dumps([list(key), kind, value], ensure_ascii=False), b""
    except (KeyError, TypeError, ValueError):
        return None


def parsed_from_row(text: str, _: bytes) -> tuple[FileKey, MarkdownFile | YamlDoc]:
    """From `parsed_row`; an exception if it is not what it gives (cache.Store takes any
    as a damaged row)."""
    key, kind, value = json.loads(text)
    if not (len(key) == 4 and all(type(n) is int for n in key)):
        raise ValueError("a parsed file's key is not four numbers")
    if kind not in ("md", "yaml"):
        raise ValueError(f"not a kind of parsed file: {kind!r:.20}")
    parsed = MarkdownFile.from_json(value) if kind == "md" else YamlDoc.from_json(value)
    return (key[0], key[1], key[2], key[3]), parsed


def parse_file(root: Path, rel: str) -> tuple[Parsed, list[Diagnostic]]:
    """Read and parse one content file; what is wrong with it is returned, as data."""
    report = Report()
    text = read_text(root, rel, report)
    parsed: Parsed = None
    if text is not None and rel.endswith(".md"):
        parsed = split_front_matter(text, rel, report)
    elif text is not None:
        parsed = parse_yaml(text, rel, report)
    return parsed, report.diagnostics


def parse_in_turn(root: Path, rels: list[str]) -> list[tuple[Parsed, list[Diagnostic]]]:
    """Parse files one after another, in this process (parallel.parse_files spreads them)."""
    return [parse_file(root, rel) for rel in rels]


def _parse_all(
    root: Path,
    keys: Mapping[str, FileKey | None],
    report: Report,
    cache: FileCache | None,
    parse_many: ParseMany,
) -> dict[str, Parsed]:
    """Parse the files of `keys` (path: FileCache key), taking from the cache each file
    that did not change since."""
    rels = list(keys)
    found: dict[str, Parsed] = {}
    for rel in rels:
        if cache is not None and (cached := cache.get(rel, keys[rel])) is not None:
            found[rel] = cached
    missing = [rel for rel in rels if rel not in found]
    for rel, (parsed, diagnostics) in zip(missing, parse_many(root, missing), strict=True):
        report.diagnostics.extend(diagnostics)
        found[rel] = parsed
        if parsed is not None and cache is not None:
            cache.put(rel, keys[rel], parsed)
    return found


def _wanted(inner: str) -> bool:
    """Whether a file under content/ (path inside it) is one the site is made of."""
    if inner.endswith(".md"):
        return all(_URL_SAFE.fullmatch(part) for part in inner.removesuffix(".md").split("/"))
    return inner in ("site.yaml", "sources.yaml") or (
        inner.startswith("countries/") and inner.count("/") == 1 and inner.endswith(".yaml")
    )


def _content_unread(error: Diagnostic) -> bool:
    """Whether `error` says content/ itself was not read (a link out, a folder that
    cannot be listed): then a missing settings file is not news, and not said."""
    return error.location.path == CONTENT and (
        error.message == FOLDER_OUT or error.message.startswith(FOLDER_UNREADABLE)
    )


def load_project(
    root: Path,
    inputs: Inputs,
    report: Report,
    cache: FileCache | None = None,
    parse_many: ParseMany = parse_in_turn,
) -> Project:
    """Read and parse the input files the walk found (inputs.find_inputs); report what
    cannot be read or parsed."""
    settings = sources = None
    countries: list[YamlDoc] = []
    pages: list[MarkdownFile] = []
    content = inputs.content
    wanted = {rel: key for rel, key in content.items() if _wanted(rel[len(CONTENT) + 1 :])}
    parsed = _parse_all(root, wanted, report, cache, parse_many)
    for rel in content:
        inner = rel[len(CONTENT) + 1 :]
        if inner.endswith(".md") and not all(
            _URL_SAFE.fullmatch(part) for part in inner.removesuffix(".md").split("/")
        ):
            report.error(
                Location(rel),
                f"the page's path '{inner}' cannot be its URL",
                "name folders and Markdown files with letters, digits, hyphens, "
                "underscores and dots only, like new-page.md",
            )
        elif inner.endswith(".md"):
            page = parsed[rel]
            if isinstance(page, MarkdownFile):
                pages.append(page)
        elif _wanted(inner):
            doc = parsed[rel]
            if not isinstance(doc, YamlDoc):
                continue
            if inner == "site.yaml":
                settings = doc
            elif inner == "sources.yaml":
                sources = doc
            else:
                countries.append(doc)
        elif inner.endswith((".yaml", ".yml")):
            report.error(
                Location(rel),
                "unknown YAML file",
                "YAML goes in content/site.yaml, content/sources.yaml or "
                "content/countries/<slug>.yaml",
            )
        else:
            report.warning(
                Location(rel),
                "file is not used",
                "content/ holds only .md and .yaml files; put images and downloads in static/",
            )
    settings_path = f"{CONTENT}/site.yaml"
    if settings is None and not any(
        d.location.path == settings_path or _content_unread(d) for d in report.errors
    ):
        report.error(
            Location(settings_path),
            "missing settings file",
            "create content/site.yaml with title, description, language, base_url, "
            "publisher and licence",
        )
    templates = tuple(r[len(TEMPLATES) + 1 :] for r in inputs.templates)
    static_files = tuple(r[len(STATIC) + 1 :] for r in inputs.static)
    return Project(root, settings, sources, tuple(countries), tuple(pages), templates, static_files)
