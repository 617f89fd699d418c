"""Markdown to HTML with our extensions: citations, content links and heading anchors.

Python-Markdown reports no line numbers, so the links and citations it finds are located
again in the source text (with the front matter's length added) for the messages.
Raw HTML is parsed, and the whole converted body is then sanitised with an allow-list
(sitegen/sanitise.py) unless the settings say `raw_html: trusted`. Text nested absurdly
deep (lists, quotations, raw HTML) is refused with its line before Python-Markdown, whose
time grows faster than the depth, ever sees it.
"""

from __future__ import annotations

import bisect
import hashlib
import html
import json
import posixpath
import re
import xml.etree.ElementTree as etree
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import markdown
from markdown.extensions import Extension
from markdown.extensions.abbr import AbbrExtension
from markdown.extensions.attr_list import AttrListExtension
from markdown.extensions.def_list import DefListExtension
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.md_in_html import MarkdownInHtmlExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension
from markdown.inlinepatterns import InlineProcessor
from markdown.treeprocessors import Treeprocessor

from . import urls
from .engine import ENGINE_KEY
from .errors import Diagnostic, Location, Report
from .packing import pack, unpack
from .sanitise import DEFAULT_MODE, Sanitiser, html_depth_exceeded, settings_key

CITATION_RE = r"\[(@[A-Za-z0-9][\w.:-]*(?:\s*;\s*@[A-Za-z0-9][\w.:-]*)*)\]"
# What a writer meant as a citation and got wrong ([@a;;@b], [-@a], [@ a], an unclosed
# [@a): matched after the citations proper, which are gone from the text by then.
# (Not a link's text, [@name](url) or [@name][ref]: those stay links. An unclosed one
# ends at the line's end or where what was matched already begins: \x02, a placeholder.)
BAD_CITATION_RE = r"\[\s*-?\s*@[^\]\n\x02]{0,200}(?:\](?![(\[])|(?=[\n\x02]|$))"
SAFE_SCHEMES = ("http", "https", "mailto")


@dataclass(frozen=True)
class ContentLink:
    """A link from a page to content (a .md or .yaml file), possibly with an anchor."""

    target: str  # path relative to content/
    anchor: str
    location: Location


@dataclass(frozen=True)
class CitationUse:
    """One `[@a; @b]` in the text, where it is."""

    ids: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class Heading:
    id: str
    text: str
    level: int
    location: Location


