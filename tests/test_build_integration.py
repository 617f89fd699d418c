"""Build small sites and assert on the parsed HTML of what comes out."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import multiprocessing
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BASE_FILES, PROJECT, SiteDir

from sitegen import cli, parallel
from sitegen.pipeline import run
from sitegen.write import OutputError


def test_builds_every_page(make_site) -> None:
    site: SiteDir = make_site()
    outcome = site.build()
    assert outcome.code == 0, outcome.err
    assert sorted(site.tree()) == [
        ".sitegen-output",
        "404.html",
        "about/index.html",
        "countries/china/index.html",
        "countries/index.html",
        "countries/japan/index.html",
        "data/countries.json",
        "data/measures.csv",
        "favicon.svg",
        "feed.xml",
        "index.html",
        "robots.txt",
        "sitemap.xml",
        "sources/index.html",
        "style.css",
    ]
    assert outcome.out.startswith("built 7 pages into ")


def test_home_table_lists_every_country_with_status(make_site) -> None:
    site = make_site()
    site.build()
    rows = site.html("index.html").select("table.status-table tbody tr")
    cells = [
        (
            row.th.get_text(strip=True),
            row.th.a["href"],
            row.select_one(".status").get_text(),
            row.select_one('td[data-label="Latest measure"] time')["datetime"],
            row.select_one(".confidence").get_text(),
        )
        for row in rows
    ]
    assert cells == [
        ("China", "countries/china/index.html", "Opposes restrictions", "2018-12-07", "Confirmed"),
        ("Japan", "countries/japan/index.html", "Planned", "2018-12-10", "Confirmed"),
    ]


def test_citations_number_and_link_to_reference_list(make_site) -> None:
    site = make_site()
    site.build()
    page = site.html("index.html")
    cites = [a["href"] for a in page.select("sup.cite a")]
    assert cites == ["#ref-1", "#ref-1"]
    ref = page.select_one("#ref-1")
    assert ref is not None
    assert ref.cite.get_text() == "Japan to ban Huawei, ZTE from govt contracts"
    assert ref.select_one('a[href="sources/index.html#reuters-japan"]') is not None
    assert ref.select_one('a[href="https://example.com/reuters"]') is not None


def test_several_citations_in_one_bracket(make_site) -> None:
    site = make_site()
    site.build()
    page = site.html("about/index.html")
    assert [a.get_text() for a in page.select("sup.cite a")] == ["1", "2"]
    refs = [" ".join(li.get_text().split()) for li in page.select(".references li")]
    # an official statement has no headline to miss; a news report's is said to be
    # unconfirmed, unless the source says in its own words why it has no title
    assert refs[0].startswith("Ministry of Foreign Affairs, December 2018.")
    assert refs[1].startswith("Reuters, Japan to ban")
    sources = site.html("sources/index.html")
    kyodo = " ".join(sources.select_one("li#kyodo-decision p").get_text().split())
    assert kyodo == "Kyodo, headline not confirmed, 10 December 2018. News report"
    assert sources.select_one("li#kyodo-decision .untitled") is not None
    assert sources.select_one("li#mfa-statement .untitled") is None


def test_a_source_may_say_why_it_has_no_title(make_site) -> None:
    files = BASE_FILES["content/sources.yaml"].replace(
        "publisher: Kyodo\n",
        "publisher: Kyodo\n          untitled: a wire report seen only in copies\n",
    )
    site = make_site({"content/sources.yaml": files})
    assert site.build().code == 0
    kyodo = site.html("sources/index.html").select_one("li#kyodo-decision p")
    assert kyodo.select_one(".untitled").get_text() == "a wire report seen only in copies"
    assert " ".join(kyodo.get_text().split()) == (
        "Kyodo, a wire report seen only in copies, 10 December 2018. News report"
    )


def test_content_links_are_rewritten_relative(make_site) -> None:
    site = make_site()
    site.build()
    hrefs = [a["href"] for a in site.html("index.html").select("main p a:not(sup a)")]
    assert hrefs == [
        "countries/japan/index.html",
        "countries/japan/index.html#measures",
        "countries/china/index.html",
    ]
    nav = [a["href"] for a in site.html("countries/japan/index.html").select("header nav a")]
    assert nav == [
        "../../index.html",
        "../index.html",
        "../../about/index.html",
        "../../sources/index.html",
    ]


def test_country_page_measures_related_backlinks_references(make_site) -> None:
    site = make_site()
    site.build()
    page = site.html("countries/japan/index.html")
    assert page.h1.get_text() == "Japan"
    rows = page.select("table.measures tbody tr")
    # anchored by their ids, in date order (the file lists them the other way round)
    assert [r["id"] for r in rows] == ["measure-exclusion-reported", "measure-policy-agreed"]
    assert [r.select_one("time")["datetime"] for r in rows] == ["2018-12", "2018-12-10"]
    assert [r.select_one(".confidence").get_text() for r in rows] == ["Reported", "Confirmed"]
    # the narrative cites reuters-japan as [1]; the measures add kyodo-decision as [2]
    assert [a["href"] for a in rows[1].select("sup.cite a")] == ["#ref-2"]
    assert [a["href"] for a in rows[0].select("sup.cite a")] == ["#ref-1"]
    related = [a.get_text() for a in page.select("#related ~ ul a")]
    assert related == ["China"]
    mentions = [a["href"] for a in page.select("#mentioned-in ~ ul a")]
    assert mentions == ["../../index.html"]


JAPAN_NARRATIVE = """\
    ---
    title: Japan
    ---
    China objected [@mfa-statement]; Japan planned to exclude the vendors [@reuters-japan].
    """


def cited_numbers(page) -> list[tuple[str, str]]:
    """Each citation on the page, in order: where it is (text or measures) and its number."""
    return [
        ("measures" if a.find_parent("table") else "text", a.get_text())
        for a in page.select("main sup.cite a")
    ]


def reference_list(page) -> list[tuple[str, str]]:
    return [
        (li["id"], li.select_one("a[href*='#']")["href"]) for li in page.select(".references li")
    ]


def test_country_page_numbers_narrative_then_measures(make_site) -> None:
    site = make_site({"content/countries/japan.md": JAPAN_NARRATIVE})
    assert site.build().code == 0
    page = site.html("countries/japan/index.html")
    assert cited_numbers(page) == [
        ("text", "1"),
        ("text", "2"),
        ("measures", "2"),
        ("measures", "3"),
    ]
    assert reference_list(page) == [
        ("ref-1", "../../sources/index.html#mfa-statement"),
        ("ref-2", "../../sources/index.html#reuters-japan"),
        ("ref-3", "../../sources/index.html#kyodo-decision"),
    ]


def test_a_template_showing_measures_first_numbers_them_first(make_site) -> None:
    site = make_site({"content/countries/japan.md": JAPAN_NARRATIVE})
    template = (site.root / "templates/country.html").read_text("utf-8")
    body = "{{ body }}\n"
    assert template.count(body) == 1
    moved = template.replace(body, "").replace("{% set related", body + "{% set related")
    site.write("templates/country.html", moved)
    assert site.build().code == 0
    page = site.html("countries/japan/index.html")
    assert cited_numbers(page) == [
        ("measures", "1"),
        ("measures", "2"),
        ("text", "3"),
        ("text", "1"),
    ]
    assert [(a["href"], a["id"]) for a in page.select("main p sup.cite a")] == [
        ("#ref-3", "cite-3-1"),
        ("#ref-1", "cite-1-1"),
    ]
    assert reference_list(page) == [
        ("ref-1", "../../sources/index.html#reuters-japan"),
        ("ref-2", "../../sources/index.html#kyodo-decision"),
        ("ref-3", "../../sources/index.html#mfa-statement"),
    ]


def test_measures_say_which_vendors_they_name_and_which_the_reporting_says_they_affect(
    make_site,
) -> None:
    japan = BASE_FILES["content/countries/japan.yaml"]
    japan = japan.replace(
        "vendors: [huawei, zte]\n            confidence: confirmed",
        "vendors: []\n            affects: [huawei, zte]\n            confidence: confirmed",
    ).replace(
        "vendors: [huawei, zte]\n            confidence: reported",
        "vendors: [huawei]\n            affects: [zte]\n            confidence: reported",
    )
    site = make_site({"content/countries/japan.yaml": japan})
    assert site.build().code == 0
    page = site.html("countries/japan/index.html")
    cells = [
        [line.strip() for line in td.get_text("\n").splitlines()]
        for td in page.select('table.measures td[data-label="Vendors"]')
    ]
    assert cells == [
        ["Names: Huawei", "Affects, per reporting: ZTE"],
        ["Names no vendor", "Affects, per reporting: Huawei, ZTE"],
    ]
    explained = " ".join(page.select_one("table.measures").find_next("p").get_text().split())
    assert explained == (
        "Vendors: “Names” gives the vendors the measure itself names; “Affects, per "
        "reporting” gives the vendors the reporting says the measure affects, though the "
        "measure does not name them."
    )
    china = site.html("countries/china/index.html")
    cell = china.select_one('table.measures td[data-label="Vendors"]')
    assert cell.get_text() == "Names: Huawei, ZTE"


def test_related_is_shown_both_ways(make_site) -> None:
    site = make_site()
    site.build()
    page = site.html("countries/china/index.html")
    assert [a["href"] for a in page.select("#related ~ ul a")] == ["../japan/index.html"]


def test_sources_index_backlinks_to_pages_and_measures(make_site) -> None:
    site = make_site()
    site.build()
    page = site.html("sources/index.html")
    entry = page.select_one("li#reuters-japan")
    assert [a["href"] for a in entry.select(".cited-by a")] == [
        "../index.html",
        "../about/index.html",
        "../countries/japan/index.html",
        "../countries/japan/index.html#measure-exclusion-reported",
    ]
    kyodo = page.select_one("li#kyodo-decision")
    assert [a.get_text() for a in kyodo.select(".cited-by a")] == [
        "Japan: measure of 10 December 2018"
    ]


def test_absolute_urls_only_where_formats_require(make_site) -> None:
    site = make_site()
    site.build()
    page = site.html("countries/japan/index.html")
    assert page.select_one('link[rel="canonical"]')["href"] == (
        "https://example.org/sub/path/countries/japan/"
    )
    internal = [a["href"] for a in page.select("a[href]")]
    assert not [h for h in internal if h.startswith("https://example.org")]
    # the 404 page is served at any depth, so it links absolutely from base_url
    missing = site.html("404.html")
    assert missing.select_one('link[rel="stylesheet"]')["href"] == (
        "https://example.org/sub/path/style.css"
    )


def test_drafts_are_left_out_unless_asked(make_site) -> None:
    site = make_site({"content/draft.md": "---\ntitle: Draft\ndraft: true\n---\nText.\n"})
    outcome = site.build()
    assert outcome.code == 0
    assert (
        "content/draft.md:3:8: warning: draft page is not published; "
        "remove 'draft: true' to publish it\n" in outcome.err
    )
    assert not (site.root / "site/draft/index.html").exists()
    outcome = site.build("build", "--drafts")
    assert (site.root / "site/draft/index.html").exists()


def test_markdown_raw_html_is_sanitised(make_site) -> None:
    site = make_site({"content/about.md": "---\ntitle: A\n---\n<script>alert(1)</script> x\n"})
    assert site.build().code == 0
    page = site.html("about/index.html")
    assert page.select("main script") == []
    assert "alert(1)" not in page.main.get_text()
    assert page.select_one("main article p").get_text() == "x"


def test_yaml_text_is_escaped(make_site) -> None:
    site = make_site()
    site.write(
        "content/countries/china.yaml",
        (site.root / "content/countries/china.yaml")
        .read_text()
        .replace("Opposes the restrictions.", '"<b onmouseover=x>Opposes</b>"'),
    )
    assert site.build().code == 0
    page = site.html("countries/china/index.html")
    assert page.select("main b") == []
    assert page.select_one(".lead").get_text() == "<b onmouseover=x>Opposes</b>"


def test_check_writes_nothing(make_site) -> None:
    site = make_site()
    outcome = site.build("check")
    assert outcome.code == 0
    assert outcome.out.startswith("checked 7 pages")
    assert not (site.root / "site").exists()


def test_builds_are_byte_identical(make_site) -> None:
    site = make_site()
    site.build()
    first = site.tree()
    site.build()
    assert site.tree() == first


def test_quoted_and_bare_dates_are_both_accepted(make_site) -> None:
    site = make_site()
    text = (site.root / "content/countries/china.yaml").read_text()
    assert text.count("as_of: 2018-12-07") == text.count("  date: 2018-12-07") == 1
    site.write(
        "content/countries/china.yaml",
        text.replace("as_of: 2018-12-07", 'as_of: "2018-12-07"').replace(
            "  date: 2018-12-07", '  date: "2018-12-07"'
        ),
    )
    assert site.build().code == 0
    page = site.html("countries/china/index.html")
    assert page.select_one(".country-status time")["datetime"] == "2018-12-07"


def _whole_process(site: SiteDir, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m sitegen ARGS` with its output to pipes, block-buffered as it is for a
    writer's redirect (PYTHONUNBUFFERED would hide a missing flush)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-m", "sitegen", *args],
        cwd=site.root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PYTHONPATH": str(PROJECT)},
    )


def test_whole_process_keeps_its_exit_status_and_flushes_what_it_printed(make_site) -> None:
    """The command line leaves with os._exit (cli.command_line): the summary and the
    diagnostics must still reach the pipe, and the status must be main's."""
    site = make_site()
    built = _whole_process(site, "build")
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith(f"built 7 pages into {site.root / 'site'} in ")
    assert (site.root / "site/countries/japan/index.html").is_file()

    site.write("content/about.md", "---\ntitle: About\nsumary: typo\n---\nText.\n")
    failed = _whole_process(site, "build")
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.splitlines() == [
        "content/about.md:3:1: error: unknown field 'sumary' in front matter; did you mean "
        "'summary'? (allowed fields: title, summary, updated, draft, order, template)",
        "1 error(s), 0 warning(s)",
        "build failed; site/ was left as it was",
    ]

    usage = _whole_process(site, "build", "--jobs", "x")
    assert usage.returncode == 2
    assert "invalid int value: 'x'" in usage.stderr


