"""Parallel builds equal serial ones; the persistent cache is exact, and never trusted blind.

Each build here stands for a new process, as the command line makes it (shortcut.run: a
shortcut when one applies, else a fresh Builder): it starts with empty memory and sees
only what the previous build left in .cache/ and site/.
"""

from __future__ import annotations

import ast
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.corpus import PROJECT, generate
from sitegen import parallel
from sitegen.cli import main
from sitegen.options import Options, Result
from sitegen.shortcut import run

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
    pools: list[int] = []

    class CountedPool(parallel.ProcessPoolExecutor):
        def __init__(self, *args: object, **kwargs: object) -> None:
            pools.append(1)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(parallel, "RENEW_AFTER", 1)
    serial = build(corpus, tmp_path / "serial", jobs=1)
    assert pools == []
    renewed = build(corpus, tmp_path / "renewed", jobs=2)
    # parsing and converting use one pool each; rendering PAGES * 2 pages in chunks of 26
    # (four a worker), two chunks a pool
    assert len(pools) == 2 + 4
    assert tree(tmp_path / "renewed") == tree(tmp_path / "serial")
    assert len(renewed.rerendered) == renewed.pages == serial.pages


def test_warm_build_renders_nothing_and_gives_the_same_tree(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    generate(root, PAGES, search=False)
    out = root / "site"
    cold = build(root, out, jobs=2, cache=True)
    first = tree(out)
    assert len(cold.rerendered) == cold.pages and cold.converted == PAGES + 1
    shortcut = build(root, out, jobs=2, cache=True)
    assert shortcut.unchanged and shortcut.rerendered == ()
    assert tree(out) == first
    # touching files defeats the shortcut; the cache still renders and converts nothing
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


@pytest.mark.parametrize("name", ["documents", "rendered", "state"])
def test_damaged_cache_file_is_ignored_with_a_warning(tmp_path: Path, name: str) -> None:
    root = tmp_path / "project"
    generate(root, 20, search=False)
    out = root / "site"
    build(root, out, cache=True)
    first = tree(out)
    cached = root / f".cache/sitegen/{name}.pickle"
    data = bytearray(cached.read_bytes())
    data[-10] ^= 0xFF  # flip bits in the payload
    cached.write_bytes(bytes(data))
    (root / "content/sources.yaml").touch()  # defeat the shortcuts
    result = build(root, out, cache=True)
    warnings = [d.format() for d in result.report.warnings]
    assert warnings == [
        f".cache/sitegen/{name}.pickle:1:1: warning: cache file is damaged (checksum "
        "mismatch) and was ignored; nothing to do: it is rebuilt; delete .cache/ if this repeats"
    ]
    assert tree(out) == first
    # the damaged file was replaced: the next build is silent
    (root / "content/sources.yaml").touch()
    assert build(root, out, cache=True).report.warnings == []


def test_cache_from_another_engine_version_is_not_used(tmp_path: Path) -> None:
    root = tmp_path / "project"
    generate(root, 20, search=False)
    out = root / "site"
    build(root, out, cache=True)
    cached = root / ".cache/sitegen/documents.pickle"
    data = cached.read_bytes()
    cached.write_bytes(data.replace(b"sitegen-cache-1\n0.1.0", b"sitegen-cache-1\n0.0.9", 1))
    (root / "content/sources.yaml").touch()
    result = build(root, out, cache=True)
    assert result.converted == 21  # every page converted again, silently
    assert result.report.warnings == []


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
    build(root, root / "site", cache=True)
    return root, root / "site"


def test_prose_edit_is_spliced_without_the_model_and_equals_a_full_build(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = built
    _add_prose(root)
    spliced = build(root, out, cache=True)
    assert spliced.site is None, "the shortcut should not build the model"
    assert spliced.rerendered == ("pages/page-00007/index.html",) and spliced.converted == 1
    html = (out / "pages/page-00007/index.html").read_text()
    assert "<p>A closing sentence, <em>added</em> by the writer.</p>" in html
    assert tree(out) == _fresh_tree(root, tmp_path)
    # the state was updated: building again changes nothing
    assert build(root, out, cache=True).unchanged
    # a later full build (a file without prose touched) agrees, and re-renders the page
    (root / "content/sources.yaml").touch()
    full = build(root, out, cache=True)
    assert full.site is not None and "pages/page-00007/index.html" in full.rerendered
    assert tree(out) == _fresh_tree(root, tmp_path)


# A fresh process: build with the cache, then print which heavy libraries it imported
_IMPORTED = """
import sys
from pathlib import Path
from sitegen.options import Options
from sitegen.shortcut import run
root = Path(sys.argv[1])
result = run(Options(root=root, out=root / "site", cache=True))
assert result.ok and result.site is None, "a shortcut was expected"
print(sorted(m for m in ("jinja2", "markdown", "yaml", "nh3") if m in sys.modules))
"""


def _imported(root: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, str(root)], capture_output=True, text=True, check=True
    )
    return ast.literal_eval(done.stdout.strip())


def test_shortcuts_import_only_what_they_use(built: tuple[Path, Path]) -> None:
    """In a fresh process imports are most of a shortcut's time: nothing changed needs
    no converter and no templates; a prose edit needs the converter, not Jinja."""
    root, _ = built
    assert _imported(root) == []
    _add_prose(root)
    assert _imported(root) == ["markdown", "nh3", "yaml"]


@pytest.mark.parametrize(
    "old, new, why",
    [
        ("title: Page 7 on", "title: Page seven on", "front matter"),
        ("## Section 1", "## Section One", "a heading (others may link to it)"),
        ("[@source-", "[@source-00001]; [@source-", "a citation"),
    ],
)
def test_edit_others_can_see_takes_the_full_build(
    built: tuple[Path, Path], tmp_path: Path, old: str, new: str, why: str
) -> None:
    root, out = built
    _edit(root / "content/pages/page-00007.md", old, new)
    result = build(root, out, cache=True)
    assert result.site is not None, f"an edit of {why} needs the model"
    assert tree(out) == _fresh_tree(root, tmp_path)


def test_two_files_edited_take_the_full_build(built: tuple[Path, Path], tmp_path: Path) -> None:
    root, out = built
    _add_prose(root, "page-00007.md")
    _add_prose(root, "page-00008.md")
    result = build(root, out, cache=True)
    assert result.site is not None
    assert sorted(result.rerendered) == [
        "pages/page-00007/index.html",
        "pages/page-00008/index.html",
    ]
    assert tree(out) == _fresh_tree(root, tmp_path)


def test_output_changed_by_hand_is_not_spliced_into(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = built
    _spoil(out / "pages/page-00007/index.html")
    _add_prose(root)
    result = build(root, out, cache=True)
    assert result.site is not None, "a changed output must be written afresh"
    assert tree(out) == _fresh_tree(root, tmp_path)


def test_other_options_take_the_full_build(built: tuple[Path, Path]) -> None:
    root, out = built
    _add_prose(root)
    assert build(root, out, cache=True, include_drafts=True).site is not None


def test_site_with_search_takes_the_full_build_so_its_index_is_current(tmp_path: Path) -> None:
    root = tmp_path / "project"
    for folder in ("content", "templates", "static"):
        shutil.copytree(PROJECT / folder, root / folder)
    out = root / "site"
    build(root, out, cache=True)
    page = root / "content/how-we-source.md"
    page.write_text(page.read_text() + "\nA zymurgical afterword.\n")
    result = build(root, out, cache=True)
    assert result.site is not None, "the search index reads every body: no splicing"
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


def test_output_edited_by_hand_is_rendered_again_not_kept(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    root, out = built
    _spoil(out / "pages/page-00003/index.html")
    (root / "content/sources.yaml").touch()  # something changed: a full build
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
