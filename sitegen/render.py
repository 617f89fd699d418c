"""Render every page of the model through Jinja into bytes.

Autoescape is on and undefined names are errors (StrictUndefined): a template mistake
is reported with the template's file and line and the page being rendered, never
rendered as an empty string. Each template sees only this page and the immutable site.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from . import urls
from .dates import PartialDate
from .deps import (
    DigestMemo,
    Key,
    Recorder,
    RecordingSite,
    Values,
    is_stale,
    template_closure,
    valid_key,
)
from .errors import Location, Report
from .layout import not_content
from .markdown import Document, ids_written, report_taken_ids
from .metadata import bibtex, json_ld, og_locale
from .model import Page, Site
from .schema import (
    CONFIDENCE_MEANINGS,
    CONFIDENCES,
    MEASURE_MEANINGS,
    SOURCE_KINDS,
    STATUS_MEANINGS,
    STATUSES,
    VENDORS,
)
from .visuals import status_map, timeline_chart
from .write import checksum

# Where a template places `{{ body }}`; the page's HTML replaces it after rendering. It
# holds NUL characters, which no content can hold: the loader refuses files with them.
BODY_SLOT = "\x00sitegen:body\x00"


class WalkedLoader(jinja2.FileSystemLoader):
    """Templates from templates/, but only the files the build's walk found there.

    Jinja's own loader reads any path under the folder: a hidden file, and through a
    link in a hidden folder (which the walk never enters, so never checks) any file on
    the machine, which `{% include ".d/leak.html" %}` would then publish. Any other
    name is not found (see `use_templates`).
    """

    def __init__(self, templates: Path) -> None:
        super().__init__(templates)
        self.found: frozenset[str] = frozenset()  # names relative to templates/

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool] | None]:
        if template not in self.found:
            raise jinja2.TemplateNotFound(template)
        return super().get_source(environment, template)

    def list_templates(self) -> list[str]:
        return sorted(self.found)


def use_templates(env: jinja2.Environment, found: Iterable[str]) -> None:
    """Let `env` load these templates only: the names the build's walk found (relative
    to templates/). The caller clears `env.cache` when they change."""
    assert isinstance(env.loader, WalkedLoader)
    env.loader.found = frozenset(found)


def make_environment(templates: Path) -> jinja2.Environment:
    """A Jinja environment that escapes everything and fails on undefined names.

    It loads no template until `use_templates` names those the walk found. Templates are
    compiled once and not checked for changes on each use (that costs a stat per
    template per page); a long-lived caller clears `env.cache` when a template file
    changes (stages.Stages does).
    """
    env = jinja2.Environment(
        loader=WalkedLoader(templates),
        auto_reload=False,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        STATUSES=STATUSES,
        STATUS_MEANINGS=STATUS_MEANINGS,
        CONFIDENCES=CONFIDENCES,
        CONFIDENCE_MEANINGS=CONFIDENCE_MEANINGS,
        VENDORS=VENDORS,
        SOURCE_KINDS=SOURCE_KINDS,
        json_ld=json_ld,
        bibtex=bibtex,
        og_locale=og_locale,
        status_map=status_map,
        timeline_chart=timeline_chart,
    )
    env.filters["day"] = lambda value: PartialDate(value.year, value.month, value.day).display
    return env


class Citations:
    """The reference numbers of one page as it is rendered, in the order it reads.

    A template asks for a source's number where it shows the citation (`number`), and
    the body registers its own citations where `{{ body }}` is placed, so the first
    source cited as the page reads is [1] whatever the order of its parts (a country's
    narrative before its measures or after). The reference list (`listed`) comes last.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.numbers: dict[str, int] = {}

    def number(self, source_id: str) -> int:
        """The source's number on this page: the next one, the first time it is cited."""
        return self.numbers.setdefault(source_id, len(self.numbers) + 1)

    def listed(self) -> list[str]:
        """Every source the page cites, by number; any not yet shown are numbered last."""
        for source_id in self.page.references:
            self.number(source_id)
        return list(self.numbers)


class _Body:
    """`{{ body }}`: the placeholder for the page's HTML, which numbers the body's
    citations at the place the template puts it."""

    def __init__(self, citations: Citations, document: Document) -> None:
        self.citations, self.document = citations, document

    def __html__(self) -> str:
        for source_id in self.document.citations:
            self.citations.number(source_id)
        return BODY_SLOT

    __str__ = __html__


def page_context(site: Any, page: Page) -> dict[str, object]:
    """What a template may use: the page, the site, and link helpers bound to this page.

    `site` may be a RecordingSite: everything read through it is noted as a dependency.
    """
    settings = site.settings
    base = settings.base_url

    def url(target: str) -> str:
        """A relative link from this page; the 404 page, served anywhere, links absolutely."""
        if page.url == urls.NOT_FOUND:
            return urls.absolute(base, urls.output_path(target) if "." in target else target)
        return urls.relative(page.url, target)

    citations = Citations(page)
    return {
        "site": site,
        "settings": settings,
        "page": page,
        "url": url,
        "canonical": urls.absolute(base, page.url),
        "citations": citations,
        "body": _Body(citations, page.document) if page.document else Markup(""),
        "MEASURE_MEANINGS": MEASURE_MEANINGS,
    }


