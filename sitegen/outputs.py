"""The site's other outputs, made from the same model as its pages.

Downloads (data/countries.json, data/measures.csv) and the files for discovery
(sitemap.xml, robots.txt, the Atom feed feed.xml). Each generator is pure: the Site
in, bytes out. The bytes are deterministic: sorted keys, '\n' line
endings, and no dates but those written in the content. XML is written with every value
escaped; absolute URLs all come from settings.base_url.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

from . import urls
from .dates import PartialDate
from .errors import Location, Report
from .metadata import headline
from .model import Country, Listing, Measure, Site, Source
from .schema import COUNTRY_FIELDS, MEASURE_FIELDS, SOURCE_FIELDS, Field

T = TypeVar("T")

COUNTRIES_JSON = "data/countries.json"
MEASURES_CSV = "data/measures.csv"
SITEMAP = "sitemap.xml"
ROBOTS = "robots.txt"
FEED = "feed.xml"
# Names at the top of the site that the engine writes itself.
GENERATED_FOLDERS = frozenset({COUNTRIES_JSON.split("/")[0], "pagefind"})  # search.BUNDLE
GENERATED_FILES = frozenset({SITEMAP, ROBOTS, FEED, urls.NOT_FOUND})

ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

# The fields of a country's fact table that are the country's own (not its measures).
COUNTRY_TABLE_FIELDS = tuple(f for f in COUNTRY_FIELDS if f.name != "measures")
# The CSV's column for a field of the fact tables, where it is not the field's name.
_CSV_NAMES = {
    ("country", "name"): "country",
    ("country", "summary"): "country_summary",
    ("measure", "sources"): "source_ids",
}
# Columns that follow a field's: what the CSV adds to make it plain.
_CSV_AFTER = {
    ("measure", "date"): ("date_precision",),
    ("measure", "sources"): ("source_urls",),
}
# In source_urls, the slot of a source that has no URL: never a URL, and not a formula.
NO_URL = "(none)"


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def generators() -> dict[str, Callable[[Any], bytes]]:
    """Every non-page output of the site, by path: a function of the site to its bytes.

    Each is given the site the templates see, so what it reads is recorded like a page's.
    """
    return {
        COUNTRIES_JSON: countries_json,
        MEASURES_CSV: measures_csv,
        SITEMAP: sitemap_xml,
        ROBOTS: robots_txt,
        FEED: feed_xml,
    }


def reserved_output(output: str) -> str | None:
    """The generated file or folder a content page's output would take or sit in, or None.

    Checked when the model is built, before anything renders: the site's own files
    (downloads, discovery files, the 404 page, the search bundle) keep their names.
    """
    top = output.split("/", 1)[0]
    if top in GENERATED_FOLDERS:
        return f"{top}/"
    if top in GENERATED_FILES and output != top:
        return top
    return None


def path_clashes(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(file, path) pairs where `path` needs `file` to be a folder: 'a' and 'a/index.html'.

    Linear in the number of paths (each path's parent folders are looked up in a set).
    """
    files = set(paths)
    found = []
    for path in sorted(files):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in files:
                found.append((parent, path))
    return found


def collisions(pages: Iterable[str], outputs: Iterable[str]) -> list[tuple[str, str]]:
    """(output, page) pairs that cannot both be written: the same path, or a file and a
    folder of the same name (a page 'sitemap.xml/index.html' beside 'sitemap.xml')."""
    found = []
    for output in sorted(outputs):
        for page in sorted(pages):
            if page == output or page.startswith(output + "/") or output.startswith(page + "/"):
                found.append((output, page))
    return found


def merge_outputs(
    site: Site, pages: Collection[str], report: Report, outputs: Mapping[str, T]
) -> dict[str, T]:
    """The site's other outputs that can go beside the rendered pages; report any that
    would collide with a page."""
    by_output = {page.output: page for page in site.pages}
    clashes = collisions(pages, outputs)
    for output, path in clashes:
        page = by_output.get(path)
        report.error(
            Location(page.inputs[0] if page and page.inputs else path),
            f"the page {path} collides with the generated file {output}",
            "rename or move the page",
        )
    clashing = {output for output, _ in clashes}
    return {path: data for path, data in outputs.items() if path not in clashing}


# Downloads ---------------------------------------------------------------------------


