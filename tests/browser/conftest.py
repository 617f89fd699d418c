"""Fixtures for the browser tests: the real site served from a sub-path, and Chromium.

Chromium is the system's (Debian's /usr/bin/chromium, which .ci/run installs), launched
by Playwright for Python with `executable_path`; `playwright install`, which downloads
a browser of its own, is never needed. Without Chromium or Playwright these tests fail
under CI=true and are skipped, with the reason, on a developer's machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from realsite import NODE_MODULES, BuiltSite, missing_tool, real_site

from bench.browsing import CHROMIUM, CHROMIUM_ARGS

AXE = NODE_MODULES / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
LOCAL_SCHEMES = ("data", "blob", "about")


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    return real_site(tmp_path_factory)


@pytest.fixture(scope="package")
def browser(site: BuiltSite) -> Iterator[Any]:
    """Headless Chromium for this package's tests; closed when they are done.

    Package-scoped, not session-scoped: Playwright's sync API keeps an event loop on the
    main thread while it runs, and other test modules build sites with asyncio.
    """
    if not CHROMIUM.exists():
        missing_tool(f"Chromium not found at {CHROMIUM}; install it: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tool("Playwright for Python is not installed; run `make test`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """One browser tab that visits pages in turn and records what went wrong on each.

    One tab for many pages: a new context or tab costs a second or more on two cores,
    a same-site navigation a fraction of that.
    """

    def __init__(self, page: Any, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def go(self, url: str) -> list[str]:
        """Load `url`; the returned list collects this page's problems as they come."""
        self.problems = []
        response = self.page.goto(url, wait_until="load")
        if response is None or not response.ok:
            self.problems.append(f"{url} answered {response.status if response else None}")
        return self.problems

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _failed(self, request: Any) -> None:
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in LOCAL_SCHEMES:
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.problems.append(f"request to another origin: {request.url}")


@pytest.fixture
def tab(browser: Any, site: BuiltSite) -> Iterator[Callable[..., Tab]]:
    """tab(viewport=..., color_scheme=..., javascript=...): a fresh tab, closed after."""
    contexts: list[Any] = []
    parts = urlsplit(site.base_url)

    def open_tab(
        viewport: dict[str, int] = DESKTOP, color_scheme: str = "light", javascript: bool = True
    ) -> Tab:
        context = browser.new_context(
            viewport=viewport, color_scheme=color_scheme, java_script_enabled=javascript
        )
        contexts.append(context)
        return Tab(context.new_page(), f"{parts.scheme}://{parts.netloc}")

    yield open_tab
    for context in contexts:
        context.close()


@pytest.fixture(scope="package")
def axe() -> Callable[[Any], list[str]]:
    """axe(page, rules=None): axe-core's rules (default: its default set), one line each."""
    if not AXE.exists():
        missing_tool(f"{AXE} is missing; run `make test`, which installs it with npm")
    source = AXE.read_text("utf-8")

    def run(page: Any, rules: list[str] | None = None) -> list[str]:
        page.add_script_tag(content=source)
        options = {"runOnly": {"type": "rule", "values": rules}} if rules else {}
        violations = page.evaluate(
            """async (options) => {
                const result = await axe.run(document, options);
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
                }));
            }""",
            options,
        )
        return [
            f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}" for v in violations
        ]

    return run