def fill_body(shell: str, html: bytes) -> bytes:
    """Put the page's HTML where its template placed `{{ body }}`.

    Templates place the body; they cannot read or transform it (they see a placeholder),
    so the body is not among what a page read: its document's digest stands for it.
    """
    return shell.encode().replace(BODY_SLOT.encode(), html)


def ids_written_twice(
    page: Page, shell: str, report: Report, templates: TemplateSources | None = None
) -> bool:
    """Report each id the page would hold twice: written twice by its templates, or
    written by them and set in its text too; True if there is one.

    `shell`: the page as its templates wrote it, without the body. The model reserves
    the ids the project's own templates write (assemble.TEMPLATE_IDS), and reports a
    heading that takes one with the model's other errors; this finds any other, from
    what was written, so an id a template adds cannot be written twice either.
    `templates`: their sources, to find the line that writes an id.
    """
    written = ids_written(shell)
    found = False
    for twice in sorted(i for i, count in written.items() if count > 1):
        found = True
        report.error(
            _id_in_templates(twice, page.template, templates),
            f"the templates write the id '{twice}' more than once on {page.output}",
            "give each element its own id",
        )
    if page.document is not None:
        text = Location(next((p for p in page.inputs if p.endswith(".md")), page.inputs[0]))
        found |= report_taken_ids(page.document, written, report, lambda _: text)
    return found


def _id_in_templates(anchor: str, template: str, templates: TemplateSources | None) -> Location:
    """The first line of the page's templates that writes the id as it is, else the
    page's template (a template may make it from a value)."""
    if templates is None:
        return Location(f"templates/{template}")
    for name in templates.closure(template):
        source = templates.source(name)
        for written in (f'id="{anchor}"', f"id='{anchor}'"):
            index = source.find(written)
            if index >= 0:
                return Location(f"templates/{name}", source.count("\n", 0, index) + 1)
    return Location(f"templates/{template}")


# A citation as markdown.py writes it: [N] links to reference N, and is its k-th use.
_CITE_LINK = re.compile(rb'<a href="#ref-(\d+)" id="cite-\1-(\d+)" role="doc-noteref">\1</a>')


def renumber_body(html: bytes, document: Document, citations: Citations) -> bytes:
    """The body with its citations carrying the page's numbers where they differ from
    the document's own (when the page cites sources before the body does)."""
    mapping = {
        str(index).encode(): str(citations.numbers[source_id]).encode()
        for index, source_id in enumerate(document.citations, 1)
        if source_id in citations.numbers
    }
    if all(old == new for old, new in mapping.items()):
        return html

    def relabel(match: re.Match[bytes]) -> bytes:
        new = mapping.get(match.group(1), match.group(1))
        return b'<a href="#ref-%s" id="cite-%s-%s" role="doc-noteref">%s</a>' % (
            new,
            new,
            match.group(2),
            new,
        )

    return _CITE_LINK.sub(relabel, html)


def _template_location(exc: BaseException, templates: Path) -> Location | None:
    """The innermost template frame of a rendering error (Jinja rewrites the traceback)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.suffix in (".html", ".xml", ".txt") and path.is_relative_to(templates):
            rel = path.relative_to(templates).as_posix()
            found = Location(f"templates/{rel}", frame.lineno or 1)
    return found


@dataclass(frozen=True)
class Rendered:
    """One rendered output and what it read, so a later build can tell if it is stale."""

    output: str
    body: bytes | None  # None once written out: a build that writes keeps no bodies
    read: Mapping[Key, str]
    build: str = ""  # the build that rendered it: reused renderings keep an older one
    checksum: str = ""  # digest of the body: the output folder's marker records it
    packed: bool = False  # the body is packed (packing.pack): a build kept it in memory

    def to_json(self) -> str | None:
        """All but the body, as JSON text; None if a key read is not plain data."""
        try:
            read = [[list(k), v] for k, v in self.read.items()]
            return json.dumps([self.output, read, self.build, self.checksum], ensure_ascii=False)
        except TypeError:
            return None

    @classmethod
    def from_json(cls, text: str) -> Rendered:
        """From `to_json`, without a body; an exception if it is not what a build wrote
        (cache.Store takes any as a damaged row)."""
        output, read, build, digest = json.loads(text)
        keys = {valid_key(key): old for key, old in read}
        if not all(isinstance(v, str) for v in (output, build, digest, *keys.values())):
            raise ValueError("a rendering's record holds something other than text")
        return cls(output, None, keys, build, digest)


def _made(output: str, body: bytes, read: Mapping[Key, str], build: str) -> Rendered:
    return Rendered(output, body, read, build, checksum(body))


def in_memory(rendered: Rendered) -> bool:
    """Reuse a rendering that still has its body: the default, when nothing is written."""
    return rendered.body is not None


# Whether an up-to-date earlier rendering can stand in for rendering again (its body is
# in memory, or its file in the old output folder is as that build left it)
Reusable = Callable[[Rendered], bool]


class TemplateSources:
    """Template sources and each template's closure, read once per build."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self._sources: dict[str, str] = {}
        self._closures: dict[str, tuple[str, ...]] = {}

    def source(self, name: str) -> str:
        if name not in self._sources:
            assert self.env.loader is not None
            try:
                text, _, _ = self.env.loader.get_source(self.env, name)
            except jinja2.TemplateNotFound:
                text = "<missing>"
            self._sources[name] = text
        return self._sources[name]

    def closure(self, name: str) -> tuple[str, ...]:
        if name not in self._closures:
            try:
                self._closures[name] = template_closure(self.env, name)
            except jinja2.TemplateError:
                self._closures[name] = (name,)  # rendering reports the error
        return self._closures[name]


