"""Spread parsing, Markdown conversion and page rendering over processes (all cores).

Workers are forked after the site model is built, so each inherits it and the Jinja
environment (copy-on-write) instead of receiving them pickled. Work is cut into chunks in
page order and the results are put back in that order, so the output is byte-identical
to a single-process build.
Where fork is unavailable, or the work is small, everything runs in this process.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2

from .errors import Diagnostic, Report
from .load import MarkdownFile, Parsed, parse_file, parse_in_turn
from .markdown import Document, MarkdownRenderer
from .model import Site
from .render import PageReads, Rendered, Reusable, in_memory, render_pages

T = TypeVar("T")
MIN_PER_WORKER = 40  # below this many items per worker, forking costs more than it saves
MAX_CHUNK = 100
# Render workers are replaced by fresh forks after this many chunks each (see _map).
# A cold build of 4000 pages peaked at 479 MiB with workers that rendered to the end,
# at 354 MiB with 8 and 334 MiB with 5. Each renewal costs about 0.1 s: the pause
# between pools, and the new workers warming up (their first chunk is slower).
RENEW_AFTER = 8

# What forked workers inherit: set just before the pool is created, cleared after.
_INHERITED: dict[str, Any] = {}


def _chunks(items: Sequence[T], jobs: int) -> list[Sequence[T]]:
    """Four chunks per worker, for balance, of at most MAX_CHUNK items: a worker holds a
    chunk's results until it is done with it, and its memory counts against the build's."""
    size = min(MAX_CHUNK, max(1, -(-len(items) // (jobs * 4))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _can_fork(jobs: int, count: int) -> bool:
    return (
        jobs > 1
        and count >= MIN_PER_WORKER * 2
        and "fork" in multiprocessing.get_all_start_methods()
    )


Progress = Callable[[int, int], None]


def _map(
    function: Callable[[Sequence[T]], Any],
    items: Sequence[T],
    jobs: int,
    progress: Progress | None = None,
    renew: int | None = None,
) -> Iterator[Any]:
    """Yield `function(chunk)` for each chunk of `items`, worked in forked processes;
    in input order, each as soon as it is done.

    `renew`: after this many chunks each, the workers are replaced by fresh forks. A
    worker's private memory only grows: every object it reads has its reference count
    written, which copies that memory page from the parent (copy-on-write), and its own
    allocations fill the parent's partly used pages too. Rendering reads the whole site
    model bit by bit, so a long-lived render worker ends up holding a copy of most of
    it. A fresh fork starts again from none.
    """
    context = multiprocessing.get_context("fork")
    chunks = _chunks(items, jobs)
    per_pool = renew * jobs if renew else max(1, len(chunks))
    done = 0
    # Objects made before the fork are frozen out of the garbage collector: a worker's
    # collections would otherwise write to every one of them and so copy the parent's
    # whole heap into each worker (copy-on-write), instead of sharing it. The build
    # unfreezes them when it ends (pipeline.Builder.build).
    gc.freeze()
    for start in range(0, len(chunks), per_pool):
        group = chunks[start : start + per_pool]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            # A few chunks ahead per worker, not all at once: results wait in this
            # process until they are taken in order, so a slow taker must slow the work.
            waiting = iter(group)
            window = deque(pool.submit(function, c) for c in itertools.islice(waiting, 2 * jobs))
            for chunk in group:
                part = window.popleft().result()
                if (following := next(waiting, None)) is not None:
                    window.append(pool.submit(function, following))
                done += len(chunk)
                if progress is not None:
                    progress(done, len(items))
                yield part


def _parse_chunk(rels: Sequence[str]) -> list[tuple[Parsed, list[Diagnostic]]]:
    root: Path = _INHERITED["root"]
    return [parse_file(root, rel) for rel in rels]


def parse_files(
    root: Path, rels: list[str], jobs: int, progress: Progress | None = None
) -> list[tuple[Parsed, list[Diagnostic]]]:
    """Read and parse project files (load.parse_file), in parallel when it pays."""
    if not _can_fork(jobs, len(rels)):
        return parse_in_turn(root, rels)
    _INHERITED["root"] = root
    try:
        return [parsed for part in _map(_parse_chunk, rels, jobs, progress) for parsed in part]
    finally:
        _INHERITED.pop("root", None)


def _convert_chunk(files: Sequence[tuple[str, str, int, str]]) -> list[Document]:
    renderer: MarkdownRenderer = _INHERITED["renderer"]
    return [renderer.convert(body, path, line, url) for body, path, line, url in files]


def convert_documents(
    todo: Sequence[tuple[MarkdownFile, str]],
    renderer: MarkdownRenderer,
    jobs: int,
    progress: Progress | None = None,
) -> list[Document]:
    """Convert (file, url) pairs to Documents, in parallel when it pays."""
    work = [(f.body, f.path, f.body_line, url) for f, url in todo]
    if not _can_fork(jobs, len(work)):
        return [renderer.convert(*item) for item in work]
    _INHERITED["renderer"] = renderer  # workers convert with its settings (raw_html)
    try:
        return [
            document for part in _map(_convert_chunk, work, jobs, progress) for document in part
        ]
    finally:
        _INHERITED.pop("renderer", None)


@dataclass(frozen=True)
class RenderJob:
    """Everything rendering the pages needs; forked workers inherit it."""

    site: Site
    env: jinja2.Environment
    templates: Path
    previous: Mapping[str, Rendered]  # earlier renderings, reused where up to date
    build: str
    reusable: Reusable = in_memory
    # Applied to each rendering where it is made, in the worker: a build that writes puts
    # the page in the output folder there, so pages are written in parallel and only
    # their small records come back to this process.
    consume: Callable[[Rendered], Rendered] | None = None


# This process's digests for the build being rendered: kept across its chunks
_READS: dict[str, PageReads] = {}


def page_reads(job: RenderJob) -> PageReads:
    """This process's digests for the job's build: made on first use, then shared by its
    chunks and, in the main process, by the generated outputs (render_generated)."""
    if job.build not in _READS:
        _READS.clear()  # another build's: its site is gone
        _READS[job.build] = PageReads(job.site, job.env)
    return _READS[job.build]


def _render(job: RenderJob, indices: Sequence[int]) -> tuple[dict[str, Rendered], Report]:
    """Render the site's pages at `indices`. By index, not by URL: looking a page up
    touches that page alone, where a search of the site would touch every page, and so
    copy the parent's memory into the worker (reference counts are writes)."""
    report = Report()
    rendered = render_pages(
        job.site,
        job.env,
        job.templates,
        report,
        job.previous,
        [job.site.pages[i] for i in indices],
        job.build,
        job.reusable,
        page_reads(job),
    )
    if job.consume is not None:
        rendered = {output: job.consume(rendering) for output, rendering in rendered.items()}
    return rendered, report


