"""Ids: every id a template writes on a page is reserved there, and no page holds one twice.

The model reserves the ids the templates write (assemble.GENERATED_IDS, TEMPLATE_IDS and
those made from the model, template_ids) so that a heading taking one is an error at its
line. These tests render every template and fail on an id one writes that its page does
not reserve, so the lists cannot drift from the templates; and they read every page of a
small site and of the real one for an id written twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import PROJECT, SiteDir
from realsite import real_site

from sitegen.assemble import GENERATED_IDS, case_clashes
from sitegen.pipeline import Builder, Options, Result

FRONT = "---\ntitle: {title}\ntemplate: {template}\n---\n"
# Pages beside the base site's, so that every template renders one
EVERY_TEMPLATE = {
    "content/search.md": FRONT.format(title="Search", template="search.html") + "Find it.\n",
    "content/timeline.md": FRONT.format(title="Timeline", template="timeline.html")
    + "## When\n\nIn order [@kyodo-decision].\n",
    "content/overview.md": FRONT.format(title="Overview again", template="home.html")
    + "## Where next\n\nSee the table.\n",
    "content/table.md": FRONT.format(title="The table", template="countries.html")
    + "The table again.\n",
}


def ids(html: str) -> Counter[str]:
    soup = BeautifulSoup(html, "html.parser")
    return Counter(element["id"] for element in soup.find_all(id=True))


def build(site: SiteDir) -> Result:
    result = Builder(Options(root=site.root, out=site.root / "site", write=False)).build()
    assert result.report.errors == [], [d.format() for d in result.report.errors]
    return result


def test_every_id_a_template_writes_is_reserved_on_its_page(make_site) -> None:
    site = make_site(EVERY_TEMPLATE)
    result = build(site)
    assert result.site is not None
    templates = {p.name for p in (PROJECT / "templates").glob("*.html")}
    rendered = {page.template for page in result.site.pages}
    assert rendered == {t for t in templates if not t.startswith("_")} - {"base.html"}
    for page in result.site.pages:
        html = result.files[page.output].decode()
        body = page.document.html if page.document else ""
        assert html.count(body) == 1 or not body
        written = set(ids(html.replace(body, "", 1)))
        assert written, page.output
        unreserved = written - GENERATED_IDS - page.anchors
        assert unreserved == set(), f"{page.template} writes {unreserved} on {page.output}"


def test_no_page_of_a_small_site_holds_an_id_twice(make_site) -> None:
    site = make_site(EVERY_TEMPLATE)
    result = build(site)
    pages = [output for output in result.files if output.endswith(".html")]
    assert len(pages) >= 10
    for output in pages:
        twice = {i: n for i, n in ids(result.files[output].decode()).items() if n > 1}
        assert twice == {}, output


def test_no_page_of_the_real_site_holds_an_id_twice(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    built = real_site(tmp_path_factory)
    pages = built.pages()
    assert len(pages) >= 10
    for page in pages:
        html = Path(built.folder, page).read_text("utf-8")
        twice = {i: n for i, n in ids(html).items() if n > 1}
        assert twice == {}, page


def test_static_paths_that_differ_only_in_case_from_an_output_are_found() -> None:
    outputs = ["index.html", "about/index.html", "sitemap.xml", "countries/japan/index.html"]
    statics = [
        "Sitemap.xml",  # the file
        "About/index.html",  # a folder on its way
        "countries/Japan/map.png",
        "ABOUT",  # a file where the site has a folder
        "about/team.jpg",  # beside a page, as written: fine
        "countries/japan/map.png",
        "robots.TXT",  # no output has that name in any case
    ]
    assert case_clashes(outputs, statics) == {
        "Sitemap.xml": ("Sitemap.xml", "sitemap.xml"),
        "About/index.html": ("About", "about"),
        "countries/Japan/map.png": ("countries/Japan", "countries/japan"),
        "ABOUT": ("ABOUT", "about"),
    }
