"""Search on a site of a thousand pages: the index is built, and a reader finds the last page.

The generated corpus of the benchmarks (bench/corpus.py), with its search page, is built
through the command line and served over HTTP; a query typed into Pagefind's UI in
Chromium lists the corpus's last page among its results, and the link opens it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator

import pytest

from bench.browsing import QuietHandler, QuietServer
from bench.corpus import generate
from sitegen.cli import main

PAGES = 1000
LAST = f"pages/page-{PAGES - 1:05d}/index.html"
SEARCH_INPUT = ".pagefind-ui__search-input"
RESULT_LINK = ".pagefind-ui__result-link"


@pytest.fixture(scope="module")
def large_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("large") / "project"
    generate(root, PAGES, search=True)
    out = root / "site"
    assert main(["build", "--no-cache", "--out", str(out)], root=root) == 0
    handler = functools.partial(QuietHandler, directory=str(out))
    server = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_query_finds_the_last_page_of_a_thousand(large_site: str, browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(large_site + "search/index.html", wait_until="load")
        # the last page's title is "Page 999 on ..." and no other page has that number
        page.fill(SEARCH_INPUT, f"Page {PAGES - 1}")
        wanted = page.locator(f'{RESULT_LINK}[href$="{LAST}"]')
        wanted.first.wait_for(state="visible", timeout=30_000)
        wanted.first.click()
        page.wait_for_load_state("load")
        assert page.url == large_site + LAST
        assert page.locator("h1").first.inner_text().startswith(f"Page {PAGES - 1} on ")
    finally:
        context.close()
