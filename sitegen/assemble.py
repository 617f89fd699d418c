"""Validate the loaded files and assemble the immutable Site.

Pure: takes what load.py read and the converted Markdown, returns a Site or reports
every problem it finds (unknown fields, bad values, unknown ids, duplicate URLs, ...).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from . import urls
from .errors import Diagnostic, Location, Report
from .load import MarkdownFile, Project
from .markdown import Document, report_taken_ids
from .model import (
    Citer,
    Country,
    CountryRef,
    Measure,
    Page,
    PageLink,
    Settings,
    Site,
    Source,
    breadcrumbs,
    link_to,
    listing_of,
)
from .outputs import path_clashes, reserved_output
from .schema import (
    COUNTRY_FIELDS,
    MEASURE_FIELDS,
    PAGE_FIELDS,
    SETTINGS_FIELDS,
    SOURCE_FIELDS,
    Invalid,
    check_mapping,
    slug,
    vendor_problems,
)
from .yamldoc import YamlDoc

S = TypeVar("S")
T = TypeVar("T")
DEFAULT_TEMPLATES = {
    "home": "home.html",
    "page": "page.html",
    "country": "country.html",
    "countries": "countries.html",
    "sources": "sources.html",
    "not-found": "404.html",
}
# Ids that templates give to sections on any page; a heading in a page must not take
# them, nor a source (its id is its anchor on the sources page).
GENERATED_IDS = frozenset(
    {
        "main",
        "references",
        "measures",
        "related",
        "mentioned-in",
        "vis-map-title",
        "vis-map-desc",
        "vis-chart-title",
        "vis-chart-desc",
    }
)


# The ids each template writes on the pages it renders, beyond GENERATED_IDS and the
# ids made from the model (`template_ids`): reserved on those pages, and anchors there.
# tests/test_unit_assemble.py renders every template and fails on an id one writes
# that its page does not reserve, so these cannot drift from the templates; and the
# render stage refuses any id a page would hold twice (render.ids_written_twice).
TEMPLATE_IDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "home.html": frozenset({"status"}),
        # and the id its script gives Pagefind's own input
        "search.html": frozenset(
            {"search", "search-form", "search-query", "search-note", "search-query-live"}
        ),
    }
)
# Templates that show the status table (_status_table.html): each row is a country's,
# with the id country-<slug>.
STATUS_TABLE_TEMPLATES = frozenset({"home.html", "countries.html"})


def template_ids(
    template: str, countries: Iterable[str] = (), sources: Iterable[str] = ()
) -> set[str]:
    """The ids `template` writes on a page, given the site's country slugs and source ids
    (the sources page lists each source under its id)."""
    ids = set(TEMPLATE_IDS.get(template, ()))
    if template in STATUS_TABLE_TEMPLATES:
        ids.update(f"country-{slug}" for slug in countries)
    if template == "sources.html":
        ids.update(sources)
    return ids


class Reuse:
    """The last build's model records, to be used again by the next build of a process.

    A record made from one input object (a country from its parsed fact table, a page's
    link from the page) is kept with its diagnostics while that object is the same:
    load.FileCache hands out the same parse while a file is unchanged, so an unchanged
    file is not validated again. A record made from several (a page, a list of back
    links) is replaced by the last build's record under the same key when the two are
    equal, which for the model means the same: every field has the one type the schema
    gives it (never 1 against True), and every record is immutable. Records reused keep
    their identity, and with it the digests deps.DigestMemo made of them, so a rebuild
    digests only what changed.
    """

    def __init__(self) -> None:
        # kind -> id(source) -> (source, what was made, its diagnostics); and
        # kind -> key -> record. Nested, so that a lookup that hits makes no new objects
        # (a build makes thousands: every one it keeps counts towards a full collection).
        self._made: dict[str, dict[int, tuple[Any, Any, tuple[Diagnostic, ...]]]] = {}
        self._made_now: dict[str, dict[int, tuple[Any, Any, tuple[Diagnostic, ...]]]] = {}
        self._kept: dict[str, dict[str, Any]] = {}
        self._kept_now: dict[str, dict[str, Any]] = {}
        # kind -> key -> (the input objects, what was made, its diagnostics)
        self._derived: dict[str, dict[str, tuple[tuple[Any, ...], Any, tuple[Diagnostic, ...]]]]
        self._derived = {}
        self._derived_now: dict[str, dict[str, tuple[tuple[Any, ...], Any, tuple[Diagnostic, ...]]]]
        self._derived_now = {}

    def next_build(self) -> None:
        """Keep what the build that assembled a model last used, and nothing else."""
        self._made, self._made_now = self._made_now, {}
        self._kept, self._kept_now = self._kept_now, {}
        self._derived, self._derived_now = self._derived_now, {}

    def made_from(self, kind: str, source: S, make: Callable[[S, Report], T], report: Report) -> T:
        """`make(source, report)`, or what it made the last time from this same `source`
        object, with its diagnostics reported again."""
        now = self._made_now.setdefault(kind, {})
        key = id(source)
        hit = now.get(key) or self._made.get(kind, {}).get(key)
        if hit is None or hit[0] is not source:
            scratch = Report()
            hit = (source, make(source, scratch), tuple(scratch.diagnostics))
        now[key] = hit
        report.diagnostics.extend(hit[2])
        return hit[1]  # type: ignore[no-any-return]

    def derived(
        self,
        kind: str,
        key: str,
        inputs: tuple[Any, ...],
        make: Callable[[Report], T],
        report: Report,
    ) -> T:
        """`make(report)`, or what it made the last time under this key when every one
        of `inputs` is the same object as then, with its diagnostics reported again.

        For a record made from several inputs (a page from its file, front matter and
        document): a rebuild then makes new records only for what changed, where
        making every one and comparing it with the last (`same`) costs as much as the
        site is large. `make` may read nothing that is not in `inputs` or constant.
        """
        now = self._derived_now.setdefault(kind, {})
        hit = now.get(key) or self._derived.get(kind, {}).get(key)
        if (
            hit is None
            or len(hit[0]) != len(inputs)
            or any(old is not new for old, new in zip(hit[0], inputs, strict=True))
        ):
            scratch = Report()
            hit = (inputs, make(scratch), tuple(scratch.diagnostics))
        now[key] = hit
        report.diagnostics.extend(hit[2])
        return hit[1]  # type: ignore[no-any-return]

    def same(self, kind: str, key: str, value: T) -> T:
        """The last build's record under this key if it equals `value`, else `value`."""
        now = self._kept_now.setdefault(kind, {})
        old = now.get(key, self._kept.get(kind, {}).get(key, _NONE))
        kept = old if old is value or (type(old) is type(value) and old == value) else value
        now[key] = kept
        return kept  # type: ignore[no-any-return]


