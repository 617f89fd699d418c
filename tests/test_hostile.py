"""Hostile content and awkward files: nothing breaks, nothing leaks, nothing hangs.

Raw HTML is sanitised (or, when the settings say so, trusted); content links in raw HTML
are reported, not rewritten. Files no one should write (huge, deeply nested, pipes,
links out of the project, names no URL can carry) are refused with file:line, quickly.
Builds of awkward files run as subprocesses with a timeout, so a hang fails the test
instead of the suite; bad inputs that fit in a few bytes are in tests/bad_inputs/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import PROJECT, SiteDir

from sitegen.load import MAX_FILE_BYTES
from sitegen.markdown import MAX_HTML_DEPTH, MAX_NESTING, MarkdownRenderer, _Locator
from sitegen.pipeline import Builder, Options
from sitegen.quotes import MAX_CHECKED
from sitegen.sanitise import Sanitiser
from sitegen.yamldoc import MAX_DEPTH

TIME_LIMIT = 10  # seconds a build of an awkward file may take, generously
# A page of the largest size allowed, of ordinary prose: Python-Markdown, used through its
# public API only, takes about 8 s for 2 MB of it on two cores; a hang still fails.
LARGEST_PAGE_LIMIT = 20
FRONT = "---\ntitle: A page\n---\n"


def build_in_subprocess(site: SiteDir, limit: float = TIME_LIMIT) -> tuple[int, str]:
    """Build the site in a fresh interpreter; fail the test if it takes over `limit` s."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sitegen", "build"],
            cwd=site.root,
            capture_output=True,
            text=True,
            timeout=limit,
            env={**os.environ, "PYTHONPATH": str(PROJECT)},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the build took longer than {limit} s")
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr


def only_error(stderr: str) -> str:
    """The one error line of a failed build's standard error."""
    lines = stderr.splitlines()
    assert lines[-2:] == ["1 error(s), 0 warning(s)", "build failed; site/ was left as it was"]
    assert len(lines) == 3, stderr
    return lines[0]


def convert(body: str, raw_html: str = "sanitise"):
    return MarkdownRenderer(raw_html).convert(body, "content/about.md", 4, "about/")


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


# Raw HTML: sanitised by default ---------------------------------------------------------

HOSTILE_HTML = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<style>body{display:none}</style>",
    '<iframe src="https://evil.example/"></iframe>',
    '<img src="x" onerror="alert(1)">',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<a href="javascript:alert(1)">a</a>',
    '<a href="JaVaScRiPt:alert(1)">b</a>',
    '<a href="java&#115;cript:alert(1)">c</a>',
    '<a href=" javascript:alert(1)">d</a>',
    '<a href="vbscript:msgbox(1)">e</a>',
    '<a href="data:text/html,<script>alert(1)</script>">f</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<div onclick="alert(1)" onmouseover="alert(2)">g</div>',
    '<p style="background:url(javascript:alert(1))">h</p>',
    '<form action="https://evil.example/"><input name="q"><button>go</button></form>',
    '<object data="https://evil.example/x.swf"></object><embed src="x.swf">',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<a href="https://example.org/" target="_blank" rel="opener">i</a>',
    "<!-- <script>alert(1)</script> -->",
    '<div markdown="1" onclick="alert(1)">**j**</div>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<textarea><script>alert(1)</script></textarea>",
]


def assert_harmless(html: str) -> None:
    """No script, style, frame or form; no event handler; no script or data URL."""
    parsed = soup(html)
    banned = ["script", "style", "iframe", "svg", "math", "form", "input", "button"]
    banned += ["object", "embed", "base", "meta", "link", "noscript", "textarea"]
    assert parsed.find_all(banned) == []
    for element in parsed.find_all(True):
        for name, value in element.attrs.items():
            assert not name.lower().startswith("on"), (element.name, name)
            assert name.lower() not in ("target", "rel", "srcdoc", "formaction")
            if name == "style":  # only the column alignment of Markdown tables
                assert re.fullmatch(r"text-align:\s*(left|right|center);?", value), value
            if name in ("href", "src", "action", "data", "xlink:href"):
                scheme = re.match(
                    r"([a-z][a-z0-9+.-]*):", re.sub(r"[\s\x00-\x1f]", "", value).lower()
                )
                assert not scheme or scheme[1] in ("http", "https", "mailto"), value
    assert "<!--" not in html


