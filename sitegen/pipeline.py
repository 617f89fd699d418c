"""The build, stage by stage: load, validate, model, check, plan, render, write.

The only module that knows the order of the stages. Each stage reports into one Report;
the build stops after a stage that found errors, so all of a stage's errors are shown
together and nothing is written unless everything succeeded. The plan compares what
each earlier rendering read with the model now, so only stale outputs are rendered; a
caller's priority pages (the preview's pages in view) are planned and rendered first.
Rendering and writing overlap: pages go into the new output folder as they are rendered,
and that folder replaces the old one only at the end, so a failed build changes nothing.
(From the command line, cli.build tries the shortcuts of shortcut.py first, and runs
this pipeline when none applies.)
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from .assemble import Reuse, assemble, load_settings
from .cache import Store
from .deps import DigestMemo
from .engine import BUILD_KEY
from .errors import Location, Report
from .layout import CONTENT, STATIC, TEMPLATES
from .links import check_links
from .load import FileCache, MarkdownFile, Project, load_project
from .markdown import Document, MarkdownRenderer, source_key
from .model import Page, Site
from .options import Options, Priority, Result
from .outputs import generators, merge_outputs, path_clashes
from .parallel import (
    Progress,
    RenderJob,
    convert_documents,
    parse_files,
    render_all,
)
from .quotes import Quotation, check_quotations, find_quotations, site_quotations
from .render import PageReads, Rendered, make_environment, plan_pages, render_generated
from .sanitise import DEFAULT_MODE
from .search import build_index, index_key, search_pages
from .shortcut import (
    BuildState,
    ProseRecord,
    Stat,
    load_state,
    prose_record,
    scan,
    state_row,
)
from .write import OutputFolder, refuse_output


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
        copies[rel] = project.root / STATIC / rel
    return copies


class Builder:
    """Builds one project again and again, reusing what did not change.

    The command line makes one build with a fresh Builder; the preview server keeps one
    alive, so a rebuild reads and converts only changed files and re-renders only the
    pages whose recorded inputs changed.
    """

    def __init__(self, options: Options) -> None:
        self.options = options
        self.files = FileCache()
        self.documents = DocumentCache(options.jobs, _stage(options, "converting Markdown"))
        self.env = make_environment(options.root / TEMPLATES)
        self._templates_seen: dict[str, Stat] | None = None  # template files, as last built
        self.rendered: dict[str, Rendered] = {}
        self.written: dict[str, Stat] | None = None  # output files as the last build left them
        self.search: tuple[str, tuple[str, ...]] = ("", ())  # the last index: key, files
        self._saved: dict[str, Rendered] = {}  # renderings as .cache/ holds them
        self.reuse = Reuse()  # the last model's records, used again where unchanged
        self.memo = DigestMemo()  # digests of the model records, kept for the next build

    def _fresh_templates(self) -> None:
        """Forget compiled templates when a template file changed since the last build."""
        seen = scan(self.options.root, (TEMPLATES,))
        if seen != self._templates_seen:
            if self.env.cache is not None:
                self.env.cache.clear()
            self._templates_seen = seen

    def forget(self, paths: list[str]) -> None:
        """Drop cached parses of files a watcher reported changed (project-relative)."""
        for path in paths:
            self.files.forget(path)

    def build(
        self,
        inputs: dict[str, Stat] | None = None,
        found: Report | None = None,
        priority: Priority | None = None,
    ) -> Result:
        """One build, reusing what did not change; the output folder is swapped in only
        if every stage succeeded.

        `inputs`: the scan of the input files, when the caller has made it already.
        `found`: what the caller reported of this build so far.
        `priority`: pages to render first, each handed over as soon as it is rendered.
        """
        self._fresh_templates()
        return self._full_build(inputs, found, priority)

    def _full_build(
        self, inputs: dict[str, Stat] | None, found: Report | None, priority: Priority | None
    ) -> Result:
        options = self.options
        result = Result(report=found or Report())
        report = result.report
        if options.write and (reason := refuse_output(options.out, options.root, self.written)):
            report.error(Location(str(options.out)), reason, "choose another --out folder")
            return result
        store = Store(options.root, report) if options.cache else None
        try:
            return self._stages(result, store, inputs, priority)
        finally:
            if store is not None:
                store.close()

    def _stages(
        self,
        result: Result,
        store: Store | None,
        inputs: dict[str, Stat] | None,
        priority: Priority | None,
    ) -> Result:
        options, report = self.options, result.report
        if store is not None:
            inputs = inputs if inputs is not None else scan(options.root)
            self._load_disk_cache(store)
        reading = _stage(options, "reading")
        parse = functools.partial(parse_files, jobs=options.jobs, progress=reading)
        project = load_project(options.root, report, self.files, parse)
        if report.errors:
            return result
        quotations = {
            f.path: self.reuse.made_from(
                "quotations", f, lambda f, _: find_quotations(f.body, f.path, f.body_line), report
            )
            for f in project.pages
        }
        site = build_model(project, options, report, self.documents, quotations, self.reuse)
        result.converted = self.documents.converted
        if site is None:
            return result
        result.site = site
        result.pages = len(site.pages)
        folder = OutputFolder(options.out) if options.write else None
        try:
            self._render(project, site, result, folder, priority)
            if options.strict:
                _warnings_to_errors(report)
            if report.errors:
                return result
            self.rendered = result.rendered
            if folder is not None:
                for rel, source in sorted(result.copies.items()):
                    folder.copy(rel, source)
                folder.commit()
                self.written = folder.stats()
                folder = None
        finally:
            if folder is not None:
                folder.discard()
        if store is not None and inputs is not None:
            self._save_disk_cache(store, inputs, project, quotations, result)
        return result

    def _render(
        self,
        project: Project,
        site: Site,
        result: Result,
        folder: OutputFolder | None,
        priority: Priority | None,
    ) -> None:
        """Plan what is stale, render it (the priority's pages first) and the other
        outputs, into `folder` or, without one, into `result.files`; reuse every earlier
        rendering that is still up to date."""
        report, build = result.report, _build_id()
        written = self.written or {}

        def reusable(rendering: Rendered) -> bool:
            if rendering.body is not None:
                return True
            was = written.get(rendering.output)
            return folder is not None and folder.unchanged(rendering.output, was)

        def put(rendering: Rendered) -> Rendered:
            """Into the new folder, and kept without its body (in a worker, for pages)."""
            assert folder is not None
            if rendering.body is None:
                folder.keep(rendering.output)
                return rendering
            folder.write(rendering.output, rendering.body)
            return dataclasses.replace(rendering, body=None)

        consume = put if folder is not None else None
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
        progress = _stage(self.options, "rendering")
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
        if consume is not None:
            generated = {output: consume(rendering) for output, rendering in generated.items()}
        result.rendered = {**pages, **generated}
        result.rerendered = tuple(made)
        if folder is None:
            result.files = {o: r.body for o, r in result.rendered.items() if r.body is not None}
        bundle = self._index(site, result, folder) if folder is not None else ()
        result.copies = static_copies(project, result.rendered.keys() | set(bundle), report)

    def _index(self, site: Site, result: Result, folder: OutputFolder) -> tuple[str, ...]:
        """The search bundle, in the new folder: kept from the old one when no indexed
        page changed (Pagefind's output is a function of those pages), else made anew."""
        if result.report.errors or not search_pages(site):
            return ()
        key = index_key(site, {o: r.checksum for o, r in result.rendered.items()})
        last_key, last_files = self.search
        written = self.written or {}
        if key == last_key and all(folder.unchanged(f, written.get(f)) for f in last_files):
            for rel in last_files:
                folder.keep(rel)
            return last_files
        indexed = build_index(site, folder.tmp, result.report)
        if indexed is None:
            return ()
        folder.adopt(indexed.files)
        self.search = (key, indexed.files)
        return indexed.files

    def _load_disk_cache(self, store: Store) -> None:
        """Fill empty in-memory caches from .cache/ (the first build of a process)."""
        if not self.documents.by_source:
            self.documents.by_source = store.all("documents", Document.from_json)
        if not self.rendered:
            self.rendered = store.all("rendered", lambda text, _: Rendered.from_json(text))
        self._saved = dict(self.rendered)
        if self.written is None:
            self.resume(load_state(store))

    def resume(self, state: BuildState | None) -> None:
        """Go on from the last build's state: the output files it left, its search index."""
        self.written = state.manifest if state is not None else {}
        self.search = state.search if state is not None else ("", ())

    def _save_disk_cache(
        self,
        store: Store,
        inputs: dict[str, Stat],
        project: Project,
        quotations: Mapping[str, Sequence[Quotation]],
        result: Result,
    ) -> None:
        """Write what this build made to .cache/, all in one transaction: new documents
        and renderings, the state, and the removal of what no build uses any more."""
        assert result.site is not None
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
        key = (BUILD_KEY, *self.options.output_key())
        state = BuildState(
            inputs=inputs,
            manifest=self.written or {},
            diagnostics=[d for d in result.report.diagnostics if d.severity != "note"],
            pages=result.pages,
            options=repr(key),
            raw_html=self.documents.renderer.raw_html,
            prose=_prose_records(project, quotations, result.site, result.rendered),
            search=self.search,
        )
        store.save(
            [
                ("documents", new_documents, documents.keys()),
                ("rendered", new_rendered, kept),
                state_row(state),
            ]
        )
        self.documents.fresh.clear()
        self._saved = dict(result.rendered)


def _prose_records(
    project: Project,
    quotations: Mapping[str, Sequence[Quotation]],
    site: Site,
    rendered: dict[str, Rendered],
) -> dict[str, ProseRecord]:
    """For each Markdown file, where its page's body sits: what a later prose edit needs.

    None when the site has a search page: its index reads every page's body.
    """
    if search_pages(site):
        return {}
    pages_of: dict[str, list[Page]] = {}
    for page in site.pages:
        for path in page.inputs:
            pages_of.setdefault(path, []).append(page)
    records = {}
    for file in project.pages:
        pages = pages_of.get(file.path, [])
        if len(pages) != 1 or pages[0].document is None:
            continue  # a draft left out, or a file more than one page reads
        page, done = pages[0], rendered.get(pages[0].output)
        if page.document is not None and done is not None and done.slot is not None:
            record = prose_record(
                file, quotations[file.path], page.document, page.output, done.checksum, done.slot
            )
            records[file.path] = record
    return records


def _build_id() -> str:
    """Unique across processes, so renderings from the cache are never taken for new."""
    return f"{os.getpid()}-{time.time_ns()}"


def _stage(options: Options, name: str) -> Progress | None:
    """A progress callback for one stage, or None when nobody is watching."""
    report = options.progress
    if report is None:
        return None
    return lambda done, total: report(name, done, total)


def _warnings_to_errors(report: Report) -> None:
    """--strict: every warning fails the build."""
    for warning in report.warnings:
        report.diagnostics.remove(warning)
        report.error(warning.location, warning.message, warning.hint)


def run(
    options: Options,
    inputs: dict[str, Stat] | None = None,
    state: BuildState | None = None,
    found: Report | None = None,
) -> Result:
    """One full build (cli.build tries the shortcuts first, and passes on the scan of
    the inputs, the last build's state and what it reported, which it has read already)."""
    builder = Builder(options)
    if state is not None:
        builder.resume(state)
    return builder.build(inputs=inputs, found=found)
