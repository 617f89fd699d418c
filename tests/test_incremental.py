"""Incremental rebuilds equal full builds, byte for byte, and re-render only what changed.

For each kind of edit a writer makes, a long-lived Builder (as the preview server keeps)
rebuilds after the edit; its output must equal a fresh full build's, and the set of pages
it re-rendered is asserted exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import SiteDir

from sitegen.options import Priority
from sitegen.pipeline import Builder, Options, Result

TIMELINE = "---\ntitle: Timeline\ntemplate: timeline.html\n---\nEvery measure.\n"


def served_tree(result: Result) -> dict[str, bytes]:
    """What the preview serves: rendered files plus static files' bytes."""
    tree = dict(result.files)
    tree.update({rel: path.read_bytes() for rel, path in result.copies.items()})
    return tree


def replace(site: SiteDir, path: str, old: str, new: str) -> None:
    text = (site.root / path).read_text()
    assert old in text, f"{old!r} not in {path}"
    site.write(path, text.replace(old, new))


EDITS: dict[str, Callable[[SiteDir], None]] = {
    "prose": lambda s: replace(s, "content/about.md", "Every fact is cited", "Each fact is cited"),
    "title": lambda s: replace(
        s, "content/about.md", "title: How we source this", "title: Our sourcing"
    ),
    "country_yaml": lambda s: replace(
        s, "content/countries/china.yaml", "Expressed serious concern", "Said it was concerned"
    ),
    "country_status": lambda s: replace(
        s, "content/countries/china.yaml", "status: opposes", "status: urged"
    ),
    "sources": lambda s: replace(
        s, "content/sources.yaml", "publisher: Kyodo", "publisher: Kyodo News"
    ),
    "page_template": lambda s: replace(
        s, "templates/page.html", "<article>", '<article class="page">'
    ),
    "base_template": lambda s: replace(
        s, "templates/base.html", "Skip to content", "Skip to the content"
    ),
    "static": lambda s: s.write("static/style.css", "body { color: black; }\n"),
    "new_page": lambda s: s.write("content/notes/extra.md", "---\ntitle: Extra\n---\nMore.\n"),
    "deleted_page": lambda s: s.remove("content/countries/japan.md"),
    "settings": lambda s: replace(s, "content/site.yaml", "publisher: Test Desk", "publisher: X"),
}