@pytest.mark.parametrize("raw", HOSTILE_HTML)
def test_hostile_raw_html_is_made_harmless(raw: str) -> None:
    for body in (raw, f"Text {raw} more text.", f"- item {raw}\n"):
        document = convert(body + "\n")
        assert_harmless(document.html)
        assert document.diagnostics == ()


def test_attribute_lists_cannot_add_event_handlers() -> None:
    document = convert('## Heading {: onclick="alert(1)" style="color:red" #mine .note }\n')
    heading = soup(document.html).h2
    assert heading.attrs == {"id": "mine", "class": ["note"]}


def test_safe_raw_html_and_markdown_come_through() -> None:
    body = (
        "Press <kbd>Ctrl</kbd>, see <abbr title='World Health Organization'>WHO</abbr> and "
        '<a href="https://example.org/a?b=1#c" title="t">a link</a> [@reuters].\n\n'
        '<figure><img src="https://example.org/x.png" alt="A chart" width="10">'
        "<figcaption>Chart</figcaption></figure>\n\n"
        "| left | right |\n|:-----|------:|\n| 1 | 2 |\n\n"
        "Note[^1].\n\n[^1]: The note.\n"
    )
    document = convert(body)
    parsed = soup(document.html)
    assert parsed.kbd.get_text() == "Ctrl"
    assert parsed.abbr["title"] == "World Health Organization"
    assert parsed.find("a", title="t")["href"] == "https://example.org/a?b=1#c"
    assert parsed.select_one("sup.cite a")["href"] == "#ref-1"
    assert parsed.select_one("sup.cite a")["role"] == "doc-noteref"
    assert parsed.img.attrs == {"src": "https://example.org/x.png", "alt": "A chart", "width": "10"}
    aligned = [th.get("style") for th in parsed.select("th")]
    assert aligned == ["text-align:left", "text-align:right"]
    assert parsed.select_one("li#fn\\:1 a.footnote-backref")["href"] == "#fnref:1"


def test_an_email_autolink_is_a_mailto_link_not_an_error() -> None:
    document = convert("Write to <someone@example.org>.\n")
    assert soup(document.html).a["href"] == "mailto:someone@example.org"
    assert document.diagnostics == ()


def test_raw_html_ids_are_anchors_and_content_links_in_it_are_reported() -> None:
    raw = '<p id="raw-anchor">See <a href="countries/japan.yaml#x">J</a></p>'
    document = convert(f"Intro.\n\n{raw}\n")
    assert "raw-anchor" in document.ids
    assert soup(document.html).find("a")["href"] == "countries/japan.yaml#x"  # not rewritten
    assert [d.format() for d in document.diagnostics] == [
        "content/about.md:6:33: warning: link to 'countries/japan.yaml#x' in raw HTML is not "
        "rewritten or checked; write it as a Markdown link, [text](countries/japan.yaml#x), "
        "to link to that page"
    ]


def test_trusted_raw_html_is_kept_as_written() -> None:
    raw = '<script>window.x = 1</script>\n\n<div onclick="go()">x</div>\n'
    document = convert(raw, raw_html="trusted")
    assert "<script>window.x = 1</script>" in document.html
    assert soup(document.html).div["onclick"] == "go()"
    assert convert(raw).html.count("<script") == 0


def test_the_setting_is_part_of_the_cache_key_in_a_long_lived_builder(make_site) -> None:
    site = make_site({"content/about.md": FRONT + "<script>window.x = 1</script>\n"})
    builder = Builder(Options(root=site.root, out=site.root / "site", write=False))
    first = builder.build()
    assert first.ok
    assert b"window.x" not in first.files["about/index.html"]
    settings = (site.root / "content/site.yaml").read_text()
    site.write("content/site.yaml", settings + "raw_html: trusted\n")
    builder.forget(["content/site.yaml"])
    second = builder.build()
    assert second.ok
    assert b"<script>window.x = 1</script>" in second.files["about/index.html"]
    site.write("content/site.yaml", settings)
    builder.forget(["content/site.yaml"])
    assert b"window.x" not in builder.build().files["about/index.html"]


