"""The search index: Pagefind's command line, run over the new output folder before the swap.

Why the CLI over the written folder: it is Pagefind's stock interface, it reads the pages
from disk at its own (parallel) speed at any site size, and it writes the bundle straight
into the folder that is about to be swapped in, so the index is part of the atomic write
(a failed build leaves `site/` untouched, and the index always describes the pages beside
it). The binary comes from the `pagefind-bin` wheel in the project's environment, run
through `python -m pagefind`, so nothing has to be on PATH.

Only a site that has a search page (a page rendered with `search.html`) gets an index.
Which pages are indexed is said in the HTML: pages whose `Page.indexed` is true carry
`<main data-pagefind-body>`, and Pagefind then leaves out every page without it (the
search page itself and the 404 page). Result URLs keep `index.html`
(`/countries/japan/index.html`), so they work from any sub-path; Pagefind's UI prefixes
the folder it loaded the bundle from.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import Location, Report, printable
from .model import SEARCH_TEMPLATE, Page, Site

BUNDLE = "pagefind/"  # where the bundle lands in the site; search.html loads it from there
TIMEOUT_SECONDS = 300  # a wedged indexer becomes a build error, never a hung build
# Inside <main>, but noise in a result's excerpt: the citation markers "[1]".
EXCLUDED_SELECTORS = ("sup.cite",)
# Bundle files no page loads: the other UI flavours and the result-page highlighter.
# Removed after indexing, so that the site carries only what it uses.
UNUSED_PREFIXES = ("pagefind-component-ui.", "pagefind-modular-ui.", "pagefind-highlight.")


def search_pages(site: Site) -> list[Page]:
    """The pages that offer search; the index is built only when there is one."""
    return [p for p in site.pages if p.template == SEARCH_TEMPLATE]


def index_key(site: Site, checksums: Mapping[str, str]) -> str:
    """What the index is made of: every indexed page's output and its bytes' digest.

    Pagefind's bundle is a function of those files alone, so an unchanged key means the
    last bundle is still exact and can be kept as it is.
    """
    digest = hashlib.blake2b(digest_size=16)
    for page in site.pages:
        if page.indexed:
            digest.update(f"{page.output}\x1f{checksums.get(page.output, '')}\x1e".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Indexed:
    """The bundle Pagefind wrote: its files, relative to the output folder."""

    files: tuple[str, ...]


def build_index(site: Site, folder: Path, report: Report) -> Indexed | None:
    """Run Pagefind over the pages written into `folder`; None (with an error at the search
    page) if it fails, so the build fails and the old site stays."""
    pages = search_pages(site)
    assert pages, "only a site with a search page is indexed"
    command = [
        sys.executable,
        "-m",
        "pagefind",
        "--site",
        str(folder),
        "--output-subdir",
        BUNDLE.rstrip("/"),
        "--keep-index-url",
        "--exclude-selectors",
        ",".join(EXCLUDED_SELECTORS),
        "--silent",
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        problem = None if done.returncode == 0 else _last_line(done.stderr or done.stdout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = str(exc)
    if problem is not None:
        where = Location(pages[0].inputs[0] if pages[0].inputs else pages[0].output)
        report.error(
            where,
            f"the search index could not be built: {problem}",
            "reinstall the project (.venv/bin/pip install -e .), or remove the search page",
        )
        return None
    return Indexed(tuple(_bundle_files(folder)))


def _bundle_files(folder: Path) -> Iterable[str]:
    """The bundle's files, sorted; the unused ones are deleted first (we wrote them)."""
    base = folder / BUNDLE
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if dirpath == str(base) and name.startswith(UNUSED_PREFIXES):
                path.unlink()
                continue
            found.append(path.relative_to(folder).as_posix())
    return sorted(found)


def _last_line(text: str) -> str:
    """The indexer's own last words, printable (it may print control characters)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    shown = lines[-1] if lines else "Pagefind failed without a message"
    return printable(shown)[:300]
