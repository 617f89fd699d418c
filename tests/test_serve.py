"""The preview server on a free port: edits show up, mistakes show file:line, fixes recover."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from bs4 import BeautifulSoup


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