@dataclass(frozen=True)
class Document:
    """A converted Markdown body and everything the model needs to know about it.

    The HTML is kept compressed (`packed`): a build holds every page's body from
    conversion until its page is written, and sends it between processes and to the
    cache: the bodies of all pages are most of a build's memory unless packed.
    """

    packed: bytes  # the HTML, UTF-8, packed (packing.pack)
    links: tuple[ContentLink, ...]
    citations: tuple[str, ...]  # source ids, in order of first citation: [1], [2], ...
    citation_uses: tuple[CitationUse, ...]
    headings: tuple[Heading, ...]
    ids: frozenset[str]
    diagnostics: tuple[Diagnostic, ...]
    source: str = ""  # a digest of everything the conversion depended on

    @property
    def html_bytes(self) -> bytes:
        """The HTML as UTF-8: what an output file holds."""
        return unpack(self.packed)

    @property
    def html(self) -> str:
        return self.html_bytes.decode()

    def to_json(self) -> str:
        """Everything but the packed HTML, as JSON text (the cache keeps that beside it)."""
        return json.dumps(
            {
                "links": [[k.target, k.anchor, k.location.to_json()] for k in self.links],
                "citations": list(self.citations),
                "uses": [[list(u.ids), u.location.to_json()] for u in self.citation_uses],
                "headings": [[h.id, h.text, h.level, h.location.to_json()] for h in self.headings],
                "ids": sorted(self.ids),
                "diagnostics": [d.to_json() for d in self.diagnostics],
                "source": self.source,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, packed: bytes) -> Document:
        """From `to_json` and the packed HTML; an exception if they are not what a build
        wrote (cache.Store takes any as a damaged row)."""
        value = json.loads(text)
        unpack(packed).decode()  # raises unless it is HTML this engine packed
        headings = []
        for hid, title, level, where in value["headings"]:
            if type(level) is not int:
                raise ValueError("heading level is not a number")
            headings.append(Heading(_text(hid), _text(title), level, Location.from_json(where)))
        return cls(
            packed=packed,
            links=tuple(
                ContentLink(_text(target), _text(anchor), Location.from_json(where))
                for target, anchor, where in value["links"]
            ),
            citations=_texts(value["citations"]),
            citation_uses=tuple(
                CitationUse(_texts(ids), Location.from_json(where)) for ids, where in value["uses"]
            ),
            headings=tuple(headings),
            ids=frozenset(_texts(value["ids"])),
            diagnostics=tuple(Diagnostic.from_json(d) for d in value["diagnostics"]),
            source=_text(value["source"]),
        )

    def __digest__(self) -> str:
        """Stand for the document in dependency digests: cheaper than hashing its HTML."""
        return f"Document:{self.source}"


def report_taken_ids(
    document: Document,
    taken: Collection[str],
    report: Report,
    where: Callable[[str], Location],
) -> bool:
    """Report each id the text sets that the page gives to something it generates: a
    heading's at its line, any other where `where` finds it; True if there was one."""
    found = False
    for heading in document.headings:
        if heading.id in taken:
            found = True
            report.error(
                heading.location,
                f"heading '{heading.text}' takes the id '{heading.id}', "
                "which the page gives to something it generates (a section, a measure, "
                "a reference, a country or a source)",
                "rename the heading, or give it an id with {#other-id}",
            )
    for other in sorted(document.ids & set(taken) - {h.id for h in document.headings}):
        found = True
        report.error(
            where(other),
            f"the id '{other}' set in the text is one the page gives to something it generates",
            "choose another id in {#...}",
        )
    return found


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not text: {value!r:.80}")
    return value


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"not a list: {value!r:.80}")
    return tuple(_text(item) for item in value)


_HTML_ID = re.compile(r"""\sid=(?:"([^"]*)"|'([^']*)')""")


def ids_written(markup: str) -> Counter[str]:
    """Each id HTML sets, with how many elements set it."""
    return Counter(html.unescape(a or b) for a, b in _HTML_ID.findall(markup))


def _id_written(locate: _Locator, anchor: str) -> Location:
    """Where the text sets an id again: its second `{#id}` (or `{: #id}`, `id="id"`),
    or the one where it is written once (the other from a heading or raw HTML)."""
    name = re.escape(anchor)
    written = re.compile(r"\{:?[^}\n]*#" + name + r"[\s}]|\bid=[\"']" + name + r"[\"']")
    offsets = [m.start() for m in written.finditer(locate.body)]
    if not offsets:
        return Location(locate.path, locate.body_line, 1)
    return locate.at(offsets[1] if len(offsets) > 1 else offsets[0])