ALL = [
    "404.html",
    "about/index.html",
    "countries/china/index.html",
    "countries/index.html",
    "countries/japan/index.html",
    "index.html",
    "sources/index.html",
    "timeline/index.html",
]
RERENDERED = {
    "prose": ["about/index.html"],
    "title": ALL,  # every page lists the title in its navigation
    "country_yaml": [
        "countries/china/index.html",
        "countries/index.html",
        "index.html",
        "timeline/index.html",
    ],
    "country_status": [  # Japan shows its related country's status
        "countries/china/index.html",
        "countries/index.html",
        "countries/japan/index.html",
        "index.html",
        "timeline/index.html",
    ],
    "sources": ["countries/japan/index.html", "sources/index.html", "timeline/index.html"],
    "page_template": ["about/index.html"],
    "base_template": ALL,
    "static": [],
    "new_page": ["notes/extra/index.html"],
    "deleted_page": ["countries/japan/index.html", "sources/index.html"],
    "settings": ALL,
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_incremental_equals_full(make_site, edit: str) -> None:
    site = make_site({"content/timeline.md": TIMELINE})
    options = Options(root=site.root, out=site.root / "site", write=False)
    builder = Builder(options)
    first = builder.build()
    assert first.ok, first.report.diagnostics
    EDITS[edit](site)
    incremental = builder.build()
    full = Builder(options).build()
    assert incremental.ok and full.ok
    assert served_tree(incremental) == served_tree(full)
    assert sorted(incremental.rerendered) == RERENDERED[edit]


def test_a_new_country_gives_its_id_to_the_pages_whose_templates_list_it(make_site) -> None:
    """A page made again only when its inputs change still learns the ids its template
    writes for the whole site: the home page's status table gains the new country's row,
    and a link to that row checks in a long-lived builder as in a new one."""
    site = make_site({"content/timeline.md": TIMELINE})
    options = Options(root=site.root, out=site.root / "site", write=False)
    builder = Builder(options)
    assert builder.build().ok
    china = (site.root / "content/countries/china.yaml").read_text()
    site.write("content/countries/korea.yaml", china.replace("China", "Korea").replace("CN", "KR"))
    site.write(
        "content/linked.md", "---\ntitle: Linked\n---\nSee [Korea](index.md#country-korea).\n"
    )
    incremental = builder.build()
    full = Builder(options).build()
    assert incremental.ok, [d.format() for d in incremental.report.diagnostics]
    assert full.ok and served_tree(incremental) == served_tree(full)


def test_rebuild_without_changes_renders_nothing(make_site) -> None:
    site = make_site({"content/timeline.md": TIMELINE})
    builder = Builder(Options(root=site.root, out=site.root / "site", write=False))
    first = builder.build()
    assert len(first.rerendered) == len(ALL)
    again = builder.build()
    assert again.rerendered == ()
    assert again.files == first.files


def test_failed_rebuild_keeps_previous_renderings(make_site) -> None:
    site = make_site({"content/timeline.md": TIMELINE})
    builder = Builder(Options(root=site.root, out=site.root / "site", write=False))
    first = builder.build()
    replace(site, "content/about.md", "title: How we source this", "title: [broken")
    assert not builder.build().ok
    replace(site, "content/about.md", "title: [broken", "title: How we source this")
    fixed = builder.build()
    assert fixed.ok
    assert fixed.rerendered == ()
    assert fixed.files == first.files


FAST = {
    # (file, old, new, pages re-rendered)
    "prose": (
        "content/about.md",
        "Every fact is cited",
        "Each fact is cited",
        ["about/index.html"],
    ),
    "narrative": (
        "content/countries/japan.md",
        "Japan planned to exclude",
        "Japan prepared to exclude",
        ["countries/japan/index.html"],
    ),
    "added_line": (
        "content/about.md",
        "## Confidence\n",
        "## Confidence\n\nA new first paragraph.\n",
        ["about/index.html"],
    ),
    # these change what other pages read, so the full path runs
    "new_link": (
        "content/about.md",
        "Every fact is cited",
        "Every fact about [China](countries/china.yaml) is cited",
        ["about/index.html", "countries/china/index.html"],
    ),
    "new_citation": (
        "content/about.md",
        "Every fact is cited [@mfa-statement; @reuters-japan].",
        "Every fact is cited [@mfa-statement; @reuters-japan; @kyodo-decision].",
        ["about/index.html", "sources/index.html"],
    ),
    "title": ("content/about.md", "title: How we source this", "title: Sourcing", ALL),
}


@pytest.mark.parametrize("case", sorted(FAST))
def test_one_file_edit_equals_full(make_site, case: str) -> None:
    site = make_site({"content/timeline.md": TIMELINE})
    options = Options(root=site.root, out=site.root / "site", write=False)
    builder = Builder(options)
    assert builder.build().ok
    path, old, new, expected = FAST[case]
    replace(site, path, old, new)
    incremental = builder.build()
    full = Builder(options).build()
    assert incremental.ok and full.ok
    assert served_tree(incremental) == served_tree(full)
    assert sorted(incremental.rerendered) == expected
    # and the builder's state is right for the next edit too
    replace(site, path, new, old)
    again = builder.build()
    assert served_tree(again) == served_tree(Builder(options).build())


# What a rebuild digests anew, by type of value: the records of what changed, never the
# site's. Every other record is the last build's own (assemble.Reuse), whose digest
# deps.DigestMemo keeps. A "tuple" is a list the model composed anew around a change
# (the countries in order, a source's citers, the navigation).
FRESH: dict[str, dict[str, int]] = {
    "base_template": {},
    "country_status": {
        "Country": 1,
        "CountryRef": 1,  # how Japan's page shows China, its related country
        "Location": 3,
        "Measure": 1,
        "Page": 1,
        "PartialDate": 1,
        "tuple": 2,
    },
    "country_yaml": {
        "Country": 1,
        "Location": 3,
        "Measure": 1,
        "Page": 1,
        "PartialDate": 1,
        "tuple": 2,
    },
    "deleted_page": {"Page": 1, "tuple": 1},  # Japan's page without its narrative
    "new_page": {"Listing": 1, "Page": 1, "tuple": 2},  # the feed's and sitemap's list too
    "page_template": {},
    "prose": {"Page": 1},
    "settings": {"Settings": 1},
    "sources": {"Location": 1, "PartialDate": 1, "Source": 1, "tuple": 1},
    "static": {},
    "title": {"Citer": 1, "Listing": 1, "Page": 1, "PageLink": 1, "tuple": 4},
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_rebuild_digests_only_what_changed(make_site, edit: str) -> None:
    site = make_site({"content/timeline.md": TIMELINE})
    builder = Builder(Options(root=site.root, out=site.root / "site", write=False))
    assert builder.build().ok
    assert builder.build().ok
    assert builder.work.memo.fresh == {}  # nothing changed: nothing digested anew
    EDITS[edit](site)
    assert builder.build().ok
    assert builder.work.memo.fresh == FRESH[edit]


# The outputs besides pages a rebuild makes anew: only those that show what changed.
GENERATED = ("data/countries.json", "data/measures.csv", "feed.xml", "robots.txt", "sitemap.xml")
REMADE = {
    "prose": set(),  # the feed and the sitemap list pages, not their text
    "title": {"feed.xml", "sitemap.xml"},  # both read the listing, which holds titles
    "country_yaml": {"data/countries.json", "data/measures.csv"},
    "settings": set(GENERATED),  # the CSV too: it reads base_url, and settings go whole
}


@pytest.mark.parametrize("edit", sorted(REMADE))
def test_a_rebuild_remakes_only_the_downloads_and_feeds_that_show_the_change(
    make_site, edit: str
) -> None:
    site = make_site({"content/timeline.md": TIMELINE})
    builder = Builder(Options(root=site.root, out=site.root / "site", write=False))
    before = builder.build()
    EDITS[edit](site)
    after = builder.build()
    assert before.ok and after.ok
    remade = {o for o in GENERATED if after.rendered[o] is not before.rendered[o]}
    assert remade == REMADE[edit]


def test_priority_pages_are_rendered_and_handed_over_first(make_site) -> None:
    """The preview's pages in view: rendered before any other page, each handed over
    as it is made; a page asked for while the build runs is rendered next."""
    site = make_site({"content/timeline.md": TIMELINE})
    rendered: list[tuple[int, int]] = []
    options = Options(
        root=site.root,
        out=site.root / "site",
        write=False,
        progress=lambda stage, done, total: rendered.append((done, total)),
    )
    builder = Builder(options)
    assert builder.build().ok
    EDITS["base_template"](site)
    handed: list[tuple[str, int]] = []

    def publish(output: str, body: bytes | None) -> None:
        assert body is not None and b"Skip to the content" in body  # the new page, whole
        handed.append((output, len(rendered)))
        if output == "countries/china/index.html":
            assert priority.ask("about/index.html")  # as a request mid-build does

    rendered.clear()
    priority = Priority(["countries/china/index.html", "nowhere/index.html"], publish)
    result = builder.build(priority=priority)
    assert result.ok and sorted(result.rerendered) == ALL
    # handed over in that order, with no other page rendered before them
    assert handed == [("countries/china/index.html", 0), ("about/index.html", 0)]
    assert not priority.ask("index.html")  # the build is over: nothing is still to render


def test_a_page_asked_for_that_needs_no_rendering_is_handed_over_as_it_stands(
    make_site,
) -> None:
    site = make_site({"content/timeline.md": TIMELINE})
    builder = Builder(Options(root=site.root, out=site.root / "site", write=False))
    assert builder.build().ok
    EDITS["prose"](site)
    handed: list[tuple[str, bool]] = []

    def publish(output: str, body: bytes | None) -> None:
        handed.append((output, body is not None))
        if output == "about/index.html":  # before the rest is planned: it may be stale
            assert priority.ask("countries/china/index.html")

    priority = Priority(["about/index.html"], publish)
    result = builder.build(priority=priority)
    assert result.ok and result.rerendered == ("about/index.html",)
    assert handed == [("about/index.html", True), ("countries/china/index.html", False)]
