"""Spread Markdown conversion and page rendering over processes (all cores by default).

Workers are forked after the site model is built, so each inherits it (copy-on-write)
instead of receiving it pickled. Work is cut into chunks in page order and the results
are put back in that order, so the output is byte-identical to a single-process build.
Where fork is unavailable, or the work is small, everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .errors import Report
from .load import MarkdownFile
from .markdown import Document, MarkdownRenderer
from .model import Page, Site
from .render import Rendered, make_environment, render_pages

T = TypeVar("T")
MIN_PER_WORKER = 40  # below this many items per worker, forking costs more than it saves

# What forked workers inherit: set just before the pool is created, cleared after.
_INHERITED: dict[str, Any] = {}


def _chunks(items: Sequence[T], jobs: int) -> list[Sequence[T]]:
    size = max(1, -(-len(items) // (jobs * 4)))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _can_fork(jobs: int, count: int) -> bool:
    return (
        jobs > 1
        and count >= MIN_PER_WORKER * 2
        and "fork" in multiprocessing.get_all_start_methods()
    )


Progress = Callable[[int, int], None]


def _map(
    function: Callable[[Sequence[T]], list[Any]],
    items: Sequence[T],
    jobs: int,
    progress: Progress | None = None,
) -> list[Any]:
    """Run `function` over chunks of `items` in forked workers; results in input order."""
    context = multiprocessing.get_context("fork")
    chunks = _chunks(items, jobs)
    done = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        results: list[Any] = []
        for chunk, part in zip(chunks, pool.map(function, chunks), strict=True):
            results.extend(part)
            done += len(chunk)
            if progress is not None:
                progress(done, len(items))
    return results


def _convert_chunk(files: Sequence[tuple[str, str, int, str]]) -> list[Document]:
    renderer = _INHERITED.setdefault("renderer", MarkdownRenderer())
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
    return _map(_convert_chunk, work, jobs, progress)


def _render_chunk(urls: Sequence[str]) -> list[tuple[dict[str, Rendered], Report]]:
    site: Site = _INHERITED["site"]
    templates: Path = _INHERITED["templates"]
    env = _INHERITED.setdefault("env", make_environment(templates))
    report = Report()
    rendered = render_pages(
        site, env, templates, report, _INHERITED["previous"], set(urls), _INHERITED["build"]
    )
    return [(rendered, report)]


def render_all(
    site: Site,
    templates: Path,
    report: Report,
    previous: dict[str, Rendered],
    jobs: int,
    render_serial: Callable[[], dict[str, Rendered]],
    progress: Progress | None = None,
    build: str = "",
) -> dict[str, Rendered]:
    """Render every page, in parallel when it pays; same bytes and order as serial."""
    pages: list[Page] = list(site.pages)
    if not _can_fork(jobs, len(pages)):
        return render_serial()
    _INHERITED.update(site=site, templates=templates, previous=previous, build=build)
    try:
        parts = _map(_render_chunk, [p.output for p in pages], jobs, progress)
    finally:
        for key in ("site", "templates", "previous", "build"):
            _INHERITED.pop(key, None)
    by_output: dict[str, Rendered] = {}
    for rendered, part_report in parts:
        by_output.update(rendered)
        report.diagnostics.extend(part_report.diagnostics)
    return {p.output: by_output[p.output] for p in pages if p.output in by_output}
