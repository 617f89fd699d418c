"""Property-based tests: arbitrary text in every field, and arbitrary Markdown.

Whatever a writer types into a YAML text field or a page, the build either succeeds or
reports content errors as `path:line:col`; it never raises. When it succeeds, the text
shows up escaped wherever it lands: never as markup in a page (outside the JSON-LD, it
never appears raw if it holds `<`, `>`, `&` or a quote), never breaking out of the JSON-LD
<script>, the feed, the sitemap or the downloads, and never as a spreadsheet formula.
Every example is one small site built in memory (no writing, no search index).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import BASE_FILES, PROJECT
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from test_hostile import assert_harmless

from sitegen.pipeline import Options, Result, run

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing is written into the project
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pieces that have broken sites before: markup, entities, script and comment ends, CDATA
# ends, template syntax, formula starts, BibTeX and YAML specials, odd line breaks.
SPECIALS = [
    "<",
    ">",
    "&",
    '"',
    "'",
    "</script>",
    "<!--",
    "-->",
    "]]>",
    "<b onmouseover=alert(1)>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "&amp;",
    "&#x3C;",
    "{{ 7*7 }}",
    "{% if %}",
    "=HYPERLINK(1)",
    "+1",
    "-1",
    "@SUM(A1)",
    "\\",
    "%",
    "#",
    "{",
    "}",
    "~",
    "\u2028",
    "\t",
    "\n",
    ": ",
    "- ",
    "*",
    "`",
]
# Any text a UTF-8 file can hold (so no lone surrogates), controls and all.
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
ANY_FIELD = st.lists(st.one_of(ANY_TEXT, st.sampled_from(SPECIALS)), max_size=6).map("".join)
# Text every field accepts: no control characters (the schema refuses them), not empty.
VALID_FIELD = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=12),
        st.sampled_from(SPECIALS),
    ),
    max_size=6,
).map(lambda parts: "x" + "".join(parts) + "y")

SITE_TEXT = ("title", "description", "publisher", "licence")
COUNTRY_TEXT = ("name", "summary")
MEASURE_TEXT = ("actor", "action", "scope", "note")
SOURCE_TEXT = ("publisher", "title", "author", "note", "excerpt")
PAGE_TEXT = ("title", "summary")
FIELDS = [
    *(f"site.{n}" for n in SITE_TEXT),
    *(f"country.{n}" for n in COUNTRY_TEXT),
    *(f"measure.{n}" for n in MEASURE_TEXT),
    *(f"source.{n}" for n in SOURCE_TEXT),
    *(f"page.{n}" for n in PAGE_TEXT),
]
# Where a value is certainly shown in a page, so it must appear there, escaped.
SHOWN = {
    "site.title": "index.html",
    "country.name": "countries/china/index.html",
    "country.summary": "countries/china/index.html",
    "measure.action": "countries/china/index.html",
    "source.publisher": "sources/index.html",
    "page.title": "about/index.html",
}
LOCATION = re.compile(r"^(content|templates|static)/[^:]*:\d+:\d+: (error|warning): .+")
URL_ATTRIBUTES = ("href", "src", "action", "content")


def q(value: str) -> str:
    """A YAML double-quoted scalar for any text (JSON's escapes are YAML's too; YAML also
    takes these three as line breaks, so they are escaped rather than written)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("\u0085", "\\x85").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def site_files(values: dict[str, str], body: str = "Text [@reuters-japan].\n") -> dict[str, str]:
    """The base site with each field of FIELDS set to its value."""
    v = {name: q(text) for name, text in values.items()}
    files = {path: textwrap.dedent(text) for path, text in BASE_FILES.items()}
    files["content/site.yaml"] = "".join(f"{n}: {v[f'site.{n}']}\n" for n in SITE_TEXT) + (
        "language: en\nbase_url: https://example.org/sub/path/\n"
    )
    files["content/countries/china.yaml"] = (
        f"name: {v['country.name']}\ncode: CN\nsummary: {v['country.summary']}\n"
        "status: opposes\nas_of: 2018-12-07\nmeasures:\n  - id: concern\n    date: 2018-12-07\n"
        + "".join(f"    {n}: {v[f'measure.{n}']}\n" for n in MEASURE_TEXT)
        + "    vendors: [huawei]\n    confidence: confirmed\n    sources: [mfa-statement]\n"
    )
    files["content/sources.yaml"] = files["content/sources.yaml"].replace(
        "- id: mfa-statement\n  publisher: Ministry of Foreign Affairs\n",
        "- id: mfa-statement\n"
        + "".join(f"  {n}: {v[f'source.{n}']}\n" for n in SOURCE_TEXT if n != "excerpt")
        + f"  excerpts: [{v['source.excerpt']}]\n",
    )
    files["content/about.md"] = (
        f"---\ntitle: {v['page.title']}\nsummary: {v['page.summary']}\n---\n{body}"
    )
    return files


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("properties") / "project"
    shutil.copytree(PROJECT / "templates", root / "templates")
    shutil.copytree(PROJECT / "static", root / "static")
    return root


