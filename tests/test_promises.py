"""README promises that no other test file holds: each test here fails if one is broken.

Each test names the promise it keeps in its docstring, in the README's words where they
are short. Builds run in-process through the command line (`SiteDir.build`), or as a
whole process where the promise is about one (the entry points, the cache on disk).
"""

from __future__ import annotations

import os
import random
import shlex
import shutil
import sqlite3
import string
import subprocess
import sys
import tracemalloc
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import BASE_FILES, PROJECT, SiteDir
from test_search import SEARCH_PAGE

from sitegen import engine
from sitegen.cache import DATABASE
from sitegen.cli import build as run
from sitegen.markdown import MarkdownRenderer
from sitegen.options import Options, Result


def _build(site: SiteDir, **options: object) -> Result:
    """One build as a new process makes it (a fresh Builder), with the cache."""
    out = site.root / "site"
    result = run(Options(root=site.root, out=out, cache=True, **options))  # type: ignore[arg-type]
    assert result.ok, [d.format() for d in result.report.errors]
    return result


# Search --------------------------------------------------------------------------------


def _counted_pagefind(folder: Path) -> tuple[Path, Path]:
    """A stand-in for Pagefind's binary that notes each run in a log, then runs the real
    one: (the stand-in, its log). Given to the build as Pagefind's own setting."""
    from pagefind_bin import get_executable

    log = folder / "pagefind-runs.log"
    stand_in = folder / "pagefind"
    stand_in.write_text(
        f"#!/bin/sh\necho run >> {shlex.quote(str(log))}\n"
        f'exec {shlex.quote(str(get_executable()))} "$@"\n'
    )
    stand_in.chmod(0o755)
    return stand_in, log


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_build_in_which_no_indexed_page_changed_keeps_the_last_index(
    make_site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build in which no indexed page changed keeps the last index: Pagefind is not
    run again, and the bundle is the last one, file for file. An indexed page that
    changes is indexed anew."""
    stand_in, log = _counted_pagefind(tmp_path)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(stand_in))
    site: SiteDir = make_site({"content/search.md": SEARCH_PAGE})
    _build(site)
    assert _runs(log) == 1
    bundle = {rel: data for rel, data in site.tree().items() if rel.startswith("pagefind/")}
    assert "pagefind/pagefind-entry.json" in bundle

    # The search page is not indexed: its new text is rendered, and the index kept.
    site.write("content/search.md", SEARCH_PAGE.replace("every page", "every page and table"))
    result = _build(site)
    assert result.rerendered == ("search/index.html",)
    site.write("static/notes.txt", "A file beside the pages.\n")
    assert not _build(site).unchanged
    assert _runs(log) == 1
    tree = site.tree()
    assert {rel: data for rel, data in tree.items() if rel.startswith("pagefind/")} == bundle
    assert b"every page and table" in tree["search/index.html"]

    # An indexed page changed: the index is made again.
    site.write("content/about.md", "---\ntitle: About\n---\nA zymurgical afterword.\n")
    _build(site)
    assert _runs(log) == 2
    assert site.tree()["pagefind/pagefind-entry.json"] != bundle["pagefind/pagefind-entry.json"]


# The command line ----------------------------------------------------------------------


def _process(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A whole process, as a writer starts it, with the engine of this checkout."""
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )


def test_build_py_with_no_command_builds(make_site, tmp_path: Path) -> None:
    """`python build.py` is the same as `python build.py build`: build.py builds the
    project it is in, from any folder, and with no command takes build's defaults."""
    site: SiteDir = make_site()
    shutil.copy(PROJECT / "build.py", site.root / "build.py")
    done = _process([sys.executable, str(site.root / "build.py")], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(f"built 7 pages into {site.root / 'site'} in ")
    by_default = site.tree()
    assert (site.root / ".cache/sitegen/cache.sqlite").is_file(), "the cache, as build keeps it"
    shutil.rmtree(site.root / "site")
    assert site.build("build").code == 0
    assert site.tree() == by_default


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        ([], ["usage: build.py [-h] [--version] COMMAND ...", "With no command, 'build' is run."]),
        (["build"], ["--drafts", "--strict", "--out OUT", "--jobs N", "--no-cache"]),
        (["check"], ["--drafts", "--strict", "--jobs N"]),
        (["serve"], ["--host HOST", "--port PORT", "--open", "--drafts"]),
    ],
)
def test_help_is_printed_and_builds_nothing(make_site, args: list[str], shown: list[str]) -> None:
    """`python build.py --help` (and each command's) prints its usage and exits 0."""
    site: SiteDir = make_site()
    shutil.copy(PROJECT / "build.py", site.root / "build.py")
    done = _process([sys.executable, "build.py", *args, "--help"], cwd=site.root)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for text in shown:
        assert text in done.stdout
    assert not (site.root / "site").exists()