class _State:
    """What one conversion found, reset before each document."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.numbers: dict[str, int] = {}
        self.occurrences: dict[int, int] = defaultdict(int)
        self.citations: list[tuple[str, tuple[str, ...]]] = []  # matched text, ids
        self.links: list[tuple[str, str, str]] = []  # raw href, target, anchor
        self.problems: list[tuple[str, str, str]] = []  # raw href, message, hint
        self.bad_citations: list[str] = []  # as written
        self.ids: set[str] = set()
        self.page_url = ""
        self.content_dir = ""


class _CitationProcessor(InlineProcessor):
    """Turn `[@a; @b]` into a <sup> of links, numbered later by _CitationNumberer.

    Python-Markdown converts inline text depth last (a list's items after the paragraphs
    that follow the list), so numbers given here would not follow the reading order.
    """

    def __init__(self, state: _State) -> None:
        super().__init__(CITATION_RE)
        self.state = state

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element, int, int]:
        ids = tuple(part.strip()[1:] for part in m.group(1).split(";"))
        self.state.citations.append((m.group(0), ids))
        sup = etree.Element("sup", {"class": "cite"})
        sup.text = "["
        for position, source_id in enumerate(ids):
            anchor = etree.SubElement(sup, "a", {_CITE_ID: source_id, "role": "doc-noteref"})
            anchor.tail = ", " if position < len(ids) - 1 else "]"
        return sup, m.start(0), m.end(0)


# Holds a citation's source id from the inline pass until it is numbered: no element the
# text writes can have it when numbering begins, as each one found is removed.
_CITE_ID = "data-sitegen-cite"


class _CitationNumberer(Treeprocessor):
    """Number the citations in reading order: the first source cited in the document, as
    it reads from top to bottom (paragraphs, lists, tables, footnotes), is [1]."""

    def __init__(self, md: markdown.Markdown, state: _State) -> None:
        super().__init__(md)
        self.state = state

    def run(self, root: etree.Element) -> None:
        numbers, occurrences = self.state.numbers, self.state.occurrences
        for element in root.iter("a"):
            source_id = element.attrib.pop(_CITE_ID, None)
            if source_id is None:
                continue
            number = numbers.setdefault(source_id, len(numbers) + 1)
            occurrences[number] += 1
            element.set("href", f"#ref-{number}")
            element.set("id", f"cite-{number}-{occurrences[number]}")
            element.text = str(number)


class _BadCitationProcessor(InlineProcessor):
    """Note a malformed citation, and leave it as the text it is."""

    def __init__(self, state: _State) -> None:
        super().__init__(BAD_CITATION_RE)
        self.state = state

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str, int, int]:
        self.state.bad_citations.append(m.group(0).rstrip())
        return m.group(0), m.start(0), m.end(0)


class _LinkProcessor(Treeprocessor):
    """Rewrite content links to relative URLs; refuse unsafe and unknown targets."""

    def __init__(self, md: markdown.Markdown, state: _State) -> None:
        super().__init__(md)
        self.state = state

    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            for attr in ("href", "src"):
                value = element.get(attr)
                if value is not None and not _generated(element, value):
                    element.set(attr, self._rewrite(value))

    def _rewrite(self, raw: str) -> str:
        # Browsers decode entities in attributes: judge the URL they will see. (An email
        # autolink's href is entity-encoded, with Python-Markdown's stand-in for '&'.)
        seen = html.unescape(raw.replace(markdown.util.AMP_SUBSTITUTE, "&"))
        try:
            parts = urlsplit(seen.strip())
        except ValueError:  # an unbalanced [ or ] in the host
            self.state.problems.append(
                (
                    raw,
                    f"link to '{raw}' is not a valid URL (a [ or ] in its host is not closed)",
                    "use an http://, https:// or mailto: address, or link to a content file",
                )
            )
            return "#"
        if parts.scheme:
            if parts.scheme.lower() in SAFE_SCHEMES:
                return raw
            self.state.problems.append(
                (
                    raw,
                    f"link uses the scheme '{parts.scheme}:', which is not allowed",
                    "use an http://, https:// or mailto: address, or link to a content file",
                )
            )
            return "#"
        if parts.path == "" and not parts.netloc and raw.startswith("#"):
            self.state.links.append((raw, "", unquote(parts.fragment)))
            return raw
        path = unquote(parts.path)
        if parts.netloc or path.startswith("/") or not path.endswith((".md", ".yaml")):
            self.state.problems.append((raw, f"link to '{raw}' is not a content file", _LINK_HINT))
            return "#"
        target = posixpath.normpath(posixpath.join(self.state.content_dir, path))
        target_url = urls.url_for_content(target)
        if target.startswith("../") or target_url is None:
            self.state.problems.append(
                (
                    raw,
                    f"link to '{raw}' is not a page (it resolves to content/{target})",
                    _LINK_HINT,
                )
            )
            return "#"
        self.state.links.append((raw, target, unquote(parts.fragment)))
        href = urls.relative(self.state.page_url, target_url)
        return f"{href}#{parts.fragment}" if parts.fragment else href


class _IdCollector(Treeprocessor):
    """Record every id in the finished tree: the anchors other pages may link to."""

    def __init__(self, md: markdown.Markdown, state: _State) -> None:
        super().__init__(md)
        self.state = state

    def run(self, root: etree.Element) -> None:
        self.state.ids.update(el.get("id") for el in root.iter() if el.get("id"))


# Links the converter itself makes: to footnotes and back, and from citations to the
# reference list. A writer's own link to such an anchor is checked like any other.
_GENERATED_ANCHORS = ("#fn:", "#fnref:", "#ref-")
_GENERATED_LINKS = {
    ("class", "footnote-ref"),
    ("class", "footnote-backref"),
    ("role", "doc-noteref"),
}


def _generated(element: etree.Element, href: str) -> bool:
    """Whether a link is one the converter made (not written in the text)."""
    return href.startswith(_GENERATED_ANCHORS) and any(
        element.get(name) == value for name, value in _GENERATED_LINKS
    )


_LINK_HINT = (
    "link to a .md or .yaml file in content/ by its relative path "
    "(e.g. countries/japan.yaml#measures), or write a full https:// URL"
)


class _ExplainerExtension(Extension):
    def __init__(self, state: _State) -> None:
        super().__init__()
        self.state = state

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.inlinePatterns.register(_CitationProcessor(self.state), "citation", 175)
        md.inlinePatterns.register(_BadCitationProcessor(self.state), "bad_citation", 174)
        # After the inline pass (20) and the footnotes' (15, 19), before the links (4).
        md.treeprocessors.register(_CitationNumberer(md, self.state), "cite_numbers", 12)
        md.treeprocessors.register(_LinkProcessor(md, self.state), "content_links", 4)
        md.treeprocessors.register(_IdCollector(md, self.state), "collect_ids", -10)


def source_key(body: str, path: str, body_line: int, page_url: str, settings: str) -> str:
    """What a conversion depends on: the text, where it is, and the converter's settings."""
    text = "\x1f".join((ENGINE_KEY, settings, path, str(body_line), page_url, body))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class MarkdownRenderer:
    """One configured Python-Markdown instance, reused for every document.

    `raw_html` is the site's setting: "sanitise" (the default) or "trusted"; it is part
    of `settings_key`, so documents converted under another setting are not reused.
    """

    def __init__(self, raw_html: str = DEFAULT_MODE) -> None:
        self.raw_html = raw_html
        self.settings_key = settings_key(raw_html)
        self._sanitiser = Sanitiser() if raw_html != "trusted" else None
        self._state = _State()
        self._md = self._markdown()

    def _markdown(self) -> markdown.Markdown:
        # Extension objects, not names: a name makes Python-Markdown scan every installed
        # package's entry points first, which costs more than converting a page. The
        # first seven are "extra", in its order (it would register them by name). No
        # "smarty": its second pass of inline patterns over every text doubled the time
        # of a conversion, for curly quotation marks a writer can type.
        md = markdown.Markdown(
            extensions=[
                FencedCodeExtension(),
                FootnoteExtension(),
                AttrListExtension(),
                DefListExtension(),
                TableExtension(),
                AbbrExtension(),
                MarkdownInHtmlExtension(),
                SaneListExtension(),
                TocExtension(permalink=False, toc_depth="2-3"),
                _ExplainerExtension(self._state),
            ],
            output_format="html",
        )
        return md

    def convert(self, body: str, path: str, body_line: int, page_url: str) -> Document:
        """Convert `body` (from project file `path`, starting at `body_line`)."""
        state = self._state
        state.reset()
        state.page_url = page_url
        state.content_dir = posixpath.dirname(path.removeprefix("content/"))
        self._md.reset()
        source = source_key(body, path, body_line, page_url, self.settings_key)
        locate = _Locator(body, path, body_line)
        refused = _too_deep(body, locate)
        if refused is None:
            try:
                html = self._md.convert(body)
            except RecursionError:
                self._md = self._markdown()  # an interrupted parse leaves state behind
                refused = Diagnostic(
                    locate.deepest(),
                    "error",
                    "the text is nested too deeply for the Markdown converter",
                    "flatten the nesting of lists, quotations, emphasis or brackets here",
                )
        if refused is not None:
            return Document(pack(b""), (), (), (), (), frozenset(), (refused,), source)
        raw_ids: frozenset[str] = frozenset()
        raw_links: tuple[str, ...] = ()
        if self._sanitiser is not None:
            cleaned = self._sanitiser.clean(html)
            html, raw_ids, raw_links = cleaned.html, cleaned.ids, cleaned.content_links
        headings = tuple(
            Heading(
                item["id"], item["name"], item["level"], locate.heading(item["level"], item["name"])
            )
            for item in _flatten(self._md)
        )
        diagnostics = (
            tuple(
                Diagnostic(locate.find(f"({raw}"), "error", message, hint)
                for raw, message, hint in state.problems
            )
            + tuple(
                Diagnostic(
                    locate.find(raw),
                    "error",
                    f"malformed citation '{raw}'",
                    "write [@id], or [@id; @other] for several: @ right before each id, "
                    "ids apart by one ;, and the ] that closes it",
                )
                for raw in state.bad_citations
            )
            + tuple(
                Diagnostic(
                    _id_written(locate, twice),
                    "error",
                    f"the id '{twice}' is set on more than one element of this page",
                    "give each element its own id, so a link to it finds one place",
                )
                for twice, count in sorted(ids_written(html).items())
                if count > 1
            )
            + tuple(
                Diagnostic(
                    locate.find(raw),
                    "warning",
                    f"link to '{raw}' in raw HTML is not rewritten or checked",
                    f"write it as a Markdown link, [text]({raw}), to link to that page",
                )
                for raw in raw_links
            )
        )
        return Document(
            packed=pack(html.encode()),
            links=tuple(
                ContentLink(target or path.removeprefix("content/"), anchor, locate.find(f"({raw}"))
                for raw, target, anchor in state.links
            ),
            citations=tuple(state.numbers),
            citation_uses=tuple(
                CitationUse(ids, locate.find(text)) for text, ids in state.citations
            ),
            headings=headings,
            ids=frozenset(state.ids) | raw_ids,
            diagnostics=diagnostics,
            source=source,
        )