class PageReads:
    """What a build's pages read, each digested once however many pages read it: the
    templates (sources and closures) and the site's values."""

    def __init__(self, site: Site, env: jinja2.Environment, memo: DigestMemo | None = None) -> None:
        self.templates = TemplateSources(env)
        self.values = Values(site, site.page_by_url, self.templates.source, memo)


def plan_pages(
    pages: Sequence[Page],
    indices: Iterable[int],
    previous: Mapping[str, Rendered],
    values: Values,
    reusable: Reusable = in_memory,
) -> tuple[dict[str, Rendered], list[int]]:
    """What a build must render of the pages at `indices`: the earlier renderings that
    still stand (by output), and the indices of the pages that are new or read something
    that changed."""
    reused: dict[str, Rendered] = {}
    stale: list[int] = []
    for index in indices:
        page = pages[index]
        before = previous.get(page.output)
        if before is not None and not is_stale(before.read, values) and reusable(before):
            reused[page.output] = before
        else:
            stale.append(index)
    return reused, stale


def render_pages(
    site: Site,
    env: jinja2.Environment,
    templates: Path,
    report: Report,
    pages: Sequence[Page],
    build: str = "",
    reads: PageReads | None = None,
) -> dict[str, Rendered]:
    """Render each of `pages`, recording what each read. `reads`: the build's digests so
    far, when the caller renders the pages in several calls.

    Every template error is reported with its template file and line and the page.
    """
    reads = reads or PageReads(site, env)
    templates_read, values = reads.templates, reads.values
    rendered: dict[str, Rendered] = {}
    for page in pages:
        recorder = Recorder(values)
        recorder.note(("page", page.url))
        for name in templates_read.closure(page.template):
            recorder.note(("template", name))
        context = page_context(RecordingSite(site, recorder), page)
        shell = _render_one(page, context, env, templates, report)
        if shell is not None and not ids_written_twice(page, shell, report, templates_read):
            body = b""
            if page.document is not None:
                citations = context["citations"]
                assert isinstance(citations, Citations)
                body = renumber_body(page.document.html_bytes, page.document, citations)
            body = fill_body(shell, body)
            rendered[page.output] = _made(page.output, body, dict(recorder.read), build)
    return rendered


def render_generated(
    site: Site,
    generators: Mapping[str, Callable[[Any], bytes]],
    values: Values,
    previous: Mapping[str, Rendered] | None = None,
    build: str = "",
    reusable: Reusable = in_memory,
) -> dict[str, Rendered]:
    """Produce the non-page outputs (data, feed, sitemap), reusing those not affected.

    `values`: the digests the pages' rendering made in this process (the sitemap and
    the index pages both read the whole page list, for one), so none is made twice.
    """
    previous = previous or {}
    generated: dict[str, Rendered] = {}
    for output, generate in generators.items():
        before = previous.get(output)
        if before is not None and not is_stale(before.read, values) and reusable(before):
            generated[output] = before
            continue
        recorder = Recorder(values)
        body = generate(RecordingSite(site, recorder))
        generated[output] = _made(output, body, dict(recorder.read), build)
    return generated


def _render_one(
    page: Page,
    context: Mapping[str, object],
    env: jinja2.Environment,
    templates: Path,
    report: Report,
) -> str | None:
    try:
        return env.get_template(page.template).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = Location(f"templates/{exc.name or page.template}", exc.lineno or 1)
        report.error(where, f"template syntax error: {exc.message}", "fix the template's syntax")
    except jinja2.TemplateNotFound as exc:
        # at the line that names it: a template the page's template includes, imports
        # or extends, or else the page's template itself
        where = _template_location(exc, templates) or Location(f"templates/{page.template}")
        name = str(exc.name)
        if any(not_content(part) for part in name.split("/")):
            report.error(
                where,
                f"template '{name}' not found: hidden files and folders, and editors' "
                f"leftovers, are never read (rendering {page.output})",
                "name the template and its folders without a leading dot or # and without "
                "a backup ending (~, .swp, .tmp)",
            )
        else:
            report.error(
                where,
                f"template '{name}' not found (rendering {page.output})",
                "create it in templates/ or fix the name",
            )
    except Exception as exc:
        where = _template_location(exc, templates)
        if where is None:
            raise
        kind = "undefined variable" if isinstance(exc, jinja2.UndefinedError) else "error"
        report.error(
            where,
            f"{kind}: {exc} (while rendering {page.output})",
            "define it in the template, or fix its name",
        )
    return None
