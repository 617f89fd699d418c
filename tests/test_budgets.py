"""The 40 KB budget, without a browser: each page's HTML, CSS and JS, gzipped, per page.

A page weighs its HTML plus every <link rel=stylesheet> and <script src> it references,
each compressed on its own at gzip level 6, as a server sends them. Pagefind's index,
which only the search page fetches as the reader types, is not counted; its UI script and
style sheet are, on the search page, the only page that loads them. The weighing is
bench/budgets.py's `page_weight`, so this test and `make budgets` agree.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest
from realsite import PROJECT, BuiltSite, real_site


def load_budgets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_budgets", PROJECT / "bench/budgets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


budgets = load_budgets()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    return real_site(tmp_path_factory)


def test_every_page_is_within_40_kb_gzipped(site: BuiltSite) -> None:
    weights = [budgets.page_weight(site.folder, page, site.base_url) for page in site.pages()]
    assert weights, "the site has no pages"
    over = [
        f"{w.page}: {w.total / 1024:.1f} KB (html {w.html} B, {w.assets})"
        for w in weights
        if w.total > budgets.BUDGET_BYTES
    ]
    assert not over, "\n".join(over)
    missing = [f"{w.page}: {ref}" for w in weights for ref in w.missing]
    assert not missing, "pages reference files that are not in the site:\n" + "\n".join(missing)


def test_only_the_search_page_loads_pagefind(site: BuiltSite) -> None:
    loaders = [
        w.page
        for w in (budgets.page_weight(site.folder, p, site.base_url) for p in site.pages())
        if any(asset.startswith("pagefind/") for asset in w.assets)
    ]
    assert loaders == ["search/index.html"]


def test_the_weighing_counts_what_a_page_references(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "style.css").write_text("body{color:red}" * 10)
    (tmp_path / "a/app.js").write_text("console.log(1)")
    (tmp_path / "a/index.html").write_text(
        '<!doctype html><link rel="stylesheet" href="../style.css">'
        '<link rel="icon" href="../favicon.svg"><script src="app.js"></script>'
        '<script src="https://cdn.example/x.js"></script><script>inline()</script>'
    )
    weight = budgets.page_weight(tmp_path, "a/index.html")
    assert sorted(weight.assets) == ["a/app.js", "style.css"]
    assert weight.missing == ["https://cdn.example/x.js"]
    assert weight.total == weight.html + sum(weight.assets.values())
