"""Builds a new process can finish without the site model: nothing changed, or one prose edit.

A full build that uses the cache saves a BuildState: the Stat (size, modification and
inode change times, inode) of every input and every output, the build's diagnostics,
and, for each Markdown file whose page placed its body once, where that body sits in the
output and what the rest of the site saw of the file. The next build scans the inputs and compares:

- Nothing changed and the output is as it was left: nothing to do; the last build's
  diagnostics are shown again.
- One Markdown file changed, and its front matter, its document's shape (links,
  citations, headings, ids) and its quotations are the same, with no diagnostics before
  or after: the site is the same but for that page's body. Templates cannot read a body,
  only place it (render.BODY_SLOT), and no generated file reads one, so a full build
  would change that page alone, by its body. The file is converted and its HTML spliced
  into the old output's body range; the old output is checked against its digest first.
- Anything else: a full build.

A site with a search page never takes the second path: its index reads every body.
This module imports little on purpose: in a fresh process, imports are most of the cost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import Row, Store
from .engine import BUILD_KEY
from .errors import Diagnostic, Location, Report
from .layout import CONTENT, STATIC, TEMPLATES
from .options import Options, Result
from .write import (
    Stat,
    check_output,
    checksum,
    read_marker,
    safe_target,
    stat_of,
    write_marker,
)

if TYPE_CHECKING:
    from .load import MarkdownFile
    from .markdown import Document
    from .quotes import Quotation


@dataclass(frozen=True)
class ProseRecord:
    """One Markdown file whose page's output can take new prose by splicing."""

    output: str  # the output file, relative to the output folder
    front: str  # digest of the parsed front matter
    shape: str  # digest of Document.shape()
    quotes: str  # digest of its quotations and the sources they cite
    offset: int  # byte offset of the body's HTML in the output
    length: int  # its length in bytes
    checksum: str  # digest of the whole output file


