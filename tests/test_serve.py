"""The preview server on a free port: edits show up, mistakes show file:line, fixes recover."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from test_search import SEARCH_PAGE
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from bench.corpus import generate
from sitegen import stages
from sitegen.errors import Report
from sitegen.model import Site
from sitegen.pipeline import Options
from sitegen.search import Indexed
from sitegen.serve import BackgroundPreview
from sitegen.watch import InotifyWatcher, PollingWatcher


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_serves_pages_with_reload_script_only_when_served(preview) -> None:
    site, running = preview
    status, body = fetch(running.url + "countries/japan/")
    assert status == 200
    scripts = [s["src"] for s in BeautifulSoup(body, "html.parser").find_all("script", src=True)]
    assert f"/livereload.js?port={running.preview.state.port}" in scripts
    assert fetch(running.url + "livereload.js")[0] == 200
    assert not (site.root / "site").exists()  # the preview writes nothing to disk
    built = site.build()
    assert built.code == 0
    assert b"livereload" not in (site.root / "site/countries/japan/index.html").read_bytes()


def test_edit_break_fix_cycle(preview) -> None:
    site, running = preview
    url = running.url + "about/"
    path = site.root / "content/about.md"
    text = path.read_text()
    path.write_text(text.replace("Every fact is cited", "Each fact is checked"))
    wait_for(lambda: "Each fact is checked" in fetch(url)[1])

    path.write_text(text.replace("title: How we source this", "title: [broken"))
    wait_for(lambda: "sitegen-errors" in fetch(url)[1])
    status, body = fetch(url)
    assert status == 200
    page = BeautifulSoup(body, "html.parser")
    messages = [li.get_text() for li in page.select("#sitegen-errors li")]
    assert messages[0].startswith("content/about.md:3:6: error: malformed YAML")
    assert "Each fact is checked" in page.main.get_text()  # the last good page, beneath

    path.write_text(text)
    wait_for(lambda: "sitegen-errors" not in fetch(url)[1])
    assert "Every fact is cited" in fetch(url)[1]


def test_editor_save_patterns(preview) -> None:
    site, running = preview
    url = running.url + "about/"
    path = site.root / "content/about.md"
    text = path.read_text()
    # atomic rename, as many editors save
    tmp = site.root / "content/.about.md.tmp"
    tmp.write_text(text.replace("Every fact", "Renamed fact"))
    os.replace(tmp, path)
    wait_for(lambda: "Renamed fact" in fetch(url)[1])
    # truncate, then write
    with path.open("r+") as handle:
        handle.truncate(0)
        handle.flush()
        handle.write(text.replace("Every fact", "Truncated fact"))
    wait_for(lambda: "Truncated fact" in fetch(url)[1])
    # several files at once, and a new page
    site.write("content/notes.md", "---\ntitle: Notes\n---\nFresh notes.\n")
    path.write_text(text.replace("Every fact", "Burst fact"))
    wait_for(lambda: "Fresh notes." in fetch(running.url + "notes/")[1])
    wait_for(lambda: "Burst fact" in fetch(url)[1])
    # deleted page, then renamed page
    (site.root / "content/notes.md").rename(site.root / "content/later.md")
    wait_for(lambda: fetch(running.url + "notes/")[0] == 404)
    assert "Fresh notes." in fetch(running.url + "later/")[1]


def test_unknown_path_is_404_page_and_traversal_finds_nothing(preview) -> None:
    _, running = preview
    for path in ("nope/", "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "..%2f..%2fetc/passwd"):
        status, body = fetch(running.url + path)
        assert status == 404
        assert "Page not found" in body


def test_the_preview_builds_no_search_index(make_site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pagefind reads a written folder, and a save would wait for it: the preview serves
    the search page without an index, first build and rebuild alike; `build` makes it."""
    site = make_site({"content/search.md": SEARCH_PAGE})
    indexed: list[Path] = []
    build_index = stages.build_index

    def spy(site_model: Site, folder: Path, report: Report) -> Indexed | None:
        indexed.append(folder)
        return build_index(site_model, folder, report)

    monkeypatch.setattr(stages, "build_index", spy)
    running = BackgroundPreview(Options(root=site.root, out=site.root / "site", write=False))
    try:
        status, body = fetch(running.url + "search/")
        assert status == 200 and "Search every page." in body
        scripts = BeautifulSoup(body, "html.parser").find_all("script", src=True)
        assert "../pagefind/pagefind-ui.js" in [s["src"] for s in scripts]  # as built
        assert fetch(running.url + "pagefind/pagefind-ui.js")[0] == 404
        site.write("content/about.md", "---\ntitle: About\n---\nChanged, to index anew.\n")
        wait_for(lambda: "Changed, to index anew." in fetch(running.url + "about/")[1])
        served = [*running.snapshot.files, *running.snapshot.large]
        assert [path for path in served if path.startswith("pagefind/")] == []
        assert "search/index.html" in served and indexed == []
    finally:
        running.stop()
    assert not (site.root / "site").exists()
    assert site.build().code == 0
    assert len(indexed) == 1 and (site.root / "site/pagefind/pagefind-ui.js").is_file()


