"""Preview latency: time from a file write to the new HTML being served.

Runs the real preview server (`sitegen serve`, as its own process, on a free port) on the
project's own content and on a generated corpus, makes edits of each kind (prose, a
front-matter title, a fact-table value, a source entry, the page template, the base
template), and polls the page that shows the change over HTTP every 5 ms until the change
is served: that page is the one in view, which the preview renders first. Prints the
median of the edits and how many pages each kind of edit rendered in all (from the
server's own log). Each edit is undone, and the next made only once the server has
finished both rebuilds and been idle for a while, as between a writer's saves (an idle
preview collects its garbage then), so no edit waits for another's work. Last, the
server's peak resident memory (VmHWM) over its first build and all the edits.

On the corpus, `hugo server` (Hugo from Debian, installed with apt-get when missing and
running as root) serves the same Markdown pages, and its prose-edit figure is printed
beside ours.

    python bench/preview_latency.py [--pages 4000] [--edits 10] [--no-hugo]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build_speed import hugo_input, hugo_peer, read_pages
from bench.corpus import PROJECT, generate


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


class Server:
    """`sitegen serve` in its own process; its log lines are collected as they come."""

    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sitegen", "serve", "--port", "0"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self.started = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self.started.wait(1800):
            raise RuntimeError("the preview server did not start")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if match := re.match(r"serving (http://\S+)", line):
                self.url = match.group(1)
                self.started.set()

    def rendered_since(self, count: int) -> int:
        """Pages rendered by the first rebuild logged after line `count`."""
        for line in self.lines[count:]:
            if match := re.search(r": (\d+) page\(s\) rendered", line):
                return int(match.group(1))
        return 0

    def rebuilds(self) -> int:
        """Rebuilds finished so far, by the server's log."""
        return sum(line.startswith(("rebuilt after", "build failed")) for line in self.lines)

    def peak_mib(self) -> float | None:
        """The server's peak resident memory so far (the kernel's VmHWM), in MiB; None
        where /proc has no such line. The preview renders in its own process."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else None

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)


def timed_edit(
    server: Server, path: Path, edit: Callable[[str], str], url: str, marker: str
) -> tuple[float, int]:
    """Write the edit, poll until `marker` is served; undo it, and wait until the server
    has finished both rebuilds. Return ms and the pages the edit's rebuild rendered."""
    original = path.read_text()
    text = edit(original)
    assert marker in text, marker
    logged, rebuilds = len(server.lines), server.rebuilds()
    start = time.perf_counter()
    path.write_text(text)
    poll_until(lambda: marker in fetch(url), f"{marker!r} never served at {url}")
    elapsed = (time.perf_counter() - start) * 1000
    path.write_text(original)
    poll_until(lambda: marker not in fetch(url), f"{marker!r} still served at {url}")
    poll_until(lambda: server.rebuilds() >= rebuilds + 2, "the rebuilds never finished")
    time.sleep(IDLE)
    return elapsed, server.rendered_since(logged)


IDLE = 1.5  # seconds between an edit's rebuilds and the next edit


def poll_until(condition: Callable[[], bool], problem: str) -> None:
    deadline = time.perf_counter() + 120
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(problem)
        time.sleep(0.005)


Edit = tuple[Path, str, Callable[[int], Callable[[str], str]], Callable[[int], str]]


def edit_kinds(
    root: Path, base: str, page: str, page_url: str, country: str, country_url: str
) -> dict[str, Edit]:
    """Each kind of edit: the file, the page in view, the edit, and what shows it."""
    cited = re.search(r"\[@([\w-]+)", (root / page).read_text())
    assert cited, f"{page} cites no source"
    source = cited.group(1)
    return {
        "prose": (
            root / page,
            base + page_url,
            lambda i: lambda t: _first_paragraph_edit(t, i),
            lambda i: f"edit{i}marker",
        ),
        "front-matter title": (
            root / page,
            base + page_url,
            lambda i: lambda t: t.replace("title: ", f"title: Edit{i}title ", 1),
            lambda i: f"Edit{i}title",
        ),
        "fact-table value": (
            root / country,
            base + country_url,
            lambda i: lambda t: t.replace("actor: ", f"actor: Edit{i}yaml ", 1),
            lambda i: f"Edit{i}yaml",
        ),
        "source entry": (
            root / "content/sources.yaml",
            base + page_url,
            lambda i: lambda t: _source_edit(t, source, i),
            lambda i: f"Edit{i}source",
        ),
        "page template": (
            root / "templates/page.html",
            base + page_url,
            lambda i: lambda t: t.replace("<article", f'<article data-edit="t{i}"', 1),
            lambda i: f'data-edit="t{i}"',
        ),
        "base template": (
            root / "templates/base.html",
            base + page_url,
            lambda i: lambda t: t.replace("<main", f'<main data-edit="b{i}"', 1),
            lambda i: f'data-edit="b{i}"',
        ),
    }


