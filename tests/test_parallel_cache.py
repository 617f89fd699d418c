"""Parallel builds equal serial ones; the persistent cache is exact, and never trusted blind.

Each build here stands for a new process, as the command line makes it (cli.build: a
fresh Builder): it starts with empty memory and sees only what the previous build left
in .cache/ and site/.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.corpus import PROJECT, generate
from sitegen import load, parallel, stages, workers
from sitegen.cache import Store
from sitegen.cache import _digest as cache_digest
from sitegen.cli import build as run
from sitegen.cli import main
from sitegen.inputs import RACY_NS
from sitegen.options import Options, Result

PAGES = 100  # enough for the work to be spread over processes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "project"
    generate(root, PAGES, search=False)
    return root


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def build(root: Path, out: Path, **options: object) -> Result:
    result = run(Options(root=root, out=out, **options))  # type: ignore[arg-type]
    assert result.ok, [d.format() for d in result.report.errors]
    return result


def test_parallel_output_equals_serial(corpus: Path, tmp_path: Path) -> None:
    serial = build(corpus, tmp_path / "serial", jobs=1)
    parallel = build(corpus, tmp_path / "parallel", jobs=2)
    assert parallel.pages == serial.pages == PAGES * 2 + 4
    assert tree(tmp_path / "parallel") == tree(tmp_path / "serial")
    assert len(parallel.rerendered) == parallel.pages


def test_renewed_workers_give_the_same_output(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Render workers replaced after every chunk: the pages still come out in order."""
    forks: list[int | None] = []

    class CountedWorker(workers._Worker):
        def __init__(self, function: object, renew: int | None) -> None:
            forks.append(renew)
            super().__init__(function, renew)  # type: ignore[arg-type]

    monkeypatch.setattr(workers, "_Worker", CountedWorker)
    monkeypatch.setattr(parallel, "RENEW_AFTER", 1)
    serial = build(corpus, tmp_path / "serial", jobs=1)
    assert forks == []
    renewed = build(corpus, tmp_path / "renewed", jobs=2)
    # parsing and converting fork two workers each; rendering, one per chunk of the
    # pages but the three index pages (rendered in this process)
    chunks = len(parallel._chunks(range(PAGES * 2 + 4 - 3), 2))
    assert forks == [None] * 4 + [1] * chunks
    assert tree(tmp_path / "renewed") == tree(tmp_path / "serial")
    assert len(renewed.rerendered) == renewed.pages == serial.pages