_NONE = object()


# Ids the engine makes by number on the sources page as on every page: references,
# citations, footnotes. A source's id is its anchor there.
_GENERATED_PATTERN = re.compile(r"ref-\d+|cite-\d+-\d+|fn(ref)?:.*")


def closest(word: str, choices: Iterable[str]) -> str:
    """A hint naming the nearest known values (by spelling, or sharing a prefix)."""
    choices = sorted(choices)
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    close += [c for c in choices if c.startswith(word) and c not in close][: 3 - len(close)]
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def load_settings(doc: YamlDoc | None, report: Report) -> Settings | None:
    if doc is None:
        return None
    values = check_mapping(doc, (), SETTINGS_FIELDS, report, "site.yaml")
    return None if values is None else Settings(**values)


def _sources(doc: YamlDoc | None, report: Report) -> dict[str, Source]:
    if doc is None:
        return {}
    if not isinstance(doc.data, list):
        report.error(
            doc.at(),
            "sources.yaml must be a list of sources",
            "start each source with '- id: ...'",
        )
        return {}
    sources: dict[str, Source] = {}
    for index in range(len(doc.data)):
        values = check_mapping(doc, (index,), SOURCE_FIELDS, report, "source")
        if values is None:
            continue
        source = Source(location=doc.at((index,)), **values)
        if source.title and source.untitled:
            report.error(
                doc.at((index, "untitled")),
                "a source with a title cannot also say why it has none",
                "keep 'title' and remove 'untitled', or the other way round",
            )
            continue
        if source.id in GENERATED_IDS or _GENERATED_PATTERN.fullmatch(source.id):
            report.error(
                doc.at((index, "id")),
                f"source id '{source.id}' is an id the pages use for something else",
                "choose another id",
            )
            continue
        if source.id in sources:
            first = sources[source.id].location
            report.error(
                doc.at((index, "id")),
                f"duplicate source id '{source.id}' (first defined at line {first.line})",
                "give each source its own id",
            )
            continue
        sources[source.id] = source
    return sources