def _source_edit(text: str, source: str, i: int) -> str:
    """The publisher of one source entry (every entry has one), edited."""
    head, sep, rest = text.partition(f"- id: {source}\n")
    assert sep, f"no source {source}"
    return head + sep + rest.replace("publisher: ", f"publisher: Edit{i}source ", 1)


def measure(
    root: Path, edits: int, page: str, page_url: str, country: str, country_url: str
) -> tuple[dict[str, tuple[list[float], int]], float | None]:
    """Each kind of edit's times and pages rendered; and the server's peak memory."""
    server = Server(root)
    results: dict[str, tuple[list[float], int]] = {}
    try:
        kinds = edit_kinds(root, server.url, page, page_url, country, country_url)
        for kind, (path, url, make_edit, make_marker) in kinds.items():
            times, rendered = [], 0
            for i in range(edits):
                ms, rendered = timed_edit(server, path, make_edit(i), url, make_marker(i))
                times.append(ms)
            results[kind] = (times, rendered)
        peak = server.peak_mib()
    finally:
        server.stop()
    return results, peak


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hugo_prose(corpus: Path, work: Path, edits: int, page: str) -> list[float] | None:
    """`hugo server` on the corpus's Markdown pages: ms from a prose edit to its page
    served; None when Hugo cannot be had."""
    peer = hugo_peer(install=True)
    if not peer.command:
        print(f"\n(hugo server skipped: {peer.note})")
        return None
    site = work / "hugo"
    hugo_input(corpus, site, read_pages(corpus))
    port = free_port()
    process = subprocess.Popen(
        [
            *(peer.command[0], "server", "--bind", "127.0.0.1", "--port", str(port)),
            *("--baseURL", f"http://127.0.0.1:{port}/", "--disableLiveReload"),
        ],
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/{page.removeprefix('content/').removesuffix('.md')}/"
    try:
        poll_until(lambda: _served(url), "hugo server never served the page")
        path = site / page
        times = []
        for i in range(edits):
            original = path.read_text()
            marker = f"edit{i}marker"
            start = time.perf_counter()
            path.write_text(_first_paragraph_edit(original, i))
            poll_until(lambda m=marker: m in fetch(url), "hugo never served the edit")
            times.append((time.perf_counter() - start) * 1000)
            path.write_text(original)
            poll_until(lambda m=marker: m not in fetch(url), "hugo never served the undo")
            time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    return times


def _served(url: str) -> bool:
    try:
        fetch(url)
    except OSError:
        return False
    return True


def _first_paragraph_edit(text: str, i: int) -> str:
    head, sep, body = text.partition("\n---\n")
    lines = body.split("\n")
    for n, line in enumerate(lines):
        if line and not line.startswith(("#", "-", "|", ">", "[")):
            lines[n] = f"edit{i}marker " + line
            break
    return head + sep + "\n".join(lines)


def report(name: str, measured: tuple[dict[str, tuple[list[float], int]], float | None]) -> None:
    results, peak = measured
    print(f"\n{name}")
    print(f"{'edit':<24}{'median ms':>10}{'min':>8}{'max':>8}{'pages rendered':>16}")
    for kind, (times, rendered) in results.items():
        print(
            f"{kind:<24}{statistics.median(times):>10.1f}{min(times):>8.1f}"
            f"{max(times):>8.1f}{rendered:>16}"
        )
    if peak is not None:
        print(f"peak memory of the preview process (VmHWM): {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4000)
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--no-hugo", action="store_true", help="leave out hugo server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        real = Path(tmp) / "real"
        for folder in ("content", "templates", "static"):
            shutil.copytree(PROJECT / folder, real / folder)
        report(
            "real content",
            measure(
                real,
                args.edits,
                "content/how-we-source.md",
                "how-we-source/",
                "content/countries/japan.yaml",
                "countries/japan/",
            ),
        )
        corpus = Path(tmp) / "corpus"
        started = time.perf_counter()
        generate(corpus, args.pages)
        print(f"\n(generated {args.pages} pages in {time.perf_counter() - started:.0f} s)")
        page = "content/pages/page-00010.md"
        report(
            f"generated corpus, {args.pages} pages",
            measure(
                corpus,
                args.edits,
                page,
                "pages/page-00010/",
                "content/countries/country-00010.yaml",
                "countries/country-00010/",
            ),
        )
        if not args.no_hugo:
            hugo = hugo_prose(corpus, Path(tmp), args.edits, page)
            if hugo:
                print(
                    f"hugo server, the same {args.pages} pages: prose edit median "
                    f"{statistics.median(hugo):.1f} ms (min {min(hugo):.1f}, max {max(hugo):.1f})"
                )


if __name__ == "__main__":
    main()