def _nothing_beside(root: Path) -> bool:
    """No temporary or old tree left beside site/."""
    return not [p.name for p in root.iterdir() if p.name.startswith(".site")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_full_disk_is_one_plain_error_and_keeps_the_site(make_site, monkeypatch) -> None:
    """The disk refuses a page as it is written: said once, of that page's path, in the
    system's words; exit 3 (not the content's fault), site/ as it was."""
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    site.write("content/about.md", "---\ntitle: About\n---\nNew text.\n")
    real = os.write

    def full(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/about/index.html"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", full)
    outcome = site.build("build", "--jobs", "1")
    monkeypatch.undo()
    assert outcome.code == 3
    assert outcome.err.splitlines() == [
        "site/about/index.html:1:1: error: could not write: No space left on device; free "
        "some space on that disk, then build again",
        "1 error(s), 0 warning(s)",
        "build failed; site/ was left as it was",
    ]
    assert site.tree() == before
    assert _nothing_beside(site.root)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_full_disk_in_a_render_worker_is_the_same_one_plain_error(
    make_site, monkeypatch, tmp_path: Path
) -> None:
    """A page written by a forked render worker: the disk refusing it is said as it is
    in one process, once, of that page's path, exit 3; not as a worker that failed."""
    notes = {
        f"content/notes/note-{n:03d}.md": f"---\ntitle: Note {n}\n---\nNote {n}.\n"
        for n in range(100)
    }
    site = make_site(notes)
    assert site.build("build", "--jobs", "2").code == 0
    before = site.tree()
    settings = (site.root / "content/site.yaml").read_text()
    site.write("content/site.yaml", settings.replace("Test explainer", "A new title"))
    real = os.write
    refused_by = tmp_path / "refused-by"  # the process that was refused the write

    def full(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/notes/note-050/index.html"):
            refused_by.write_text(str(os.getpid()))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", full)  # before the workers fork: theirs too
    outcome = site.build("build", "--jobs", "2")
    monkeypatch.undo()
    assert outcome.err.splitlines() == [
        "site/notes/note-050/index.html:1:1: error: could not write: No space left on "
        "device; free some space on that disk, then build again",
        "1 error(s), 0 warning(s)",
        "build failed; site/ was left as it was",
    ]
    assert outcome.code == 3
    assert int(refused_by.read_text()) != os.getpid(), "the page was written by a worker"
    assert multiprocessing.active_children() == []
    assert site.tree() == before
    assert _nothing_beside(site.root)


@pytest.mark.parametrize(
    "failure",
    [
        OutputError(Path("/project/site/a/index.html"), "could not write: No space", "free some"),
        FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/project/templates/x.html"),
    ],
)
def test_a_failure_of_the_system_in_a_worker_is_raised_here_as_itself(
    failure: OSError | OutputError,
) -> None:
    """What crosses the pipe from a render worker is data; raised again, it is the error
    the worker met, with its path, message and hint (the pipeline reports it from those)."""
    sent = pickle.loads(pickle.dumps(parallel._Unwritten.of(failure)))
    with pytest.raises(type(failure)) as raised:
        sent.raise_again()
    if isinstance(failure, OutputError):
        got = raised.value
        assert isinstance(got, OutputError)
        assert (got.path, got.message, got.hint) == (failure.path, failure.message, failure.hint)
    else:
        assert (raised.value.errno, raised.value.filename) == (failure.errno, failure.filename)


@contextlib.contextmanager
def _small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A file system of `size` at `folder` (a tmpfs); the test is skipped where one
    cannot be mounted (not root, or in a container that may not)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_disk_that_fills_up_is_one_plain_error_and_keeps_the_site(
    make_site, tmp_path: Path
) -> None:
    """A real full disk: the old site fits, the new one beside it does not."""
    site = make_site()
    with _small_disk(tmp_path / "disk", "256k") as disk:
        out = disk / "site"
        assert site.build("build", "--no-cache", "--out", str(out)).code == 0
        before = site.tree(str(out))
        site.write_bytes("static/big.bin", b"x" * 300_000)
        outcome = site.build("build", "--no-cache", "--out", str(out))
        assert outcome.code == 3
        assert outcome.err.splitlines() == [
            f"{out}/big.bin:1:1: error: could not write: No space left on device; free some "
            "space on that disk, then build again",
            "1 error(s), 0 warning(s)",
            f"build failed; {out} was left as it was",
        ]
        assert site.tree(str(out)) == before
        assert os.listdir(disk) == ["site"]


def test_a_static_file_gone_while_building_is_one_plain_error(make_site, monkeypatch) -> None:
    """Found by the walk, deleted before it is copied: said of that file, exit 3."""
    site = make_site()
    site.write("static/notes.txt", "Notes.\n")
    assert site.build().code == 0
    before = site.tree()
    site.write("content/about.md", "---\ntitle: About\n---\nNew text.\n")

    def meanwhile(stage: str, done: int, total: int) -> None:
        (site.root / "static/notes.txt").unlink(missing_ok=True)  # while pages render

    monkeypatch.setattr(
        cli, "build", lambda options: run(dataclasses.replace(options, progress=meanwhile))
    )
    outcome = site.build("build", "--jobs", "1")
    assert outcome.code == 3
    assert outcome.err.splitlines() == [
        "static/notes.txt:1:1: error: the file disappeared while building; build again",
        "1 error(s), 0 warning(s)",
        "build failed; site/ was left as it was",
    ]
    assert site.tree() == before
    assert _nothing_beside(site.root)


def test_a_content_folder_that_cannot_be_listed_is_the_only_error(make_site, monkeypatch) -> None:
    """Out of open files (EMFILE), content/ cannot be listed: that is said, in the
    system's words, and not a "missing settings file" that is not missing."""
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    content = str(site.root.resolve() / "content")
    real = os.scandir

    def scandir(path: str) -> object:
        if os.fspath(path) == content:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    outcome = site.build()
    monkeypatch.undo()
    assert outcome.code == 1
    assert outcome.err.splitlines() == [
        "content:1:1: error: the folder cannot be read: Too many open files; check that it "
        "exists and that you may read it",
        "1 error(s), 0 warning(s)",
        "build failed; site/ was left as it was",
    ]
    assert site.tree() == before


def test_links_that_loop_are_said_as_the_system_says_them(make_site) -> None:
    """Two links that lead to each other cannot be looked at: each is an error in the
    system's words, not a traceback."""
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    (site.root / "content/loop-a.md").symlink_to("loop-b.md")
    (site.root / "content/loop-b.md").symlink_to("loop-a.md")
    outcome = site.build()
    assert outcome.code == 1
    assert outcome.err.splitlines() == [
        f"content/loop-{name}.md:1:1: error: the file cannot be read: Too many levels of "
        "symbolic links; check that it exists and that you may read it"
        for name in "ab"
    ] + ["2 error(s), 0 warning(s)", "build failed; site/ was left as it was"]
    assert site.tree() == before


class _StatFails:
    """A folder's entry whose stat fails, as on a failing disk."""

    def __init__(self, entry: os.DirEntry[str]) -> None:
        self._entry = entry

    def __getattr__(self, name: str) -> object:
        return getattr(self._entry, name)

    def stat(self, **_: object) -> os.stat_result:
        raise OSError(errno.EIO, os.strerror(errno.EIO), self._entry.path)


def test_a_file_whose_stat_fails_is_said_as_the_system_says_it(make_site, monkeypatch) -> None:
    """Not "not a regular file": the system's own words."""
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    content = str(site.root.resolve() / "content")
    real = os.scandir

    @contextlib.contextmanager
    def scandir(path: str) -> Iterator[list[object]]:
        with real(path) as listing:
            entries = list(listing)
        if os.fspath(path) == content:
            yield [_StatFails(e) if e.name == "about.md" else e for e in entries]
        else:
            yield entries

    monkeypatch.setattr(os, "scandir", scandir)
    outcome = site.build()
    monkeypatch.undo()
    assert outcome.code == 1
    assert outcome.err.splitlines() == [
        "content/about.md:1:1: error: the file cannot be read: Input/output error; check "
        "that it exists and that you may read it",
        "1 error(s), 0 warning(s)",
        "build failed; site/ was left as it was",
    ]
    assert site.tree() == before
