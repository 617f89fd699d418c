"""Page metadata made in Python: the JSON-LD of <head> and the BibTeX of "cite this page".

Pure functions of the immutable site and one page; the templates call them through
Jinja globals (see render.py). Every absolute URL comes from settings.base_url through
urls.absolute(). JSON-LD is escaped for a <script> element before it is marked safe;
BibTeX is returned as plain text, so the template's autoescape still applies to it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from . import urls
from .model import Listing, Page, Site, Source

# Inside <script>, '<' could start '</script>' or '<!--'; '&' and '>' are escaped too so
# the text means the same in any HTML context. U+2028/2029 end lines in older JS parsers.
_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)

# LaTeX's special characters, as BibTeX field values must write them.
_BIBTEX = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "{": r"\{",
        "}": r"\}",
        "%": r"\%",
        "&": r"\&",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def page_url(site: Site, page: Page) -> str:
    """The absolute URL of a page, from settings.base_url."""
    return urls.absolute(site.settings.base_url, page.url)


def headline(site: Site, page: Page | Listing) -> str:
    """The page's own title; the home page is the site itself."""
    return site.settings.title if page.kind == "home" else page.title


def og_locale(language: str) -> str:
    """Open Graph writes a BCP 47 tag's region with an underscore: en-GB is en_GB."""
    parts = language.split("-")
    if len(parts) >= 2 and len(parts[1]) == 2:
        return f"{parts[0].lower()}_{parts[1].upper()}"
    return parts[0].lower()


def script_json(data: object) -> Markup:
    """JSON for a <script> element: sorted keys, and no '<', '>' or '&' left to break out."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, indent=None)
    return Markup(text.translate(_SCRIPT_SAFE))


def _citation(source: Source) -> dict[str, Any]:
    work: dict[str, Any] = {
        "@type": "CreativeWork",
        "publisher": {"@type": "Organization", "name": source.publisher},
        "datePublished": source.date.iso,
    }
    if source.title:
        work["name"] = source.title
    if source.author:
        work["author"] = {"@type": "Person", "name": source.author}
    if source.url:
        work["url"] = source.url
    return work


def json_ld_data(site: Site, page: Page) -> dict[str, Any]:
    """schema.org data for a page: the home page is a WebSite, every other an Article."""
    settings = site.settings
    home = urls.absolute(settings.base_url, urls.HOME)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "WebSite" if page.kind == "home" else "Article",
        "name": headline(site, page),
        "description": page.summary or settings.description,
        "url": page_url(site, page),
        "inLanguage": settings.language,
        "publisher": {"@type": "Organization", "name": settings.publisher, "url": home},
        "license": settings.licence_url or settings.licence,
    }
    if page.kind == "home":
        data["@id"] = home
    else:
        data["headline"] = page.title
        data["mainEntityOfPage"] = page_url(site, page)
        data["isPartOf"] = {"@type": "WebSite", "@id": home, "name": settings.title}
    if page.updated:
        data["dateModified"] = page.updated.isoformat()
    if page.references:
        data["citation"] = [_citation(site.source_by_id[sid]) for sid in page.references]
    return data


def json_ld(site: Site, page: Page) -> Markup:
    """The page's JSON-LD, safe to place between <script type="application/ld+json"> tags."""
    return script_json(json_ld_data(site, page))


def bibtex_escape(value: str) -> str:
    """A value for a BibTeX field: LaTeX specials escaped, whitespace collapsed."""
    return " ".join(value.split()).translate(_BIBTEX)


def bibtex_url(url: str) -> str:
    r"""A URL for \url{...}: braces, backslashes and spaces percent-encoded; % and # escaped."""
    for char, code in (("\\", "%5C"), ("{", "%7B"), ("}", "%7D"), (" ", "%20")):
        url = url.replace(char, code)
    return url.replace("%", r"\%").replace("#", r"\#")


def bibtex_key(url: str) -> str:
    """A stable citation key from the URL: host and path, other characters as hyphens."""
    parts = urlsplit(url)
    key = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.netloc}{parts.path}").strip("-")
    return key.lower() or "page"


def bibtex(site: Site, page: Page) -> str:
    """A @misc entry for the page: title, publisher as author, URL, and its last update."""
    settings = site.settings
    url = page_url(site, page)
    notes = [] if page.kind == "home" else [settings.title.rstrip(".")]
    fields = [
        ("title", f"{{{{{bibtex_escape(headline(site, page))}}}}}"),
        ("author", f"{{{{{bibtex_escape(settings.publisher)}}}}}"),
        ("organization", f"{{{bibtex_escape(settings.publisher)}}}"),
        ("howpublished", f"{{\\url{{{bibtex_url(url)}}}}}"),
    ]
    if page.updated:
        fields.append(("year", f"{{{page.updated.year}}}"))
        fields.append(("month", _MONTHS[page.updated.month - 1]))
        notes.append(f"Last updated {page.updated.isoformat()}")
    if notes:
        fields.append(("note", f"{{{bibtex_escape('. '.join(notes))}}}"))
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@misc{{{bibtex_key(url)},\n{body}\n}}"
