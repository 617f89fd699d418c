#!/usr/bin/env python3
"""Report the site's budgets, page by page: weight, validity, accessibility, Lighthouse.

    .venv/bin/python bench/budgets.py              # or: make budgets
    .venv/bin/python bench/budgets.py --no-lighthouse

Builds the real site into a temporary folder (with `base_url` pointing at a local
server, as if deployed there), serves it on 127.0.0.1, and prints one table:

- weight: the gzip size (level 6, each file on its own, as a server sends it) of the
  page's HTML plus the style sheets and scripts it references; budget 40 KB. Pagefind's
  index, which the search page fetches as the reader types, is not counted.
- vnu: errors from the Nu HTML Checker (npm `vnu-jar`, on the machine's Java).
- axe: axe-core violations with its default rules (npm `axe-core`, in headless Chromium).
- Lighthouse (mobile) for the home page and a country page: performance, accessibility,
  best practices and SEO; budget 100 each (npm `lighthouse` 12, installed into
  bench/node_modules by `make budgets`; 13 needs Node 22).

Exit status 1 if any budget is missed, 2 if a tool is missing. tests/test_budgets.py
imports `page_weight` from here, so the test and this report weigh pages the same way.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import posixpath
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.browsing import CHROMIUM, CHROMIUM_ARGS, QuietHandler, QuietServer  # noqa: E402

BUDGET_BYTES = 40 * 1024
GZIP_LEVEL = 6
LIGHTHOUSE_PAGES = ("", "countries/japan/")  # the addresses readers use (canonical ones)
LIGHTHOUSE_CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
NODE_MODULES = PROJECT / "node_modules"
LIGHTHOUSE = PROJECT / "bench" / "node_modules" / "lighthouse" / "cli" / "index.js"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
# Valid CSS that vnu's CSS checker does not know yet (each is in every current browser).
KNOWN_CSS_GAPS = (re.compile(r"Property “paint-order” doesn't exist"),)


# ---------------------------------------------------------------- page weight


class _Assets(HTMLParser):
    """The style sheets and scripts a page loads by itself: <link rel=stylesheet>, <script src>."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and "stylesheet" in (values.get("rel") or "").lower().split():
            href = values.get("href")
            if href:
                self.found.append(href)
        elif tag == "script" and values.get("src"):
            self.found.append(values["src"] or "")


@dataclass
class Weight:
    """A page's gzip size: its HTML, each referenced asset, and anything not found."""

    page: str
    html: int
    assets: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.html + sum(self.assets.values())


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


def page_weight(folder: Path, page: str, base_url: str = "") -> Weight:
    """Weigh `page` (a path under `folder`); absolute URLs under `base_url` count as local."""
    html = (folder / page).read_bytes()
    parser = _Assets()
    parser.feed(html.decode("utf-8"))
    weight = Weight(page, gzip_size(html))
    for reference in parser.found:
        parts = urlsplit(reference)
        if parts.scheme or parts.netloc:
            if not base_url or not reference.startswith(base_url):
                weight.missing.append(reference)
                continue
            target = urlsplit(reference[len(base_url) :]).path
        else:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page), parts.path))
        path = folder / target
        if target.startswith("../") or not path.is_file():
            weight.missing.append(reference)
        else:
            weight.assets[target] = gzip_size(path.read_bytes())
    return weight


