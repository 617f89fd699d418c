"""The real explainer: it builds under --strict, identically twice, with no broken links.

The link walk serves the built site over HTTP from the root of a host and from a
sub-path, and also resolves every link as a file opened from disk. Every internal
href/src must answer, and every #fragment must be an id in its target page.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import http.server
import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
import yaml
from bs4 import BeautifulSoup

from bench.browsing import QuietHandler
from sitegen.cli import main

PROJECT = Path(__file__).resolve().parent.parent
LINK_ATTRS = (("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"))


@pytest.fixture(scope="module")
def real_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real")
    for folder in ("content", "templates", "static"):
        shutil.copytree(PROJECT / folder, root / folder)
    return root


@pytest.fixture(scope="module")
def built(real_project: Path) -> Path:
    assert main(["build", "--strict"], root=real_project) == 0
    return real_project / "site"


def pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def references(site: Path, page: str) -> Iterator[str]:
    soup = BeautifulSoup((site / page).read_text("utf-8"), "html.parser")
    for tag, attr in LINK_ATTRS:
        for element in soup.find_all(tag):
            value = element.get(attr)
            if value and not urlsplit(value).scheme:
                yield value


def ids_of(html: str) -> set[str]:
    soup = BeautifulSoup(html, "html.parser")
    return {el["id"] for el in soup.find_all(id=True)}


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_real_content_builds_strict_with_every_country(built: Path) -> None:
    countries = sorted(p.stem for p in (PROJECT / "content/countries").glob("*.yaml"))
    assert countries == [
        "australia",
        "canada",
        "china",
        "germany",
        "japan",
        "new-zealand",
        "united-kingdom",
        "united-states",
    ]
    for slug in countries:
        assert (built / f"countries/{slug}/index.html").is_file()
    home = BeautifulSoup((built / "index.html").read_text(), "html.parser")
    assert len(home.select("table.status-table tbody tr")) == len(countries)
    sources = BeautifulSoup((built / "sources/index.html").read_text(), "html.parser")
    assert len(sources.select("ol.sources > li[id]")) >= 20


def test_two_builds_are_byte_identical(real_project: Path, built: Path) -> None:
    first = {p: (built / p).read_bytes() for p in pages(built)}
    other = real_project.parent / "again"
    assert main(["build", "--strict", "--out", str(other)], root=real_project) == 0
    assert sorted(p.relative_to(other).as_posix() for p in other.rglob("*")) == sorted(
        p.relative_to(built).as_posix() for p in built.rglob("*")
    )
    assert {p: (other / p).read_bytes() for p in pages(other)} == first


@pytest.mark.parametrize("mount", ["", "deep/sub/path/"])
def test_every_link_and_fragment_resolves_over_http(
    built: Path, tmp_path: Path, mount: str
) -> None:
    served = tmp_path / "www"
    shutil.copytree(built, served / mount)
    broken: list[str] = []
    fetched: dict[str, str | None] = {}
    with serve(served) as host:
        base = host + mount

        def fetch(url: str) -> str | None:
            if url not in fetched:
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        fetched[url] = response.read().decode("utf-8", "replace")
                except urllib.error.URLError:
                    fetched[url] = None
            return fetched[url]

        checked = 0
        for page in pages(built):
            if page == "404.html":  # served at any path, so it links absolutely
                continue
            page_url = urljoin(base, page)
            for ref in references(built, page):
                target, fragment = urldefrag(urljoin(page_url, ref))
                checked += 1
                if not target.startswith(base):
                    broken.append(f"{page}: {ref} leaves the site")
                    continue
                body = fetch(target)
                if body is None:
                    broken.append(f"{page}: {ref} is not served")
                elif fragment and fragment not in ids_of(body):
                    broken.append(f"{page}: {ref} has no id #{fragment}")
    assert broken == []
    assert checked > 500


def test_every_link_resolves_as_files_on_disk(built: Path) -> None:
    broken = []
    for page in pages(built):
        if page == "404.html":
            continue
        for ref in references(built, page):
            path, fragment = urldefrag(ref)
            target = (built / page).parent / path if path else built / page
            if not target.is_file():
                broken.append(f"{page}: {ref}")
            elif (
                fragment
                and target.suffix == ".html"
                and fragment not in ids_of(target.read_text("utf-8"))
            ):
                broken.append(f"{page}: {ref} (fragment)")
    assert broken == []


def citation_numbers(html: str) -> list[int]:
    """The reference numbers a page cites, in the order they appear: text and measures."""
    soup = BeautifulSoup(html, "html.parser")
    return [int(a.get_text()) for a in soup.select("main sup.cite a")]


def test_citations_are_numbered_in_reading_order_on_every_page(built: Path) -> None:
    cited = 0
    for page in pages(built):
        html = (built / page).read_text("utf-8")
        numbers = citation_numbers(html)
        first_uses = list(dict.fromkeys(numbers))
        assert first_uses == list(range(1, len(first_uses) + 1)), page
        soup = BeautifulSoup(html, "html.parser")
        listed = [li["id"] for li in soup.select("main .references ol > li")]
        assert listed == [f"ref-{n}" for n in first_uses], page
        for a in soup.select("main sup.cite a"):
            assert a["href"] == f"#ref-{a.get_text()}", page
        cited += bool(numbers)
    assert cited >= 12


def test_country_pages_show_no_update_date_but_the_one_written(built: Path) -> None:
    for table in sorted((PROJECT / "content/countries").glob("*.yaml")):
        narrative = table.with_suffix(".md")
        front = narrative.read_text("utf-8").split("---")[1] if narrative.exists() else ""
        written = [
            line.split(":", 1)[1].strip()
            for line in front.splitlines()
            if line.startswith("updated:")
        ]
        soup = BeautifulSoup(
            (built / f"countries/{table.stem}/index.html").read_text(), "html.parser"
        )
        shown = [t["datetime"] for t in soup.select("footer time")]
        assert shown == written * 2, table.stem  # the footer's line and "cite this page"
        assert ("Last updated" in soup.select_one("footer").get_text()) == bool(written)


def test_each_measure_keeps_its_own_id_on_its_page_and_in_both_downloads(built: Path) -> None:
    """Item 15 and 16 of the corrected explainer, on the built site: every measure of
    every fact table has the anchor of its own id, both downloads point at it, and each
    CSV row's source ids and URLs line up one for one."""
    data = json.loads((built / "data/countries.json").read_text("utf-8"))
    in_json = {
        (country["code"], measure["id"]): measure["url"]
        for country in data["countries"]
        for measure in country["measures"]
    }
    with open(built / "data/measures.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    in_csv = {(row["code"], row["id"]): row["url"] for row in rows}
    expected = {}
    for table in sorted((PROJECT / "content/countries").glob("*.yaml")):
        fact = yaml.safe_load(table.read_text("utf-8"))
        soup = BeautifulSoup(
            (built / f"countries/{table.stem}/index.html").read_text(), "html.parser"
        )
        for measure in fact["measures"]:
            anchor = f"measure-{measure['id']}"
            assert soup.find(id=anchor) is not None, (table.stem, anchor)
            expected[(fact["code"], measure["id"])] = f"countries/{table.stem}/#{anchor}"
    assert in_json.keys() == in_csv.keys() == expected.keys()
    for key, url in expected.items():
        assert in_json[key].endswith(url) and in_csv[key].endswith(url), key
    for row in rows:
        assert len(row["source_ids"].split()) == len(row["source_urls"].split()), row["id"]
