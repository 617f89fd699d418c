"""Build speed at scale: sitegen against the Markdown floor, Pelican, MkDocs, Hugo, Eleventy.

    .venv/bin/python bench/build_speed.py                # or: make bench
    .venv/bin/python bench/build_speed.py --sizes 50,100 --runs 2 --json out.json

For each size N it generates the corpus of bench/corpus.py (N Markdown pages, N country
YAML fact tables, a sources file) into a temporary folder and gives the same Markdown
pages to each peer in its own layout. The peers render only the Markdown pages: they do
not understand our fact tables, which they get as plain files that the pages link to.
Every build is a fresh process, timed by wall clock from start to exit; the median of
--runs runs is reported with the min-max range and the peak memory of the process tree.
The measures of a size are run in rounds, each one's run i before any one's run i + 1
(run_rounds says why).
The corpora and outputs live in a RAM-backed folder when there is one (work_parent says
why), so every run writes its files at the same cost.

Measured:
- floor: bench/markdown_floor.py converts the same pages with sitegen's own
  MarkdownRenderer (the engine's Python-Markdown extensions) in one process, one core;
  "floor / cores" divides it by the cores available.
- ours: a cold build (no .cache/, no output folder), a no-change rebuild (the same
  build again, cache and output present), and a one-page rebuild (one page's body edited;
  the edit is checked in the output). `--jobs` is passed only when `sitegen build --help`
  offers it.
- Pelican, MkDocs (default themes; feeds, search and caches off), Hugo (a minimal
  layout; from Debian) and Eleventy (a minimal layout; from npm): cold builds.

Peers are installed on first use: Pelican and MkDocs with the same Markdown version as
ours into bench/.peers-venv, Eleventy into bench/.peers-npm, Hugo with apt-get when
running as root; a peer that cannot be had is skipped with a note.

Peak memory is the larger of the largest single process (the kernel's ru_maxrss, as
`/usr/bin/time -f %M` reports it) and the whole process tree's PSS (proportional set
size: pages forked workers share with their parent are counted once), summed and sampled
every 50 ms. Sampling costs CPU, so it is done in one more run of each measure, which is
not timed (run_rounds). The JSON also has the tree's RSS sum, which counts shared
pages per process.

Exit status: 0 if every target is met, 1 if a target is missed, 2 if our build or a peer
failed to build.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import PROJECT, generate

BENCH = PROJECT / "bench"
PEERS_VENV = BENCH / ".peers-venv"
PEERS_NPM = BENCH / ".peers-npm"
PELICAN_PIN = "pelican==4.12.0"
MKDOCS_PIN = "mkdocs==1.6.1"
ELEVENTY_PIN = "@11ty/eleventy@3.1.8"
EDITED_PAGE = 10  # the page edited for the one-page rebuild (or the last, if fewer)
SAMPLE_SECONDS = 0.05  # how often the process tree's memory is sampled
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TAIL_LINES = 25

# The engine's Python-Markdown setup (sitegen/markdown.py, MarkdownRenderer), for peers
# that use Python-Markdown too. Our own extension (citations, content links) has no
# equivalent: in the peers `[@id]` stays text and links to .md/.yaml files stay links.
MARKDOWN_EXTENSIONS = ("extra", "sane_lists", "toc")  # the stock extensions ours uses
TOC_CONFIG = {"permalink": False, "toc_depth": "2-3"}

# name, goal, comparison ('<=' or '>=')
TARGETS = {
    "cold_vs_floor": ("ours cold / (floor / cores)", 1.25, "<="),
    # Against MkDocs and Pelican (Python-Markdown too) the limit on two cores is about 2x;
    # the old goal of 3x is retired: ours is printed beside theirs, with no goal.
    "no_change": ("ours no-change rebuild, s", 0.3, "<="),
    "one_page": ("ours one-page rebuild, s", 0.5, "<="),
    "memory": ("ours peak memory, MiB", 400.0, "<="),
}
OURS = ("cold", "no_change", "one_page")
GROWTH_FACTOR = 1.1  # ours cold may grow at most 1.1x the page count (4.4 for 1000 -> 4000)


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One process: how long it took, its peak memory, and what it printed."""

    seconds: float
    peak_mib: float
    maxrss_mib: float  # the largest single process (ru_maxrss)
    tree_mib: float  # the sampled PSS sum over the process tree
    tree_rss_mib: float  # the sampled RSS sum (counts shared pages once per process)
    returncode: int
    timed_out: bool
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = TAIL_LINES) -> str:
        text = (self.stdout.rstrip() + "\n" + self.stderr.rstrip()).strip()
        return "\n".join(text.splitlines()[-lines:])

    def last_line(self) -> str:
        """The last line printed on stdout (or, if none, on stderr): a closing summary."""
        for stream in (self.stdout, self.stderr):
            lines = [line for line in stream.splitlines() if line.strip()]
            if lines:
                return lines[-1].strip()
        return ""