def test_the_setting_is_part_of_the_cache_key_across_builds(make_site) -> None:
    site = make_site({"content/about.md": FRONT + "<script>window.x = 1</script>\n"})
    assert site.build().code == 0  # fills the persistent cache in .cache/
    assert b"window.x" not in (site.root / "site/about/index.html").read_bytes()
    settings = (site.root / "content/site.yaml").read_text()
    site.write("content/site.yaml", settings + "raw_html: trusted\n")
    assert site.build().code == 0
    assert b"<script>window.x = 1</script>" in (site.root / "site/about/index.html").read_bytes()


def test_the_setting_reaches_parallel_workers(make_site) -> None:
    pages = {f"content/p{i}.md": FRONT + "<script>window.x = 1</script>\n" for i in range(90)}
    site = make_site(pages)
    settings = (site.root / "content/site.yaml").read_text()
    for mode, kept in (("trusted", True), ("sanitise", False)):
        site.write("content/site.yaml", settings + f"raw_html: {mode}\n")
        builder = Builder(Options(root=site.root, out=site.root / "site", write=False, jobs=2))
        files = builder.build().files
        assert all((b"<script>window.x" in files[f"p{i}/index.html"]) is kept for i in range(90))


def test_an_unknown_raw_html_setting_is_an_error(make_site) -> None:
    site = make_site()
    settings = (site.root / "content/site.yaml").read_text()
    site.write("content/site.yaml", settings + "raw_html: on\n")
    outcome = site.build()
    assert outcome.code == 1
    assert only_error(outcome.err) == (
        "content/site.yaml:8:11: error: field 'raw_html': 'on' is not allowed; "
        "use one of: sanitise, trusted"
    )


def test_the_sanitiser_keeps_its_own_findings_per_call() -> None:
    sanitiser = Sanitiser()
    first = sanitiser.clean('<p id="a"><a href="x.md">x</a></p>')
    second = sanitiser.clean("<p>plain</p>")
    assert (first.ids, first.content_links) == (frozenset({"a"}), ("x.md",))
    assert (second.ids, second.content_links) == (frozenset(), ())


# Awkward files ----------------------------------------------------------------------------


def test_bom_and_crlf_build_like_plain_files(make_site) -> None:
    plain = make_site()
    assert plain.build().code == 0
    expected = plain.tree()
    for path in ("content/about.md", "content/site.yaml", "content/countries/japan.yaml"):
        text = (plain.root / path).read_text()
        plain.write_bytes(path, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert plain.build().code == 0
    assert plain.tree() == expected


def test_a_lone_cr_file_builds_too(make_site) -> None:
    site = make_site()
    text = (site.root / "content/about.md").read_text()
    site.write_bytes("content/about.md", text.replace("\n", "\r").encode())
    assert site.build().code == 0
    assert "Every fact is cited" in site.html("about/index.html").main.get_text()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("content/site.yaml", "content/site.yaml:1:1: error: site.yaml must be a mapping"),
        ("content/sources.yaml", "content/sources.yaml:1:1: error: sources.yaml must be a list"),
        ("content/countries/china.yaml", "content/countries/china.yaml:1:1: error: empty fact"),
        ("content/about.md", "content/about.md:1:1: error: missing front matter"),
        ("content/index.md", "content/index.md:1:1: error: missing front matter"),
    ],
)
def test_empty_files_are_reported_at_their_first_line(make_site, path: str, message: str) -> None:
    site = make_site({path: ""})
    code, err = build_in_subprocess(site)
    assert code == 1
    assert message in err


