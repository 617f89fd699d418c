"""Read the project's files: decode them, split front matter, parse YAML.

This is the only stage that reads content from disk. It knows the layout of `content/`
(which files are pages, which are fact tables) but nothing about what the fields mean.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import Location, Report
from .yamldoc import YamlDoc, parse_yaml

CONTENT, TEMPLATES, STATIC = "content", "templates", "static"
FRONT_MATTER_FENCE = "---"


@dataclass(frozen=True)
class MarkdownFile:
    """A Markdown page: its front matter, its body, and the line where the body starts."""

    path: str
    front: YamlDoc
    body: str
    body_line: int
    digest: str


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


def relpath(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def read_text(root: Path, rel: str, report: Report) -> str | None:
    """Decode a file as UTF-8; drop a byte-order mark; turn CRLF and CR into LF.

    Columns in messages count characters as an editor shows them (no byte-order mark).
    """
    try:
        raw = (root / rel).read_bytes()
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


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _walk(root: Path, folder: str, report: Report) -> list[str]:
    """List files under a project folder, sorted; refuse links that leave the project."""
    base = root / folder
    if not base.is_dir():
        return []
    found = []
    for path in sorted(base.rglob("*")):
        rel = relpath(root, path)
        name = path.name
        if any(part.startswith(".") for part in Path(rel).parts) or name.endswith("~"):
            continue  # hidden files and editors' backup and swap files
        if path.is_symlink() and not _inside(root, path):
            report.error(
                Location(rel),
                "symbolic link points outside the project",
                "copy the file into the project instead",
            )
            continue
        if path.is_file():
            found.append(rel)
    return found


def load_project(root: Path, report: Report) -> Project:
    """Read every input file; report what cannot be read or parsed."""
    settings = sources = None
    countries: list[YamlDoc] = []
    pages: list[MarkdownFile] = []
    if not (root / CONTENT).is_dir():
        report.error(Location(CONTENT), "no content folder", f"create {root / CONTENT}")
    for rel in _walk(root, CONTENT, report):
        inner = rel[len(CONTENT) + 1 :]
        if inner.endswith(".md"):
            text = read_text(root, rel, report)
            page = None if text is None else split_front_matter(text, rel, report)
            if page is not None:
                pages.append(page)
        elif inner in ("site.yaml", "sources.yaml") or (
            inner.startswith("countries/") and inner.count("/") == 1 and inner.endswith(".yaml")
        ):
            text = read_text(root, rel, report)
            doc = None if text is None else parse_yaml(text, rel, report)
            if doc is None:
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
    if settings is None and not any(d.location.path == settings_path for d in report.errors):
        report.error(
            Location(settings_path),
            "missing settings file",
            "create content/site.yaml with title, description, language, base_url, "
            "publisher and licence",
        )
    templates = tuple(r[len(TEMPLATES) + 1 :] for r in _walk(root, TEMPLATES, report))
    static_files = tuple(r[len(STATIC) + 1 :] for r in _walk(root, STATIC, report))
    return Project(root, settings, sources, tuple(countries), tuple(pages), templates, static_files)
