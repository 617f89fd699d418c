"""The search index: Pagefind, fed the rendered pages in memory, written with the rest.

Why in the pipeline and not a `pagefind --site site/` step after the build: the index
must be part of the atomic write (a failed build leaves `site/` untouched, and the index
always describes the pages beside it), and the build must not depend on a `pagefind` on
PATH. Pagefind's Python API runs the binary shipped in the `pagefind-bin` wheel in the
project's environment as a service: each page goes in as an HTML string, and the whole
bundle (the index, `pagefind-ui.js`, ...) comes back as bytes that join the other outputs.

Only a site that has a search page (a page rendered with `search.html`) gets an index: an
index nobody can query would be dead weight, and small test sites stay fast. The pages
indexed are every page but the search page itself and the 404 page. What is indexed on a
page is its `<main data-pagefind-body>`: navigation, breadcrumbs and footer stay out of
results. Result URLs are stored site-relative (`/countries/japan/index.html`); Pagefind's
UI prefixes the folder it loaded the bundle from, so they work under any sub-path.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from .errors import Location, Report
from .model import Page, Site

SEARCH_TEMPLATE = "search.html"
BUNDLE = "pagefind/"  # where the bundle lands in the site; search.html loads it from there
NOT_INDEXED_KINDS = frozenset({"not-found"})
TIMEOUT_SECONDS = 120  # a wedged service becomes a build error, never a hung build
# Inside <main>, but noise in a result's excerpt: the citation markers "[1]".
EXCLUDED_SELECTORS = ("sup.cite",)
# Bundle files no page loads: the other UI flavours and the result-page highlighter.
# Left out so that the site carries only what it uses.
UNUSED_PREFIXES = ("pagefind-component-ui.", "pagefind-modular-ui.", "pagefind-highlight.")

T = TypeVar("T")
# The last index built, by a digest of what went in: Pagefind's output depends only on
# that, so a rebuild whose indexed pages did not change skips the service entirely.
_last_bundle: dict[str, object] = {}


def search_pages(site: Site) -> list[Page]:
    """The pages that offer search; the index is built only when there is one."""
    return [p for p in site.pages if p.template == SEARCH_TEMPLATE]


def indexed_pages(site: Site) -> list[Page]:
    """The pages a reader can find: all but search pages and the 404 page."""
    return [
        p for p in site.pages if p.template != SEARCH_TEMPLATE and p.kind not in NOT_INDEXED_KINDS
    ]


def search_index(site: Site, files: Mapping[str, bytes], report: Report) -> dict[str, bytes]:
    """The Pagefind bundle for the rendered `files`, keyed by output path under BUNDLE.

    Empty when the site has no search page. A missing or failing Pagefind binary is
    reported as an error at the search page, so the build fails and writes nothing.
    """
    pages = search_pages(site)
    if not pages:
        return {}
    documents = [
        ("/" + page.output, files[page.output].decode("utf-8"))
        for page in indexed_pages(site)
        if page.output in files
    ]
    key = hashlib.sha256(repr(documents).encode("utf-8")).hexdigest()
    try:
        if _last_bundle.get("key") != key:  # unchanged pages: a preview rebuild reuses it
            _last_bundle.clear()
            _last_bundle.update(key=key, bundle=_run(lambda: _index(documents)))
        bundle: dict[str, bytes] = _last_bundle["bundle"]  # type: ignore[assignment]
    except Exception as exc:  # the service's errors are plain Exceptions
        where = Location(pages[0].inputs[0] if pages[0].inputs else pages[0].output)
        report.error(
            where,
            f"the search index could not be built: {type(exc).__name__}: {exc}",
            "reinstall the project (.venv/bin/pip install -e .), or remove the search page",
        )
        return {}
    return {
        BUNDLE + path: content
        for path, content in sorted(bundle.items())
        if not path.startswith(UNUSED_PREFIXES)
    }


async def _index(documents: Sequence[tuple[str, str]]) -> dict[str, bytes]:
    """Index (url, html) pairs in one Pagefind service and return the bundle's files."""
    async with _service_class()() as service:
        index = await service.create_index(
            {"keep_index_url": True, "exclude_selectors": list(EXCLUDED_SELECTORS)}
        )
        for url, html in documents:
            await index.add_html_file(content=html, url=url)
        files = await index.get_files()
    return {str(f["path"]): bytes(f["content"]) for f in files}


def _service_class() -> type:
    """Pagefind's service client, reading each reply as soon as it arrives.

    Why: pagefind 1.5's own reader sleeps 0.1 s before reading every reply, so indexing
    N pages costs at least N/10 s (1.6 s for this site, three times the rest of the
    build). This keeps its wire format (base64 JSON, comma-terminated) and its dispatch
    by message id; and if the service dies, every pending request fails instead of
    hanging. Imported late, so a build without a search page never needs Pagefind.
    """
    from pagefind.service import PagefindService

    class PromptPagefindService(PagefindService):
        async def _wait_for_responses(self) -> None:
            stdout = self._backend.stdout
            assert stdout is not None
            try:
                while True:
                    raw = await stdout.readuntil(b",")
                    message = json.loads(base64.b64decode(raw[:-1]))
                    if message is not None:
                        self._deliver(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                for future in self._responses.values():
                    if not future.done():
                        future.set_exception(RuntimeError(f"Pagefind service stopped: {exc!r}"))

        def _deliver(self, message: dict[str, Any]) -> None:
            payload = message.get("payload") or {}
            message_id = message.get("message_id")
            if message_id is None and (original := payload.get("original_message")):
                message_id = json.loads(original).get("message_id")
            future = self._responses.get(message_id)
            if future is None or future.done():
                return
            if payload.get("type") == "Error":
                future.set_exception(Exception(payload.get("message", "Pagefind error")))
            else:
                future.set_result(payload)

    return PromptPagefindService


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion, even when called from inside an event loop.

    Why: a development server (livereload runs on an asyncio loop) may rebuild from a
    callback on its loop, where asyncio.run() refuses to start; then a worker thread
    gets its own loop.
    """

    async def bounded() -> T:
        return await asyncio.wait_for(make(), TIMEOUT_SECONDS)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(bounded())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(bounded())).result()