def _ppid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces: split after the last ')'
    return int(data[data.rindex(b")") + 2 :].split()[1])


def _memory(pid: int) -> tuple[int, int]:
    """A process's resident and proportional set sizes in bytes (RSS, PSS); 0s if gone.

    PSS shares each page among the processes that map it, so a tree's PSS sum counts
    the pages forked workers share with their parent once; where smaps_rollup cannot be
    read, PSS is taken as the RSS.
    """
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            rss = int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0, 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return rss, int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return rss, rss


class TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS of a process and its descendants until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_rss = self.peak_pss = 0
        self._parents: dict[str, int | None] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(SAMPLE_SECONDS)

    def sample(self) -> None:
        try:
            pids = [name for name in os.listdir("/proc") if name.isdigit()]
        except OSError:
            return
        children: dict[int, list[int]] = {}
        for pid in pids:
            if pid not in self._parents:  # a pid's parent is read once, when it appears
                self._parents[pid] = _ppid(pid)
            parent = self._parents[pid]
            if parent is not None:
                children.setdefault(parent, []).append(int(pid))
        rss = pss = 0
        stack = [self.root]
        while stack:
            pid = stack.pop()
            one_rss, one_pss = _memory(pid)
            rss, pss = rss + one_rss, pss + one_pss
            stack.extend(children.get(pid, ()))
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_process(command: Sequence[str], cwd: Path, timeout: float, sample: bool = True) -> Run:
    """Run `command` in its own process group; time it and measure its peak memory.

    `sample`: also sample the process tree's memory (TreeSampler). Without it the peak
    is the largest single process's (ru_maxrss), which costs nothing to read.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        timed_out = threading.Event()
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        sampler = TreeSampler(process.pid)
        if sample:
            sampler.start()

        def expire() -> None:
            timed_out.set()
            _kill_group(process.pid)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
        finally:
            timer.cancel()
            if sample:
                sampler.stop()
            _kill_group(process.pid)  # any worker the build left behind
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        maxrss = usage.ru_maxrss / 1024  # KiB on Linux
        tree = sampler.peak_pss / 2**20
        return Run(
            seconds=seconds,
            peak_mib=max(maxrss, tree),
            maxrss_mib=maxrss,
            tree_mib=tree,
            tree_rss_mib=sampler.peak_rss / 2**20,
            returncode=process.returncode,
            timed_out=timed_out.is_set(),
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


class BuildFailed(Exception):
    """A build exited non-zero, timed out, or did not produce what it should have."""

    def __init__(self, what: str, run: Run | None, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what, self.run, self.reason = what, run, reason

    def describe(self) -> str:
        tail = self.run.tail() if self.run else ""
        indented = "\n".join("    " + line for line in tail.splitlines())
        return f"{self.what}: {self.reason}" + (f"\n  output tail:\n{indented}" if tail else "")


# --------------------------------------------------------------------------- measures


@dataclass
class Measure:
    """The runs of one thing at one size."""

    label: str
    out: Path | None = None  # the output folder, measured after the last run
    times: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    maxrss: list[float] = field(default_factory=list)
    tree: list[float] = field(default_factory=list)
    tree_rss: list[float] = field(default_factory=list)
    files: int = 0
    out_mib: float = 0.0
    last_line: str = ""
    error: str = ""
    error_tail: str = ""  # the failed run's last lines of output

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and not self.error else None

    @property
    def peak(self) -> float | None:
        return max(self.peaks) if self.peaks else None

    def add(self, run: Run, timed: bool = True) -> None:
        self.peaks.append(run.peak_mib)
        self.maxrss.append(run.maxrss_mib)
        if timed:
            self.times.append(run.seconds)
        else:  # sampled
            self.tree.append(run.tree_mib)
            self.tree_rss.append(run.tree_rss_mib)
        self.last_line = run.last_line()

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            out=str(self.out) if self.out else None,
            median=self.median,
            min=min(self.times) if self.times else None,
            max=max(self.times) if self.times else None,
            peak_mib=self.peak,
        )
        return data


def output_stats(folder: Path) -> tuple[int, float]:
    """Files and MiB under `folder`."""
    files, size = 0, 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            files += 1
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(dirpath, name)).st_size
    return files, size / 2**20


def check_pages(what: str, out: Path, pages: int, run: Run) -> None:
    """Every peer and ours write pages/page-NNNNN/index.html: check the first and last."""
    for n in (0, pages - 1):
        page = out / f"pages/page-{n:05d}/index.html"
        if not page.is_file():
            raise BuildFailed(what, run, f"exited {run.returncode} but wrote no {page}")


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _nothing(*_: object) -> None:
    pass


@dataclass
class Series:
    """One measure's runs: the command, and how to prepare (`before(i)`) and check
    (`after(run, i)`) run i. `needs`: a series whose failure stops this one (ours'
    rebuilds need its cold build)."""

    measure: Measure
    command: Sequence[str]
    cwd: Path
    before: Callable[[int], None] = _nothing
    after: Callable[[Run, int], None] = _nothing
    needs: Series | None = None


def run_once(series: Series, i: int, runs: int, timeout: float) -> None:
    """Run i of a series: timed if i < runs, else the untimed memory run; record it."""
    measure, command, timed = series.measure, series.command, i < runs
    series.before(i)
    # Settle the disk: without this, the thousands of files the last run's clean-up
    # deleted are still being written back and discarded while the next run is timed
    # (seen here as cold builds slowing with each run). Every measure gets the same.
    os.sync()
    try:
        run = run_process(command, series.cwd, timeout, sample=not timed)
    except OSError as error:
        raise BuildFailed(measure.label, None, f"could not start {command[0]}: {error}") from error
    if run.timed_out:
        raise BuildFailed(measure.label, run, f"timed out after {timeout:.0f} s")
    if run.returncode != 0:
        raise BuildFailed(measure.label, run, f"exited with status {run.returncode}")
    series.after(run, i)
    measure.add(run, timed)
    what = f"run {i + 1}/{runs}: {run.seconds:7.2f} s" if timed else "memory run:  untimed"
    print(f"  {measure.label:<22} {what} {run.peak_mib:7.0f} MiB", flush=True)


def run_rounds(series: Sequence[Series], runs: int, timeout: float) -> None:
    """Run every series `runs` times, timed, then once more for its memory: in rounds,
    each series' run i before any series' run i + 1.

    Rounds, not one measure's runs after another's, because this machine's speed drifts
    within minutes: the same CPU loop took 0.83 s and 1.6 s a few seconds apart. Measures
    taken in turn see the same drift, so their ratios hold where their times do not.

    The timed runs are not sampled: reading a process's PSS walks its page tables, and
    sampling a build's three processes every 50 ms took about 5% of a 1000-page build's
    time (9.52 s against 9.99 s, medians of 3). Peers that run as one process lose
    nothing to it, so it slowed ours against them. The last run is sampled and not
    timed; the peak is the larger of its sampled figure and every run's largest single
    process.
    """
    for i in range(runs + 1):
        for one in series:
            if one.measure.error:
                continue
            if one.needs is not None and one.needs.measure.error:
                one.measure.error = f"not run: {one.needs.measure.label} failed"
                continue
            guarded(one.measure, functools.partial(run_once, one, i, runs, timeout))
    for one in series:
        if one.measure.out is not None and not one.measure.error:
            one.measure.files, one.measure.out_mib = output_stats(one.measure.out)


def guarded(measure: Measure, action: Callable[[], None]) -> bool:
    """Run `action`; a failure is recorded on the measure and printed, not raised."""
    try:
        action()
    except BuildFailed as failure:
        measure.error = failure.reason
        measure.error_tail = failure.run.tail() if failure.run else ""
        print("  FAILED " + failure.describe(), flush=True)
        return False
    return True


# --------------------------------------------------------------------------- peers


@dataclass
class Peer:
    """A peer generator: its version, and the command that builds it (none if skipped)."""

    key: str
    name: str
    version: str = ""
    command: list[str] = field(default_factory=list)
    note: str = ""  # why it is skipped, or what to know about it

    @property
    def available(self) -> bool:
        return bool(self.command)


def _run_setup(
    command: Sequence[str], what: str, env: dict[str, str] | None = None, timeout: float = 900
) -> str | None:
    """Run an install step; None on success, else a short reason with the output tail."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{what} failed: {error}"
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-TAIL_LINES:])
        return f"{what} failed (status {done.returncode}):\n{tail}"
    return None


