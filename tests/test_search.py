"""The search index: built in memory by Pagefind, written with the site, only when used."""

from __future__ import annotations

import json

import pytest
from conftest import SiteDir

from sitegen import search

SEARCH_PAGE = """\
    ---
    title: Search
    order: 9999
    template: search.html
    ---
    Search every page.
    """


def test_a_site_without_a_search_page_gets_no_index(make_site) -> None:
    site: SiteDir = make_site()
    assert site.build().code == 0
    assert not any(path.startswith("pagefind/") for path in site.tree())


def test_the_index_covers_every_page_but_search_and_404(make_site) -> None:
    site: SiteDir = make_site({"content/search.md": SEARCH_PAGE})
    outcome = site.build()
    assert outcome.code == 0, outcome.err
    tree = site.tree()
    bundle = sorted(path for path in tree if path.startswith("pagefind/"))
    assert {"pagefind/pagefind-ui.js", "pagefind/pagefind-ui.css", "pagefind/pagefind.js"} <= set(
        bundle
    )
    assert not [
        p for p in bundle if p.startswith(tuple("pagefind/" + u for u in search.UNUSED_PREFIXES))
    ]
    entry = json.loads(tree["pagefind/pagefind-entry.json"])
    # home, about, countries, china, japan, sources; not search/ nor 404.html
    assert entry["languages"]["en"]["page_count"] == 6
    html = site.html("search/index.html")
    assert html.find("script", src="../pagefind/pagefind-ui.js") is not None
    assert html.find("link", href="../pagefind/pagefind-ui.css") is not None
    assert html.find("main", attrs={"data-pagefind-body": True}) is None, "not indexed itself"
    assert site.html("index.html").find("main", attrs={"data-pagefind-body": True}) is not None
    home = site.html("index.html")
    assert home.find("script", src=True) is None, "only the search page loads scripts"
    assert [a.get_text() for a in home.select("nav[aria-label=Main] a")][-2] == "Search"


def test_the_index_is_byte_identical_across_builds(make_site) -> None:
    site: SiteDir = make_site({"content/search.md": SEARCH_PAGE})
    assert site.build().code == 0
    first = site.tree()
    assert site.build().code == 0
    assert site.tree() == first


def test_a_missing_pagefind_fails_the_build_and_keeps_the_old_site(
    make_site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site: SiteDir = make_site({"content/search.md": SEARCH_PAGE})
    assert site.build().code == 0
    before = site.tree()
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(site.root / "no-such-pagefind"))
    site.write("content/about.md", "---\ntitle: About us\n---\nChanged, so it is re-indexed.\n")
    outcome = site.build()
    assert outcome.code == 1
    assert "content/search.md:1:1: error: the search index could not be built" in outcome.err
    assert site.tree() == before


def test_a_site_of_hundreds_of_pages_gets_its_index(make_site) -> None:
    """The index is made from the written pages, at any size (a reply-size limit in a
    service protocol once failed past some 100 pages)."""
    pages = {
        f"content/notes/note-{n:03d}.md": f"---\ntitle: Note {n}\n---\nNote number {n} on "
        + " ".join(f"word{n}x{k}" for k in range(150))
        + "\n"
        for n in range(300)
    }
    site: SiteDir = make_site({"content/search.md": SEARCH_PAGE, **pages})
    outcome = site.build()
    assert outcome.code == 0, outcome.err
    entry = json.loads(site.tree()["pagefind/pagefind-entry.json"])
    assert entry["languages"]["en"]["page_count"] == 306