def _country(doc: YamlDoc, report: Report) -> Country | None:
    slug_text = doc.path.rsplit("/", 1)[1].removesuffix(".yaml")
    try:
        country_slug = slug(slug_text)
    except Invalid as exc:
        report.error(Location(doc.path), f"file name {exc.message}", exc.hint)
        return None
    if doc.data is None:
        report.error(doc.at(), "empty fact table", "add name, code, summary, status, ...")
        return None
    values = check_mapping(doc, (), COUNTRY_FIELDS, report, "country fact table")
    if values is None:
        return None
    raw_measures = values.pop("measures")
    if not isinstance(raw_measures, list) or not raw_measures:
        report.error(
            doc.at(("measures",)),
            "field 'measures' must be a list with at least one measure",
            "start each measure with '- date: ...'",
        )
        return None
    measures: list[tuple[Any, ...]] = []
    first_line: dict[str, int] = {}  # each measure id, and the line that first gives it
    for index in range(len(raw_measures)):
        fields = check_mapping(doc, ("measures", index), MEASURE_FIELDS, report, "measure")
        if fields is None:
            continue
        problems = vendor_problems(fields["vendors"], fields.get("affects", ()))
        for field, problem in problems:
            report.error(doc.at(("measures", index, field)), problem.message, problem.hint)
        if problems:
            continue
        where = doc.at(("measures", index, "id"))
        if fields["id"] in first_line:
            report.error(
                where,
                f"duplicate measure id '{fields['id']}' "
                f"(first used at line {first_line[fields['id']]})",
                "give each measure of the country its own id",
            )
            continue
        first_line[fields["id"]] = where.line
        measures.append((fields["date"], index, fields))
    if len(measures) != len(raw_measures):
        return None
    ordered = tuple(
        Measure(
            country=country_slug,
            anchor=f"measure-{fields['id']}",
            location=doc.at(("measures", index)),
            sources_location=doc.at(("measures", index, "sources")),
            **fields,
        )
        for _, index, fields in sorted(measures, key=lambda m: m[:2])
    )
    values.setdefault("related", ())
    return Country(slug=country_slug, measures=ordered, location=doc.at(), **values)


def _declared_source_ids(doc: YamlDoc | None) -> set[str]:
    """Every id written in sources.yaml, valid entry or not, so errors do not cascade."""
    if doc is None or not isinstance(doc.data, list):
        return set()
    return {e["id"] for e in doc.data if isinstance(e, dict) and isinstance(e.get("id"), str)}