def _flatten(md: markdown.Markdown) -> list[dict]:
    items, stack = [], list(reversed(getattr(md, "toc_tokens", [])))
    while stack:
        item = stack.pop()
        items.append(item)
        stack.extend(reversed(item.get("children", [])))
    return items


class _Locator:
    """Find the line and column of the n-th occurrence of a snippet in the source text.

    Linear in the length of the text however many snippets are looked up: each search
    starts after the previous occurrence of the same snippet, and lines are found by
    bisecting a table of line starts.
    """

    def __init__(self, body: str, path: str, body_line: int) -> None:
        self.body, self.path, self.body_line = body, path, body_line
        self.last: dict[str, int] = {}  # where each snippet was found the last time
        self._starts: list[int] | None = None
        self._headings: dict[tuple[int, str], list[int]] | None = None
        self._last_heading = -1

    def find(self, snippet: str) -> Location:
        """The next occurrence of `snippet` (the last one again when there are no more)."""
        previous = self.last.get(snippet)
        if previous is None:
            index = self.body.find(snippet)
        else:
            found = self.body.find(snippet, previous + 1)
            index = found if found >= 0 else previous
        if index >= 0:
            self.last[snippet] = index
        else:
            index = self.body.find(snippet.lstrip("("))
        if index < 0:
            return Location(self.path, self.body_line, 1)
        location = self.at(index)
        if snippet.startswith("(") and self.body.startswith(snippet, index):
            # point at the link target, not its parenthesis
            return Location(location.path, location.line, location.col + 1)
        return location

    def heading(self, level: int, name: str) -> Location:
        """The text of the next heading of this level written as `name` (a heading's text
        is in prose too, often before it); else where `find` finds the name."""
        if self._headings is None:
            self._headings = _heading_lines(self.body)
        for text in (name, html.unescape(name)):
            offsets = self._headings.get((level, text), [])
            after = bisect.bisect_right(offsets, self._last_heading)
            if after < len(offsets):
                self._last_heading = offsets[after]
                return self.at(offsets[after])
        return self.find(name)

    def at(self, index: int) -> Location:
        """The file position of an offset in the body."""
        if self._starts is None:
            self._starts = [0, *(m.end() for m in re.finditer("\n", self.body))]
        line = bisect.bisect_right(self._starts, index) - 1
        return Location(self.path, self.body_line + line, index - self._starts[line] + 1)

    def deepest(self) -> Location:
        """The start of the most deeply nested line (the first line if none is nested)."""
        best, best_depth = 0, 0
        for number, line in enumerate(self.body.split("\n")):
            depth, _ = _nesting(line)
            if depth > best_depth:
                best, best_depth = number, depth
        return Location(self.path, self.body_line + best, 1)


