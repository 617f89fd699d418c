"""Where each input lands in the site, and relative links between outputs.

URLs here are site-relative without a leading slash: '' is the home page,
'countries/japan/' a pretty URL, '404.html' a plain file. Links between pages are made
relative and point at the `index.html` file itself, so the same `site/` works from the
root of a host, from any sub-path, and opened from disk.
"""

from __future__ import annotations

import functools
import posixpath

HOME = ""
COUNTRIES = "countries/"
SOURCES = "sources/"
NOT_FOUND = "404.html"


def url_for_content(path: str) -> str | None:
    """The URL of the page made from a content file (path relative to content/)."""
    stem, dot, ext = path.rpartition(".")
    if not dot or ext not in ("md", "yaml"):
        return None
    if path in ("sources.yaml", "sources.md"):
        return SOURCES
    if path == "site.yaml":
        return None
    if ext == "yaml" and not (path.startswith("countries/") and path.count("/") == 1):
        return None
    if stem == "index":
        return HOME
    if stem.endswith("/index"):
        return stem[: -len("index")]
    return stem + "/"


def output_path(url: str) -> str:
    """The file that serves a URL: 'a/' is 'a/index.html'."""
    return url + "index.html" if url == "" or url.endswith("/") else url


@functools.lru_cache(maxsize=1 << 16)
def relative(from_url: str, to_url: str) -> str:
    """A link from the page at `from_url` to `to_url` (a page URL or a file).

    String arithmetic on two site-relative paths (posixpath.relpath would consult the
    working directory on every call); cached, since every page links to the same few.
    """
    folder = posixpath.dirname(output_path(from_url))
    start = folder.split("/") if folder else []
    target = output_path(to_url).split("/")
    common = 0
    while common < len(start) and common < len(target) - 1 and start[common] == target[common]:
        common += 1
    return "/".join([".."] * (len(start) - common) + target[common:])


def absolute(base_url: str, url: str) -> str:
    """The absolute URL of a page, for formats that require one (canonical, feed, ...)."""
    return base_url + url