def _check_citations(
    countries: Iterable[Country],
    documents: Iterable[Document],
    sources: Collection[str],
    report: Report,
) -> None:
    """Every cited id must be a source; suggest the closest ids when it is not."""
    for country in countries:
        for measure in country.measures:
            for source_id in measure.sources:
                if source_id not in sources:
                    report.error(
                        measure.sources_location,
                        f"unknown source '{source_id}'",
                        closest(source_id, sources) or "add it to content/sources.yaml",
                    )
    for document in documents:
        for use in document.citation_uses:
            for source_id in use.ids:
                if source_id not in sources:
                    report.error(
                        use.location,
                        f"unknown source '{source_id}' in citation",
                        closest(source_id, sources) or "add it to content/sources.yaml",
                    )


def _check_related(
    countries: Mapping[str, Country],
    docs: Mapping[str, YamlDoc],
    declared: Collection[str],
    report: Report,
    reuse: Reuse,
) -> dict[str, tuple[CountryRef, ...]]:
    """Related countries, both ways: if A lists B, B shows A."""
    related: dict[str, set[str]] = defaultdict(set)
    for country in countries.values():
        doc = docs[country.slug]
        for index, other in enumerate(country.related):
            if other == country.slug:
                report.error(
                    doc.at(("related", index)),
                    f"'{other}' lists itself as related",
                    "remove it from related",
                )
            elif other not in declared:
                report.error(
                    doc.at(("related", index)),
                    f"unknown country '{other}' in related",
                    closest(other, declared) or "use the slug of a file in content/countries/",
                )
            elif other in countries:
                related[country.slug].add(other)
                related[other].add(country.slug)

    refs = {
        slug: reuse.made_from("country ref", c, lambda c, _: _ref(c), report)
        for slug, c in countries.items()
        if slug in related
    }
    return {
        s: tuple(sorted((refs[o] for o in related[s]), key=lambda c: c.name)) for s in countries
    }


def _ref(country: Country) -> CountryRef:
    return CountryRef(country.slug, country.name, country.status, country.as_of)


def _front(page: MarkdownFile, report: Report) -> dict[str, Any] | None:
    return check_mapping(page.front, (), PAGE_FIELDS, report, "front matter")


def _reference_anchors(count: int) -> set[str]:
    return {f"ref-{n}" for n in range(1, count + 1)}


def _id_location(file: MarkdownFile | None, anchor: str) -> Location:
    """Where the text sets an id: its `#id` in an attribute list or `id="..."` in raw
    HTML, the first that is found; else the file."""
    if file is None:
        return Location("content")
    for written in (f"#{anchor}", f'id="{anchor}"', f"id='{anchor}'"):
        index = file.body.find(written)
        if index >= 0:
            line = file.body_line + file.body.count("\n", 0, index)
            return Location(file.path, line, index - (file.body.rfind("\n", 0, index) + 1) + 1)
    return Location(file.path)


def _page_anchors(
    document: Document | None,
    extra: Iterable[str],
    file: MarkdownFile | None,
    report: Report,
) -> frozenset[str]:
    ids = set(document.ids) if document else set()
    generated = set(extra)
    if document:
        taken = GENERATED_IDS | generated
        report_taken_ids(document, taken, report, lambda i: _id_location(file, i))
    return frozenset(ids | generated | {"main"})