VERSION_OF = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"


def python_peers(install: bool) -> list[Peer]:
    """Pelican and MkDocs from PyPI, in bench/.peers-venv, with our Markdown version."""
    ours = importlib.metadata.version("markdown")
    requirements = [PELICAN_PIN, MKDOCS_PIN, f"markdown=={ours}"]
    python = PEERS_VENV / "bin/python"
    stamp = PEERS_VENV / ".installed"
    wanted = "\n".join(requirements) + "\n"
    problem = None
    if not (stamp.is_file() and stamp.read_text() == wanted):
        if not install:
            problem = "not installed (run without --no-install)"
        else:
            print(f"installing {', '.join(requirements)} into {PEERS_VENV} ...", flush=True)
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            problem = _run_setup(
                [sys.executable, "-m", "venv", "--clear", str(PEERS_VENV)], "python -m venv"
            ) or _run_setup([*pip, *requirements], "pip install")
            if problem is None:
                stamp.write_text(wanted)
    peers = [Peer("pelican", "Pelican"), Peer("mkdocs", "MkDocs")]
    for peer in peers:
        if problem:
            peer.note = problem
            continue
        script = PEERS_VENV / "bin" / peer.key
        try:
            peer.version = subprocess.run(
                [str(python), "-c", VERSION_OF, peer.key],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as error:
            peer.note = f"installed but not importable: {error}"
            continue
        if peer.key == "pelican":
            peer.command = [str(script), "content", "-s", "pelicanconf.py", "-o", "output", "-q"]
            peer.note = (
                "default theme (notmyidea); feeds, pagination and content caching off; "
                f"Python-Markdown {ours} with {', '.join(MARKDOWN_EXTENSIONS)}"
            )
        else:
            peer.command = [str(script), "build", "--no-strict", "--quiet", "--site-dir", "site"]
            peer.note = (
                "default theme (mkdocs), nav: [index.md] (a generated nav would list every "
                "page on every page, quadratic output), search plugin off; Python-Markdown "
                f"{ours} with {', '.join(MARKDOWN_EXTENSIONS)}"
            )
    return peers


def hugo_peer(install: bool) -> Peer:
    """Hugo from Debian: `apt-get install -y hugo` when missing and running as root."""
    peer = Peer("hugo", "Hugo")
    hugo = shutil.which("hugo")
    problem = "not installed (run without --no-install)"
    if hugo is None and install:
        problem = "not installed, and installing it needs root and apt-get"
        if os.geteuid() == 0 and shutil.which("apt-get"):
            print("installing hugo with apt-get ...", flush=True)
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            install_hugo = ["apt-get", "install", "-y", "-q", "hugo"]
            problem = _run_setup(install_hugo, "apt-get install hugo", env=env) or ""
            if problem:  # the package lists may be missing or stale
                _run_setup(["apt-get", "update", "-q"], "apt-get update", env=env)
                problem = _run_setup(install_hugo, "apt-get install hugo", env=env) or ""
            hugo = shutil.which("hugo")
    if hugo is None:
        peer.note = problem
        return peer
    version = subprocess.run([hugo, "version"], capture_output=True, text=True, check=False)
    match = re.search(r"v(\d+\.\d+\.\d+)", version.stdout)
    peer.version = match.group(1) if match else version.stdout.strip()
    peer.command = [hugo, "--quiet", "--destination", "public"]
    peer.note = (
        "minimal layout (title, table of contents, body); Goldmark with tables, footnotes, "
        "typographer; taxonomies, RSS and sitemap off; uses every core"
    )
    return peer


def eleventy_peer(install: bool) -> Peer:
    """Eleventy from npm, into bench/.peers-npm; optional, skipped when npm is missing."""
    peer = Peer("eleventy", "Eleventy")
    binary = PEERS_NPM / "node_modules/.bin/eleventy"
    stamp = PEERS_NPM / ".installed"
    if not (binary.exists() and stamp.is_file() and stamp.read_text() == ELEVENTY_PIN):
        npm = shutil.which("npm")
        if not install or npm is None or shutil.which("node") is None:
            peer.note = (
                "needs node and npm" if install else "not installed (run without --no-install)"
            )
            return peer
        print(f"installing {ELEVENTY_PIN} into {PEERS_NPM} ...", flush=True)
        PEERS_NPM.mkdir(parents=True, exist_ok=True)
        problem = _run_setup(
            [npm, "install", "--prefix", str(PEERS_NPM), "--no-audit", "--no-fund", ELEVENTY_PIN],
            "npm install",
        )
        if problem:
            peer.note = problem
            return peer
        stamp.write_text(ELEVENTY_PIN)
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=False
    )
    peer.version = version.stdout.strip()
    peer.command = [str(binary), "--config=eleventy.config.cjs", "--quiet"]
    peer.note = (
        "minimal layout (title, body); markdown-it defaults: tables but no footnotes, no "
        "heading ids, no typographer"
    )
    return peer


