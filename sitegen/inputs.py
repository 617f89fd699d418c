"""The project's input files: found by one walk of content/, templates/ and static/.

The first stage of every build. Each file comes with its FileKey, which says whether it
changed since a build saw it (a build that finds every key as the last one left it has
nothing to do); names and links that cannot be read or published safely are refused
here. Light on purpose: a build that finds nothing changed imports little else.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Location, Report, printable
from .filekeys import FileKey, key_of
from .layout import CONTENT, STATIC, TEMPLATES, not_content


@dataclass
class FileCache:
    """Files parsed by earlier builds, so an unchanged file is not read or parsed again.

    A file counts as unchanged while its FileKey is the same; the preview server also
    forgets the paths its watcher reports. Filled from .cache/ in a new process; `fresh`
    are the paths parsed since it was last saved there.
    """

    entries: dict[str, tuple[FileKey, Any]] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)

    def get(self, rel: str, key: FileKey | None) -> Any:
        entry = self.entries.get(rel)
        return entry[1] if entry is not None and key is not None and entry[0] == key else None

    def put(self, rel: str, key: FileKey | None, value: Any) -> None:
        if key is not None:
            self.entries[rel] = (key, value)
            self.fresh.add(rel)

    def forget(self, rel: str) -> None:
        self.entries.pop(rel, None)


def relpath(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


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


def walk(root: Path, folder: str, report: Report) -> dict[str, FileKey]:
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
        report.error(Location(folder), FOLDER_OUT, _COPY_FOLDER)
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
                f"{FOLDER_UNREADABLE}: {exc.strerror or exc}",
                "check that it exists and that you may read it",
            )
            continue
        clashing = _same_but_for_case(entries, prefix, report)
        for entry in entries:
            if entry.name in clashing:
                continue
            name, rel = entry.name, entry.path[prefix:].replace(os.sep, "/")
            linked = entry.is_symlink()
            try:
                is_folder = entry.is_dir()
            except OSError as exc:  # a link that loops, a failing disk: it cannot be looked at
                if not not_content(name):
                    _cannot_stat(rel, exc, report)
                continue
            if is_folder:
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
                info: os.stat_result | None = entry.stat()
            except OSError as exc:
                if not (linked and isinstance(exc, FileNotFoundError)):  # not a broken link
                    _cannot_stat(rel, exc, report)
                    continue
                info = None
            if info is None or not stat.S_ISREG(info.st_mode):
                report.error(
                    Location(rel),
                    "not a regular file (a broken link, a pipe, a socket or a device)",
                    "replace it with a plain file or remove it",
                )
                continue
            found[rel] = key_of(info)
    return dict(sorted(found.items()))


def _cannot_stat(rel: str, exc: OSError, report: Report) -> None:
    """A file the system cannot look at: said in its words (not as "not a regular file")."""
    report.error(
        Location(printable(rel)),
        f"the file cannot be read: {exc.strerror or exc}",
        "check that it exists and that you may read it",
    )


_LINK_OUT = "symbolic link leads outside content/, templates/ and static/, or to a hidden file"
FOLDER_OUT = "symbolic link leads outside the project, or to a hidden folder"
FOLDER_UNREADABLE = "the folder cannot be read"
_COPY_FILE = "copy the file in instead"
_COPY_FOLDER = "copy the folder in instead"
_BAD_CHARACTER = re.compile(r"[\\\x00-\x1f\x7f]")
# Windows holds none of these in a name, nor a backslash or a control character
_NOT_ON_WINDOWS = re.compile(r'[<>:"|?*]')


def _bad_name(name: str, rel: str, report: Report) -> bool:
    """Report a name no output can carry safely: backslashes, control characters,
    non-UTF-8, and names Windows cannot hold (a:b.txt, x|y.html, CON.md, trail..md),
    where the site may be checked out or served from."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        problem = "is not valid UTF-8"
    else:
        if _BAD_CHARACTER.search(name):
            problem = "has a backslash or a control character"
        elif found := _NOT_ON_WINDOWS.search(name):
            problem = (
                f"has '{found.group()}' in it: no name on Windows can hold any of < > : \" | ? *"
            )
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


@dataclass(frozen=True)
class Inputs:
    """Every input file of a project, project-relative, with its FileKey."""

    content: dict[str, FileKey]
    templates: dict[str, FileKey]
    static: dict[str, FileKey]

    def keys(self) -> dict[str, FileKey]:
        """All of them, as a build's state records them (see `settled`)."""
        return {**self.content, **self.templates, **self.static}


def find_inputs(root: Path, report: Report) -> Inputs:
    """Walk the three source folders; report what cannot be read or used safely."""
    if not (root / CONTENT).is_dir():
        report.error(Location(CONTENT), "no content folder", f"create {root / CONTENT}")
    return Inputs(
        walk(root, CONTENT, report), walk(root, TEMPLATES, report), walk(root, STATIC, report)
    )


# A file changed this recently may change again within the same tick of the file system's
# clock (a few ms on Linux) and keep its FileKey: it is not trusted to be unchanged ("racy
# git"). Coarser than any Linux file system's clock, finer than a person's edits.
RACY_NS = 50_000_000


def settled(keys: Mapping[str, FileKey], since_ns: int) -> dict[str, FileKey]:
    """`keys` as a build may record them when its walk began at `since_ns`: a file
    changed within RACY_NS before then gets a key no file has (its change time -1), so
    the next build never takes it for unchanged."""
    racy = since_ns - RACY_NS
    return {
        rel: key if max(key.mtime_ns, key.ctime_ns) < racy else key._replace(ctime_ns=-1)
        for rel, key in keys.items()
    }