class _Tab:
    """A browser tab as livereload.js is one: a reload socket that says which page it
    shows. Its event loop runs on a thread of its own."""

    def __init__(self, port: int, path: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        origin = f"http://127.0.0.1:{port}"
        self.socket = self._run(self._open(origin, f"{origin}/{path}"))

    def _run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)

    async def _open(self, origin: str, url: str) -> Any:
        request = HTTPRequest(f"ws://{origin[7:]}/livereload", headers={"Origin": origin})
        socket = await websocket_connect(request)
        hello = {"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"]}
        await socket.write_message(json.dumps(hello))
        await socket.read_message()
        await socket.write_message(json.dumps({"command": "info", "url": url, "plugins": {}}))
        return socket

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.socket.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_the_page_in_view_is_served_before_the_rest_is_rendered(tmp_path: Path) -> None:
    """After a base-template edit every page is rendered again; the page open in a tab
    is rendered first and served while the others are still the old ones."""
    root = tmp_path / "project"
    generate(root, 150, search=False)
    running = BackgroundPreview(Options(root=root, out=root / "site", write=False))
    viewed, other = "pages/page-00140/index.html", "pages/page-00001/index.html"
    tab = _Tab(running.preview.state.port, "pages/page-00140/")
    try:
        wait_for(lambda: viewed in running.preview.state.viewing.values())
        base = root / "templates/base.html"
        base.write_text(base.read_text().replace("</body>", "<!-- new --></body>", 1))
        deadline = time.monotonic() + 60
        while b"<!-- new -->" not in running.snapshot.files[viewed]:
            assert time.monotonic() < deadline, "the edit never reached the page in view"
            time.sleep(0.001)
        assert b"<!-- new -->" not in running.snapshot.files[other]  # not rendered yet
        wait_for(lambda: b"<!-- new -->" in running.snapshot.files[other], 60)
    finally:
        tab.close()
        running.stop()


def test_a_page_requested_during_a_rebuild_waits_for_its_new_version(tmp_path: Path) -> None:
    """A request for a page the running rebuild has still to render is answered with
    the new page, rendered next, not with the old one."""
    root = tmp_path / "project"
    generate(root, 150, search=False)
    running = BackgroundPreview(Options(root=root, out=root / "site", write=False))
    try:
        url = running.url + "pages/page-00077/"
        assert "<!-- new -->" not in fetch(url)[1]
        base = root / "templates/base.html"
        base.write_text(base.read_text().replace("</body>", "<!-- new --></body>", 1))
        wait_for(lambda: running.preview.state.priority is not None, 10)
        status, body = fetch(url)
        assert status == 200 and "<!-- new -->" in body
    finally:
        running.stop()


def test_watching_lasts_through_a_folder_moved_away_and_put_back(preview) -> None:
    """`mv content content.old`, then a copy put back: edits after that are still seen."""
    site, running = preview
    url = running.url + "about/"
    content = site.root / "content"
    content.rename(site.root / "content.old")
    wait_for(lambda: "sitegen-errors" in fetch(url)[1])  # no content: the build says so
    shutil.copytree(site.root / "content.old", content)
    wait_for(lambda: "sitegen-errors" not in fetch(url)[1])
    about = content / "about.md"
    about.write_text(about.read_text().replace("Every fact", "Restored fact"))
    wait_for(lambda: "Restored fact" in fetch(url)[1])
    # the folder moved away is no longer watched: its edits change nothing
    old = site.root / "content.old/about.md"
    version = settled(running)
    old.write_text(old.read_text().replace("Every fact", "Old fact"))
    time.sleep(1)
    assert running.snapshot.version == version


