"""The immutable model of the site: every page, country, measure, source and link.

Built once, before rendering (see assemble.py). The link checker, the sources index,
backlinks, related countries and the templates all read this one model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from . import urls
from .dates import PartialDate
from .errors import Location
from .markdown import Document
from .schema import CONFIDENCES, SOURCE_KINDS, STATUSES, TITLED_KINDS, VENDORS

# The template of a search page: the search index is built only for a site that has one.
SEARCH_TEMPLATE = "search.html"


@dataclass(frozen=True)
class Settings:
    title: str
    description: str
    language: str
    base_url: str
    publisher: str
    licence: str
    licence_url: str | None = None
    raw_html: str = "sanitise"  # or "trusted": see sitegen/sanitise.py


@dataclass(frozen=True)
class Source:
    id: str
    publisher: str
    date: PartialDate
    kind: str
    location: Location
    title: str | None = None
    url: str | None = None
    author: str | None = None
    note: str | None = None
    excerpts: tuple[str, ...] = ()
    untitled: str | None = None  # why there is no title, in the writer's words

    @property
    def kind_label(self) -> str:
        return SOURCE_KINDS[self.kind]

    @property
    def in_place_of_title(self) -> str | None:
        """What a reference shows where a title would be: the source's own reason; for
        a kind whose works have titles, that it is not confirmed; else nothing (a
        spokesperson's statement has no title to miss)."""
        if self.title:
            return None
        if self.untitled:
            return self.untitled
        if self.kind in TITLED_KINDS:
            return f"{TITLED_KINDS[self.kind]} not confirmed"
        return None


@dataclass(frozen=True)
class Measure:
    country: str
    anchor: str  # measure-<id>: the measure's place on its country page
    id: str
    date: PartialDate
    actor: str
    action: str
    scope: str
    vendors: tuple[str, ...]
    confidence: str
    sources: tuple[str, ...]
    location: Location
    sources_location: Location
    note: str | None = None
    affects: tuple[str, ...] = ()  # vendors affected, per the reporting, but not named

    @property
    def confidence_label(self) -> str:
        return CONFIDENCES[self.confidence]

    @property
    def vendor_labels(self) -> tuple[str, ...]:
        """The vendors the measure names."""
        return tuple(VENDORS[v] for v in self.vendors)

    @property
    def affects_labels(self) -> tuple[str, ...]:
        """The vendors the reporting says it affects without its naming them."""
        return tuple(VENDORS[v] for v in self.affects)


@dataclass(frozen=True)
class Country:
    slug: str
    name: str
    code: str
    summary: str
    status: str
    as_of: dt.date  # the date the status describes, not a date the page was updated
    related: tuple[str, ...]
    measures: tuple[Measure, ...]  # in date order
    location: Location

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]

    @property
    def url(self) -> str:
        return f"{urls.COUNTRIES}{self.slug}/"

    @property
    def latest(self) -> Measure | None:
        return self.measures[-1] if self.measures else None


@dataclass(frozen=True)
class Page:
    """One HTML output: what it is made from and what it shows."""

    url: str
    kind: str  # home | page | country | countries | sources | not-found
    title: str
    template: str
    inputs: tuple[str, ...]  # project files this page is made from
    anchors: frozenset[str]  # ids other pages may link to
    references: tuple[str, ...] = ()  # source ids; render.Citations numbers them
    document: Document | None = None
    country: Country | None = None
    summary: str | None = None
    updated: dt.date | None = None
    order: int | None = None
    draft: bool = False

    @property
    def output(self) -> str:
        return urls.output_path(self.url)

    @property
    def indexed(self) -> bool:
        """Whether search finds this page: every page but search pages and the 404 page."""
        return self.template != SEARCH_TEMPLATE and self.kind != "not-found"

    @property
    def is_index(self) -> bool:
        """Whether the page lists the whole site, and so reads nearly all of the model."""
        return self.kind in ("home", "countries", "sources")


@dataclass(frozen=True)
class Listing:
    """How a page is listed in the feed and the sitemap: what they show of it.

    They read these small values, not the pages, so that a prose edit makes them anew
    only when it changes one of these fields.
    """

    url: str
    kind: str
    title: str
    summary: str | None
    updated: dt.date | None


@dataclass(frozen=True)
class PageLink:
    """How one page is shown on others (nav, breadcrumbs, backlinks): its URL and title.

    Pages list each other through these small values, not through Page objects, so that
    a prose edit changes what other pages read only when the title changes.
    """

    url: str
    title: str
    kind: str = "page"

    @property
    def label(self) -> str:
        return "Overview" if self.kind == "home" else self.title


@dataclass(frozen=True)
class CountryRef:
    """How a country is shown on another country's page: name, link, status and the
    date the status describes."""

    slug: str
    name: str
    status: str
    as_of: dt.date

    @property
    def url(self) -> str:
        return f"{urls.COUNTRIES}{self.slug}/"

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]


@dataclass(frozen=True)
class Citer:
    """A place that cites a source: a page, or one measure on a country page."""

    page_url: str
    label: str
    anchor: str = ""


@dataclass(frozen=True)
class Site:
    settings: Settings
    pages: tuple[Page, ...]  # sorted by URL
    page_by_url: Mapping[str, Page]
    countries: tuple[Country, ...]  # sorted by name
    country_by_slug: Mapping[str, Country]
    sources: tuple[Source, ...]  # sorted by date, then id
    source_by_id: Mapping[str, Source]
    measures: tuple[Measure, ...]  # every measure, in date order
    related: Mapping[str, tuple[CountryRef, ...]]  # both ways
    backlinks: Mapping[str, tuple[PageLink, ...]]  # pages whose text links to a URL
    cited_by: Mapping[str, tuple[Citer, ...]]
    nav: tuple[PageLink, ...]
    crumbs: Mapping[str, tuple[PageLink, ...]]  # the pages above each page
    listing: tuple[Listing, ...]  # every page as the feed and sitemap show it, by URL


def link_to(page: Page) -> PageLink:
    return PageLink(page.url, page.title, page.kind)


def listing_of(page: Page) -> Listing:
    return Listing(page.url, page.kind, page.title, page.summary, page.updated)


def breadcrumbs(page: Page, links: Mapping[str, PageLink]) -> tuple[PageLink, ...]:
    """The pages above this one, from the home page down (`links`: each page's link)."""
    if page.url in (urls.HOME, urls.NOT_FOUND) or urls.HOME not in links:
        return ()
    crumbs = [links[urls.HOME]]
    parts = page.url.strip("/").split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth]) + "/"
        if parent in links:
            crumbs.append(links[parent])
    return tuple(crumbs)