def test_warm_build_renders_nothing_and_gives_the_same_tree(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    generate(root, PAGES, search=False)
    out = root / "site"
    cold = build(root, out, jobs=2, cache=True)
    first = tree(out)
    assert len(cold.rerendered) == cold.pages and cold.converted == PAGES + 1
    # files written just before a build may change again unseen within the same tick of
    # the file system's clock: that build does not vouch for them, and the next one
    # looks at them again (it renders and converts nothing)
    racy = build(root, out, jobs=2, cache=True)
    assert racy.rerendered == () and racy.converted == 0
    _settle()
    build(root, out, jobs=2, cache=True)
    unchanged = build(root, out, jobs=2, cache=True)
    assert unchanged.unchanged and unchanged.rerendered == () and unchanged.site is None
    assert tree(out) == first
    # touched files are read again; the cache still renders and converts nothing
    for page in (root / "content/pages").glob("*.md"):
        page.touch()
    warm = build(root, out, jobs=2, cache=True)
    assert not warm.unchanged
    assert warm.rerendered == () and warm.converted == 0
    assert tree(out) == first


def test_changed_page_and_its_dependents_are_rerendered(tmp_path: Path) -> None:
    root = tmp_path / "project"
    generate(root, PAGES, search=False)
    out = root / "site"
    build(root, out, jobs=2, cache=True)
    page = root / "content/pages/page-00007.md"
    text = page.read_text()
    # a prose edit: only that page
    page.write_text(text.replace("## Section 1", "## Section One", 1))
    prose = build(root, out, jobs=2, cache=True)
    assert sorted(prose.rerendered) == ["pages/page-00007/index.html"]
    assert prose.converted == 1
    # a title edit: the page, and the pages that show its title: the countries it links
    # to ("mentioned in") and the sources index ("cited by"); pages that link to it use
    # their own link text and stay as they are
    page.write_text(text.replace("title: Page 7 on", "title: Page seven on", 1))
    titled = build(root, out, jobs=2, cache=True)
    mentioned = set(re.findall(r"\(\.\./countries/(country-\d+)\.yaml", text))
    assert mentioned, "the corpus page should link to a country"
    assert sorted(titled.rerendered) == sorted(
        {
            "pages/page-00007/index.html",
            "sources/index.html",
            *(f"countries/{slug}/index.html" for slug in mentioned),
        }
    )
    fresh = tmp_path / "fresh"
    build(root, fresh, jobs=1)
    assert tree(out) == {k: v for k, v in tree(fresh).items()}


CACHE = ".cache/sitegen/cache.sqlite"
NOTE = (
    f"{CACHE}:1:1: note: the cache {{}}; it was ignored; nothing to do: it is rebuilt; "
    "delete .cache/ if this repeats"
)


class _Payload:
    """Unpickling this runs a shell command that leaves a file behind."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.flag}",))


def _pickled_payload(flag: Path) -> bytes:
    return pickle.dumps({"state": _Payload(flag)})


def _tamper_row(path: Path) -> None:
    """Change one cached document's text in place, leaving its digest as it was."""
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE entries SET text = replace(text, 'source', 'sourcf') "
            "WHERE rowid = (SELECT min(rowid) FROM entries WHERE kind = 'documents')"
        )
    db.close()


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("garbage", "is damaged (file is not a database)"),
        ("pickle", "is damaged (file is not a database)"),
        ("truncated", "is damaged (database disk image is malformed)"),
        ("row", "is damaged (a documents entry does not match its digest)"),
        ("version", "was made by another version of the engine, of Python or of its libraries"),
    ],
)
def test_crafted_or_damaged_cache_is_reported_never_run_and_rebuilt(
    tmp_path: Path, damage: str, reason: str
) -> None:
    root = tmp_path / "project"
    generate(root, 20, search=False)
    out = root / "site"
    build(root, out, cache=True)
    cached = root / CACHE
    flag = tmp_path / "code-ran"
    # an old cache's pickle files, made to run code: never read at all
    for name in ("documents", "rendered", "state"):
        (root / f".cache/sitegen/{name}.pickle").write_bytes(_pickled_payload(flag))
    if damage == "garbage":
        cached.write_bytes(b"not a database at all\n" * 100)
    elif damage == "pickle":
        cached.write_bytes(_pickled_payload(flag))
    elif damage == "truncated":
        data = cached.read_bytes()
        cached.write_bytes(data[: len(data) // 2])
    elif damage == "row":
        _tamper_row(cached)
    else:
        db = sqlite3.connect(cached)
        with db:
            db.execute(
                "UPDATE meta SET value = replace(value, 'markdown-', 'markdown-0.') "
                "WHERE name = 'key'"
            )
        db.close()
    (root / "content/sources.yaml").touch()  # something changed: the build has work to do
    result = build(root, out, cache=True)
    assert not flag.exists(), "something read from the cache ran code"
    notes = [d.format() for d in result.report.diagnostics if d.severity == "note"]
    assert notes == [NOTE.format(reason)]
    assert result.converted == 21, "every page converted again"
    assert tree(out) == _fresh_tree(root, tmp_path)
    # the cache was made afresh: the next build is silent and converts nothing
    (root / "content/sources.yaml").touch()
    again = build(root, out, cache=True)
    assert again.report.diagnostics == [] and again.converted == 0
    assert not flag.exists()


def _craft_row(path: Path, kind: str, change: Callable[[str, bytes], tuple[str, bytes]]) -> None:
    """Rewrite one row of `kind` as someone who knows the digest function would: the
    row's digest matches its crafted contents, so only decoding can tell."""
    db = sqlite3.connect(path)
    with db:
        key, text, data = db.execute(
            "SELECT key, text, data FROM entries WHERE kind = ? ORDER BY key LIMIT 1", (kind,)
        ).fetchone()
        text, data = change(text, data)
        db.execute(
            "UPDATE entries SET text = ?, data = ?, digest = ? WHERE kind = ? AND key = ?",
            (text, data, cache_digest(kind, key, text, data), kind, key),
        )
    db.close()


def _json_edit(edit: Callable[[Any], None]) -> Callable[[str, bytes], tuple[str, bytes]]:
    def change(text: str, data: bytes) -> tuple[str, bytes]:
        value = json.loads(text)
        edit(value)
        return json.dumps(value), data

    return change


CRAFTED: dict[str, tuple[str, Callable[[str, bytes], tuple[str, bytes]], str]] = {
    "state of the wrong shape": (
        "state",
        _json_edit(lambda v: v.update(manifest=[])),
        "a state entry is not what a build writes ('list' object has no attribute 'items')",
    ),
    "a key of no kind": (
        "rendered",
        _json_edit(lambda v: v[1].append([["nope", "x"], "0"])),
        "a rendered entry is not what a build writes (not a dependency key: ('nope', 'x'))",
    ),
    "a parsed file of no kind": (
        "parsed",
        _json_edit(lambda v: v.__setitem__(1, "toml")),
        "a parsed entry is not what a build writes (not a kind of parsed file: 'toml')",
    ),
    "a YAML value of no type": (
        "parsed",
        _json_edit(lambda v: v[2].__setitem__(1, ["set", []])),
        "a parsed entry is not what a build writes (not a packed YAML value: 'set')",
    ),
    "HTML that does not unpack": (
        "documents",
        lambda text, data: (text, b"not zlib"),
        "a documents entry is not what a build writes "
        "(Error -3 while decompressing data: incorrect header check)",
    ),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_rows_with_matching_digests_are_damage_not_a_crash(
    tmp_path: Path, case: str
) -> None:
    root = tmp_path / "project"
    generate(root, 20, search=False)
    _settle()  # else the files are too new for their parses to be kept
    out = root / "site"
    build(root, out, cache=True)
    kind, change, reason = CRAFTED[case]
    _craft_row(root / CACHE, kind, change)
    (root / "content/sources.yaml").touch()  # something changed: the build has work to do
    result = build(root, out, cache=True)
    notes = [d.format() for d in result.report.diagnostics if d.severity == "note"]
    assert notes == [NOTE.format(f"is damaged ({reason})")]
    assert tree(out) == _fresh_tree(root, tmp_path)


def test_a_key_the_site_cannot_answer_counts_as_changed(tmp_path: Path) -> None:
    """A well-formed key naming nothing this site has (as another version could write):
    the page that read it is rendered again, and nothing is reported."""
    root = tmp_path / "project"
    generate(root, 20, search=False)
    out = root / "site"
    build(root, out, cache=True)
    _craft_row(
        root / CACHE, "rendered", _json_edit(lambda v: v[1].append([["attr", "no_such"], "0"]))
    )
    (root / "content/sources.yaml").touch()
    result = build(root, out, cache=True)
    assert result.report.diagnostics == []
    assert sorted(result.rerendered) == ["404.html"]  # the first row by key
    assert tree(out) == _fresh_tree(root, tmp_path)


def test_a_cache_held_by_another_build_is_left_alone(tmp_path: Path) -> None:
    """Two builds at once: the one that finds the cache locked reads nothing from it,
    saves nothing to it, deletes nothing, and says so in a note."""
    root = tmp_path / "project"
    generate(root, 20, search=False)
    out = root / "site"
    build(root, out, cache=True)
    (root / "content/sources.yaml").touch()
    holder = sqlite3.connect(root / CACHE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = build(root, out, cache=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    notes = [d.format() for d in result.report.diagnostics if d.severity == "note"]
    assert notes == [
        f"{CACHE}:1:1: note: the cache is in use by another build; it was ignored; "
        "nothing to do: it is left as it is"
    ]
    assert result.ok and tree(out) == _fresh_tree(root, tmp_path)
    again = build(root, out, cache=True)  # the cache is as the first build left it
    assert again.report.diagnostics == [] and again.converted == 0


def test_a_cache_the_system_cannot_open_is_left_alone(
    built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of file descriptors (EMFILE) as the build opens the cache: that is no damage.
    The note says what failed, and the cache is neither emptied nor written."""
    root, out = built
    cached = (root / CACHE).read_bytes()
    connect = Store._connect

    def starved(store: Store) -> sqlite3.Connection:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        lowest = os.open(os.devnull, os.O_RDONLY)  # the next descriptor opened ...
        os.close(lowest)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest, hard))  # ... is past the limit
        try:
            return connect(store)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    monkeypatch.setattr(Store, "_connect", starved)
    _add_prose(root)
    result = build(root, out, cache=True)
    monkeypatch.undo()
    notes = [d.format() for d in result.report.diagnostics if d.severity == "note"]
    assert notes == [
        f"{CACHE}:1:1: note: the cache could not be opened (unable to open database file); "
        "it was ignored; nothing was deleted: if this repeats, check the disk and the limit "
        "of open files (ulimit -n)"
    ]
    assert (root / CACHE).read_bytes() == cached
    assert tree(out) == _fresh_tree(root, tmp_path)
    # opened again, it is the cache it was: only the two pages edited since are converted
    _add_prose(root, "page-00008.md")
    again = build(root, out, cache=True)
    assert again.report.diagnostics == [] and again.converted == 2


def test_edit_with_size_and_times_put_back_is_seen(tmp_path: Path) -> None:
    """cp -p, tar x, rsync -t, touch -r: the same size and modification time, new bytes."""
    root = tmp_path / "project"
    generate(root, 20, search=False)
    out = root / "site"
    build(root, out, cache=True)
    _settle()  # the files are older than the racy window, as files edited a while ago are
    build(root, out, cache=True)
    for path, old, new in (
        ("content/countries/country-00003.yaml", "name: Country 00003", "name: Cauntry 00003"),
        ("content/pages/page-00004.md", "## Section 1", "## Sektion 1"),
    ):
        edited = root / path
        before = edited.stat()
        text = edited.read_text()
        assert old in text
        edited.write_text(text.replace(old, new, 1))
        os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert (edited.stat().st_size, edited.stat().st_mtime_ns) == (
            before.st_size,
            before.st_mtime_ns,
        )
        _settle()  # out of the racy window: only the change time tells the edit
        result = build(root, out, cache=True)
        assert not result.unchanged, f"an edit of {path} was missed"
        assert tree(out) == _fresh_tree(root, tmp_path)
        shutil.rmtree(tmp_path / "fresh")


def test_a_changed_library_version_is_a_new_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key holds each shaping library's installed version, not a digest of its code."""
    from sitegen import engine

    versions = engine.installed_versions(engine.SHAPING_LIBRARIES)
    assert versions["markdown"] != "absent" and versions["nh3"] != "absent"
    fake = tmp_path / "site-packages"
    (fake / "Markdown-3.6.dist-info").mkdir(parents=True)
    assert engine.installed_versions(("markdown",), [str(fake)]) == {"markdown": "3.6"}
    monkeypatch.setattr(sys, "path", [str(fake), *sys.path])
    assert "|markdown-3.6|" in engine.build_key()
    assert engine.build_key() != engine.BUILD_KEY


def _settle() -> None:
    """Wait until every file written so far is older than the racy window."""
    time.sleep(RACY_NS / 1e9 + 0.02)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _add_prose(root: Path, name: str = "page-00007.md") -> None:
    page = root / "content/pages" / name
    page.write_text(page.read_text() + "\nA closing sentence, *added* by the writer.\n")


def _spoil(output: Path) -> None:
    """Edit an output file by hand: the same size, other bytes."""
    output.write_bytes(output.read_bytes().replace(b"<main", b"<MAIN", 1))


def _fresh_tree(root: Path, tmp_path: Path) -> dict[str, bytes]:
    """What a cold build of the same content writes, with no cache at all."""
    fresh = tmp_path / "fresh"
    build(root, fresh, jobs=1)
    return tree(fresh)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A small corpus built once with the cache: (project root, output folder)."""
    root = tmp_path / "project"
    generate(root, 20, search=False)
    _settle()
    build(root, root / "site", cache=True)
    return root, root / "site"


def test_prose_edit_in_a_new_process_renders_its_page_alone(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    """The whole pipeline, in a process that starts from .cache/: one page rendered,
    the rest kept, and the tree a clean build writes."""
    root, out = built
    _add_prose(root)
    edited = build(root, out, cache=True)
    assert edited.site is not None and not edited.unchanged
    assert edited.rerendered == ("pages/page-00007/index.html",) and edited.converted == 1
    html = (out / "pages/page-00007/index.html").read_text()
    assert "<p>A closing sentence, <em>added</em> by the writer.</p>" in html
    assert tree(out) == _fresh_tree(root, tmp_path)
    # the state was updated: once the edit is older than the racy window, nothing changed
    _settle()
    build(root, out, cache=True)
    assert build(root, out, cache=True).unchanged


def test_a_new_process_parses_only_the_files_that_changed(
    built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other file comes parsed from .cache/, and the output is a clean build's."""
    root, out = built
    parsed: list[str] = []

    def parse_files(project: Path, rels: list[str], **_: object) -> object:
        parsed.extend(rels)
        return load.parse_in_turn(project, rels)

    monkeypatch.setattr(stages, "parse_files", parse_files)
    _settle()
    build(root, out, cache=True)  # the fixture's files, written just now, parsed again
    parsed.clear()
    _add_prose(root)
    _edit(root / "content/countries/country-00003.yaml", "Country 00003", "Cauntry 00003")
    _settle()
    build(root, out, cache=True)
    assert sorted(parsed) == [
        "content/countries/country-00003.yaml",
        "content/pages/page-00007.md",
    ]
    assert tree(out) == _fresh_tree(root, tmp_path)


# A fresh process: build with the cache, then print which heavy libraries it imported
_IMPORTED = """
import sys
from pathlib import Path
from sitegen.options import Options
from sitegen.cli import build as run
root = Path(sys.argv[1])
result = run(Options(root=root, out=root / "site", cache=True))
assert result.ok and result.unchanged, "nothing was expected to change"
print(sorted(m for m in ("jinja2", "markdown", "yaml", "nh3") if m in sys.modules))
"""


def test_a_build_that_finds_nothing_changed_imports_no_library(built: tuple[Path, Path]) -> None:
    """In a fresh process imports would be most of its time: the walk needs none."""
    root, _ = built
    _settle()
    build(root, root / "site", cache=True)  # vouches for the files the fixture just wrote
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, str(root)], capture_output=True, text=True, check=True
    )
    assert ast.literal_eval(done.stdout.strip()) == []


@pytest.mark.parametrize(
    "old, new, why",
    [
        ("title: Page 7 on", "title: Page seven on", "front matter"),
        ("## Section 1", "## Section One", "a heading (others may link to it)"),
        ("[@source-", "[@source-00001]; [@source-", "a citation"),
    ],
)
def test_edit_others_can_see_equals_a_clean_build(
    built: tuple[Path, Path], tmp_path: Path, old: str, new: str, why: str
) -> None:
    root, out = built
    _edit(root / "content/pages/page-00007.md", old, new)
    result = build(root, out, cache=True)
    assert "pages/page-00007/index.html" in result.rerendered, why
    assert tree(out) == _fresh_tree(root, tmp_path), why


def test_two_files_edited_render_their_two_pages(built: tuple[Path, Path], tmp_path: Path) -> None:
    root, out = built
    _add_prose(root, "page-00007.md")
    _add_prose(root, "page-00008.md")
    result = build(root, out, cache=True)
    assert sorted(result.rerendered) == [
        "pages/page-00007/index.html",
        "pages/page-00008/index.html",
    ]
    assert tree(out) == _fresh_tree(root, tmp_path)


def _refused(out: Path, *names: str) -> list[str]:
    return [
        f"{out}:1:1: error: {out} holds files this tool did not write, or that changed "
        f"since it wrote them: {', '.join(names)}; it will not be replaced: move them out "
        "of it; choose another --out folder"
    ]


def test_output_changed_by_hand_is_not_replaced_nor_lost(built: tuple[Path, Path]) -> None:
    """A page edited by hand in site/ is not the tool's to replace: the build refuses."""
    root, out = built
    _spoil(out / "pages/page-00007/index.html")
    edited = tree(out)
    _add_prose(root)
    result = run(Options(root=root, out=out, cache=True))
    assert [d.format() for d in result.report.errors] == _refused(
        out, "pages/page-00007/index.html"
    )
    assert tree(out) == edited


@pytest.mark.parametrize("how", ["added", "edited"])
def test_the_output_folder_changed_while_the_build_runs_is_not_replaced_nor_lost(
    built: tuple[Path, Path], how: str
) -> None:
    """An upload that arrives in site/, or a page edited there, while the build renders:
    the folder is looked at again just before the swap, and the build refuses."""
    root, out = built
    page = out / "pages/page-00003/index.html"  # unchanged: kept by a hard link

    def meanwhile(stage: str, done: int, total: int) -> None:
        if stage == "rendering" and done == 1:
            if how == "added":
                (out / "uploads").mkdir()
                (out / "uploads/report-2018.pdf").write_bytes(b"%PDF")
            else:
                _spoil(page)

    before = tree(out)
    _add_prose(root)
    result = run(Options(root=root, out=out, cache=True, progress=meanwhile))
    named = "uploads/report-2018.pdf" if how == "added" else "pages/page-00003/index.html"
    assert [d.format() for d in result.report.errors] == [
        f"{out}:1:1: error: files were added to {out} or changed in it while the build "
        f"ran: {named}; it was not replaced, and this build was discarded; move them out "
        "of it, then build again"
    ]
    if how == "added":
        assert tree(out) == {**before, "uploads/report-2018.pdf": b"%PDF"}
    else:
        assert tree(out) == {**before, "pages/page-00003/index.html": page.read_bytes()}
        assert page.read_bytes() != before["pages/page-00003/index.html"]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".site")) == []


def test_other_options_are_not_taken_for_nothing_changed(built: tuple[Path, Path]) -> None:
    root, out = built
    _settle()
    build(root, out, cache=True)
    assert build(root, out, cache=True).unchanged
    assert not build(root, out, cache=True, include_drafts=True).unchanged


def test_prose_edit_on_a_site_with_search_makes_its_index_anew(tmp_path: Path) -> None:
    root = tmp_path / "project"
    for folder in ("content", "templates", "static"):
        shutil.copytree(PROJECT / folder, root / folder)
    out = root / "site"
    build(root, out, cache=True)
    page = root / "content/how-we-source.md"
    page.write_text(page.read_text() + "\nA zymurgical afterword.\n")
    result = build(root, out, cache=True)
    assert result.rerendered == ("how-we-source/index.html",)
    fragments = b"".join(p.read_bytes() for p in (out / "pagefind").rglob("*.pf_fragment"))
    assert fragments, "the search index should have been written"
    assert tree(out).keys() == _fresh_tree(root, tmp_path).keys()


def _inodes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*.html")}


def test_unchanged_outputs_are_linked_from_the_old_folder(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = built
    before = _inodes(out)
    _edit(root / "content/pages/page-00007.md", "## Section 1", "## Section One")
    result = build(root, out, cache=True)
    after = _inodes(out)
    assert result.rerendered == ("pages/page-00007/index.html",)
    rewritten = {rel for rel in after if after[rel] != before.get(rel)}
    assert rewritten == {"pages/page-00007/index.html"}
    assert tree(out) == _fresh_tree(root, tmp_path)


def test_output_edited_by_hand_is_neither_kept_nor_lost(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    """Refused while it is there; moved out, the page is rendered again."""
    root, out = built
    page = out / "pages/page-00003/index.html"
    _spoil(page)
    edited = tree(out)
    (root / "content/sources.yaml").touch()  # something changed: a full build
    result = run(Options(root=root, out=out, cache=True))
    assert [d.format() for d in result.report.errors] == _refused(
        out, "pages/page-00003/index.html"
    )
    assert tree(out) == edited
    page.unlink()  # the writer moves their edit out
    result = build(root, out, cache=True)
    assert "pages/page-00003/index.html" in result.rerendered
    assert tree(out) == _fresh_tree(root, tmp_path)


def test_output_folder_deleted_is_rendered_whole_again(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = built
    shutil.rmtree(out)
    result = build(root, out, cache=True)
    assert len(result.rerendered) == result.pages
    assert tree(out) == _fresh_tree(root, tmp_path)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_line_on_a_terminal_only_and_a_closing_summary(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal: bool
) -> None:
    err = _Terminal() if terminal else io.StringIO()
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)
    command = ["build", "--jobs", "2", "--no-cache", "--out", str(tmp_path / "site")]
    assert main(command, root=corpus) == 0
    pages = PAGES * 2 + 4
    if terminal:
        assert f"\r\x1b[Krendering: {pages}/{pages}" in err.getvalue()
        assert err.getvalue().endswith("\r\x1b[K")  # the line is cleared before the summary
    else:
        assert err.getvalue() == ""
    summary = out.getvalue().strip()
    assert re.fullmatch(
        rf"built {pages} pages into \S+ in [0-9.]+ s: {pages} rendered, 0 reused from the "
        rf"cache, {PAGES + 1} Markdown file\(s\) converted",
        summary,
    ), summary