def test_the_console_script_sitegen_builds_in_the_current_folder(make_site) -> None:
    """The same command is installed as the console script `sitegen`, and runs as
    `python -m sitegen`, both in the current folder."""
    (script,) = entry_points(group="console_scripts", name="sitegen")
    assert script.value == "sitegen.cli:command_line"
    installed = shutil.which("sitegen", path=str(Path(sys.executable).parent))
    assert installed is not None, "the console script sitegen is not installed"
    site: SiteDir = make_site()
    done = _process([installed], cwd=site.root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"built 7 pages into {site.root / 'site'} in ")
    built = site.tree()
    checked = _process([installed, "check"], cwd=site.root)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("checked 7 pages in ")
    shutil.rmtree(site.root / "site")
    done = _process([sys.executable, "-m", "sitegen", "build", "--no-cache"], cwd=site.root)
    assert done.returncode == 0, done.stderr
    assert site.tree() == built


# Speed ---------------------------------------------------------------------------------

# Run as a whole process: reports the jobs its build was given, and the most workers it
# had alive at once.
_COUNTING_MAIN = """
import sys
from sitegen import cli, workers

forked = []
most = [0]
fork = workers._Worker.__init__


def counted(worker, *args, **kwargs):
    fork(worker, *args, **kwargs)
    forked.append(worker)
    alive = sum(1 for w in forked if not w.gone and w.process.is_alive())
    most[0] = max(most[0], alive)


workers._Worker.__init__ = counted
build = cli.build


def reported(options):
    result = build(options)
    print(f"jobs {options.jobs}, at once {most[0]}", file=sys.stderr)
    return result


cli.build = reported
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
@pytest.mark.parametrize("cores", [1, 2])
def test_jobs_are_capped_at_the_cores_the_process_may_use(tmp_path: Path, cores: int) -> None:
    """`--jobs` is capped at the cores the process may use: `--jobs 999` on a process
    allowed one core forks no worker at all; on two, it has at most two at once."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < cores:
        pytest.skip(f"this machine lets the tests use fewer than {cores} cores")
    from bench.corpus import generate

    root = tmp_path / "project"
    generate(root, 60, search=False)  # enough pages for the work to be spread
    done = subprocess.run(
        [sys.executable, "-c", _COUNTING_MAIN, "build", "--jobs", "999", "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        preexec_fn=lambda: os.sched_setaffinity(0, allowed[:cores]),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"jobs {cores}, at once {0 if cores == 1 else cores}\n"


# The cache -----------------------------------------------------------------------------

NOTE = (
    f"{DATABASE}:1:1: note: the cache {{}}; it was ignored; nothing to do: it is rebuilt; "
    "delete .cache/ if this repeats"
)
ANOTHER_VERSION = "was made by another version of the engine, of Python or of its libraries"


def _rows(database: Path) -> list[tuple[str, str, str]]:
    """Every row of the cache, by its kind, key and digest; after SQLite's own check."""
    db = sqlite3.connect(database)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return db.execute("SELECT kind, key, digest FROM entries ORDER BY kind, key").fetchall()
    finally:
        db.close()


def _fresh(site: SiteDir, tmp_path: Path) -> dict[str, bytes]:
    """What a cold build of the same content writes, with no cache at all."""
    out = tmp_path / "fresh"
    shutil.rmtree(out, ignore_errors=True)
    assert run(Options(root=site.root, out=out)).ok
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


# Run as a whole process: killed (SIGKILL) in the middle of saving the cache, after two
# of its kinds of rows are written and before the third.
_KILLED_WHILE_SAVING = """
import os, signal, sys
from sitegen import cache, cli

update = cache._update
calls = []


def update_then_die(db, kind, new, keep):
    calls.append(kind)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    update(db, kind, new, keep)


cache._update = update_then_die
sys.exit(cli.main(["build", "--jobs", "1"]))
"""


def test_a_build_killed_while_it_saves_the_cache_leaves_the_last_one(
    make_site, tmp_path: Path
) -> None:
    """The cache is written in one transaction per build: a build killed half-way
    through saving it leaves the cache as the last build left it, readable, and the
    next build takes it without a note."""
    site: SiteDir = make_site()
    assert site.build().code == 0
    database = site.root / DATABASE
    before = _rows(database)
    site.write("content/about.md", "---\ntitle: About\n---\nNew text, new rows.\n")
    killed = _process([sys.executable, "-c", _KILLED_WHILE_SAVING], cwd=site.root)
    assert killed.returncode == -9, killed.stderr
    assert _rows(database) == before
    outcome = site.build()
    assert outcome.code == 0
    assert outcome.err == ""
    assert site.tree() == _fresh(site, tmp_path)
    assert _rows(database) != before


def _another_engine(tmp_path: Path) -> str:
    """The key of an engine whose source differs from this one's by one comment."""
    copy = tmp_path / "engine"
    shutil.copytree(Path(engine.__file__).parent, copy, ignore=shutil.ignore_patterns("*.pyc"))
    assert engine.engine_key(copy) == engine.ENGINE_KEY
    (copy / "render.py").write_text((copy / "render.py").read_text() + "# edited\n")
    return engine.build_key(engine=engine.engine_key(copy))


@pytest.mark.parametrize("other", ["engine", "python"])
def test_a_cache_made_by_another_engine_or_python_is_not_used(
    make_site, tmp_path: Path, other: str
) -> None:
    """The whole cache is keyed by the engine's source and the Python version: a cache
    one of them made is reported once, as a note, and every page is made again."""
    if other == "engine":
        key = _another_engine(tmp_path)
    else:
        key = engine.build_key(python=engine.python_key((3, 99, 0), "cpython"))
        assert "|python-3.99.0-cpython|" in key
    assert key != engine.BUILD_KEY
    site: SiteDir = make_site()
    assert site.build().code == 0
    db = sqlite3.connect(site.root / DATABASE)
    with db:
        db.execute("UPDATE meta SET value = ? WHERE name = 'key'", (key,))
    db.close()
    site.write("content/about.md", "---\ntitle: About\n---\nSomething to do.\n")
    result = _build(site)
    notes = [d.format() for d in result.report.diagnostics]
    assert notes == [NOTE.format(ANOTHER_VERSION)]
    assert result.converted == 3, "every Markdown file converted again"
    assert len(result.rerendered) == result.pages
    assert site.tree() == _fresh(site, tmp_path)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("garbage", "is damaged (file is not a database)"),
        ("another version", ANOTHER_VERSION),
    ],
)
def test_a_damaged_or_foreign_cache_is_one_note_that_fails_no_build_even_strict(
    make_site, damage: str, reason: str
) -> None:
    """A damaged cache, or one made by another version, is reported once as a note,
    which never fails a build, not even with --strict."""
    site: SiteDir = make_site()
    assert site.build().code == 0
    database = site.root / DATABASE
    if damage == "garbage":
        database.write_bytes(b"not a database at all\n" * 100)
    else:
        db = sqlite3.connect(database)
        with db:
            db.execute("UPDATE meta SET value = 'another' WHERE name = 'key'")
        db.close()
    outcome = site.build("build", "--strict")
    assert outcome.code == 0
    assert outcome.err == NOTE.format(reason) + "\n"
    assert outcome.out.startswith("built 7 pages into ")
    again = site.build("build", "--strict")
    assert (again.code, again.err) == (0, "")