def assemble(
    project: Project,
    settings: Settings | None,
    documents: Mapping[str, Document],
    report: Report,
    *,
    include_drafts: bool = False,
    reuse: Reuse | None = None,
) -> Site | None:
    """Check everything against everything else and build the Site; None on errors.

    Runs even when the settings are invalid, so that all errors are reported at once.
    `reuse`: the records of the last build of this process, to use again (see Reuse).
    """
    reuse = reuse or Reuse()
    made = reuse.made_from("sources", project.sources, _sources, report)
    sources = {key: reuse.same("source", key, source) for key, source in made.items()}
    country_docs = {}
    countries: dict[str, Country] = {}
    for doc in project.countries:
        country = reuse.made_from("country", doc, _country, report)
        if country is not None:
            countries[country.slug] = country
            country_docs[country.slug] = doc
    declared = {d.path.rsplit("/", 1)[1].removesuffix(".yaml") for d in project.countries}
    related = _check_related(countries, country_docs, declared, report, reuse)
    source_ids = set(sources) | _declared_source_ids(project.sources)
    _check_citations(countries.values(), documents.values(), source_ids, report)
    # what the ids some templates write depend on, the same objects while unchanged
    slugs = reuse.same("site", "country slugs", frozenset(countries))
    listed = reuse.same("site", "source ids", frozenset(sources))
    for document in documents.values():
        for diagnostic in document.diagnostics:
            report.diagnostics.append(diagnostic)

    pages: list[Page] = []
    narratives: dict[str, tuple[MarkdownFile, dict[str, Any]]] = {}
    for file in project.pages:
        front = reuse.made_from("front", file, _front, report)
        if front is None:
            continue
        inner = file.path.removeprefix("content/")
        if front.get("draft"):
            report.warning(
                file.front.at(("draft",)),
                "draft page" + ("" if include_drafts else " is not published"),
                "remove 'draft: true' to publish it"
                if not include_drafts
                else "it is published because of --drafts",
            )
            if not include_drafts:
                continue
        template = front.get("template")
        if template is not None and template not in project.templates:
            report.error(
                file.front.at(("template",)),
                f"unknown template '{template}'",
                f"use one of: {', '.join(t for t in project.templates if not t.startswith('_'))}",
            )
            continue
        if (
            inner.startswith("countries/")
            and inner.count("/") == 1
            and inner != "countries/index.md"
        ):
            country_slug = inner.removeprefix("countries/").removesuffix(".md")
            if country_slug not in countries and f"content/countries/{country_slug}.yaml" not in {
                d.path for d in project.countries
            }:
                report.error(
                    Location(file.path),
                    "country narrative without a fact table",
                    f"create content/countries/{country_slug}.yaml, or move this page",
                )
            narratives[country_slug] = (file, front)
            continue
        if inner in ("sources.md", "countries/index.md"):
            narratives[inner] = (file, front)
            continue
        url = urls.url_for_content(inner)
        assert url is not None  # every .md file has a URL
        document = documents[file.path]
        kind = "home" if url == urls.HOME else "page"
        ids_from = _ids_from(front.get("template") or DEFAULT_TEMPLATES[kind], slugs, listed)
        made = functools.partial(_content_page, url, file, front, document, ids_from)
        inputs = (file, front, document, *ids_from)
        pages.append(reuse.derived("content page", url, inputs, made, report))

    for country in countries.values():
        file, front = narratives.get(country.slug, (None, _NO_FRONT))
        document = documents[file.path] if file else None
        template = front.get("template") or DEFAULT_TEMPLATES["country"]
        ids_from = _ids_from(template, slugs, listed)
        made = functools.partial(_country_page, country, file, front, document, ids_from)
        inputs = (country, file, front, document, *ids_from)
        pages.append(reuse.derived("country page", country.url, inputs, made, report))

    for url, kind, key, title in (
        (urls.COUNTRIES, "countries", "countries/index.md", "Countries"),
        (urls.SOURCES, "sources", "sources.md", "Sources"),
    ):
        file, front = narratives.get(key, (None, _NO_FRONT))
        document = documents[file.path] if file else None
        inputs = (file.path,) if file else ()
        if kind == "sources" and project.sources is not None:
            inputs = (project.sources.path, *inputs)
        refs = document.citations if document else ()
        template = front.get("template") or DEFAULT_TEMPLATES[kind]
        extra = template_ids(template, countries, sources) | _reference_anchors(len(refs))
        pages.append(
            Page(
                url=url,
                kind=kind,
                title=front.get("title", title),
                template=template,
                inputs=inputs,
                anchors=_page_anchors(document, extra, file, report),
                references=refs,
                document=document,
                summary=front.get("summary"),
                updated=front.get("updated"),
            )
        )
    pages.append(
        Page(
            url=urls.NOT_FOUND,
            kind="not-found",
            title="Page not found",
            template=DEFAULT_TEMPLATES["not-found"],
            inputs=(),
            anchors=frozenset({"main"}),
        )
    )

    pages = [reuse.same("page", page.url, page) for page in pages]
    page_by_url = _unique_urls(pages, report)
    for page in pages:
        if not page.inputs:
            continue
        taken = reserved_output(page.output)
        in_case = reserved_output(page.output.casefold())  # the generated names are lower case
        if taken is not None:
            what = "folder" if taken.endswith("/") else "file"
            report.error(
                Location(page.inputs[0]),
                f"the page {page.output} collides with the generated {what} {taken}",
                "rename or move the page",
            )
        elif in_case is not None:
            what = "folder" if in_case.endswith("/") else "file"
            report.error(
                Location(page.inputs[0]),
                f"the page {page.output} differs only in case from the generated {what} "
                f"{in_case}: one path on macOS and Windows",
                "rename or move the page",
            )
    if urls.HOME not in page_by_url:
        report.error(
            Location("content/index.md"),
            "missing home page",
            "create content/index.md with front matter and a title",
        )
    for page in pages:
        if page.template not in project.templates:
            report.error(
                Location(f"templates/{page.template}"),
                f"missing template '{page.template}' needed by {page.output}",
                "restore it from the project's templates/ folder",
            )
    cited_by = _cited_by(pages, countries.values(), sources, report, reuse)
    if report.errors or settings is None:
        return None

    ordered = tuple(sorted(page_by_url.values(), key=lambda p: p.url))
    links = {
        page.url: reuse.made_from("link", page, lambda page, _: link_to(page), report)
        for page in ordered
    }

    def kept(kind: str, by_key: Mapping[str, T]) -> MappingProxyType[str, T]:
        return MappingProxyType({k: reuse.same(kind, k, v) for k, v in by_key.items()})

    by_name = reuse.same(
        "site", "countries", tuple(sorted(countries.values(), key=lambda c: c.name))
    )
    return Site(
        settings=settings,
        pages=ordered,
        page_by_url=MappingProxyType(page_by_url),
        countries=by_name,
        country_by_slug=MappingProxyType(countries),
        sources=reuse.same(
            "site", "sources", tuple(sorted(sources.values(), key=lambda s: (s.date, s.id)))
        ),
        source_by_id=MappingProxyType(sources),
        measures=reuse.same(
            "site",
            "measures",
            reuse.derived(
                "site", "measures", (by_name,), lambda _: _measures_in_order(by_name), report
            ),
        ),
        related=kept("related", related),
        backlinks=kept("backlinks", _backlinks(ordered, links, report, reuse)),
        cited_by=kept("cited_by", cited_by),
        nav=reuse.same("nav", "", _nav(page_by_url, links)),
        crumbs=kept("crumbs", {p.url: breadcrumbs(p, links) for p in ordered}),
        listing=reuse.same(
            "site",
            "listing",
            tuple(
                reuse.made_from("listing", page, lambda page, _: listing_of(page), report)
                for page in ordered
            ),
        ),
    )