def test_a_10_mb_page_is_refused_quickly_with_the_limit(make_site) -> None:
    paragraph = "Words of a very long page, cited [@reuters-japan]. " * 10 + "\n\n"
    site = make_site({"content/about.md": FRONT + paragraph * (10_000_000 // len(paragraph))})
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err) == (
        "content/about.md:1:1: error: the file is 10.0 MB; a content file may be at most 2 MB; "
        "split a long page into several, and put large data in static/"
    )


def test_a_page_just_under_the_limit_builds_in_seconds(make_site) -> None:
    paragraph = (
        "A long paragraph of plain prose, as a writer would write it, with *a few* words. " * 5
        + "It links to [Japan](countries/japan.yaml) and cites a source [@reuters-japan].\n\n"
    )
    body = paragraph * ((MAX_FILE_BYTES - 1000) // len(paragraph.encode()))
    site = make_site({"content/about.md": FRONT + body})
    code, err = build_in_subprocess(site, LARGEST_PAGE_LIMIT)
    assert code == 0, err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "".join("  " * i + "- item\n" for i in range(1000)),
            f"content/about.md:106:205: error: this line is nested {MAX_NESTING + 1} levels deep",
        ),
        (
            "".join(">" * i + " quoted\n" for i in range(1, 1001)),
            f"content/about.md:54:53: error: this line is nested {MAX_NESTING + 1} levels deep",
        ),
        (
            "<div>" * 100_000 + "x" + "</div>" * 100_000 + "\n",
            f"content/about.md:4:1281: error: raw HTML is nested more than {MAX_HTML_DEPTH}",
        ),
        (
            "- " * 1000 + "x\n",
            "content/about.md:4:1: error: the text is nested too deeply for the Markdown converter",
        ),
        (
            "1. " * 1000 + "x\n",
            "content/about.md:4:1: error: the text is nested too deeply for the Markdown converter",
        ),
    ],
    ids=["list", "quote", "raw-html", "list-markers", "numbered-markers"],
)
def test_deep_nesting_is_refused_with_its_line(make_site, body: str, message: str) -> None:
    site = make_site({"content/about.md": FRONT + body})
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err).startswith(message)


def test_a_renderer_recovers_after_refusing_deep_text() -> None:
    renderer = MarkdownRenderer()
    deep = renderer.convert("- " * 1000 + "x\n", "content/a.md", 4, "a/")
    assert deep.html == "" and deep.diagnostics[0].severity == "error"
    after = renderer.convert("A <b>bold</b> [@a] word.\n", "content/a.md", 4, "a/")
    assert soup(after.html).b.get_text() == "bold"
    assert after.citations == ("a",)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: " + "[" * 100_000 + "]" * 100_000 + "\n", "1:56"),
        ("name: " + "{a: " * 100_000 + "}" * 100_000 + "\n", "1:203"),
        ("".join(" " * i + "a:\n" for i in range(200)) + "\n", "51:51"),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings"],
)
def test_deep_yaml_is_refused_without_crashing(make_site, text: str, where: str) -> None:
    site = make_site({"content/countries/china.yaml": text})
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err) == (
        f"content/countries/china.yaml:{where}: error: YAML nested more than {MAX_DEPTH} levels "
        "deep; content needs only a few levels; check the brackets and the indentation"
    )


def test_billion_laughs_is_refused_at_once(make_site) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    site = make_site({"content/countries/china.yaml": "\n".join(lines) + "\n"})
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err).startswith(
        "content/countries/china.yaml:1:5: error: YAML anchors, aliases and merge keys"
    )


_COSTLY = (
    "the brackets and tags from here on take the Markdown converter too long: many '[' or "
    "'<' are never closed, or are nested deeply; close each [ with ] and each <tag with >, "
    "or write \\[ and &lt; for the characters themselves"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Intro.\n\n" + "[" * 25_000 + "\n", f"content/about.md:6:1: error: {_COSTLY}"),
        ("<a " * 30_000 + "\n", f"content/about.md:4:1: error: {_COSTLY}"),
        ("[" * 5_000 + "x" + "]" * 5_000 + "\n", f"content/about.md:4:1: error: {_COSTLY}"),
        (  # the header is row 1, on line 8: the 15,001st row is on line 15,008
            "Intro.\n\nMore.\n\n| a | b |\n|---|---|\n" + "| x | y |\n" * 150_000,
            "content/about.md:15008:1: error: the page has 150,002 links, citations, tags and "
            "table rows (past 15,000 here); a page may have at most 15,000; split it into "
            "several pages, or put large tables in a data file in static/",
        ),
        (  # 24 characters a citation: the 15,001st starts at 15,000 * 24 + 7
            "Cited [@reuters-japan]. " * 75_000 + "\n",
            "content/about.md:4:360007: error: the page has 75,000 links, citations, tags and "
            "table rows (past 15,000 here); a page may have at most 15,000; split it into "
            "several pages, or put large tables in a data file in static/",
        ),
        ('"Japan" [@reuters-japan] and "Huawei" [@reuters-japan].\n\n' * 7_000, None),
        ("A [bracket that stays open, and <b>bold</b>.\n\n" * 1_000, None),
        ("```\n" + "[x" * 25_000 + "\n" + "<a " * 20_000 + "\n```\n", None),
    ],
    ids=[
        "open-brackets",
        "open-tags",
        "nested-brackets",
        "long-table",
        "citations-on-a-line",
        "many-quotations",
        "one-open-bracket-a-paragraph",
        "code-in-a-fence",
    ],
)
def test_text_that_would_take_minutes_is_refused_or_built_in_seconds(
    make_site, body: str, message: str | None
) -> None:
    """Each input builds within the time limit or is refused at its line, leaving the
    last site as it was: never minutes."""
    site = make_site()
    assert build_in_subprocess(site)[0] == 0
    before = site.tree()
    site.write("content/about.md", FRONT + body)
    code, err = build_in_subprocess(site)
    if message is None:
        assert code == 0, err
        return
    assert code == 1 and only_error(err) == message
    assert site.tree() == before