def test_deleting_the_cache_is_always_safe(make_site, tmp_path: Path) -> None:
    """Deleting .cache/ is always safe: the next build makes what a build with the
    cache would (the same bytes), and replaces the site/ the last one left."""
    site: SiteDir = make_site()
    assert site.build().code == 0
    built = site.tree()
    shutil.rmtree(site.root / ".cache")
    outcome = site.build()
    assert (outcome.code, outcome.err) == (0, "")
    assert site.tree() == built
    site.write("content/about.md", "---\ntitle: About\n---\nEdited, then the cache deleted.\n")
    shutil.rmtree(site.root / ".cache")
    outcome = site.build()
    assert (outcome.code, outcome.err) == (0, "")
    assert site.tree() == _fresh(site, tmp_path) != built
    assert (site.root / DATABASE).is_file()


# Output --------------------------------------------------------------------------------


def _peak_of_a_cold_build(site: SiteDir, out: Path) -> int:
    """The most memory (Python's allocations) a cold build held at once, in bytes."""
    tracemalloc.start()
    try:
        result = run(Options(root=site.root, out=out))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.ok, [d.format() for d in result.report.errors]
    return peak


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_pages_are_written_as_rendered_and_not_held(make_site, tmp_path: Path) -> None:
    """Pages are written as they are rendered, so the build never holds the whole site's
    output in memory: with every page carrying 200 KB (that does not pack small), 50
    pages more are 10 MB more written, and the build's peak grows by a small part of it."""
    site: SiteDir = make_site()
    rng = random.Random(16)
    bulk = "".join(rng.choice(string.ascii_letters) for _ in range(200_000))
    page = (site.root / "templates/page.html").read_text()
    site.write("templates/page.html", page.replace("</article>", f"<p hidden>{bulk}</p></article>"))

    def notes(first: int, last: int) -> None:
        for n in range(first, last):
            site.write(f"content/notes/note-{n:03d}.md", f"---\ntitle: Note {n}\n---\nNote {n}.\n")

    notes(0, 10)
    _peak_of_a_cold_build(site, tmp_path / "warm-up")  # the engine's imports, once
    few = _peak_of_a_cold_build(site, tmp_path / "few")
    notes(10, 60)
    many = _peak_of_a_cold_build(site, tmp_path / "many")
    written_more = _size(tmp_path / "many") - _size(tmp_path / "few")
    assert written_more > 10_000_000
    assert many - few < written_more / 5, (few, many, written_more)


