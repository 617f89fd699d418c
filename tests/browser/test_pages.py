"""Every page of the real site in Chromium: clean loads, axe-core, and phone widths.

Each test walks every HTML file in one tab and reports all failing pages at once. The
search page is checked with Pagefind's UI started, as a reader with JavaScript sees it.
"""

from __future__ import annotations

from realsite import BuiltSite

SEARCH_PAGE = "search/index.html"
SEARCH_INPUT = ".pagefind-ui__search-input"
PHONE = {"width": 360, "height": 740}


def settle(tab, path: str) -> None:
    """Wait for what scripts add: on the search page, Pagefind's UI and what it loads."""
    if path == SEARCH_PAGE:
        tab.page.wait_for_selector(SEARCH_INPUT, state="visible")
        tab.page.wait_for_load_state("networkidle")


def test_the_site_has_the_pages_these_tests_expect(site: BuiltSite) -> None:
    pages = site.pages()
    assert {"index.html", "404.html", SEARCH_PAGE, "countries/japan/index.html"} <= set(pages)


def test_every_page_loads_cleanly_and_passes_axe(site: BuiltSite, tab, axe) -> None:
    """Desktop, light: no console error, failed request or other origin; no axe violation."""
    browser_tab = tab()
    problems = []
    for path in site.pages():
        found = browser_tab.go(site.url(path))
        settle(browser_tab, path)
        found += axe(browser_tab.page)
        problems += [f"{path}: {problem}" for problem in found]
    assert not problems, "\n".join(problems)


def test_every_page_fits_a_360px_phone_in_dark_mode(site: BuiltSite, tab, axe) -> None:
    """360 px wide, dark: no horizontal overflow, and axe's contrast rule still passes."""
    browser_tab = tab(viewport=PHONE, color_scheme="dark")
    problems = []
    for path in site.pages():
        found = browser_tab.go(site.url(path))
        settle(browser_tab, path)
        scroll, client = browser_tab.page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if scroll > client:
            wide = browser_tab.page.evaluate(
                """() => [...document.querySelectorAll("body *")]
                    .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
                    .slice(0, 5)
                    .map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""))"""
            )
            found.append(f"{scroll} px wide in a {client} px viewport; too wide: {wide}")
        found += axe(browser_tab.page, ["color-contrast"])
        problems += [f"{path}: {problem}" for problem in found]
    assert not problems, "\n".join(problems)