def _absolute(site: Site, url: str) -> str:
    return urls.absolute(site.settings.base_url, url)


def _value(value: Any) -> Any:
    """A field's value as JSON has it: dates in ISO form, lists as lists."""
    if isinstance(value, PartialDate):
        return value.iso
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _fields(record: Any, fields: Iterable[Field]) -> dict[str, Any]:
    """Every declared field of a record, set or not (null, or [] for a list)."""
    return {field.name: _value(getattr(record, field.name)) for field in fields}


def _measure_data(site: Site, country: Country, measure: Measure) -> dict[str, Any]:
    data = _fields(measure, MEASURE_FIELDS)
    data["date_precision"] = measure.date.precision
    data["confidence_label"] = measure.confidence_label
    data["url"] = f"{_absolute(site, country.url)}#{measure.anchor}"
    data["sources"] = [
        {"id": sid, "url": site.source_by_id[sid].url if sid in site.source_by_id else None}
        for sid in measure.sources
    ]
    return data


def _source_data(source: Source) -> dict[str, Any]:
    data = _fields(source, SOURCE_FIELDS)
    data["date_precision"] = source.date.precision
    data["kind_label"] = source.kind_label
    return data


def countries_data(site: Site) -> dict[str, Any]:
    """Every country with every field of its fact table and its measures', and every
    source they cite with every field of the bibliography, with absolute URLs."""
    settings = site.settings
    countries = []
    for country in site.countries:
        data = _fields(country, COUNTRY_TABLE_FIELDS)
        data["slug"] = country.slug
        data["status_label"] = country.status_label
        data["url"] = _absolute(site, country.url)
        data["measures"] = [_measure_data(site, country, m) for m in country.measures]
        countries.append(data)
    cited = {sid for country in site.countries for m in country.measures for sid in m.sources}
    return {
        "title": settings.title,
        "url": _absolute(site, urls.HOME),
        "publisher": settings.publisher,
        "licence": settings.licence,
        "licence_url": settings.licence_url,
        "countries": countries,
        "sources": [_source_data(s) for s in site.sources if s.id in cited],
    }


def countries_json(site: Site) -> bytes:
    """The countries download: an object with one country, and one source, a line, each
    line compact.

    Indented throughout, the file would be encoded by the json module's pure-Python
    encoder; compact lines go through its C encoder, and a diff still shows which
    countries changed."""
    data = countries_data(site)
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
    lines = []
    for key in sorted(data):
        if key in ("countries", "sources"):
            rows = ",\n".join(f"    {encode(item)}" for item in data[key])
            lines.append(f'  "{key}": [\n{rows}\n  ]' if rows else f'  "{key}": []')
        else:
            lines.append(f"  {encode(key)}: {encode(data[key])}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet will show as text: a leading apostrophe before a formula."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def csv_column(table: str, field: str) -> str:
    """The CSV column of a declared field: `table` is "country" or "measure"."""
    return _CSV_NAMES.get((table, field), field)


def csv_columns() -> tuple[str, ...]:
    """Every column of measures.csv: a column for each declared field of the fact tables,
    in the schema's order, those that follow some of them, and the measure's URL."""
    columns: list[str] = []
    for table, fields in (("country", COUNTRY_TABLE_FIELDS), ("measure", MEASURE_FIELDS)):
        for field in fields:
            columns.append(csv_column(table, field.name))
            columns.extend(_CSV_AFTER.get((table, field.name), ()))
    columns.append("url")
    return tuple(columns)


def _cell(value: Any) -> str:
    """A field's value in a cell: a list of ids (none holds a space) separated by spaces."""
    value = _value(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


def measures_csv(site: Site) -> bytes:
    """One row per measure, with every field of its country's fact table and its own.

    Lists of ids (related, vendors, affects, source_ids) are separated by spaces;
    source_urls has one slot per source id, in the same order, NO_URL where a source
    has no URL, so the two always line up."""
    columns = csv_columns()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for country in site.countries:
        shared = {
            csv_column("country", f.name): _cell(getattr(country, f.name))
            for f in COUNTRY_TABLE_FIELDS
        }
        for measure in country.measures:
            row = dict(shared)
            for field in MEASURE_FIELDS:
                row[csv_column("measure", field.name)] = _cell(getattr(measure, field.name))
            row["date_precision"] = measure.date.precision
            known = [site.source_by_id.get(sid) for sid in measure.sources]
            row["source_urls"] = " ".join(s.url if s and s.url else NO_URL for s in known)
            row["url"] = f"{_absolute(site, country.url)}#{measure.anchor}"
            writer.writerow([neutralise(row[column]) for column in columns])
    return buffer.getvalue().encode("utf-8")


# Discovery ---------------------------------------------------------------------------


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#09;",
    }
)