@dataclass
class BuildState:
    """What the last successful build left, for the next process to compare against."""

    inputs: dict[str, Stat]
    manifest: dict[str, Stat]  # output file -> its Stat, as the build left it
    diagnostics: list[Diagnostic]
    pages: int
    options: str  # the build options that change the output, as text
    raw_html: str = ""  # the converter's setting, for converting an edited file alike
    prose: dict[str, ProseRecord] = field(default_factory=dict)  # by Markdown file
    search: tuple[str, tuple[str, ...]] = ("", ())  # the search index: its key, its files

    def to_json(self) -> str:
        return json.dumps(
            {
                "inputs": self.inputs,
                "manifest": self.manifest,
                "diagnostics": [d.to_json() for d in self.diagnostics],
                "pages": self.pages,
                "options": self.options,
                "raw_html": self.raw_html,
                "prose": {p: dataclasses.astuple(r) for p, r in self.prose.items()},
                "search": [self.search[0], list(self.search[1])],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> BuildState:
        """From `to_json`; ValueError (or a KeyError, TypeError) if not what a build wrote."""
        value = json.loads(text)
        key, files = value["search"]
        state = cls(
            inputs=_stats(value["inputs"]),
            manifest=_stats(value["manifest"]),
            diagnostics=[Diagnostic.from_json(d) for d in value["diagnostics"]],
            pages=int(value["pages"]),
            options=str(value["options"]),
            raw_html=str(value["raw_html"]),
            prose={str(p): ProseRecord(*r) for p, r in value["prose"].items()},
            search=(str(key), tuple(str(f) for f in files)),
        )
        for record in state.prose.values():
            if not all(type(n) is int for n in (record.offset, record.length)):
                raise ValueError("a prose record's body range is not two numbers")
        return state


def _stats(value: Mapping[str, Any]) -> dict[str, Stat]:
    """Stats as JSON gave them back. Not checked one by one: a Stat is only ever compared
    with a file's own, and a value no file has just counts as a change."""
    return {str(path): tuple(stat) for path, stat in value.items()}  # type: ignore[misc]


def load_state(store: Store) -> BuildState | None:
    """The last build's state from the cache, or None (none yet, or damaged: reported)."""
    return store.get("state", "build", lambda text, _: BuildState.from_json(text))


def state_row(state: BuildState) -> tuple[str, dict[str, Row], None]:
    """The change to the cache (Store.save) that leaves `state` for the next build."""
    return ("state", {"build": (state.to_json(), b"")}, None)


@dataclass(frozen=True)
class Spliced:
    """A prose edit applied: the output file rewritten, and the state that records it."""

    output: str
    state: BuildState


@dataclass
class Handoff:
    """What an attempt that needs the whole pipeline read already, to pass it on."""

    inputs: dict[str, Stat] | None = None
    state: BuildState | None = None
    found: Report = field(default_factory=Report)  # a damaged cache, reported either way


def attempt(options: Options) -> Result | Handoff:
    """A build as a new process runs it first: the Result of a shortcut when one applies,
    else what the full build (pipeline.run) needs of what was read."""
    inputs = state = None
    found = Report()
    if options.cache and options.write:
        # The inputs are scanned in a thread while this one loads the state and checks
        # the outputs: both are mostly waits on stat(), which let the other thread run.
        scanned: dict[str, dict[str, Stat]] = {}
        scanning = threading.Thread(target=lambda: scanned.update(inputs=scan(options.root)))
        scanning.start()
        store = Store(options.root, found)
        state = load_state(store)
        manifest = state.manifest if state is not None else None
        reason, intact = check_output(options.out, options.root, manifest)
        intact = intact and manifest is not None
        scanning.join()
        inputs = scanned["inputs"]
        if reason:
            store.close()
            found.error(Location(str(options.out)), reason, "choose another --out folder")
            return Result(report=found)
        try:
            done = _without_model(options, store, state if intact else None, inputs, found)
        finally:
            store.close()
        if done is not None:
            return done
    return Handoff(inputs, state, found)


def _without_model(
    options: Options,
    store: Store,
    state: BuildState | None,
    inputs: dict[str, Stat],
    found: Report,
) -> Result | None:
    """The result of a shortcut, or None when the build needs the whole pipeline.

    `state`: the last build's, or None if there is none or its output was changed since.
    """
    result = Result(report=found)
    if state is None:
        return None
    key = (BUILD_KEY, *options.output_key())
    if state.inputs == inputs and state.options == repr(key):
        result.unchanged = True
    else:
        spliced = splice_prose(options.root, options.out, state, inputs, key)
        if spliced is None:
            return None
        state = spliced.state
        store.save([state_row(state)])
        result.rerendered = (spliced.output,)
        result.converted = 1
    result.report.diagnostics.extend(state.diagnostics)
    result.pages = state.pages
    return result


# A file changed this recently may change again within the same tick of the file system's
# clock (a few ms on Linux) and keep its Stat: it is not trusted to be unchanged ("racy
# git"). Coarser than any Linux file system's clock, finer than a person's edits.
RACY_NS = 50_000_000


def scan(root: Path, folders: Iterable[str] = (CONTENT, TEMPLATES, STATIC)) -> dict[str, Stat]:
    """Every input file under `folders`, project-relative, with its Stat.

    A file changed in the last RACY_NS gets a Stat no file has (its change time -1), so
    the next build never takes it for unchanged. Linked folders are followed; a folder
    reached twice (a link loop) is read once.
    """
    racy = time.time_ns() - RACY_NS
    found: dict[str, Stat] = {}
    seen: set[str] = set()
    prefix = len(str(root)) + 1
    todo = [str(root / folder) for folder in folders]
    while todo:
        folder = todo.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir():
                    todo.append(entry.path)
                    continue
                st = entry.stat()
            except OSError:
                continue
            stat = stat_of(st)
            if max(st.st_mtime_ns, st.st_ctime_ns) >= racy:
                stat = (stat[0], stat[1], -1, stat[3])
            found[entry.path[prefix:].replace(os.sep, "/")] = stat
    return found


def changed_inputs(before: dict[str, Stat], now: dict[str, Stat]) -> list[str]:
    """Inputs added, removed or touched since `before`."""
    return sorted(p for p in before.keys() | now.keys() if before.get(p) != now.get(p))


def _digest(value: object) -> str:
    """For front matter, shapes and quotations: plain data whose repr is canonical."""
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()


def prose_record(
    file: MarkdownFile,
    quotations: Sequence[Quotation],
    document: Document,
    output: str,
    digest: str,
    slot: tuple[int, int],
) -> ProseRecord:
    """What the next build checks before splicing new prose from `file` into `output`
    (`quotations`: the file's, as the build found them; `digest`: the output's checksum;
    `slot`: where the body sits in it)."""
    offset, length = slot
    return ProseRecord(
        output=output,
        front=_digest(file.front.data),
        shape=_digest(document.shape()),
        quotes=_quotes_digest(quotations),
        offset=offset,
        length=length,
        checksum=digest,
    )


def _quotes_digest(quotations: Sequence[Quotation]) -> str:
    """What the quotation check sees of a file's quotations: not their lines."""
    return _digest([(q.text, q.source_ids) for q in quotations])


def splice_prose(
    root: Path, out: Path, state: BuildState, inputs: dict[str, Stat], options: object
) -> Spliced | None:
    """Apply a one-file prose edit to the output, or None when a full build is needed."""
    # Imported only here: the YAML parser, Python-Markdown and the sanitiser are a third
    # of a shortcut's time in a fresh process, and only a prose edit needs them.
    from .load import FileCache, load_page
    from .markdown import MarkdownRenderer
    from .quotes import find_quotations

    changed = changed_inputs(state.inputs, inputs)
    if len(changed) != 1 or changed[0] not in state.prose or state.options != repr(options):
        return None
    path = changed[0]
    record = state.prose[path]
    if any(d.location.path == path for d in state.diagnostics):
        return None  # its warnings would move or change: let a full build report them
    scratch = Report()
    file = load_page(root, path, scratch, FileCache())
    if file is None or scratch.diagnostics or _digest(file.front.data) != record.front:
        return None
    document = MarkdownRenderer(state.raw_html).convert(
        file.body, file.path, file.body_line, file.url
    )
    if (
        document.diagnostics
        or _digest(document.shape()) != record.shape
        or _quotes_digest(find_quotations(file.body, file.path, file.body_line)) != record.quotes
    ):
        return None
    target = safe_target(out, record.output)
    try:
        old = target.read_bytes()
    except OSError:
        return None
    if checksum(old) != record.checksum:
        return None  # changed since we wrote it: a full build writes it afresh
    html = document.html_bytes
    new = old[: record.offset] + html + old[record.offset + record.length :]
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_bytes(new)
    os.replace(tmp, target)  # the reader sees the old page or the new, never half
    written = read_marker(out) or {}
    write_marker(out, {**written, record.output: checksum(new)})
    prose = dict(state.prose)
    prose[path] = replace(record, length=len(html), checksum=checksum(new))
    new_inputs = {**state.inputs, path: inputs[path]}
    new_state = replace(
        state,
        inputs=new_inputs,
        manifest={**state.manifest, record.output: stat_of(os.stat(target))},
        prose=prose,
    )
    return Spliced(record.output, new_state)