def find_peers(wanted: Sequence[str], install: bool) -> list[Peer]:
    peers: list[Peer] = []
    if {"pelican", "mkdocs"} & set(wanted):
        peers += [p for p in python_peers(install) if p.key in wanted]
    if "hugo" in wanted:
        peers.append(hugo_peer(install))
    if "eleventy" in wanted:
        peers.append(eleventy_peer(install))
    return peers


# --------------------------------------------------------------------------- peer inputs


@dataclass(frozen=True)
class Page:
    """A corpus page: its path under content/, front matter fields and Markdown body."""

    rel: str  # e.g. pages/page-00001.md, index.md
    title: str
    summary: str
    date: str
    text: str  # the whole file, front matter included
    body: str


def read_pages(root: Path) -> list[Page]:
    """Every Markdown page of the corpus, in path order."""
    pages = []
    for path in sorted((root / "content").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front) or {}
        if "template" in meta:  # ours (the search page); a peer would look for its own
            front = "".join(
                line for line in front.splitlines(True) if not line.startswith("template:")
            )
            text = f"---\n{front}---\n{body}"
        pages.append(
            Page(
                rel=path.relative_to(root / "content").as_posix(),
                title=str(meta["title"]),
                summary=str(meta.get("summary", "")),
                date=str(meta.get("updated", "2018-01-01")),
                text=text,
                body=body,
            )
        )
    return pages


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _copy_countries(root: Path, dest: Path) -> None:
    shutil.copytree(root / "content/countries", dest, ignore=shutil.ignore_patterns("*.md"))


