"""The work of the build's stages after the walk: parse, model, plan, render, index.

pipeline.Builder orders them; `Stages` holds what they keep from one build to the next
in one process (parsed files, converted Markdown, compiled templates, renderings, the
model's records and their digests) and fills it from the cache in a new process.
Imported only by a build that has work to do: in a fresh process its libraries'
imports cost more than a build that finds nothing changed.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from .assemble import Reuse, assemble, case_clash_message, case_clashes, load_settings
from .cache import Row, Store
from .deps import DigestMemo
from .errors import Location, Report
from .filekeys import FileKey
from .inputs import FileCache, Inputs
from .layout import CONTENT, STATIC, TEMPLATES
from .links import check_links
from .load import MarkdownFile, Project, load_project, parsed_from_row, parsed_row
from .markdown import Document, MarkdownRenderer, source_key
from .model import Site
from .options import Options, OutputFiles, Priority, Result
from .outputs import generators, merge_outputs, path_clashes
from .packing import pack
from .parallel import (
    Progress,
    RenderJob,
    convert_documents,
    parse_files,
    render_all,
)
from .quotes import Quotation, check_quotations, find_quotations, site_quotations
from .render import (
    PageReads,
    Rendered,
    make_environment,
    plan_pages,
    render_generated,
    use_templates,
)
from .sanitise import DEFAULT_MODE
from .search import build_index, index_key, search_pages
from .write import OutputFolder

Search = tuple[str, tuple[str, ...]]  # a search index: its key, its files


class DocumentCache:
    """Converted Markdown, keyed by everything a conversion depends on (its source key).

    Reused across builds in one process, and across processes through `.cache/`; misses
    are converted in parallel. Entries no build uses any more are dropped.
    """

    def __init__(self, jobs: int = 1, progress: Progress | None = None) -> None:
        self.renderer = MarkdownRenderer()
        self.jobs = jobs
        self.progress = progress
        self.by_source: dict[str, Document] = {}
        self.converted = 0  # documents converted (not reused) by the last call
        self.fresh: set[str] = set()  # keys converted in this process, not yet saved

    def _key(self, file: MarkdownFile) -> tuple[str, str]:
        key = source_key(file.body, file.path, file.body_line, file.url, self.renderer.settings_key)
        return file.url, key

    def use(self, raw_html: str) -> None:
        """Convert with the site's raw_html setting; part of every key, so a change
        of setting converts every page again."""
        if raw_html != self.renderer.raw_html:
            self.renderer = MarkdownRenderer(raw_html)

    def convert(self, project: Project, reuse: Reuse, report: Report) -> dict[str, Document]:
        # A file's key digests its body: made once per parse of the file, and setting
        kind = f"source key {self.renderer.settings_key}"
        keyed = [
            (file, *reuse.made_from(kind, file, lambda f, _: self._key(f), report))
            for file in project.pages
        ]
        missing = [(file, url) for file, url, key in keyed if key not in self.by_source]
        for document in convert_documents(missing, self.renderer, self.jobs, self.progress):
            self.by_source[document.source] = document
            self.fresh.add(document.source)
        self.converted = len(missing)
        used = {key for _, _, key in keyed}
        self.by_source = {k: d for k, d in self.by_source.items() if k in used}
        return {file.path: self.by_source[key] for file, _, key in keyed}


def build_model(
    project: Project,
    options: Options,
    report: Report,
    documents_cache: DocumentCache,
    quotations: Mapping[str, Sequence[Quotation]],
    reuse: Reuse,
) -> Site | None:
    """Validate everything and assemble the site model; None if there were errors.

    `quotations`: each Markdown file's quotations (the caller keeps them for the cache).
    `reuse`: the last model's records (assemble.Reuse).
    """
    settings = reuse.made_from("settings", project.settings, load_settings, report)
    documents_cache.use(settings.raw_html if settings else DEFAULT_MODE)
    documents = documents_cache.convert(project, reuse, report)
    drafts = options.include_drafts
    site = assemble(project, settings, documents, report, include_drafts=drafts, reuse=reuse)
    reuse.next_build()
    if site is None:
        return None
    content_files = (
        frozenset(p.path.removeprefix(f"{CONTENT}/") for p in project.pages)
        | frozenset(d.path.removeprefix(f"{CONTENT}/") for d in project.countries)
        | ({"sources.yaml"} if project.sources else set())
    )
    check_links(site, content_files, report)
    check_quotations(site_quotations(site, quotations), site.source_by_id, report)
    return None if report.errors else site


def static_copies(project: Project, files: Collection[str], report: Report) -> dict[str, Path]:
    """Static files keep their path under static/; they may not shadow a page or any
    other output (`files`: the site's own outputs)."""
    copies = {}
    statics = set(project.static_files)
    clashing: dict[str, str] = {}  # a static file that would have to be a folder, or the reverse
    for folder, path in path_clashes([*files, *statics]):
        if path in statics:
            clashing.setdefault(path, folder)
        elif folder in statics:
            clashing.setdefault(folder, path)
    in_case = case_clashes(files, project.static_files)
    for rel in project.static_files:
        if rel in files:
            report.error(
                Location(f"{STATIC}/{rel}"),
                f"static file has the same path as the site's own {rel}",
                "rename or move the static file",
            )
            continue
        if rel in clashing:
            report.error(
                Location(f"{STATIC}/{rel}"),
                f"static file {rel} clashes with {clashing[rel]}: one path cannot be both "
                "a file and a folder",
                "rename or move the static file",
            )
            continue
        if rel in in_case:
            report.error(Location(f"{STATIC}/{rel}"), *case_clash_message(rel, *in_case[rel]))
            continue
        copies[rel] = project.root / STATIC / rel
    return copies


class Stages:
    """The stages' work for one project, again and again, reusing what did not change."""

    def __init__(self, options: Options, files: FileCache) -> None:
        self.options = options
        self.files = files
        self.documents = DocumentCache(options.jobs, stage(options, "converting Markdown"))
        self.env = make_environment(options.root / TEMPLATES)
        self._templates_seen: dict[str, FileKey] | None = None  # template files, as last built
        self.rendered: dict[str, Rendered] = {}
        self._saved: dict[str, Rendered] = {}  # renderings as .cache/ holds them
        self.reuse = Reuse()  # the last model's records, used again where unchanged
        self.memo = DigestMemo()  # digests of the model records, kept for the next build

    def load_cache(self, store: Store) -> None:
        """Fill empty in-memory caches from .cache/ (the first build of a process)."""
        if not self.files.entries:
            self.files.entries = store.all("parsed", parsed_from_row)
        if not self.documents.by_source:
            self.documents.by_source = store.all("documents", Document.from_json)
        if not self.rendered:
            self.rendered = store.all("rendered", lambda text, _: Rendered.from_json(text))
            self._saved = dict(self.rendered)

    def load(self, inputs: Inputs, report: Report) -> Project:
        """Read and parse what changed; forget compiled templates if a template did."""
        if inputs.templates != self._templates_seen:
            if self.env.cache is not None:
                self.env.cache.clear()
            self._templates_seen = inputs.templates
            use_templates(self.env, (rel[len(TEMPLATES) + 1 :] for rel in inputs.templates))
        options = self.options
        reading = stage(options, "reading")
        parse = functools.partial(parse_files, jobs=options.jobs, progress=reading)
        return load_project(options.root, inputs, report, self.files, parse)

    def model(self, project: Project, report: Report) -> Site | None:
        """Validate, assemble the model, check links and quotations; None on errors."""
        quotations = {
            f.path: self.reuse.made_from(
                "quotations", f, lambda f, _: find_quotations(f.body, f.path, f.body_line), report
            )
            for f in project.pages
        }
        return build_model(project, self.options, report, self.documents, quotations, self.reuse)

    def render(
        self,
        project: Project,
        site: Site,
        result: Result,
        folder: OutputFolder | None,
        priority: Priority | None,
        written: Mapping[str, FileKey],
        search: Search,
    ) -> Search:
        """Plan what is stale and render it (the priority's pages first), with the other
        outputs and the search index, into `folder` or, without one, into
        `result.files`; every earlier rendering still up to date is reused. The search
        index it leaves (`search`: the last one)."""
        self._render(site, result, folder, priority, written)
        bundle: tuple[str, ...] = ()
        if folder is not None:
            search, bundle = self._index(site, result, folder, written, search)
        result.copies = static_copies(
            project, result.rendered.keys() | set(bundle), report=result.report
        )
        return search

    def _render(
        self,
        site: Site,
        result: Result,
        folder: OutputFolder | None,
        priority: Priority | None,
        written: Mapping[str, FileKey],
    ) -> None:
        report, build = result.report, _build_id()

        def reusable(rendering: Rendered) -> bool:
            if rendering.body is not None:
                return True
            was = written.get(rendering.output)
            return folder is not None and folder.unchanged(rendering.output, was)

        def put(rendering: Rendered) -> Rendered:
            """Into the new folder, and kept without its body (in a worker, for pages)."""
            assert folder is not None and not rendering.packed
            if rendering.body is None:
                folder.keep(rendering.output)
                return rendering
            folder.write(rendering.output, rendering.body)
            return dataclasses.replace(rendering, body=None)

        def keep_packed(rendering: Rendered) -> Rendered:
            """Kept in memory, packed (in a worker, for pages)."""
            if rendering.body is None or rendering.packed:
                return rendering
            return dataclasses.replace(rendering, body=pack(rendering.body), packed=True)

        consume = put if folder is not None else keep_packed
        templates = self.options.root / TEMPLATES
        job = RenderJob(site, self.env, templates, build, consume)
        self.memo.next_build()
        reads = PageReads(site, self.env, self.memo)
        # The priority's first pages are planned and rendered before the rest is planned.
        wanted = set(priority.first) if priority is not None else set()
        first = [i for i, page in enumerate(site.pages) if page.output in wanted]
        rest = [i for i, page in enumerate(site.pages) if page.output not in wanted]
        reused, stale = plan_pages(site.pages, first, self.rendered, reads.values, reusable)
        jobs = self.options.jobs
        made = render_all(job, report, jobs, reads, stale, None, priority, publish=True)
        more, stale = plan_pages(site.pages, rest, self.rendered, reads.values, reusable)
        reused.update(more)
        if priority is not None:
            priority.plan([site.pages[i].output for i in stale])
        progress = stage(self.options, "rendering")
        made.update(render_all(job, report, jobs, reads, stale, progress, priority))
        if folder is not None:
            folder.adopt({o: r.checksum for o, r in made.items()})  # put in by the workers
            reused = {output: put(rendering) for output, rendering in reused.items()}
        pages = {  # in the site's order; a page that failed to render is in neither
            p.output: rendering
            for p in site.pages
            if (rendering := made.get(p.output) or reused.get(p.output)) is not None
        }
        values = reads.values
        generated = render_generated(site, generators(), values, self.rendered, build, reusable)
        generated = merge_outputs(site, pages.keys(), report, generated)
        generated = {output: consume(rendering) for output, rendering in generated.items()}
        result.rendered = {**pages, **generated}
        result.rerendered = tuple(made)
        if folder is None:
            result.files = OutputFiles(
                {o: r.body for o, r in result.rendered.items() if r.body is not None}
            )

    def _index(
        self,
        site: Site,
        result: Result,
        folder: OutputFolder,
        written: Mapping[str, FileKey],
        search: Search,
    ) -> tuple[Search, tuple[str, ...]]:
        """The search index, and its files in the new folder: kept from the old one when
        no indexed page changed (Pagefind's output is a function of those pages), else
        made anew."""
        if result.report.errors or not search_pages(site):
            return search, ()
        key = index_key(site, {o: r.checksum for o, r in result.rendered.items()})
        last_key, last_files = search
        if key == last_key and all(folder.unchanged(f, written.get(f)) for f in last_files):
            for rel in last_files:
                folder.keep(rel)
            return search, last_files
        indexed = build_index(site, folder.tmp, result.report)
        if indexed is None:
            return search, ()
        folder.adopt(indexed.files)
        return (key, indexed.files), indexed.files

    def cache_changes(
        self, result: Result, inputs: Mapping[str, FileKey]
    ) -> list[tuple[str, dict[str, Row], Collection[str]]]:
        """What this build changes in .cache/ (Store.save): new parsed files, documents
        and renderings, and the removal of what no build uses any more (`inputs`: the
        input files as the build's state records them, inputs.settled)."""
        files = self.files.entries
        new_parsed = {}
        for rel in sorted(self.files.fresh):
            key, parsed = files.get(rel, (None, None))
            # not gone since, not racy, and plain data
            if key is not None and inputs.get(rel) == key and (row := parsed_row(key, parsed)):
                new_parsed[rel] = row
        kept_parsed = [rel for rel, (key, _) in files.items() if inputs.get(rel) == key]
        documents = self.documents.by_source
        new_documents = {
            key: (documents[key].to_json(), documents[key].packed)
            for key in sorted(self.documents.fresh & documents.keys())
        }
        new_rendered = {}
        kept = []  # outputs whose row stays: saved before, or now
        for output, rendering in result.rendered.items():
            if self._saved.get(output) is rendering:
                kept.append(output)
            elif text := rendering.to_json():  # None: what it read is not plain data
                new_rendered[output] = (text, b"")
        return [
            ("parsed", new_parsed, kept_parsed),
            ("documents", new_documents, documents.keys()),
            ("rendered", new_rendered, kept),
        ]

    def succeeded(self, result: Result) -> None:
        """The build succeeded (and its output folder is in place): its renderings are
        the ones the next build plans against."""
        self.rendered = result.rendered

    def saved(self, result: Result) -> None:
        """The changes of `cache_changes` are in .cache/ now."""
        self.files.fresh.clear()
        self.documents.fresh.clear()
        self._saved = dict(result.rendered)


def _build_id() -> str:
    """Unique across processes, so renderings from the cache are never taken for new."""
    return f"{os.getpid()}-{time.time_ns()}"


def stage(options: Options, name: str) -> Progress | None:
    """A progress callback for one stage, or None when nobody is watching."""
    report = options.progress
    if report is None:
        return None
    return lambda done, total: report(name, done, total)
