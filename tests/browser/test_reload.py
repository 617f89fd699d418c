"""An open page in Chromium reloads itself after an edit, and after a fix of a mistake."""

from __future__ import annotations

import time
from typing import Any

from livereload.handlers import LiveReloadHandler

from sitegen.pipeline import Options
from sitegen.serve import BackgroundPreview


def _reconnected(before: set[object]) -> set[object]:
    """Wait until a page has opened a new reload socket (the server registers it once the
    handshake is done). A page still reconnecting after a reload would miss the next
    reload message: under load, that race failed this test."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            now = set(LiveReloadHandler.waiters)  # the server's thread may change it meanwhile
        except RuntimeError:
            continue
        if now - before:
            return now
        time.sleep(0.02)
    raise AssertionError("the page did not reconnect within 10 s")


def test_open_page_reloads_after_edit_and_shows_errors(browser: Any, make_site) -> None:
    site = make_site()
    preview = BackgroundPreview(Options(root=site.root, out=site.root / "site", write=False))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(preview.url + "about/", wait_until="load")
        page.wait_for_function("() => window.LiveReload !== undefined", timeout=10_000)
        sockets = _reconnected(set())
        assert page.locator("h1").inner_text() == "How we source this"

        path = site.root / "content/about.md"
        text = path.read_text()
        path.write_text(text.replace("Every fact is cited", "Reloaded by itself"))
        page.wait_for_selector("text=Reloaded by itself", timeout=10_000)
        sockets = _reconnected(sockets)

        path.write_text(text.replace("title: How we source this", "title: [broken"))
        overlay = page.wait_for_selector("#sitegen-errors", timeout=10_000)
        assert "content/about.md:3:6: error: malformed YAML" in overlay.inner_text()
        _reconnected(sockets)

        path.write_text(text)
        page.wait_for_selector("#sitegen-errors", state="detached", timeout=10_000)
        assert "Every fact is cited" in page.locator("main").inner_text()
    finally:
        context.close()
        preview.stop()
