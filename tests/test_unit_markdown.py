"""MarkdownRenderer.convert: citations, content links, anchors and escaping."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from sitegen.errors import Location
from sitegen.markdown import CitationUse, ContentLink, Document, Heading, MarkdownRenderer

LINK_HINT = (
    "link to a .md or .yaml file in content/ by its relative path "
    "(e.g. countries/japan.yaml#measures), or write a full https:// URL"
)
SCHEME_HINT = "use an http://, https:// or mailto: address, or link to a content file"


@pytest.fixture(scope="module")
def renderer() -> MarkdownRenderer:
    return MarkdownRenderer()


def convert(
    renderer: MarkdownRenderer,
    body: str,
    path: str = "content/about.md",
    body_line: int = 4,
    page_url: str = "about/",
) -> Document:
    return renderer.convert(body, path, body_line, page_url)


def soup(doc: Document) -> BeautifulSoup:
    return BeautifulSoup(doc.html, "html.parser")


def at(line: int, col: int, path: str = "content/about.md") -> Location:
    return Location(path, line, col)


# citations


def test_citations_are_numbered_by_first_appearance(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "A [@b]. B [@a; @b]. C [@c;@a] and [@b].\n\nNext [@d].\n")
    assert doc.citations == ("b", "a", "c", "d")
    sups = soup(doc).select("sup.cite")
    assert [sup.get_text() for sup in sups] == ["[1]", "[2, 1]", "[3, 2]", "[1]", "[4]"]
    anchors = [(a["href"], a["id"]) for a in soup(doc).select("sup.cite a")]
    assert anchors == [
        ("#ref-1", "cite-1-1"),
        ("#ref-2", "cite-2-1"),
        ("#ref-1", "cite-1-2"),
        ("#ref-3", "cite-3-1"),
        ("#ref-2", "cite-2-2"),
        ("#ref-1", "cite-1-3"),
        ("#ref-4", "cite-4-1"),
    ]
    assert {a["role"] for a in soup(doc).select("sup.cite a")} == {"doc-noteref"}


def test_citations_are_numbered_in_reading_order(renderer: MarkdownRenderer) -> None:
    # Python-Markdown converts a list's items after the paragraph that follows the list,
    # and a table's cells later still: the numbers follow the text as it reads.
    doc = convert(
        renderer,
        "Intro [@a].\n\n- item [@b]\n- item [@c; @a]\n\n> quoted [@d]\n\n"
        "After [@e] and a note[^n].\n\n| x | y |\n|---|---|\n| [@f] | [@b] |\n\n"
        "Term\n:   defined [@g]\n\n[^n]: Noted [@h; @a].\n",
    )
    assert doc.citations == ("a", "b", "c", "d", "e", "f", "g", "h")
    sups = [sup.get_text() for sup in soup(doc).select("sup.cite")]
    assert sups == ["[1]", "[2]", "[3, 1]", "[4]", "[5]", "[6]", "[2]", "[7]", "[8, 1]"]
    ids = [a["id"] for a in soup(doc).select("sup.cite a")]
    assert ids == [
        "cite-1-1",
        "cite-2-1",
        "cite-3-1",
        "cite-1-2",
        "cite-4-1",
        "cite-5-1",
        "cite-6-1",
        "cite-2-2",
        "cite-7-1",
        "cite-8-1",
        "cite-1-3",
    ]
    assert "data-sitegen-cite" not in doc.html


def test_citation_uses_have_file_positions(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "A [@b]. B [@a; @b]. C [@c;@a] and [@b].\n\nNext [@d].\n")
    assert doc.citation_uses == (
        CitationUse(("b",), at(4, 3)),
        CitationUse(("a", "b"), at(4, 11)),
        CitationUse(("c", "a"), at(4, 23)),
        CitationUse(("b",), at(4, 35)),
        CitationUse(("d",), at(6, 6)),
    )


def test_citation_ids_are_collected(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "A [@x]; again [@x].\n")
    assert {"cite-1-1", "cite-1-2"} <= doc.ids


def test_numbering_restarts_for_each_document(renderer: MarkdownRenderer) -> None:
    convert(renderer, "First [@a] [@b].\n")
    doc = convert(renderer, "Second [@b].\n", body_line=1)
    assert doc.citations == ("b",)
    assert [a["href"] for a in soup(doc).select("sup.cite a")] == ["#ref-1"]
    assert doc.citation_uses == (CitationUse(("b",), at(1, 8)),)


def test_not_a_citation(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "Email me@example.org or [x] or [ @a].\n")
    assert doc.citations == ()
    assert doc.citation_uses == ()
    assert soup(doc).select("sup") == []


# content links


def test_links_are_rewritten_relative_to_the_page(renderer: MarkdownRenderer) -> None:
    doc = convert(
        renderer,
        "See [Japan](countries/japan.yaml) and [measures](countries/japan.yaml#measures).\n"
        "[Home](index.md) [Sources](sources.yaml)\n",
    )
    assert [a["href"] for a in soup(doc).select("a")] == [
        "../countries/japan/index.html",
        "../countries/japan/index.html#measures",
        "../index.html",
        "../sources/index.html",
    ]
    assert doc.links == (
        ContentLink("countries/japan.yaml", "", at(4, 13)),
        ContentLink("countries/japan.yaml", "measures", at(4, 50)),
        ContentLink("index.md", "", at(5, 8)),
        ContentLink("sources.yaml", "", at(5, 28)),
    )
    assert doc.diagnostics == ()


def test_links_resolve_from_the_files_folder(renderer: MarkdownRenderer) -> None:
    doc = convert(
        renderer,
        "Link [j](japan.yaml#measure-1) and [up](../index.md).\n",
        path="content/countries/x.md",
        body_line=7,
        page_url="countries/x/",
    )
    assert [a["href"] for a in soup(doc).select("a")] == [
        "../japan/index.html#measure-1",
        "../../index.html",
    ]
    assert doc.links == (
        ContentLink("countries/japan.yaml", "measure-1", at(7, 10, "content/countries/x.md")),
        ContentLink("index.md", "", at(7, 41, "content/countries/x.md")),
    )


def test_links_from_the_home_page(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "[J](countries/japan.md)\n", path="content/index.md", page_url="")
    assert soup(doc).a["href"] == "countries/japan/index.html"
    assert doc.links == (ContentLink("countries/japan.md", "", at(4, 5, "content/index.md")),)


def test_same_page_anchor_is_recorded(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "Intro.\n\nSee [below](#first-part).\n\n## First part\n")
    assert soup(doc).p.find_next("p").a["href"] == "#first-part"
    assert doc.links == (ContentLink("about.md", "first-part", at(6, 13)),)
    assert "first-part" in doc.ids


def test_external_links_are_untouched(renderer: MarkdownRenderer) -> None:
    doc = convert(
        renderer,
        "[a](https://example.com/x.md?q=1#y) [b](http://e.org) [c](mailto:a@b.org)\n",
    )
    assert [a["href"] for a in soup(doc).select("a")] == [
        "https://example.com/x.md?q=1#y",
        "http://e.org",
        "mailto:a@b.org",
    ]
    assert doc.links == ()
    assert doc.diagnostics == ()


@pytest.mark.parametrize(
    ("body", "scheme", "col"),
    [
        ("[bad](javascript:alert(1))\n", "javascript", 7),
        ("[bad](JavaScript:alert(1))\n", "javascript", 7),
        ("[bad](data:text/html,hi)\n", "data", 7),
        ("[bad]( javascript:alert(1))\n", "javascript", 8),
        ("[bad](<javascript:alert(1)>)\n", "javascript", 8),
        ("![img](javascript:x)\n", "javascript", 8),
        ("[bad](ftp://x.org/a.md)\n", "ftp", 7),
    ],
)
def test_unsafe_schemes_are_replaced_and_reported(
    renderer: MarkdownRenderer, body: str, scheme: str, col: int
) -> None:
    doc = convert(renderer, body)
    element = soup(doc).find(["a", "img"])
    assert (element.get("href") or element.get("src")) == "#"
    assert "alert" not in doc.html
    assert [d.format() for d in doc.diagnostics] == [
        f"content/about.md:4:{col}: error: link uses the scheme '{scheme}:', which is not "
        f"allowed; {SCHEME_HINT}"
    ]
    assert doc.links == ()


def test_unsafe_reference_link_is_reported(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "[x][r]\n\n[r]: javascript:alert(1)\n")
    assert soup(doc).a["href"] == "#"
    assert [(d.location, d.severity) for d in doc.diagnostics] == [(at(6, 6), "error")]


def test_entity_in_link_path_cannot_make_a_script_url(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "[x](javascript&colon;alert(1)//x.md)\n", page_url="")
    decoded = soup(doc).a["href"]
    assert not decoded.lower().startswith("javascript:")


@pytest.mark.parametrize(
    "raw", ["picture.png", "/about.md", "notes.txt", "//e.org/a.md", "../static/style.css"]
)
def test_links_to_non_content_files_are_reported(renderer: MarkdownRenderer, raw: str) -> None:
    doc = convert(renderer, f"[x]({raw})\n")
    assert soup(doc).a["href"] == "#"
    assert [d.format() for d in doc.diagnostics] == [
        f"content/about.md:4:5: error: link to '{raw}' is not a content file; {LINK_HINT}"
    ]
    assert doc.links == ()


@pytest.mark.parametrize(
    ("raw", "target"),
    [("../../x.md", "../../x.md"), ("site.yaml", "site.yaml"), ("other.yaml", "other.yaml")],
)
def test_links_to_content_that_is_not_a_page_are_reported(
    renderer: MarkdownRenderer, raw: str, target: str
) -> None:
    doc = convert(renderer, f"Text [x]({raw}).\n")
    assert soup(doc).a["href"] == "#"
    assert [d.format() for d in doc.diagnostics] == [
        f"content/about.md:4:10: error: link to '{raw}' is not a page "
        f"(it resolves to content/{target}); {LINK_HINT}"
    ]


def test_repeated_link_locations_follow_occurrences(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "[a](index.md)\n[b](index.md) and [c](pic.png) [d](pic.png)\n")
    assert [link.location for link in doc.links] == [at(4, 5), at(5, 5)]
    assert [d.location for d in doc.diagnostics] == [at(5, 23), at(5, 36)]


# raw HTML, headings, footnotes


def test_raw_html_is_sanitised(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "<script>alert(1)</script> x\n\n<div onclick=x>block</div>\n")
    parsed = soup(doc)
    assert parsed.find("script") is None
    assert "alert" not in doc.html
    assert [(div.attrs, div.get_text()) for div in parsed.find_all("div")] == [({}, "block")]


def test_heading_ids_and_document_ids(renderer: MarkdownRenderer) -> None:
    doc = convert(
        renderer,
        "## First heading\n\nText.\n\n### Sub heading\n\n## First heading\n\n# Top\n\n#### Deep\n",
    )
    assert [(h.name, h["id"]) for h in soup(doc).select("h1, h2, h3, h4")] == [
        ("h2", "first-heading"),
        ("h3", "sub-heading"),
        ("h2", "first-heading_1"),
        ("h1", "top"),
        ("h4", "deep"),
    ]
    assert doc.headings == (
        Heading("first-heading", "First heading", 2, at(4, 4)),
        Heading("sub-heading", "Sub heading", 3, at(8, 5)),
        Heading("first-heading_1", "First heading", 2, at(10, 4)),
    )
    assert doc.ids == frozenset({"first-heading", "sub-heading", "first-heading_1", "top", "deep"})


def test_headings_are_located_at_their_line_not_where_prose_says_the_words(
    renderer: MarkdownRenderer,
) -> None:
    doc = convert(
        renderer,
        "Search this site.\n\n```\n## Search\n```\n\n## Search\n\nTom & Jerry\n---\n\n"
        "## Search ## {#again}\n\n## Some *emphasis*\n",
    )
    assert doc.headings == (
        Heading("search", "Search", 2, at(10, 4)),
        Heading("tom-jerry", "Tom &amp; Jerry", 2, at(12, 1)),
        Heading("again", "Search", 2, at(15, 4)),
        # written otherwise than its text reads: where that text is first found
        Heading("some-emphasis", "Some emphasis", 2, at(4, 1)),
    )


def test_footnotes_work_and_are_not_content_links(renderer: MarkdownRenderer) -> None:
    doc = convert(renderer, "Text with a note[^1].\n\n[^1]: The note [@a].\n")
    parsed = soup(doc)
    assert parsed.select_one("sup#fnref\\:1 a")["href"] == "#fn:1"
    note = parsed.select_one("li#fn\\:1")
    assert note is not None
    assert note.select_one("a.footnote-backref")["href"] == "#fnref:1"
    assert [a["href"] for a in note.select("sup.cite a")] == ["#ref-1"]
    assert doc.links == ()
    assert doc.diagnostics == ()
    assert {"fn:1", "fnref:1", "cite-1-1"} <= doc.ids
    assert doc.citation_uses == (CitationUse(("a",), at(6, 16)),)


def test_quotation_marks_as_typed_and_tables(renderer: MarkdownRenderer) -> None:
    doc = convert(
        renderer, 'He said "yes" -- and \u201cno\u201d.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n'
    )
    assert soup(doc).p.get_text() == 'He said "yes" -- and \u201cno\u201d.'
    assert [td.get_text() for td in soup(doc).select("td")] == ["1", "2"]


# the inline patterns, held as tuples (markdown._fix_pattern_order)

EVERY_INLINE = """\
*Abbr* and `code`, \\*escaped\\*, **strong**, _em_, ***both***, and [@a; @b] cited.[^n]
A [link](other.md#top), an ![image](pic.png "Title"), a [reference][r], <https://example.org>,
<me@example.org>, &amp; &copy; "quoted" 'single' -- dash --- and ... <<angled>>.
Line break here\x20\x20
and <span class="x">raw *html*</span>.

| A | B |
|---|---|
| *x* | [y](other.md) |

*[Abbr]: Abbreviation
[r]: https://example.com/r
[^n]: A note with *emphasis*.
"""


def test_every_inline_pattern_converts(renderer: MarkdownRenderer) -> None:
    converted = convert(renderer, EVERY_INLINE)
    assert "<strong><em>both</em></strong>" in converted.html
    assert '"quoted"' in converted.html  # quotation marks print as typed
    assert "Line break here<br>" in converted.html