class _Xml:
    """An XML document written as lines of text, two spaces a level, every value
    escaped. Text, not a tree of elements: a tree of a few thousand pages' entries
    is tens of thousands of objects for the garbage collector to trace."""

    def __init__(self) -> None:
        self.lines = ['<?xml version="1.0" encoding="utf-8"?>']
        self.depth = 0

    def _tag(self, tag: str, attrs: Mapping[str, str]) -> str:
        return tag + "".join(
            f' {name}="{_xml_text(value).translate(_ATTR_ESCAPES)}"'
            for name, value in attrs.items()
        )

    def open(self, tag: str, **attrs: str) -> None:
        self.lines.append(f"{'  ' * self.depth}<{self._tag(tag, attrs)}>")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.lines.append(f"{'  ' * self.depth}</{tag}>")

    def leaf(self, tag: str, text: str | None = None, **attrs: str) -> None:
        """An element with text, or an empty one."""
        start = f"{'  ' * self.depth}<{self._tag(tag, attrs)}"
        if not text:
            self.lines.append(f"{start} />")
        else:
            self.lines.append(f"{start}>{_xml_text(text).translate(_TEXT_ESCAPES)}</{tag}>")

    def bytes(self) -> bytes:
        assert self.depth == 0
        return ("\n".join(self.lines) + "\n").encode()


def listed_pages(site: Site) -> list[Listing]:
    """The pages a sitemap lists: all but the 404 page, by URL."""
    return [page for page in site.listing if page.url != urls.NOT_FOUND]


def sitemap_xml(site: Site) -> bytes:
    xml = _Xml()
    xml.open("urlset", xmlns=SITEMAP_NS)
    for page in listed_pages(site):
        xml.open("url")
        xml.leaf("loc", _absolute(site, page.url))
        if page.updated:
            xml.leaf("lastmod", page.updated.isoformat())
        xml.close("url")
    xml.close("urlset")
    return xml.bytes()


def robots_txt(site: Site) -> bytes:
    return f"User-agent: *\nAllow: /\n\nSitemap: {_absolute(site, SITEMAP)}\n".encode()


def feed_entries(site: Site) -> list[Listing]:
    """Pages with an `updated` date, newest first (then by URL, so the order is fixed)."""
    dated = [page for page in listed_pages(site) if page.updated]
    return sorted(dated, key=lambda page: page.updated or dt.date.min, reverse=True)


def _atom_date(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def feed_xml(site: Site) -> bytes:
    """An Atom feed of page updates; its <updated> is the newest entry's date."""
    settings = site.settings
    home = _absolute(site, urls.HOME)
    entries = feed_entries(site)
    xml = _Xml()
    xml.open("feed", **{"xmlns": ATOM_NS, "xml:lang": settings.language})
    xml.leaf("title", settings.title)
    xml.leaf("subtitle", settings.description)
    xml.leaf("id", home)
    xml.leaf("link", rel="self", type="application/atom+xml", href=_absolute(site, FEED))
    xml.leaf("link", rel="alternate", type="text/html", href=home)
    # With no dated page, the newest date the content states; never the build time.
    dates = [page.updated for page in entries if page.updated]
    newest = dates[0] if dates else max((c.as_of for c in site.countries), default=dt.date.min)
    xml.leaf("updated", _atom_date(newest))
    xml.open("author")
    xml.leaf("name", settings.publisher)
    xml.close("author")
    xml.leaf("rights", settings.licence)
    for page in entries:
        url = _absolute(site, page.url)
        xml.open("entry")
        xml.leaf("title", headline(site, page))
        xml.leaf("id", url)
        xml.leaf("link", rel="alternate", type="text/html", href=url)
        xml.leaf("updated", _atom_date(page.updated or dt.date.min))
        if page.summary:
            xml.leaf("summary", page.summary)
        xml.close("entry")
    xml.close("feed")
    return xml.bytes()