def _render_chunk(indices: Sequence[int]) -> tuple[dict[str, Rendered], Report]:
    return _render(_INHERITED["job"], indices)


def render_all(
    job: RenderJob,
    report: Report,
    jobs: int,
    progress: Progress | None = None,
) -> dict[str, Rendered]:
    """Render every page, in parallel when it pays; same bytes and order as serial.

    Each rendering passes through `job.consume` in the process that made it (a build
    that writes puts it in the output folder and keeps it without its body), so the
    whole site's output is never held at once, nor sent between processes.
    """
    outputs = [page.output for page in job.site.pages]
    indices = range(len(outputs))
    found: dict[str, Rendered] = {}

    def collect(part: tuple[dict[str, Rendered], Report]) -> None:
        rendered, part_report = part
        report.diagnostics.extend(part_report.diagnostics)
        found.update(rendered)

    if _can_fork(jobs, len(outputs)):
        # Index pages read nearly the whole model: rendered in a worker, they would copy
        # it all into that worker; rendered here, after the workers are gone, they copy
        # nothing.
        indexes = [i for i in indices if job.site.pages[i].is_index]
        others = [i for i in indices if not job.site.pages[i].is_index]
        counted = None if progress is None else lambda done, _: progress(done, len(outputs))
        _INHERITED["job"] = job
        try:
            for part in _map(_render_chunk, others, jobs, counted, RENEW_AFTER):
                collect(part)
        finally:
            _INHERITED.pop("job", None)
        values = page_reads(job).values
        for rendering in found.values():
            values.seed(rendering.read)
        collect(_render(job, indexes))
        if progress is not None:
            progress(len(outputs), len(outputs))
    else:
        done = 0
        for chunk in _chunks(indices, 1):
            collect(_render(job, chunk))
            done += len(chunk)
            if progress is not None:
                progress(done, len(outputs))
    return {output: found[output] for output in outputs if output in found}