def test_a_page_added_as_a_hard_link_is_seen_at_once(preview) -> None:
    site, running = preview
    os.link(site.root / "content/about.md", site.root / "content/linked.md")
    wait_for(lambda: fetch(running.url + "linked/")[0] == 200)


def settled(running: BackgroundPreview) -> int:
    """The snapshot's version once no rebuild has changed it for half a second (a page
    in view is published before its build ends; the build's end is published too)."""
    version, since = running.snapshot.version, time.monotonic()
    while time.monotonic() - since < 0.5:
        time.sleep(0.02)
        if running.snapshot.version != version:
            version, since = running.snapshot.version, time.monotonic()
    return version


# Editors' leftovers beside a file each folder holds: vim's write test and swap file,
# emacs's autosave and lock (a link to nowhere, as emacs makes it), backups, temporaries.
LEFTOVERS = ("4913", ".{}.swp", "#{}#", ".#{}", "{}~", "{}.tmp")
BESIDE = {
    "content": "about.md",
    "content/countries": "japan.yaml",
    "static": "style.css",
    "static/img": "logo.svg",
    "templates": "base.html",
    "templates/partials": "note.html",
}


def leave_leftovers(root: Path) -> set[str]:
    """Every leftover in every folder of BESIDE, as the editor would leave it; their
    names."""
    names = set()
    for folder, beside in BESIDE.items():
        for pattern in LEFTOVERS:
            name = pattern.format(beside)
            path = root / folder / name
            if name.startswith(".#"):
                os.symlink("writer@laptop.4242:1700000000", path)
            else:
                path.write_text("editor state\n")
            names.add(name)
    return names


def test_editor_leftovers_are_neither_published_nor_a_reason_to_rebuild(preview) -> None:
    """In content/, templates/ and static/ and in folders within them alike."""
    site, running = preview
    site.write("static/img/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    site.write("templates/partials/note.html", "<p>unused</p>\n")
    wait_for(lambda: "img/logo.svg" in running.snapshot.files)
    version = settled(running)
    before = set(running.snapshot.files)
    leftovers = leave_leftovers(site.root)
    time.sleep(1)
    assert running.snapshot.version == version  # no rebuild
    site.write("static/img/real.txt", "real\n")  # a real file: a rebuild, without the leftovers
    wait_for(lambda: "img/real.txt" in running.snapshot.files)
    assert set(running.snapshot.files) == before | {"img/real.txt"}
    assert site.build().code == 0
    published = set(site.tree())
    assert {"img/real.txt", "img/logo.svg"} <= published
    assert not leftovers & {Path(path).name for path in published}


@pytest.mark.parametrize("kind", [InotifyWatcher, PollingWatcher])
def test_both_watchers_pass_over_editor_leftovers_everywhere(
    make_site, kind: type[InotifyWatcher | PollingWatcher]
) -> None:
    """The inotify watcher and the polling one follow the same rule (layout.not_content)
    at every depth of every source folder."""
    if kind is InotifyWatcher and not sys.platform.startswith("linux"):
        pytest.skip("inotify is Linux's")
    site = make_site()
    for folder, beside in BESIDE.items():
        site.write(f"{folder}/{beside}", "as it was\n")
    watcher = kind(site.root, ("content", "templates", "static"))
    try:

        def changes(seconds: float) -> list[str]:
            seen: list[str] = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                changed = watcher.read(0.1)
                assert changed is not None, "a rescan, as for an overflow"
                seen += changed
            return seen

        changes(0.3)  # anything the writes above still had to report
        leave_leftovers(site.root)
        assert changes(1) == []
        site.write("static/img/real.txt", "real\n")
        assert set(changes(1)) == {"static/img/real.txt"}
    finally:
        watcher.close()