def with_excerpts(site: SiteDir, excerpts: list[str]) -> None:
    """Give the base site's source reuters-japan these excerpts after its own."""
    path = site.root / "content/sources.yaml"
    own = "    - Cybersecurity is becoming an important issue in Japan\n"
    text = path.read_text()
    assert own in text
    path.write_text(text.replace(own, own + "".join(f'    - "{e}"\n' for e in excerpts)))


NEAR_MISS = '"Huawei and ZTE were said to be excluded from network {}" [@reuters-japan]\n\n'


def test_near_misses_against_many_long_excerpts_build_in_seconds(make_site) -> None:
    """A quotation that matches no excerpt is compared with each excerpt it cites, for
    the hint: 500 of them against 200 long excerpts took a minute. The comparisons are
    bounded: the first hints name the closest excerpt, the rest say why they do not."""
    site = make_site()
    with_excerpts(site, [f"Passage {i} about network equipment vendors. " * 40 for i in range(200)])
    site.write("content/about.md", FRONT + "".join(NEAR_MISS.format(i) for i in range(500)))
    code, err = build_in_subprocess(site)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if ": warning: quotation " in line]
    assert len(warnings) == 500
    assert warnings[0].startswith(
        'content/about.md:4:1: warning: quotation "Huawei and ZTE were said to be excluded from '
        'network 0" does not match an excerpt of reuters-japan; closest excerpt: "'
    )
    assert warnings[-1] == (
        'content/about.md:1002:1: warning: quotation "Huawei and ZTE were said to be excluded '
        'from network 499" does not match an excerpt of reuters-japan; add the quoted passage '
        "to the excerpts of reuters-japan in content/sources.yaml (too many quotations differ "
        "from their excerpts to show the closest)"
    )


def test_quotations_citing_more_excerpt_text_than_can_be_checked_are_refused(
    make_site,
) -> None:
    """Each quotation is looked for in all the excerpt text it cites: a site's quotations
    may cite MAX_CHECKED characters of it, and the first past that is refused at its
    line, leaving the last site as it was."""
    site = make_site()
    assert build_in_subprocess(site)[0] == 0
    before = site.tree()
    long = [f"{i:04d} " + "Passage about network equipment vendors. " * 47 for i in range(1000)]
    with_excerpts(site, long)
    site.write("content/about.md", FRONT + "".join(NEAR_MISS.format(i) for i in range(200)))
    code, err = build_in_subprocess(site)
    # each quotation costs the source's excerpts, normalised and joined, and one; the
    # home page's quotation is checked first
    cost = len("\n".join(["Cybersecurity is becoming an important issue in Japan", *long])) + 1
    passed = MAX_CHECKED // cost - 1
    assert code == 1
    assert err.splitlines()[-3:] == [
        f"content/about.md:{4 + 2 * passed}:1: error: checking the quotations from here on "
        "would take too long: each is compared with all the excerpt text it cites, and a "
        f"site's quotations may cite {MAX_CHECKED:,} characters of it in all; give each "
        "source only the excerpts its pages quote, or quote fewer passages",
        f"1 error(s), {passed} warning(s)",
        "build failed; site/ was left as it was",
    ]
    assert site.tree() == before