def build(root: Path, files: dict[str, str]) -> Result:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return run(Options(root=root, out=root / "site", write=False))


def assert_reported_as_content_errors(result: Result) -> None:
    assert result.report.errors
    for diagnostic in result.report.diagnostics:
        assert LOCATION.match(diagnostic.format()), diagnostic.format()


def pages(result: Result) -> dict[str, str]:
    return {path: body.decode() for path, body in result.files.items() if path.endswith(".html")}


def without_json_ld(html: str) -> str:
    return re.sub(r'<script type="application/ld\+json">.*?</script>', "", html, flags=re.S)


def assert_no_dangerous_urls(html: str) -> None:
    for element in BeautifulSoup(html, "html.parser").find_all(True):
        for name, value in element.attrs.items():
            assert not name.lower().startswith("on"), (element.name, name)
            if name in URL_ATTRIBUTES and isinstance(value, str):
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                assert not scheme.startswith(("javascript:", "data:", "vbscript:")), value


@SETTINGS
@given(st.dictionaries(st.sampled_from(FIELDS), ANY_FIELD))
def test_any_text_in_any_field_builds_or_is_reported(project: Path, values: dict[str, str]) -> None:
    result = build(project, site_files({**dict.fromkeys(FIELDS, "Plain"), **values}))
    event("built" if result.ok else "reported")
    if not result.ok:
        assert_reported_as_content_errors(result)


@SETTINGS
@given(st.fixed_dictionaries({name: VALID_FIELD for name in FIELDS}))
def test_any_text_in_any_field_is_escaped_wherever_it_lands(
    project: Path, values: dict[str, str]
) -> None:
    result = build(project, site_files(values))
    assert result.ok, [d.format() for d in result.report.errors]
    shown = {name: value.strip() for name, value in values.items()}
    html_pages = pages(result)
    for path, html in html_pages.items():
        parsed = BeautifulSoup(html, "html.parser")
        for script in parsed.find_all("script"):
            assert script.get("type") == "application/ld+json", path
            json.loads(script.string)  # the JSON-LD is whole: nothing broke out of it
        assert_no_dangerous_urls(html)
        # Where a value may rightly appear: escaped. (One value's escaped form can be
        # another's raw text: 'x&y' escaped is 'x&amp;y'.) Mask those, then look for raw.
        masked = without_json_ld(html)
        for escaped in sorted({str(escape(v)) for v in shown.values()}, key=len, reverse=True):
            masked = masked.replace(escaped, "\x00")
        for name, value in shown.items():
            if any(c in value for c in "<>&\"'"):
                assert value not in masked, (name, path)
    for name, path in SHOWN.items():
        assert str(escape(shown[name])) in html_pages[path], (name, path)
    feed = ET.fromstring(result.files["feed.xml"])
    assert feed.findtext("{http://www.w3.org/2005/Atom}title") == shown["site.title"]
    ET.fromstring(result.files["sitemap.xml"])
    data = json.loads(result.files["data/countries.json"])
    assert shown["country.name"] in [c["name"] for c in data["countries"]]
    rows = list(csv.reader(io.StringIO(result.files["data/measures.csv"].decode())))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


MARKDOWN = [
    "\n\n",
    "\n",
    "## Heading\n",
    "# Top {: onclick=alert(1) #top .x }\n",
    "- item\n",
    "    - nested\n",
    "1. first\n",
    "> quoted\n",
    "```\ncode <b>\n```\n",
    "`code`",
    "*em*",
    "**strong**",
    "[@reuters-japan]",
    "[@a; @b]",
    "[a link](countries/japan.yaml)",
    "[bad](javascript:alert(1))",
    "[data](data:text/html,x)",
    "[ok](https://example.org/)",
    "<https://example.org/>",
    "![img](https://example.org/x.png)",
    "![img](javascript:alert(1))",
    "Note[^1].\n\n[^1]: The note.\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n",
    '"quoted words"',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>x</script>">y</a>',
    '<div markdown="1" onclick="x">*md*</div>',
    "<style>*{}</style>",
    "<iframe src=//evil.example></iframe>",
    '<svg><a xlink:href="javascript:alert(1)">z</a></svg>',
    "<!-- comment -->",
    "<",
    "&",
    "]]>",
    "{{ x }}",
    "\\",
]
MARKDOWN_TEXT = st.lists(st.one_of(st.sampled_from(MARKDOWN), ANY_TEXT), max_size=25).map("".join)


@SETTINGS
@given(MARKDOWN_TEXT)
def test_any_markdown_is_built_or_reported_and_never_runs(project: Path, body: str) -> None:
    values = dict.fromkeys(FIELDS, "Plain")
    result = build(project, site_files(values, body))
    event("built" if result.ok else "reported")
    if not result.ok:
        assert_reported_as_content_errors(result)
        return
    html = result.files["about/index.html"].decode()
    main = BeautifulSoup(html, "html.parser").main
    assert main is not None
    assert_harmless(str(main))
    assert_no_dangerous_urls(html)