def pelican_conf() -> str:
    """A minimal pelicanconf.py: default theme, our Markdown setup, no feeds or caching."""
    markdown = {
        "extension_configs": {
            f"markdown.extensions.{name}": TOC_CONFIG if name == "toc" else {}
            for name in MARKDOWN_EXTENSIONS
        },
        "output_format": "html",
    }
    settings: dict[str, object] = {
        "AUTHOR": "Bench",
        "SITENAME": "Benchmark corpus",
        "SITEURL": "",
        "PATH": "content",
        "ARTICLE_PATHS": ["articles"],
        "PAGE_PATHS": ["pages"],
        "STATIC_PATHS": ["countries"],
        "TIMEZONE": "UTC",
        "DEFAULT_LANG": "en",
        "RELATIVE_URLS": True,
        "ARTICLE_URL": "pages/{slug}/",
        "ARTICLE_SAVE_AS": "pages/{slug}/index.html",
        "PAGE_URL": "{slug}/",
        "PAGE_SAVE_AS": "{slug}/index.html",
        "DEFAULT_PAGINATION": False,
        "FEED_ALL_ATOM": None,
        "CATEGORY_FEED_ATOM": None,
        "TRANSLATION_FEED_ATOM": None,
        "AUTHOR_FEED_ATOM": None,
        "AUTHOR_FEED_RSS": None,
        "CACHE_CONTENT": False,
        "LOAD_CONTENT_CACHE": False,
        "MARKDOWN": markdown,
    }
    lines = ["# Generated by bench/build_speed.py: a minimal Pelican site for the corpus."]
    return "\n".join(lines + [f"{key} = {value!r}" for key, value in settings.items()]) + "\n"


def pelican_input(root: Path, dest: Path, pages: list[Page]) -> Path:
    """content/articles/*.md with Pelican's `Key: value` metadata; the home as a page."""
    for page in pages:
        slug = Path(page.rel).stem
        folder = "pages/home.md" if page.rel == "index.md" else f"articles/{slug}.md"
        header = [f"Title: {page.title}", f"Date: {page.date}", f"Slug: {slug}"]
        if page.rel == "index.md":
            header[-1] = "Slug: home"
        if page.summary:
            header.append(f"Summary: {page.summary}")
        _write(dest / "content" / folder, "\n".join(header) + "\n\n" + page.body.lstrip("\n"))
    _copy_countries(root, dest / "content/countries")
    _write(dest / "pelicanconf.py", pelican_conf())
    return dest / "output"


def mkdocs_input(root: Path, dest: Path, pages: list[Page]) -> Path:
    """docs/ holds the pages as they are (MkDocs reads YAML front matter).

    The nav names only the home page: MkDocs' generated nav would list all N pages on
    every page (output growing with N squared, about 2 GB at 4000), which is not the
    work the other tools do.
    """
    for page in pages:
        _write(dest / "docs" / page.rel, page.text)
    _copy_countries(root, dest / "docs/countries")
    config = {
        "site_name": "Benchmark corpus",
        "site_url": "https://example.org/bench/",
        "use_directory_urls": True,
        "theme": {"name": "mkdocs"},
        "nav": ["index.md"],
        "plugins": [],
        "markdown_extensions": [*MARKDOWN_EXTENSIONS[:-1], {"toc": TOC_CONFIG}],
    }
    _write(dest / "mkdocs.yml", yaml.safe_dump(config, sort_keys=False))
    return dest / "site"


HUGO_CONFIG = """\
baseURL = "https://example.org/bench/"
languageCode = "en"
title = "Benchmark corpus"
relativeURLs = true
disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT"]
[markup.goldmark.renderer]
unsafe = false
[markup.tableOfContents]
startLevel = 2
endLevel = 3
"""
HUGO_SINGLE = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><main><h1>{{ .Title }}</h1>{{ .TableOfContents }}{{ .Content }}</main></body></html>
"""
HUGO_LIST = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><main><h1>{{ .Title }}</h1>{{ .Content }}
<ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>
</main></body></html>
"""


def hugo_input(root: Path, dest: Path, pages: list[Page]) -> Path:
    """content/ with the pages as they are (YAML front matter); the home as _index.md."""
    for page in pages:
        _write(dest / "content" / ("_index.md" if page.rel == "index.md" else page.rel), page.text)
    _copy_countries(root, dest / "static/countries")
    _write(dest / "hugo.toml", HUGO_CONFIG)
    _write(dest / "layouts/_default/single.html", HUGO_SINGLE)
    _write(dest / "layouts/_default/list.html", HUGO_LIST)
    return dest / "public"