def test_many_citations_on_one_line_are_located_in_linear_time() -> None:
    body = "x [@a] " * 200_000
    locate = _Locator(body, "content/a.md", 4)
    started = time.perf_counter()
    found = [locate.find("[@a]") for _ in range(200_000)]
    assert time.perf_counter() - started < 5
    assert (found[0].col, found[1].col, found[-1].col) == (3, 10, 7 * 199_999 + 3)
    assert locate.find("[@a]") == found[-1]  # past the last: the last again


# Files that are not files, and links out of the project -------------------------------


@pytest.mark.parametrize("folder", ["content", "templates", "static"])
def test_a_pipe_is_refused_instead_of_blocking(make_site, folder: str) -> None:
    site = make_site()
    name = {"content": "pipe.md", "templates": "pipe.html", "static": "pipe.css"}[folder]
    os.mkfifo(site.root / folder / name)
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err) == (
        f"{folder}/{name}:1:1: error: not a regular file (a broken link, a pipe, a socket or "
        "a device); replace it with a plain file or remove it"
    )


def test_a_broken_link_in_static_is_refused(make_site) -> None:
    site = make_site()
    (site.root / "static/gone.css").symlink_to("nowhere.css")
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err).startswith("static/gone.css:1:1: error: not a regular file")


@pytest.mark.parametrize("folder", ["content", "templates", "static"])
def test_a_source_folder_linked_out_of_the_project_is_refused(
    make_site, tmp_path: Path, folder: str
) -> None:
    site = make_site()
    outside = tmp_path / f"outside-{folder}"
    (site.root / folder).rename(outside)
    (site.root / folder).symlink_to(outside)
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err) == (
        f"{folder}:1:1: error: symbolic link leads outside the project, or to a hidden "
        "folder; copy the folder in instead"
    )


def test_a_template_linked_out_is_refused_before_anything_renders(
    make_site, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.html"
    secret.write_text("TOP-SECRET {{ page.title }}")
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    (site.root / "templates/page.html").unlink()
    (site.root / "templates/page.html").symlink_to(secret)
    outcome = site.build()
    assert outcome.code == 1
    assert "TOP-SECRET" not in outcome.err
    assert only_error(outcome.err).startswith("templates/page.html:1:1: error: symbolic link")
    assert site.tree() == before


@pytest.mark.parametrize(
    ("name", "linked"),
    [(".d/leak.html", True), (".d/leak.html", False), (".leak.html", False), ("x.html~", False)],
)
def test_templates_load_only_what_the_walk_found(
    make_site, tmp_path: Path, name: str, linked: bool
) -> None:
    """The walk never enters a hidden folder, so a link in one is never checked: Jinja
    would still read it, and publish what it leads to; and it would read hidden files
    and editors' leftovers. Only the templates the walk found load; anything else is an
    error at the line that names it, and nothing leaks."""
    secret = tmp_path / "secret.html"
    secret.write_text("TOP-SECRET")
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    path = site.root / "templates" / name
    path.parent.mkdir(exist_ok=True)
    if linked:
        path.symlink_to(secret)
    else:
        shutil.copy(secret, path)
    page = (site.root / "templates/page.html").read_text()
    include = '{% include "_references.html" %}'
    site.write("templates/page.html", page.replace(include, f'{{% include "{name}" %}}\n{include}'))
    outcome = site.build()
    assert outcome.code == 1
    assert "TOP-SECRET" not in outcome.err
    assert only_error(outcome.err) == (
        f"templates/page.html:6:1: error: template '{name}' not found: hidden files and "
        "folders, and editors' leftovers, are never read (rendering about/index.html); name "
        "the template and its folders without a leading dot or # and without a backup "
        "ending (~, .swp, .tmp)"
    )
    assert site.tree() == before
    assert not any(b"TOP-SECRET" in body for body in site.tree().values())


@pytest.mark.parametrize("links", [["loop"], ["one", "two"]])
def test_folder_links_that_loop_are_refused_quickly(make_site, links: list[str]) -> None:
    site = make_site()
    for name in links:
        (site.root / "content/countries" / name).symlink_to("..")
    code, err = build_in_subprocess(site)
    assert code == 1
    assert err.splitlines()[: len(links)] == [
        f"content/countries/{name}:1:1: error: symbolic link to a folder that is already "
        "read (a loop or a second copy); remove the link"
        for name in links
    ]


def test_a_folder_linked_from_elsewhere_in_the_project_is_refused(make_site) -> None:
    """Only content/, templates/ and static/ are read: a link to another folder of the
    project (where .git, .env and notes live) is refused, and the site left as it was."""
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    site.write("extra/notes.md", FRONT + "Linked notes.\n")
    (site.root / "content/notes").symlink_to("../extra")
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err) == (
        "content/notes:1:1: error: symbolic link leads outside content/, templates/ and "
        "static/, or to a hidden file; copy the folder in instead"
    )
    assert site.tree() == before


