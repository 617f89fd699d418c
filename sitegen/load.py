"""Read the project's files: decode them, split front matter, parse YAML.

This is the only stage that reads content from disk. It knows the layout of `content/`
(which files are pages, which are fact tables) but nothing about what the fields mean.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import urls
from .errors import Diagnostic, Location, Report, printable
from .layout import CONTENT, STATIC, TEMPLATES, not_content
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


FileKey = tuple[int, int, int, int]


@dataclass
class FileCache:
    """Files parsed by earlier builds, so an unchanged file is not read or parsed again.

    A file counts as unchanged while its modification and inode change times, size and
    inode are (an edit that puts the modification time back still moves the change
    time); the preview server also forgets the paths its watcher reports.
    """

    entries: dict[str, tuple[FileKey, Any]] = field(default_factory=dict)

    @staticmethod
    def key(path: Path) -> FileKey | None:
        try:
            return FileCache.key_of(path.stat())
        except OSError:
            return None

    @staticmethod
    def key_of(info: os.stat_result) -> FileKey:
        return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)

    def get(self, rel: str, key: FileKey | None) -> Any:
        entry = self.entries.get(rel)
        return entry[1] if entry is not None and key is not None and entry[0] == key else None

    def put(self, rel: str, key: FileKey | None, value: Any) -> None:
        if key is not None:
            self.entries[rel] = (key, value)

    def forget(self, rel: str) -> None:
        self.entries.pop(rel, None)


def relpath(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


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


def _visible_under(base: Path, path: Path) -> bool:
    """Whether `path`, links resolved, is inside `base` (resolved) and names no hidden
    file or folder there (.git, .env: never read, never published)."""
    try:
        inner = path.resolve().relative_to(base.resolve())
    except ValueError:
        return False
    return not any(part.startswith(".") for part in inner.parts)


def _in_sources(root: Path, path: Path) -> bool:
    """A link inside the source folders must lead inside one of them (not to the
    project's .git/config or .env, not to the next folder up)."""
    return any(_visible_under(root / folder, path) for folder in (CONTENT, TEMPLATES, STATIC))


def _walk(root: Path, folder: str, report: Report) -> dict[str, FileKey]:
    """The files under a project folder, sorted, each with its FileCache key; refuse
    what cannot be read safely.

    Refused, each with an error: a symbolic link in the folder, hidden or not, that
    leads outside content/, templates/ and static/ or to a hidden file there (the
    folder itself may be a link inside the project), a linked folder that loops back or is
    already listed, anything but a regular file (a pipe would block the build, a broken
    link could not be copied), a name with a backslash, a control character or bytes
    that are not UTF-8, and a folder that cannot be listed (said as such, never taken
    for an empty one). One system call per folder (scandir) and one per file (its stat).
    """
    base = root / folder
    if base.is_symlink() and not _visible_under(root, base):  # in the project, not hidden
        report.error(Location(folder), _FOLDER_OUT, _COPY_FOLDER)
        return {}
    if not base.is_dir():
        return {}
    found: dict[str, FileKey] = {}
    seen = {base.resolve()}
    prefix = len(str(root)) + 1
    todo = [str(base)]
    while todo:
        here = todo.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            report.error(
                Location(printable(here[prefix:].replace(os.sep, "/"))),
                f"the folder cannot be read: {exc.strerror or exc}",
                "check that it exists and that you may read it",
            )
            continue
        clashing = _same_but_for_case(entries, prefix, report)
        for entry in entries:
            if entry.name in clashing:
                continue
            name, rel = entry.name, entry.path[prefix:].replace(os.sep, "/")
            linked = entry.is_symlink()
            if entry.is_dir():
                if linked:
                    if not _linked_folder(root, Path(entry.path), seen, report):
                        continue
                elif not_content(name) or _bad_name(name, rel, report):
                    continue
                else:
                    seen.add(Path(entry.path).resolve())
                if not not_content(name):
                    todo.append(entry.path)
                continue
            if linked and not _in_sources(root, Path(entry.path)):
                report.error(Location(rel), _LINK_OUT, _COPY_FILE)
                continue
            if not_content(name):
                continue  # hidden files and editors' swap, backup and temporary files
            if _bad_name(name, rel, report):
                continue
            try:
                info = entry.stat()
            except OSError:
                info = None
            if info is None or not stat.S_ISREG(info.st_mode):
                report.error(
                    Location(rel),
                    "not a regular file (a broken link, a pipe, a socket or a device)",
                    "replace it with a plain file or remove it",
                )
                continue
            found[rel] = FileCache.key_of(info)
    return dict(sorted(found.items()))


_LINK_OUT = "symbolic link leads outside content/, templates/ and static/, or to a hidden file"
_FOLDER_OUT = "symbolic link leads outside the project, or to a hidden folder"
_COPY_FILE = "copy the file in instead"
_COPY_FOLDER = "copy the folder in instead"
_BAD_CHARACTER = re.compile(r"[\\\x00-\x1f\x7f]")


def _bad_name(name: str, rel: str, report: Report) -> bool:
    """Report a name no output can carry safely: backslashes, control characters,
    non-UTF-8, and names Windows cannot hold (CON.md, trail..md), where the site may be
    checked out or served from."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        problem = "is not valid UTF-8"
    else:
        if _BAD_CHARACTER.search(name):
            problem = "has a backslash or a control character"
        elif name.split(".")[0].upper() in _RESERVED:
            problem = f"'{name.split('.')[0]}' is a device on Windows: no file there can have it"
        elif name.rsplit(".", 1)[0].endswith((".", " ")) or name.endswith((".", " ")):
            problem = "ends a part in a dot or a space, which Windows drops"
        else:
            return False
    report.error(
        Location(printable(rel)),
        f"the name {problem}",
        "rename it with letters, digits, hyphens, underscores and dots",
    )
    return True


# Windows's device names, with any extension (CON.md is CON there).
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)}
)


def _same_but_for_case(entries: list[os.DirEntry[str]], prefix: int, report: Report) -> set[str]:
    """Names in one folder that differ only in case (How-We-Source.md, how-we-source.md):
    one file on macOS and Windows. Each after the first is reported, and left out."""
    seen: dict[str, str] = {}
    clashing = set()
    for entry in entries:
        if not_content(entry.name):
            continue
        key = entry.name.casefold()
        if key in seen:
            rel = entry.path[prefix:].replace(os.sep, "/")
            report.error(
                Location(printable(rel)),
                f"the name differs from '{printable(seen[key])}' only in case: one file on "
                "macOS and Windows",
                "rename one of them",
            )
            clashing.add(entry.name)
        else:
            seen[key] = entry.name
    return clashing


def _linked_folder(root: Path, path: Path, seen: set[Path], report: Report) -> bool:
    """A linked folder is followed only when it stays inside the project and is new."""
    if not _in_sources(root, path):
        report.error(Location(relpath(root, path)), _LINK_OUT, _COPY_FOLDER)
        return False
    real = path.resolve()
    if real in seen or path.parent.resolve().is_relative_to(real):
        report.error(
            Location(relpath(root, path)),
            "symbolic link to a folder that is already read (a loop or a second copy)",
            "remove the link",
        )
        return False
    seen.add(real)
    return True


Parsed = MarkdownFile | YamlDoc | None
# Parses project files, (parsed, what it found) for each, in order: one by one or spread
# over processes (parallel.parse_files)
ParseMany = Callable[[Path, list[str]], list[tuple[Parsed, list[Diagnostic]]]]


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


def _parse(root: Path, rel: str, report: Report, cache: FileCache | None) -> Parsed:
    """Read and parse one content file, or take it from the cache if it did not change."""
    return _parse_all(root, {rel: FileCache.key(root / rel)}, report, cache, parse_in_turn)[rel]


def _wanted(inner: str) -> bool:
    """Whether a file under content/ (path inside it) is one the site is made of."""
    if inner.endswith(".md"):
        return all(_URL_SAFE.fullmatch(part) for part in inner.removesuffix(".md").split("/"))
    return inner in ("site.yaml", "sources.yaml") or (
        inner.startswith("countries/") and inner.count("/") == 1 and inner.endswith(".yaml")
    )


def load_page(root: Path, rel: str, report: Report, cache: FileCache) -> MarkdownFile | None:
    """Read one Markdown page again (the command line's prose splice, shortcut.py)."""
    cache.forget(rel)
    page = _parse(root, rel, report, cache)
    return page if isinstance(page, MarkdownFile) else None


def load_project(
    root: Path,
    report: Report,
    cache: FileCache | None = None,
    parse_many: ParseMany = parse_in_turn,
) -> Project:
    """Read every input file; report what cannot be read or parsed."""
    settings = sources = None
    countries: list[YamlDoc] = []
    pages: list[MarkdownFile] = []
    if not (root / CONTENT).is_dir():
        report.error(Location(CONTENT), "no content folder", f"create {root / CONTENT}")
    content = _walk(root, CONTENT, report)
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
        d.location.path == settings_path or (d.location.path, d.message) == (CONTENT, _FOLDER_OUT)
        for d in report.errors
    ):
        report.error(
            Location(settings_path),
            "missing settings file",
            "create content/site.yaml with title, description, language, base_url, "
            "publisher and licence",
        )
    templates = tuple(r[len(TEMPLATES) + 1 :] for r in _walk(root, TEMPLATES, report))
    static_files = tuple(r[len(STATIC) + 1 :] for r in _walk(root, STATIC, report))
    return Project(root, settings, sources, tuple(countries), tuple(pages), templates, static_files)