_ATX_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.*?)[ \t]*")
_SETEXT_UNDERLINE = re.compile(r" {0,3}(=+|-+)[ \t]*")
_ATTR_LIST = re.compile(r"[ \t]*\{:?[^}]*\}$")
_CLOSING_HASHES = re.compile(r"[ \t]+#+$")


def _heading_lines(body: str) -> dict[tuple[int, str], list[int]]:
    """Where each heading's text starts (outside fenced code), by its level and its text
    as written (without closing #s or an attribute list), in order; one pass."""
    found: dict[tuple[int, str], list[int]] = defaultdict(list)
    in_fence, start, previous = False, 0, None  # previous: a line's (offset, text)
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence, previous = not in_fence, None
        elif not in_fence:
            atx = _ATX_HEADING.fullmatch(line)
            underline = _SETEXT_UNDERLINE.fullmatch(line)
            if atx:
                text = _CLOSING_HASHES.sub("", _ATTR_LIST.sub("", atx.group(2)))
                found[len(atx.group(1)), text].append(start + atx.start(2))
            elif underline and previous is not None:
                level = 1 if underline.group(1)[0] == "=" else 2
                offset, text = previous
                found[level, _ATTR_LIST.sub("", text)].append(offset)
            stripped = line.strip()
            previous = (start + line.index(stripped), stripped) if stripped and not atx else None
        start += len(line) + 1
    return found


