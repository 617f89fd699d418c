"""Preview latency: time from a file write to the new HTML being served.

Runs the real preview server (`sitegen serve`, as its own process, on a free port) on the
project's own content and on a generated corpus, makes edits of each kind, and polls the
page over HTTP every 5 ms until the change is served. Prints the median of the edits and
how many pages each kind of edit re-rendered (from the server's own log).

    python bench/preview_latency.py [--pages 4000] [--edits 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
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
        """Pages rendered by the last rebuild logged after line `count`."""
        found = 0
        for line in self.lines[count:]:
            if match := re.search(r": (\d+) page\(s\) rendered", line):
                found = int(match.group(1))
        return found

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(30)


def timed_edit(
    server: Server, path: Path, edit: Callable[[str], str], url: str, marker: str
) -> tuple[float, int]:
    """Write the edit, then poll until `marker` is served; return ms and pages rendered."""
    text = edit(path.read_text())
    assert marker in text, marker
    logged = len(server.lines)
    start = time.perf_counter()
    path.write_text(text)
    deadline = start + 600
    while marker not in fetch(url):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{marker!r} never served at {url}")
        time.sleep(0.005)
    elapsed = (time.perf_counter() - start) * 1000
    time.sleep(0.1)  # let the log line arrive
    return elapsed, server.rendered_since(logged)


def measure(
    root: Path, edits: int, page: str, page_url: str, country: str, country_url: str
) -> dict[str, tuple[list[float], int]]:
    server = Server(root)
    results: dict[str, tuple[list[float], int]] = {}
    try:
        base = server.url
        kinds = {
            "prose edit (one page)": (
                root / page,
                base + page_url,
                lambda i: lambda t: _first_paragraph_edit(t, i),
                lambda i: f"edit{i}marker",
            ),
            "country YAML edit": (
                root / country,
                base + country_url,
                lambda i: lambda t: t.replace("actor: ", f"actor: Edit{i}yaml ", 1),
                lambda i: f"Edit{i}yaml",
            ),
            "template edit": (
                root / "templates/page.html",
                base + page_url,
                lambda i: lambda t: t.replace("<article", f'<article data-edit="t{i}"', 1),
                lambda i: f'data-edit="t{i}"',
            ),
        }
        for kind, (path, url, make_edit, make_marker) in kinds.items():
            original = path.read_text()
            times, rendered = [], 0
            for i in range(edits):
                ms, rendered = timed_edit(server, path, make_edit(i), url, make_marker(i))
                times.append(ms)
                path.write_text(original)
                settle(server, url, make_marker(i))
            results[kind] = (times, rendered)
    finally:
        server.stop()
    return results


def settle(server: Server, url: str, marker: str) -> None:
    """Wait until the restored file is served again, so edits do not overlap."""
    deadline = time.perf_counter() + 600
    while marker in fetch(url) and time.perf_counter() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)


def _first_paragraph_edit(text: str, i: int) -> str:
    head, sep, body = text.partition("\n---\n")
    lines = body.split("\n")
    for n, line in enumerate(lines):
        if line and not line.startswith(("#", "-", "|", ">", "[")):
            lines[n] = f"edit{i}marker " + line
            break
    return head + sep + "\n".join(lines)


def report(name: str, results: dict[str, tuple[list[float], int]]) -> None:
    print(f"\n{name}")
    print(f"{'edit':<24}{'median ms':>10}{'min':>8}{'max':>8}{'pages rendered':>16}")
    for kind, (times, rendered) in results.items():
        print(
            f"{kind:<24}{statistics.median(times):>10.1f}{min(times):>8.1f}"
            f"{max(times):>8.1f}{rendered:>16}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4000)
    parser.add_argument("--edits", type=int, default=10)
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
        report(
            f"generated corpus, {args.pages} pages",
            measure(
                corpus,
                args.edits,
                "content/pages/page-00010.md",
                "pages/page-00010/",
                "content/countries/country-00010.yaml",
                "countries/country-00010/",
            ),
        )


if __name__ == "__main__":
    main()
