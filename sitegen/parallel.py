"""Spread parsing, Markdown conversion and page rendering over processes (all cores).

Workers (workers.py) are forked after the site model is built, so each inherits it and
the Jinja environment (copy-on-write) instead of receiving them pickled: each task is a
closure over what it needs, and nothing is kept in module globals. Work is cut into
chunks in page order and the results are put back in that order, so the output is
byte-identical to a single-process build. Where fork is unavailable, or the work is
small, everything runs in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import jinja2

from .errors import Diagnostic, Report
from .load import MarkdownFile, Parsed, parse_file, parse_in_turn
from .markdown import Document, MarkdownRenderer
from .model import Site
from .options import Priority
from .render import PageReads, Rendered, render_pages
from .workers import WorkerPool, can_fork
from .write import OutputError

T = TypeVar("T")
MIN_PER_WORKER = 40  # below this many items per worker, forking costs more than it saves
MAX_CHUNK = 100
# Render workers are replaced by fresh forks after this many chunks each (see
# workers.WorkerPool): a worker that renders to the end holds a copy of most of the model.
RENEW_AFTER = 8


def _chunks(items: Sequence[T], jobs: int) -> list[Sequence[T]]:
    """Four chunks per worker, for balance, of at most MAX_CHUNK items: a worker holds a
    chunk's results until it is done with it, and its memory counts against the build's."""
    size = min(MAX_CHUNK, max(1, -(-len(items) // (jobs * 4))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _can_fork(jobs: int, count: int) -> bool:
    return jobs > 1 and count >= MIN_PER_WORKER * 2 and can_fork()


Progress = Callable[[int, int], None]


def _map(
    function: Callable[[Sequence[T]], Any],
    items: Sequence[T],
    jobs: int,
    progress: Progress | None = None,
    renew: int | None = None,
) -> Iterator[Any]:
    """Yield `function(chunk)` for each chunk of `items`, worked in forked processes; in
    input order, each as soon as it is done."""
    done = 0
    chunks = _chunks(items, jobs)
    results = WorkerPool(function, jobs, renew).map(chunks)
    try:
        for chunk, part in zip(chunks, results, strict=True):
            done += len(chunk)
            if progress is not None:
                progress(done, len(items))
            yield part
    finally:
        results.close()  # closed early (the caller stopped), the workers go at once


def parse_files(
    root: Path, rels: list[str], jobs: int, progress: Progress | None = None
) -> list[tuple[Parsed, list[Diagnostic]]]:
    """Read and parse project files (load.parse_file), in parallel when it pays."""
    if not _can_fork(jobs, len(rels)):
        return parse_in_turn(root, rels)

    def parse_chunk(chunk: Sequence[str]) -> list[tuple[Parsed, list[Diagnostic]]]:
        return [parse_file(root, rel) for rel in chunk]

    return [parsed for part in _map(parse_chunk, rels, jobs, progress) for parsed in part]


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

    def convert_chunk(chunk: Sequence[tuple[str, str, int, str]]) -> list[Document]:
        return [renderer.convert(body, path, line, url) for body, path, line, url in chunk]

    return [document for part in _map(convert_chunk, work, jobs, progress) for document in part]


@dataclass(frozen=True)
class RenderJob:
    """Everything rendering the pages needs; forked workers inherit it."""

    site: Site
    env: jinja2.Environment
    templates: Path
    build: str
    # Applied to each rendering where it is made, in the worker: a build that writes puts
    # the page in the output folder there, so pages are written in parallel and only
    # their small records come back to this process.
    consume: Callable[[Rendered], Rendered] | None = None


@dataclass(frozen=True)
class _Unwritten:
    """A write the system failed in a render worker (a full disk), sent back as data:
    raised again in this process as the error it was, so that it is reported as in a
    build of one process, of the file's path, not as a worker's traceback."""

    path: str | None = None  # an OutputError's: the file, its message and hint
    message: str = ""
    hint: str = ""
    error: OSError | None = None  # any other failure of the system, as it was raised

    @classmethod
    def of(cls, exc: OSError | OutputError) -> _Unwritten:
        if isinstance(exc, OutputError):
            return cls(str(exc.path), exc.message, exc.hint)
        return cls(error=exc)

    def raise_again(self) -> NoReturn:
        if self.error is not None:
            raise self.error
        raise OutputError(Path(self.path or ""), self.message, self.hint)


def _render(
    job: RenderJob,
    indices: Sequence[int],
    reads: PageReads,
    priority: Priority | None = None,
    publish: bool = False,
) -> tuple[dict[str, Rendered], Report]:
    """Render the site's pages at `indices`. By index, not by URL: looking a page up
    touches that page alone, where a search of the site would touch every page, and so
    copy the parent's memory into the worker (reference counts are writes).

    `priority` (in this process only): each page is marked done, and with `publish`
    handed to its publisher, before anything else happens to it."""
    report = Report()
    pages = [job.site.pages[i] for i in indices]
    rendered = render_pages(job.site, job.env, job.templates, report, pages, job.build, reads)
    if priority is not None:
        for page in pages:
            made = rendered.get(page.output)
            priority.done(page.output, made.body if made is not None else None, publish)
    if job.consume is not None:
        rendered = {output: job.consume(rendering) for output, rendering in rendered.items()}
    return rendered, report


def render_all(
    job: RenderJob,
    report: Report,
    jobs: int,
    reads: PageReads,
    indices: Sequence[int],
    progress: Progress | None = None,
    priority: Priority | None = None,
    publish: bool = False,
) -> dict[str, Rendered]:
    """Render the pages at `indices` (the plan's), in parallel when it pays; same bytes
    and order as serial.

    `reads`: this process's digests for the build, which the caller goes on using for
    the generated outputs. Each rendering passes through `job.consume` in the process
    that made it (a build that writes puts it in the output folder and keeps it without
    its body), so the whole site's output is never held at once, nor sent between
    processes. `priority`: its pages asked for while the build runs are rendered next,
    here, and published as they are made; with `publish`, every page is (the priority's
    first pages, rendered before the rest is even planned).
    """
    outputs = [job.site.pages[i].output for i in indices]
    found: dict[str, Rendered] = {}
    done = 0

    def collect(part: tuple[dict[str, Rendered], Report]) -> None:
        nonlocal done
        rendered, part_report = part
        report.diagnostics.extend(part_report.diagnostics)
        found.update(rendered)
        done += len(rendered) or 1
        if progress is not None:
            progress(min(done, len(outputs)), len(outputs))

    left = dict.fromkeys(indices)
    if not publish and _can_fork(jobs, len(left)):
        # Index pages read nearly the whole model: rendered in a worker, they would copy
        # it all into that worker; rendered here, after the workers are gone, they copy
        # nothing.
        indexes = [i for i in left if job.site.pages[i].is_index]
        others = [i for i in left if not job.site.pages[i].is_index]
        worker_reads: list[PageReads] = []  # each worker's own, made in it on first use

        def render_chunk(
            chunk: Sequence[int],
        ) -> tuple[dict[str, Rendered], Report] | _Unwritten:
            if not worker_reads:
                worker_reads.append(PageReads(job.site, job.env))
            try:
                return _render(job, chunk, worker_reads[0])
            except (OutputError, OSError) as exc:
                return _Unwritten.of(exc)

        parts = _map(render_chunk, others, jobs, None, RENEW_AFTER)
        try:
            for part in parts:
                if isinstance(part, _Unwritten):
                    part.raise_again()
                collect(part)
        finally:
            parts.close()  # the workers are gone before the error goes on
        for rendering in found.values():
            reads.values.seed(rendering.read)
        collect(_render(job, indexes, reads))
    else:
        while left:
            index, asked = _next(job, left, priority)
            del left[index]
            collect(_render(job, [index], reads, priority, publish or asked))
    return {output: found[output] for output in outputs if output in found}


def _next(job: RenderJob, left: dict[int, None], priority: Priority | None) -> tuple[int, bool]:
    """The page to render next, and whether it was asked for while the build ran (it
    goes first), else the next in order."""
    while priority is not None and (asked := priority.take()) is not None:
        for index in left:
            if job.site.pages[index].output == asked:
                return index, True
    return next(iter(left)), False