_NO_FRONT: Mapping[str, Any] = MappingProxyType({})  # the front matter of no narrative
_NO_IDS: frozenset[str] = frozenset()


def _ids_from(
    template: str, slugs: frozenset[str], source_ids: frozenset[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """What of the site the ids `template` writes depend on (template_ids): the country
    slugs, the source ids, or neither (empty), so a page is made again only when they
    change for it."""
    return (
        slugs if template in STATUS_TABLE_TEMPLATES else _NO_IDS,
        source_ids if template == "sources.html" else _NO_IDS,
    )


def _content_page(
    url: str,
    file: MarkdownFile,
    front: Mapping[str, Any],
    document: Document,
    ids_from: tuple[frozenset[str], frozenset[str]],
    report: Report,
) -> Page:
    """The page of a Markdown file: the home page or another page."""
    kind = "home" if url == urls.HOME else "page"
    refs = document.citations
    template = front.get("template") or DEFAULT_TEMPLATES[kind]
    extra = _reference_anchors(len(refs)) | template_ids(template, *ids_from)
    return Page(
        url=url,
        kind=kind,
        title=front["title"],
        template=template,
        inputs=(file.path,),
        anchors=_page_anchors(document, extra, file, report),
        references=refs,
        document=document,
        summary=front.get("summary"),
        updated=front.get("updated"),
        order=front.get("order"),
        draft=bool(front.get("draft")),
    )


def _country_page(
    country: Country,
    file: MarkdownFile | None,
    front: Mapping[str, Any],
    document: Document | None,
    ids_from: tuple[frozenset[str], frozenset[str]],
    report: Report,
) -> Page:
    """A country's page: its fact table, and its narrative where there is one."""
    refs = list(document.citations) if document else []
    for measure in country.measures:
        refs.extend(s for s in measure.sources if s not in refs)
    extra = {m.anchor for m in country.measures} | _reference_anchors(len(refs))
    extra |= {"measures", "related", "mentioned-in", "references"}
    template = front.get("template") or DEFAULT_TEMPLATES["country"]
    extra |= template_ids(template, *ids_from)
    return Page(
        url=country.url,
        kind="country",
        title=country.name,
        template=template,
        inputs=(country.location.path, *([file.path] if file else [])),
        anchors=_page_anchors(document, extra, file, report),
        references=tuple(refs),
        document=document,
        country=country,
        summary=country.summary,
        updated=front.get("updated"),  # never the status date: see Country.as_of
    )


def _measures_in_order(countries: Iterable[Country]) -> tuple[Measure, ...]:
    """Every measure, by date, then by its country's name and its place there."""
    placed = sorted(
        ((m.date, c.name, c.slug, place), m)
        for c in countries
        for place, m in enumerate(c.measures)
    )
    return tuple(m for _, m in placed)


def case_clashes(outputs: Iterable[str], others: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each of `others` that differs only in case from one of `outputs` or a folder of
    theirs, on its own path or a folder of it: one file, or one folder, on macOS and
    Windows. By path: (the part that clashes, what it clashes with), folders without
    their slash; of paths in both, the first spelling of each is the one kept. Linear
    in the paths' lengths."""
    spelled: dict[str, str] = {}  # each output and each folder of one, by its case-folded form
    for path in outputs:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            here = "/".join(parts[:depth])
            spelled.setdefault(here.casefold(), here)
    found = {}
    for path in others:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            here = "/".join(parts[:depth])
            other = spelled.get(here.casefold())
            if other is not None and other != here:
                found[path] = (here, other)
                break
    return found


def case_clash_message(path: str, here: str, other: str) -> tuple[str, str]:
    """What to tell a writer of a static file that clashes by case (case_clashes)."""
    if here == path:
        return (
            f"static file {path} differs only in case from the site's {other}: one path on "
            "macOS and Windows",
            "rename or move the static file",
        )
    return (
        f"static file {path} is in the folder {here}/, which differs only in case from the "
        f"site's {other}/: one folder on macOS and Windows",
        "rename or move the static file",
    )


def _unique_urls(pages: list[Page], report: Report) -> dict[str, Page]:
    """Two inputs may not make the same URL; name both files."""
    by_url: dict[str, Page] = {}
    for page in pages:
        if page.url in by_url:
            first = by_url[page.url]
            first_path = first.inputs[0] if first.inputs else "(generated)"
            here = page.inputs[0] if page.inputs else "(generated)"
            report.error(
                Location(here),
                f"{here} and {first_path} both make the page {page.output}",
                "rename or remove one of them",
            )
            continue
        by_url[page.url] = page
    by_output = {page.output: page for page in by_url.values()}
    for file, path in path_clashes(by_output):
        if reserved_output(path):
            continue  # reported as such
        here = by_output[path].inputs[0] if by_output[path].inputs else path
        report.error(
            Location(here),
            f"the page {path} needs {file} to be a folder, but it is the page {file}",
            "rename or move the page",
        )
    # the first spelling of each is kept, the others reported: lower case ones first
    outputs = sorted(by_output, key=lambda path: (path != path.lower(), path))
    for path, (part, other) in sorted(case_clashes(outputs, outputs).items()):
        page = by_output[path]
        report.error(
            Location(page.inputs[0] if page.inputs else path),
            f"the page {path} differs only in case from the page {other}: one file on macOS "
            "and Windows"
            if part == path
            else f"the page {path} is in the folder {part}/, which differs only in case from "
            f"the site's {other}/: one folder on macOS and Windows",
            "rename or move the page",
        )
    return by_url


def _cited_by(
    pages: list[Page],
    countries: Iterable[Country],
    sources: Mapping[str, Source],
    report: Report,
    reuse: Reuse,
) -> dict[str, tuple[Citer, ...]]:
    citers: dict[str, list[Citer]] = defaultdict(list)
    for page in sorted(pages, key=lambda p: p.url):
        for source_id, citer in reuse.made_from(
            "page citers", page, lambda page, _: _page_citers(page), report
        ):
            citers[source_id].append(citer)
    for country in sorted(countries, key=lambda c: c.name):
        for source_id, citer in reuse.made_from(
            "country citers", country, lambda c, _: _country_citers(c), report
        ):
            citers[source_id].append(citer)
    if report.errors:  # a rejected page or table would make this warning misleading
        return {}
    for source in sources.values():
        if source.id not in citers:
            report.warning(
                source.location,
                f"source '{source.id}' is not cited anywhere",
                "cite it with [@" + source.id + "] or remove it",
            )
    return {source_id: tuple(c) for source_id, c in citers.items() if source_id in sources}


def _page_citers(page: Page) -> list[tuple[str, Citer]]:
    """The sources a page's text cites, each with how the page is shown as citing it."""
    if page.document is None:
        return []
    citer = Citer(page.url, page.title)
    return [(source_id, citer) for source_id in page.document.citations]


def _country_citers(country: Country) -> list[tuple[str, Citer]]:
    """The sources a country's measures cite, each with how the measure is shown."""
    return [
        (source_id, Citer(country.url, f"{country.name}: measure of {m.date.display}", m.anchor))
        for m in country.measures
        for source_id in m.sources
    ]


def _backlinks(
    pages: tuple[Page, ...], links: Mapping[str, PageLink], report: Report, reuse: Reuse
) -> dict[str, tuple[PageLink, ...]]:
    """For each URL, the other pages whose text links to it."""
    found: dict[str, dict[str, Page]] = defaultdict(dict)
    for page in pages:
        for target in reuse.made_from("link targets", page, _link_targets, report):
            found[target][page.url] = page
    return {url: tuple(links[u] for u in sorted(by_url)) for url, by_url in found.items()}


def _link_targets(page: Page, _: Report) -> tuple[str, ...]:
    """The URLs of the other pages a page's text links to."""
    if page.document is None:
        return ()
    targets = (urls.url_for_content(link.target) for link in page.document.links)
    return tuple(t for t in targets if t is not None and t != page.url)


def _nav(page_by_url: Mapping[str, Page], links: Mapping[str, PageLink]) -> tuple[PageLink, ...]:
    """Home, Countries, the top-level pages by order and title, then Sources."""
    top = [p for p in page_by_url.values() if p.kind == "page" and p.url.count("/") == 1]
    top.sort(key=lambda p: (p.order if p.order is not None else 1000, p.title))
    fixed = [page_by_url.get(urls.HOME), page_by_url.get(urls.COUNTRIES)]
    chosen = [*fixed, *top, page_by_url.get(urls.SOURCES)]
    return tuple(links[p.url] for p in chosen if p is not None)