# Python-Markdown's time grows with the cube of the nesting depth of lists and block
# quotations, and it recurses once per level: past these depths the text is refused.
MAX_NESTING = 50  # levels of lists and quotations: 4 spaces of indentation or a '>' each
MAX_HTML_DEPTH = 256  # elements of raw HTML inside each other
_FENCE = re.compile(r"^[ \t>]*(?:```|~~~)")
_PREFIX = re.compile(r"^[ \t>]*")


def _nesting(line: str) -> tuple[int, int]:
    """How deep a line is nested (indentation levels and '>'), and where its text starts."""
    prefix = _PREFIX.match(line)
    assert prefix is not None
    text = prefix.group().expandtabs(4)
    return text.count(">") + len(text.replace(">", "")) // 4, prefix.end()


def _too_deep(body: str, locate: _Locator) -> Diagnostic | None:
    """An error for text nested beyond what the converter can take in reasonable time."""
    in_fence = False
    start = 0
    outside_code: list[str] = []  # the body with fenced code blanked, offsets kept
    for line in body.split("\n"):
        fence = bool(_FENCE.match(line))
        outside_code.append(" " * len(line) if in_fence and not fence else line)
        if fence:
            in_fence = not in_fence
        elif not in_fence:
            depth, text_start = _nesting(line)
            if depth > MAX_NESTING:
                return Diagnostic(
                    locate.at(start + text_start),
                    "error",
                    f"this line is nested {depth} levels deep; lists and quotations may "
                    f"nest at most {MAX_NESTING} levels (4 spaces of indentation or a '>' each)",
                    "flatten the list or quotation",
                )
        start += len(line) + 1
    code_blanked = "\n".join(outside_code)  # code in fences is not parsed for markup
    offset = html_depth_exceeded(code_blanked, MAX_HTML_DEPTH)
    if offset is not None:
        return Diagnostic(
            locate.at(offset),
            "error",
            f"raw HTML is nested more than {MAX_HTML_DEPTH} elements deep here",
            "close the elements sooner, or simplify the HTML",
        )
    return _too_costly(code_blanked, locate)