def test_links_inside_the_source_folders_are_read(make_site) -> None:
    site = make_site()
    site.write("static/notes/keep.txt", "kept\n")
    (site.root / "static/linked.txt").symlink_to("notes/keep.txt")
    (site.root / "content/notes.md").symlink_to("about.md")
    assert site.build().code == 0
    assert (site.root / "site/linked.txt").read_text() == "kept\n"
    assert (
        site.html("notes/index.html").h1.get_text() == site.html("about/index.html").h1.get_text()
    )


_CONTROL = "has a backslash or a control character"


@pytest.mark.parametrize(
    ("folder", "name", "shown", "problem"),
    [
        ("content", b"a\\b.md", "a\\b.md", _CONTROL),
        ("content", b"a\x01b.md", "a\\x01b.md", _CONTROL),
        ("content", b"caf\xe9.md", "caf\\xe9.md", "is not valid UTF-8"),
        ("static", b"new\nline.css", "new\\x0aline.css", _CONTROL),
        ("templates", b"a\\b.html", "a\\b.html", _CONTROL),
        ("templates", b"a\x1bb.html", "a\\x1bb.html", _CONTROL),
        ("templates", b"caf\xe9.html", "caf\\xe9.html", "is not valid UTF-8"),
        (
            "templates",
            b"bad\x01dir/x.html",
            "bad\\x01dir",
            _CONTROL,
        ),
    ],
)
def test_names_no_output_can_carry_are_refused(
    make_site, folder: str, name: bytes, shown: str, problem: str
) -> None:
    """Names with a backslash, a control character or bytes that are not UTF-8 are
    refused everywhere: in content/, static/ and templates/ alike."""
    site = make_site()
    assert build_in_subprocess(site)[0] == 0
    before = site.tree()
    target = site.root / folder / os.fsdecode(name)
    target.parent.mkdir(exist_ok=True)
    target.write_text(FRONT if folder == "content" else "<p>A file no page uses.</p>\n")
    code, err = build_in_subprocess(site)
    assert code == 1
    assert only_error(err) == (
        f"{folder}/{shown}:1:1: error: the name {problem}; "
        "rename it with letters, digits, hyphens, underscores and dots"
    )
    assert site.tree() == before


@pytest.mark.parametrize(
    ("path", "character"),
    [
        ("static/a:b?.txt", ":"),
        ("templates/x|y.html", "|"),
        ("content/what?.md", "?"),
        ("content/<b>.md", "<"),
        ('static/"quoted".txt', '"'),
        ("static/star*.css", "*"),
        ("static/at>/x.txt", ">"),
    ],
)
def test_names_windows_cannot_hold_are_refused(make_site, path: str, character: str) -> None:
    """Windows holds no < > : " | ? * in a name: a site checked out or served there
    could not have the file (a folder is refused by its own name)."""
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    site.write(path, FRONT)
    outcome = site.build()
    assert outcome.code == 1
    named = path.split("/x.txt")[0]
    assert only_error(outcome.err) == (
        f"{named}:1:1: error: the name has '{character}' in it: no name on Windows can hold "
        'any of < > : " | ? *; rename it with letters, digits, hyphens, underscores and dots'
    )
    assert site.tree() == before


@pytest.mark.parametrize("name", ["a b", "a#b", "a%2fb", "é"])
def test_page_paths_that_are_not_urls_are_refused(make_site, name: str) -> None:
    site = make_site({f"content/{name}.md": FRONT})
    outcome = site.build()
    assert outcome.code == 1
    assert only_error(outcome.err).startswith(
        f"content/{name}.md:1:1: error: the page's path '{name}.md' cannot be its URL"
    )