# Run as a whole process whose clock is moved by argv[1] seconds: every clock Python's
# time module gives (and what is made from it: file dates, e-mail dates, build ids).
_MOVED_CLOCK = """
import sys, time

shift = int(sys.argv[1])
wall, wall_ns, local, utc = time.time, time.time_ns, time.localtime, time.gmtime
time.time = lambda: wall() + shift
time.time_ns = lambda: wall_ns() + shift * 10**9
time.localtime = lambda seconds=None: local(time.time() if seconds is None else seconds)
time.gmtime = lambda seconds=None: utc(time.time() if seconds is None else seconds)

from sitegen import cli

sys.exit(cli.main(sys.argv[2:]))
"""
TWENTY_YEARS = 20 * 365 * 24 * 3600


def test_builds_at_other_times_and_in_other_time_zones_are_byte_identical(
    make_site, tmp_path: Path
) -> None:
    """Deterministic: the same input gives byte-identical output, no build timestamps.
    Two builds, twenty years apart by the clock and 25 hours apart by their time zones
    (so that even a date of today differs), write the same bytes."""
    site: SiteDir = make_site({"content/search.md": SEARCH_PAGE})
    trees = []
    for shift, zone in ((0, "KIR-14"), (TWENTY_YEARS, "SST11")):
        out = tmp_path / f"site-{shift}"
        command = [sys.executable, "-c", _MOVED_CLOCK, str(shift), "build", "--no-cache"]
        done = subprocess.run(
            [*command, "--out", str(out)],
            cwd=site.root,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(PROJECT), "TZ": zone},
        )
        assert done.returncode == 0, done.stderr
        trees.append(
            {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        )
    assert "pagefind/pagefind-entry.json" in trees[0] and "feed.xml" in trees[0]
    assert trees[0] == trees[1]


# Read as written -----------------------------------------------------------------------


def test_no_yes_on_and_off_are_text_as_written(make_site) -> None:
    """YAML 1.1 readings no writer means are not made: `no`, `yes`, `on` and `off` are
    text, exactly as written (Norway's code is NO, not false)."""
    china = BASE_FILES["content/countries/china.yaml"]
    site: SiteDir = make_site(
        {
            "content/about.md": "---\ntitle: Off\nsummary: yes\n---\nText.\n",
            "content/countries/china.yaml": china.replace("code: CN", "code: NO"),
            "content/sources.yaml": BASE_FILES["content/sources.yaml"].replace(
                "publisher: Kyodo", "publisher: ON"
            ),
        }
    )
    outcome = site.build()
    assert (outcome.code, outcome.err) == (0, "")
    about = site.html("about/index.html")
    assert about.h1.get_text() == "Off"
    assert about.find("meta", attrs={"name": "description"})["content"] == "yes"
    tiles = [t.get_text() for t in site.html("index.html").select("text.tile-code")]
    assert sorted(tiles) == ["JP", "NO"]
    entry = site.html("sources/index.html").find("li", id="kyodo-decision")
    assert entry.p.get_text().startswith("ON, ")


# Bounded: what is read -----------------------------------------------------------------


@pytest.mark.parametrize("folder", ["content", "templates", "static"])
def test_a_source_folder_linked_within_the_project_builds(make_site, folder: str) -> None:
    """One of the three folders may itself be a link within the project, to no hidden
    folder: it is read through the link, and the site is the one it was."""
    site: SiteDir = make_site()
    assert site.build().code == 0
    built = site.tree()
    moved = site.root / "writing" / folder
    moved.parent.mkdir()
    (site.root / folder).rename(moved)
    (site.root / folder).symlink_to(Path("writing") / folder)
    shutil.rmtree(site.root / ".cache")
    outcome = site.build()
    assert (outcome.code, outcome.err) == (0, "")
    assert site.tree() == built


# Raw HTML ------------------------------------------------------------------------------


def _sanitised(body: str) -> BeautifulSoup:
    document = MarkdownRenderer("sanitise").convert(body, "content/about.md", 4, "about/")
    assert document.diagnostics == ()
    return BeautifulSoup(document.html, "html.parser")


def test_details_and_summary_stay() -> None:
    """Prose and table tags stay: `<details>` among them, with its summary and text."""
    html = _sanitised("<details><summary>Sources</summary><p>Three reports.</p></details>\n")
    assert str(html) == "<details><summary>Sources</summary><p>Three reports.</p></details>"


@pytest.mark.parametrize(
    "raw",
    [
        "<style>body { display: none } SECRET</style>",
        "Text <style>p { color: red } SECRET</style> more.",
        "<script>alert('SECRET')</script>",
        '<iframe src="https://evil.example/">SECRET</iframe>',
        '<object data="x.swf">SECRET</object>',
        "<svg><text>SECRET</text></svg>",
        "<math><mi>SECRET</mi></math>",
        "<textarea>SECRET</textarea>",
        "<select><option>SECRET</option></select>",
    ],
)
def test_what_goes_goes_with_its_contents(raw: str) -> None:
    """`<script>`, `<style>`, `<iframe>`, `<object>`, `<textarea>`, `<select>`, SVG and
    MathML go with their contents: not one character of them is left."""
    for body in (raw, f'<div markdown="1">{raw}</div>', f"- item {raw}"):
        html = _sanitised(body + "\n")
        assert "SECRET" not in str(html)
        assert html.find(["style", "script", "iframe", "object", "svg", "math"]) is None


def test_forms_go_and_leave_the_text_in_them() -> None:
    """A form, its inputs and buttons go; the text written inside them stays, as text."""
    html = _sanitised(
        '<form action="https://evil.example/"><p>Ask us.</p><input name="q">'
        "<button>Send</button></form>\n"
    )
    assert str(html) == "<p>Ask us.</p>Send"