# Python-Markdown looks for the end of each '[' (a link's text) and of each start tag
# ('<a ') from where it starts, to the matching ']' or '>' or, when there is none, the
# end of the paragraph: text that leaves many of them open, or nests them deeply, takes
# time that grows with the square of its length. And each link, citation, tag or table
# row costs far more than a word or an emphasis. Past these the text is refused up front.
MAX_SCANNED = 4_000_000  # characters the converter would scan for ends, in one file
MAX_MARKUP = 15_000  # links, citations, tags and table rows in one file
_BRACKET = re.compile(r"\\.|[\[\]]")  # an escaped character, or a bracket
_START_TAG = re.compile(r"<[A-Za-z]")
_MARKUP = re.compile(r"\[|<[A-Za-z/!]|^[ \t]*\|", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def _too_costly(body: str, locate: _Locator) -> Diagnostic | None:
    """An error for text whose brackets, tags or markup would take the converter too long."""
    scanned = 0
    for start, paragraph in _paragraphs(body):
        cost, first_open = _scan_cost(paragraph)
        scanned += cost
        if scanned > MAX_SCANNED:
            return Diagnostic(
                locate.at(start + first_open),
                "error",
                "the brackets and tags from here on take the Markdown converter too long: "
                "many '[' or '<' are never closed, or are nested deeply",
                "close each [ with ] and each <tag with >, or write \\[ and &lt; for the "
                "characters themselves",
            )
    markup, passed = 0, 0
    for match in _MARKUP.finditer(body):
        markup += 1
        if markup == MAX_MARKUP + 1:
            passed = match.start()  # where the page goes past the limit: shown there
    if markup > MAX_MARKUP:
        return Diagnostic(
            locate.at(passed),
            "error",
            f"the page has {markup:,} links, citations, tags and table rows (past "
            f"{MAX_MARKUP:,} here); a page may have at most {MAX_MARKUP:,}",
            "split it into several pages, or put large tables in a data file in static/",
        )
    return None


def _paragraphs(body: str) -> Iterator[tuple[int, str]]:
    """The paragraphs of a body (text between blank lines), each with its offset."""
    start = 0
    for blank in _PARAGRAPH_BREAK.finditer(body):
        yield start, body[start : blank.start()]
        start = blank.end()
    yield start, body[start:]


def _scan_cost(paragraph: str) -> tuple[int, int]:
    """How far the converter scans for the ends of one paragraph's '[' and start tags,
    in characters; and where the first one that is never closed starts (else 0)."""
    cost, first_open = 0, -1
    opened: list[int] = []
    for match in _BRACKET.finditer(paragraph):
        if match.group() == "[":
            opened.append(match.start())
        elif match.group() == "]" and opened:
            cost += match.start() - opened.pop()
    end = len(paragraph)
    for index in opened:
        cost += end - index
    if opened:
        first_open = opened[0]
    ends = [m.start() for m in re.finditer(">", paragraph)]
    for match in _START_TAG.finditer(paragraph):
        after = bisect.bisect_left(ends, match.start())
        if after == len(ends):
            cost += end - match.start()
            first_open = match.start() if first_open < 0 else min(first_open, match.start())
        else:
            cost += ends[after] - match.start()
    return cost, max(first_open, 0)