@pytest.mark.parametrize(
    ("static", "clash"),
    [
        ("countries", "countries/china/index.html"),
        ("about/index.html/more.txt", "about/index.html"),
        ("sitemap.xml/x.txt", "sitemap.xml"),
    ],
)
def test_static_files_that_need_a_page_to_be_a_folder_are_refused(
    make_site, static: str, clash: str
) -> None:
    site = make_site({f"static/{static}": "x"})
    outcome = site.build()
    assert outcome.code == 1
    assert only_error(outcome.err) == (
        f"static/{static}:1:1: error: static file {static} clashes with {clash}: one path "
        "cannot be both a file and a folder; rename or move the static file"
    )


def test_text_fields_refuse_control_characters(make_site) -> None:
    site = make_site()
    china = (site.root / "content/countries/china.yaml").read_text()
    site.write("content/countries/china.yaml", china.replace("name: China", 'name: "Ch\\x1bina"'))
    outcome = site.build()
    assert outcome.code == 1
    assert only_error(outcome.err) == (
        "content/countries/china.yaml:1:7: error: field 'name': contains the control "
        "character U+001B; remove it (no page, feed or download can show it)"
    )


def test_an_output_folder_named_with_control_characters_is_shown_escaped(make_site) -> None:
    """A path given on the command line reaches the terminal escaped, in the closing
    line as in the no-change one, like every value read from the content."""
    site = make_site()
    out = site.root / "out\x1b[2J\x1b]0;pwned\x07"
    shown = str(site.root / "out\\x1b[2J\\x1b]0;pwned\\x07")
    for outcome in (site.build("build", "--out", str(out)), site.build("build", "--out", str(out))):
        assert outcome.code == 0, outcome.err
        printed = outcome.out + outcome.err
        assert "\x1b" not in printed and "\x07" not in printed
        assert shown in printed
    assert (out / "index.html").is_file()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://example.org/x",
        "file:///etc/passwd",
        "//example.org/x",
        "https://example.org/a b",
        "https://example.org\\@evil.example",
        "https:evil.example",
    ],
)
def test_source_urls_must_be_http_or_https(make_site, url: str) -> None:
    site = make_site()
    text = (site.root / "content/sources.yaml").read_text()
    quoted = '"' + url.replace("\\", "\\\\") + '"'
    site.write("content/sources.yaml", text.replace("https://example.com/reuters", quoted))
    outcome = site.build()
    assert outcome.code == 1
    assert only_error(outcome.err).startswith("content/sources.yaml:5:8: error: field 'url': ")
    assert outcome.err.splitlines()[0].endswith(
        "is not an http(s) URL; write a full http:// or https:// URL"
    )


def test_a_deployed_copy_with_files_beside_it_is_not_replaced(make_site, tmp_path: Path) -> None:
    """`cp -a site/. /var/www/`, then `build --out /var/www`: the copied marker does not
    make the files that were there the tool's; nothing is deleted, the build says which."""
    site = make_site()
    assert site.build().code == 0
    www = tmp_path / "www"
    (www / "uploads").mkdir(parents=True)
    (www / "uploads/invoice-2018.pdf").write_bytes(b"%PDF-1.4 invoice")
    (www / ".well-known").mkdir()
    (www / ".well-known/security.txt").write_text("Contact: mailto:security@example.org\n")
    shutil.copytree(site.root / "site", www, dirs_exist_ok=True, symlinks=True)
    before = {p.relative_to(www).as_posix(): p.read_bytes() for p in www.rglob("*") if p.is_file()}
    outcome = site.build("build", "--out", str(www))
    assert outcome.code == 1
    assert outcome.err.splitlines() == [
        f"{www}:1:1: error: {www} holds files this tool did not write, or that changed since "
        "it wrote them: .well-known/security.txt, uploads/invoice-2018.pdf; it will not be "
        "replaced: move them out of it; choose another --out folder",
        "1 error(s), 0 warning(s)",
        f"build failed; {www} was left as it was",
    ]
    after = {p.relative_to(www).as_posix(): p.read_bytes() for p in www.rglob("*") if p.is_file()}
    assert after == before