def html_pages(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html"))


# ---------------------------------------------------------------- build and serve


def build_and_serve(workdir: Path) -> tuple[Path, str, http.server.ThreadingHTTPServer]:
    """Build the real site as deployed at a local address, and serve it from the host root."""
    from sitegen.cli import main

    out = workdir / "site"  # served before it exists: the address goes into base_url
    server = QuietServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    project = workdir / "project"
    for name in ("content", "templates", "static"):
        shutil.copytree(PROJECT / name, project / name)
    settings = project / "content" / "site.yaml"
    text = re.sub(r"(?m)^base_url:.*$", f"base_url: {base_url}", settings.read_text("utf-8"))
    settings.write_text(text, encoding="utf-8")
    if main(["build", "--strict", "--out", str(out)], root=project) != 0:
        server.shutdown()
        raise SystemExit("the site does not build; see the errors above")
    return out, base_url, server


# ---------------------------------------------------------------- checks


def vnu_errors(folder: Path) -> dict[str, int] | None:
    """Errors per HTML/CSS file from the Nu HTML Checker; None if Java or vnu is missing."""
    java = shutil.which("java")
    if java is None or not VNU_JAR.exists():
        return None
    folder = folder.resolve()
    command = [java, "-jar", str(VNU_JAR), "--format", "json", "--also-check-css"]
    command += ["--skip-non-html", str(folder)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    counts: dict[str, int] = {}
    for message in json.loads(completed.stderr)["messages"]:
        text = str(message.get("message", ""))
        if message.get("type") not in ("error", "non-document-error"):
            continue
        if any(gap.search(text) for gap in KNOWN_CSS_GAPS):
            continue
        path = Path(urlsplit(str(message.get("url", ""))).path)
        page = path.relative_to(folder) if path.is_relative_to(folder) else path
        counts[page.as_posix()] = counts.get(page.as_posix(), 0) + 1
    return counts


def axe_violations(base_url: str, pages: Sequence[str]) -> dict[str, int] | None:
    """axe-core violations (default rules) per page in headless Chromium; None if missing."""
    if not CHROMIUM.exists() or not AXE.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    source = AXE.read_text("utf-8")
    counts = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        page = browser.new_page()
        for path in pages:
            page.goto(base_url + path, wait_until="load")
            if page.locator("#search").count():
                page.wait_for_selector(".pagefind-ui__search-input", timeout=10_000)
            page.add_script_tag(content=source)
            counts[path] = page.evaluate("async () => (await axe.run(document)).violations.length")
        browser.close()
    return counts


def lighthouse(url: str, workdir: Path, runs: int) -> dict[str, int] | None:
    """Lighthouse (mobile, its default) scores out of 100, the median of `runs` runs.

    The median, because one run on a shared two-core machine swings by a few points
    with whatever else is running (Lighthouse's own advice for noisy hosts).
    None if Node, Lighthouse or Chromium is missing.
    """
    node = shutil.which("node")
    if node is None or not LIGHTHOUSE.exists() or not CHROMIUM.exists():
        return None
    report = workdir / "lighthouse.json"
    flags = " ".join(("--headless=new", *CHROMIUM_ARGS))
    command = [node, str(LIGHTHOUSE), url, "--quiet", "--output=json"]
    command += [f"--output-path={report}", f"--chrome-flags={flags}"]
    command += [f"--only-categories={','.join(LIGHTHOUSE_CATEGORIES)}"]
    env = {**os.environ, "CHROME_PATH": str(CHROMIUM)}
    results: dict[str, list[int]] = {name: [] for name in LIGHTHOUSE_CATEGORIES}
    for _ in range(runs):
        report.unlink(missing_ok=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not report.exists():
            print(f"{url}: Lighthouse failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return {name: 0 for name in LIGHTHOUSE_CATEGORIES}
        data = json.loads(report.read_text("utf-8"))
        for name in LIGHTHOUSE_CATEGORIES:
            score = data["categories"][name]["score"]
            results[name].append(round(score * 100) if score is not None else 0)
        if failing := _failing_audits(data):
            print(f"{url}: audits below 1 in one run: {', '.join(failing)}", file=sys.stderr)
    return {name: int(statistics.median_low(values)) for name, values in results.items()}


def _failing_audits(report: dict[str, object]) -> list[str]:
    audits = report["audits"]  # type: ignore[index]
    names = []
    for category in report["categories"].values():  # type: ignore[union-attr]
        for ref in category["auditRefs"]:
            audit = audits[ref["id"]]
            if ref.get("weight") and audit.get("score") is not None and audit["score"] < 1:
                names.append(f"{ref['id']} ({audit['score']})")
    return names


# ---------------------------------------------------------------- report


def _rows(
    pages: Sequence[str],
    weights: dict[str, Weight],
    vnu: dict[str, int] | None,
    axe: dict[str, int] | None,
) -> Iterator[tuple[str, ...]]:
    for page in pages:
        weight = weights[page]
        yield (
            page,
            f"{weight.total / 1024:.1f} KB",
            "ok" if weight.total <= BUDGET_BYTES and not weight.missing else "OVER",
            "n/a" if vnu is None else str(vnu.get(page, 0)),
            "n/a" if axe is None else str(axe.get(page, 0)),
        )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-lighthouse", action="store_true", help="skip Lighthouse")
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (median)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="budgets-") as tmp:
        workdir = Path(tmp)
        folder, base_url, server = build_and_serve(workdir)
        try:
            pages = html_pages(folder)
            weights = {p: page_weight(folder, p, base_url) for p in pages}
            vnu = vnu_errors(folder)
            axe = axe_violations(base_url, pages)
            scores = {}
            if not args.no_lighthouse:
                for page in LIGHTHOUSE_PAGES:
                    scores["/" + page] = lighthouse(base_url + page, workdir, args.runs)
        finally:
            server.shutdown()
            server.server_close()
    rows = list(_rows(pages, weights, vnu, axe))
    print(_table(("page", "HTML+CSS+JS gzip", "≤ 40 KB", "vnu errors", "axe"), rows))
    missed = [
        r[0] for r in rows if r[2] != "ok" or r[3] not in ("0", "n/a") or r[4] not in ("0", "n/a")
    ]
    missing_tools = [name for name, value in (("vnu", vnu), ("axe", axe)) if value is None]
    if scores:
        print()
        lh_rows = []
        for page, score in scores.items():
            if score is None:
                missing_tools.append("lighthouse")
                lh_rows.append((page, *("n/a" for _ in LIGHTHOUSE_CATEGORIES)))
                continue
            lh_rows.append((page, *(str(score[c]) for c in LIGHTHOUSE_CATEGORIES)))
            if any(score[c] < 100 for c in LIGHTHOUSE_CATEGORIES):
                missed.append(f"Lighthouse {page}")
        print(_table(("Lighthouse (mobile)", *LIGHTHOUSE_CATEGORIES), lh_rows))
    for page, weight in weights.items():
        for reference in weight.missing:
            print(f"{page}: references {reference}, which is not in the site", file=sys.stderr)
    if missing_tools:
        print(f"missing tools: {', '.join(sorted(set(missing_tools)))}; run `make budgets`")
        return 2
    if missed:
        print(f"budgets missed: {', '.join(missed)}")
        return 1
    print("all budgets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
