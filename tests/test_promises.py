"""README promises that no other test file holds: each test here fails if one is broken.

Each test names the promise it keeps in its docstring, in the README's words where they
are short. Builds run in-process through the command line (`SiteDir.build`), or as a
whole process where the promise is about one (the entry points, the cache on disk).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import SiteDir

from sitegen.cli import build as run
from sitegen.options import Options, Result

SEARCH_PAGE = """\
    ---
    title: Search
    order: 9999
    template: search.html
    ---
    Search every page.
    """


def _build(site: SiteDir, **options: object) -> Result:
    """One build as a new process makes it (a fresh Builder), with the cache."""
    result = run(Options(root=site.root, out=site.root / "site", cache=True, **options))  # type: ignore[arg-type]
    assert result.ok, [d.format() for d in result.report.errors]
    return result


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

    # An indexed page changed: the index is made again, and finds the new word.
    site.write("content/about.md", "---\ntitle: About\n---\nA zymurgical afterword.\n")
    _build(site)
    assert _runs(log) == 2
    assert site.tree()["pagefind/pagefind-entry.json"] != bundle["pagefind/pagefind-entry.json"]
