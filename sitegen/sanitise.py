"""Raw HTML in Markdown, made safe: an allow-list sanitiser built on nh3.

nh3 wraps ammonia, a well-kept HTML sanitiser written in Rust on top of html5ever, the
HTML5 parser of Servo: it parses as a browser does, then keeps only the tags, attributes
and URL schemes listed here. That is far safer than anything of our own.

The whole converted page body goes through it, not only the raw HTML, because Python-
Markdown can put attributes on its own elements too (`{: onclick=... }` with attr_list,
`<div markdown="1" ...>`). What the Markdown itself makes (headings with ids, citations,
footnotes, tables, code blocks) is all on the list, so it comes out the same.

What is removed: every tag not listed (with the contents of <script>, <style>, <iframe>
and their kind), every attribute not listed (so every event handler such as onclick, and
style, except text-align on table cells), comments, and every URL in href or src whose
scheme is not http, https or mailto (javascript:, data:, vbscript:, ...). Relative URLs
are kept as they are: links in raw HTML are not rewritten or checked like Markdown links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import nh3

# The raw_html setting in content/site.yaml: what each value means.
RAW_HTML_MODES = {
    "sanitise": "raw HTML is kept, cleaned with an allow-list (the default)",
    "trusted": "raw HTML is copied into pages as written, scripts and all",
}
DEFAULT_MODE = "sanitise"

ALLOWED_TAGS = frozenset(
    {
        *("a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code"),
        *("col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em"),
        *("figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img"),
        *("ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s"),
        *("samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody"),
        *("td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr"),
    }
)
# Tags removed together with everything inside them (not just unwrapped).
REMOVED_WITH_CONTENT = frozenset(
    {
        *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"),
        *("noscript", "template", "textarea", "select", "title", "svg", "math"),
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"id", "class", "title", "lang", "dir"},
    "a": {"href", "hreflang", "role"},  # role: the citations' doc-noteref
    "img": {"src", "alt", "width", "height"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "headers", "style"},  # style: text-align only
    "th": {"colspan", "rowspan", "headers", "scope", "style"},
    "col": {"span"},
    "colgroup": {"span"},
    "time": {"datetime"},
    "details": {"open"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
STYLE_PROPERTIES = frozenset({"text-align"})  # Python-Markdown's table column alignment

# A link written in raw HTML to a content file: it would be left broken.
_CONTENT_LINK = re.compile(r"^[^:?#]*\.(?:md|yaml)(?:#.*)?$")


@dataclass(frozen=True)
class Cleaned:
    """Sanitised HTML, the ids it carries, and raw links to content files it kept."""

    html: str
    ids: frozenset[str]
    content_links: tuple[str, ...]


class Sanitiser:
    """One configured nh3 cleaner; not shared between threads (it collects as it goes)."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._links: list[str] = []
        self._cleaner = nh3.Cleaner(
            tags=set(ALLOWED_TAGS),
            clean_content_tags=set(REMOVED_WITH_CONTENT),
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            attribute_filter=self._note,
            strip_comments=True,
            link_rel=None,
            url_schemes=set(URL_SCHEMES),
            filter_style_properties=set(STYLE_PROPERTIES),
        )

    def _note(self, element: str, attribute: str, value: str) -> str | None:
        if attribute == "id":
            self._ids.append(value)
        elif attribute in ("href", "src") and _CONTENT_LINK.match(value.strip()):
            self._links.append(value)
        return value

    def clean(self, html: str) -> Cleaned:
        self._ids, self._links = [], []
        cleaned = self._cleaner.clean(html)
        return Cleaned(cleaned, frozenset(self._ids), tuple(self._links))


def settings_key(mode: str) -> str:
    """What the converted HTML depends on besides the text: the mode and nh3's version."""
    return f"raw_html={mode};nh3={nh3.__version__}" if mode == "sanitise" else f"raw_html={mode}"


_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr", "param", "keygen"}
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")


def html_depth_exceeded(text: str, limit: int) -> int | None:
    """The offset of the first tag in `text` that opens more than `limit` elements deep.

    A rough count (every start tag opens, every end tag closes, void and self-closed tags
    do neither), made before anything parses the HTML: a browser's parser takes time that
    grows with the square of the depth, so absurdly deep raw HTML is refused up front.
    """
    depth = 0
    for match in _TAG.finditer(text):
        closing, name, self_closing = match.groups()
        if closing:
            depth = max(0, depth - 1)
        elif not self_closing and name.lower() not in _VOID:
            depth += 1
            if depth > limit:
                return match.start()
    return None