ELEVENTY_CONFIG = """\
module.exports = function (config) {
  config.addPassthroughCopy("src/countries");
  config.addGlobalData("layout", "base.njk");
  return { dir: { input: "src", output: "_site" }, markdownTemplateEngine: false };
};
"""
ELEVENTY_LAYOUT = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1>{{ content | safe }}</main></body></html>
"""


def eleventy_input(root: Path, dest: Path, pages: list[Page]) -> Path:
    """src/ with the pages as they are (YAML front matter) and a minimal layout."""
    for page in pages:
        _write(dest / "src" / page.rel, page.text)
    _copy_countries(root, dest / "src/countries")
    _write(dest / "eleventy.config.cjs", ELEVENTY_CONFIG)
    _write(dest / "src/_includes/base.njk", ELEVENTY_LAYOUT)
    return dest / "_site"


PEER_INPUTS: dict[str, Callable[[Path, Path, list[Page]], Path]] = {
    "pelican": pelican_input,
    "mkdocs": mkdocs_input,
    "hugo": hugo_input,
    "eleventy": eleventy_input,
}
PEER_CLEAN = {  # what a cold build removes besides the output folder
    "pelican": ["__pycache__", "cache"],
    "mkdocs": [],
    "hugo": ["resources", ".hugo_build.lock"],
    "eleventy": [".cache"],
}


# --------------------------------------------------------------------------- one size


def engine_command(jobs: int | None) -> tuple[list[str], str]:
    """`sitegen build`, with `--jobs` when the engine offers it; and a note saying which."""
    script = Path(sys.executable).parent / "sitegen"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "sitegen"]
    helped = subprocess.run(
        [*base, "build", "--help"], capture_output=True, text=True, cwd=PROJECT, check=False
    )
    if "--jobs" in helped.stdout:
        count = jobs or cores()
        return [*base, "build", "--jobs", str(count)], f"ours ran with --jobs {count}"
    if helped.returncode != 0:
        return [*base, "build"], "`sitegen build --help` failed, so --jobs was not passed"
    return [*base, "build"], "ours ran as one process: `sitegen build` has no --jobs yet"


def compile_engine() -> str:
    """Byte-compile the engine, as pip does for an installed package (and so for the
    peers). An editable install is never compiled ahead, and where PYTHONDONTWRITEBYTECODE
    is set (as on the machine these figures come from) Python would compile the engine
    from source in every run, which would be timed."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(PROJECT / "sitegen")],
        check=True,
        capture_output=True,
    )
    return "the engine was byte-compiled first, as pip compiles an installed package"


def cores() -> int:
    return len(os.sched_getaffinity(0))


def file_system(path: Path) -> str:
    """The type of the file system `path` is on, as /proc/mounts names it ('?' if unknown)."""
    best, kind = "", "?"
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 3:
                continue
            point = fields[1].replace("\\040", " ")
            inside = path == Path(point) or Path(point) in path.parents
            if inside and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def work_parent() -> str | None:
    """Where the corpora and every build's output go: a RAM-backed folder when there is one.

    The benchmark times engines, not the disk under them. On a disk the cost of making a
    file depends on what was deleted there before: ext4 without a journal (this machine's
    root) skips every inode freed in the last 12 hours (vm.dirtytime_expire_seconds) while
    that inode's table block is still cached, scanning past each one in the kernel. Every
    run here deletes the last run's 8000 output files, so on disk each build made those
    files more slowly than the one before it: measured on this machine, making 8000 page
    folders with their index.html took 0.3 s CPU on a quiet disk and 14 s after a few such
    rounds. tmpfs has no such history.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and file_system(shm) == "tmpfs":
        free = os.statvfs(shm)
        if free.f_bavail * free.f_frsize >= 4 * 2**30:
            return str(shm)
    return None


def edit_body(text: str, marker: str) -> str:
    """Put `marker` at the start of the first prose paragraph after the front matter."""
    head, sep, body = text.partition("\n---\n")
    lines = body.split("\n")
    for n, line in enumerate(lines):
        if line and not line.startswith(("#", "-", "|", ">", "[")):
            lines[n] = f"{marker} {line}"
            break
    return head + sep + "\n".join(lines)


def floor_series(root: Path, plain: bool = False) -> Series:
    """The floor: bench/markdown_floor.py on the corpus, as its own process; with our
    renderer, or (`plain`) with plain Python-Markdown."""
    command = [sys.executable, str(BENCH / "markdown_floor.py"), str(root)]
    if plain:
        return Series(Measure("plain floor (1 core)"), [*command, "--plain"], root)
    return Series(Measure("floor (1 core)"), command, root)


def our_series(root: Path, size: int, engine: list[str]) -> dict[str, Series]:
    """Ours, each round: a cold build, the same build again, then one page edited."""
    out, cache = root / "site", root / ".cache"
    command = [*engine, "--out", str(out)]

    def check(run: Run, _: int) -> None:
        check_pages("ours", out, size, run)

    n = min(EDITED_PAGE, size - 1)
    page = root / f"content/pages/page-{n:05d}.md"
    html = out / f"pages/page-{n:05d}/index.html"
    original = page.read_text(encoding="utf-8")

    def clean(_: int) -> None:
        remove(cache, out)
        # if a failed one-page run left it; written only then, since a file written just
        # before a build is not trusted by the next one (its change time is too recent)
        if page.read_text(encoding="utf-8") != original:
            page.write_text(original, encoding="utf-8")

    def edit(i: int) -> None:
        page.write_text(edit_body(original, f"benchedit{i}marker"), encoding="utf-8")

    def check_edit(run: Run, i: int) -> None:
        page.write_text(original, encoding="utf-8")  # as the others find it
        if f"benchedit{i}marker" not in html.read_text(encoding="utf-8"):
            raise BuildFailed("ours one-page", run, f"the edit is not in {html}")

    cold = Series(Measure("ours cold", out=out), command, root, clean, check)
    return {
        "cold": cold,
        "no_change": Series(
            Measure("ours no-change", out=out), command, root, after=check, needs=cold
        ),
        "one_page": Series(
            Measure("ours one-page", out=out), command, root, edit, check_edit, cold
        ),
    }


def peer_series(peer: Peer, root: Path, dest: Path, pages: list[Page], size: int) -> Series:
    """A peer's cold builds of the same pages, laid out in `dest` as it wants them."""
    remove(dest)
    out = PEER_INPUTS[peer.key](root, dest, pages)
    extra = [dest / name for name in PEER_CLEAN[peer.key]]

    def clean(_: int) -> None:
        remove(out, *extra)

    def check(run: Run, _: int) -> None:
        check_pages(peer.name, out, size, run)

    assert peer.command is not None
    return Series(Measure(f"{peer.name} cold", out=out), peer.command, dest, clean, check)


def bench_size(
    size: int, work: Path, args: argparse.Namespace, engine: list[str], peers: list[Peer]
) -> dict[str, Measure]:
    """Every measure at one corpus size, in rounds (run_rounds)."""
    root = work / f"corpus-{size}"
    started = time.perf_counter()
    generate(root, size, args.seed)
    pages = read_pages(root)
    print(
        f"\nN = {size}: generated the corpus in {time.perf_counter() - started:.1f} s "
        f"({len(pages)} Markdown pages, {size} country tables)",
        flush=True,
    )
    series = {
        "floor": floor_series(root),
        "plain_floor": floor_series(root, plain=True),
        **our_series(root, size, engine),
    }
    dests = []
    for peer in (p for p in peers if p.available):
        dests.append(work / f"{peer.key}-{size}")
        series[peer.key] = peer_series(peer, root, dests[-1], pages, size)
    run_rounds(list(series.values()), args.runs, args.timeout)
    if not args.keep:
        remove(root, *dests)
    return {key: one.measure for key, one in series.items()}


# --------------------------------------------------------------------------- report


@dataclass
class Target:
    key: str
    size: int | str
    value: float | None
    goal: float
    op: str

    @property
    def result(self) -> str:
        if self.value is None:
            return "n/a"
        met = self.value <= self.goal if self.op == "<=" else self.value >= self.goal
        return "PASS" if met else "MISS"

    @property
    def name(self) -> str:
        return TARGETS[self.key][0] if self.key in TARGETS else self.key


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets_for(results: dict[int, dict[str, Measure]], ncores: int) -> list[Target]:
    targets: list[Target] = []
    for size, m in results.items():
        floor = m["floor"].median

        def target(key: str, value: float | None, size: int = size) -> None:
            _, goal, op = TARGETS[key]
            targets.append(Target(key, size, value, goal, op))

        cold = m["cold"].median
        target("cold_vs_floor", _ratio(cold, floor / ncores if floor else None))
        target("no_change", m["no_change"].median)
        target("one_page", m["one_page"].median)
        peaks = [p for k in OURS if (p := m[k].peak) is not None]
        target("memory", max(peaks) if peaks else None)
    sizes = sorted(results)
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        goal = round(GROWTH_FACTOR * big / small, 2)
        growth = _ratio(results[big]["cold"].median, results[small]["cold"].median)
        targets.append(
            Target(
                f"growth: ours cold at {big} / at {small}", f"{small}->{big}", growth, goal, "<="
            )
        )
    return targets


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(
    results: dict[int, dict[str, Measure]],
    targets: list[Target],
    peers: list[Peer],
    notes: list[str],
    runs: int,
    ncores: int,
) -> None:
    print(f"\nBuild speed: median of {runs} runs, each a fresh process; wall clock in seconds")
    header = (
        f"{'N':>6}  {'measure':<22}{'median s':>10}{'min-max s':>16}{'peak MiB':>10}"
        f"{'files':>8}{'out MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for size, measures in results.items():
        for key, m in measures.items():
            if m.error:
                print(f"{size:>6}  {m.label:<22}  FAILED: {m.error}")
                continue
            span = f"{min(m.times):.2f}-{max(m.times):.2f}" if m.times else "-"
            files, out_mib = (str(m.files), f"{m.out_mib:.1f}") if m.out else ("-", "-")
            print(
                f"{size:>6}  {m.label:<22}{_fmt(m.median):>10}{span:>16}"
                f"{_fmt(m.peak, 0):>10}{files:>8}{out_mib:>9}"
            )
            if key in ("floor", "plain_floor") and m.median is not None:
                label = f"{key.replace('_', ' ')} / cores ({ncores})"
                print(f"{size:>6}  {label:<22}{m.median / ncores:>10.2f}")
        print()
    print("Ours cold, as a multiple of each (floors per core)")
    for size, measures in results.items():
        cold = measures["cold"].median
        per_core = {"floor", "plain_floor"}
        for key, m in measures.items():
            if key in OURS or m.median is None:
                continue
            base = m.median / ncores if key in per_core else m.median
            print(f"{size:>6}  {m.label:<22}{_fmt(_ratio(cold, base)):>10}")
    print()
    print("Targets")
    print(f"{'N':>10}  {'target':<36}{'value':>8}  {'goal':<8}result")
    for t in targets:
        print(f"{t.size!s:>10}  {t.name:<36}{_fmt(t.value):>8}  {t.op} {t.goal:<5g}{t.result}")
    print("\nNotes")
    for peer in peers:
        version = f" {peer.version}" if peer.version else ""
        state = "" if peer.available else "skipped: "
        print(f"- {peer.name}{version}: {state}{peer.note}")
    for note in notes:
        print(f"- {note}")
    said = [
        (size, m)
        for size, ms in results.items()
        for k, m in ms.items()
        if k in OURS and m.last_line
    ]
    if said:
        print("\nThe engine's last line of output (last run of each)")
    for size, m in said:
        print(f"{size:>6}  {m.label:<16}{m.last_line}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,4000", help="page counts (default 1000,4000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per measure (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--peers",
        default="pelican,mkdocs,hugo,eleventy",
        help="peers to compare (default: pelican,mkdocs,hugo,eleventy; '' for none)",
    )
    parser.add_argument("--jobs", type=int, help="--jobs for sitegen, if it has it (cores)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--no-install", action="store_true", help="use only installed peers")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="build here (default: a temp folder, in /dev/shm when it is a tmpfs with 4 GiB free)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated page counts, not {args.sizes!r}")
    if not sizes or min(sizes) < 2 or args.runs < 1:
        parser.error("need at least one size of 2 or more pages, and --runs 1 or more")
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    if unknown := set(wanted) - set(PEER_INPUTS):
        parser.error(f"unknown peer(s) {', '.join(sorted(unknown))}; use {', '.join(PEER_INPUTS)}")

    ncores = cores()
    engine, jobs_note = engine_command(args.jobs)
    compiled_note = compile_engine()
    peers = find_peers(wanted, not args.no_install)
    notes = [
        jobs_note,
        compiled_note,
        f"{ncores} cores; Python {platform.python_version()}; "
        f"Python-Markdown {importlib.metadata.version('markdown')}",
        "ours builds the N Markdown pages plus N country pages from the YAML fact tables, "
        "the sources and timeline pages, feed, sitemap and data files; the peers and the "
        "floor render only the N+1 Markdown pages (the fact tables are copied as plain "
        "files their links point to)",
        "cold = no .cache/ and no output folder; no-change = the same build again; one-page "
        f"= page {EDITED_PAGE}'s first paragraph edited before each run; OS file cache warm",
        f"each measure is {args.runs} timed runs and one more for memory, untimed; peak MiB = "
        "max(every run's largest process (ru_maxrss), the process tree's PSS sum sampled "
        f"every {SAMPLE_SECONDS * 1000:.0f} ms in the untimed run); the JSON also has the "
        "tree's RSS sum",
    ]
    results: dict[int, dict[str, Measure]] = {}
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        context: contextlib.AbstractContextManager[str] = contextlib.nullcontext(str(args.workdir))
    else:
        context = tempfile.TemporaryDirectory(prefix="build-speed-", dir=work_parent())
    with context as work:
        notes.append(f"corpora and outputs in {work} ({file_system(Path(work).resolve())})")
        for size in sizes:
            results[size] = bench_size(size, Path(work), args, engine, peers)
    targets = targets_for(results, ncores)
    print_report(results, targets, peers, notes, args.runs, ncores)
    if args.json:
        data = {
            "sizes": sizes,
            "runs": args.runs,
            "cores": ncores,
            "engine_command": engine,
            "peers": [asdict(p) for p in peers],
            "notes": notes,
            "results": {
                str(size): {k: m.to_json() for k, m in measures.items()}
                for size, measures in results.items()
            },
            "targets": [
                {
                    "name": t.name,
                    "size": t.size,
                    "value": t.value,
                    "goal": f"{t.op} {t.goal}",
                    "result": t.result,
                }
                for t in targets
            ],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    if any(m.error for measures in results.values() for m in measures.values()):
        return 2
    return 1 if any(t.result == "MISS" for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
