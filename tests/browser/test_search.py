"""Search as a reader uses it: type a word, follow the first result, land on the page.

The site is served from a sub-path (/sub/), so these also prove that result links work
there, and that nothing is fetched from any other origin while searching.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from realsite import SUB_PATH, BuiltSite

SEARCH_PAGE = "search/index.html"
SEARCH_INPUT = ".pagefind-ui__search-input"
FIRST_RESULT = ".pagefind-ui__result-link"
QUERY = "Spark"


def test_typing_a_word_finds_pages_and_the_first_result_opens(site: BuiltSite, tab, axe) -> None:
    browser_tab = tab()
    problems = browser_tab.go(site.url(SEARCH_PAGE))
    page = browser_tab.page
    page.fill(SEARCH_INPUT, QUERY)
    first = page.locator(FIRST_RESULT).first
    first.wait_for(state="visible", timeout=30_000)
    # the count is written a moment after the first result appears: wait for it
    page.wait_for_function(
        """() => /^[1-9]/.test(
            (document.querySelector('.pagefind-ui__message') || {}).textContent || '')""",
        timeout=30_000,
    )
    problems += [f"with results: {v}" for v in axe(page)]
    href = first.get_attribute("href") or ""
    assert href.startswith(SUB_PATH), f"result links must stay under {SUB_PATH}: {href}"
    assert href.endswith(".html") or "#" in href, href
    title = first.inner_text().strip()

    first.click()
    page.wait_for_load_state("load")
    landed = urlsplit(page.url)
    assert landed.path.startswith(SUB_PATH), page.url
    assert page.locator("h1").first.inner_text().strip() == title
    assert QUERY.lower() in page.locator("main").inner_text().lower()
    assert not problems, "\n".join(problems)


def test_a_query_in_the_address_searches_at_once(site: BuiltSite, tab) -> None:
    """The plain form submits ?q=...; with JavaScript the page searches for it."""
    browser_tab = tab()
    problems = browser_tab.go(site.url(SEARCH_PAGE) + "?q=" + QUERY)
    browser_tab.page.locator(FIRST_RESULT).first.wait_for(state="visible", timeout=30_000)
    assert browser_tab.page.input_value(SEARCH_INPUT) == QUERY
    assert not problems, "\n".join(problems)


def test_without_javascript_the_form_and_the_way_round_remain(site: BuiltSite, tab) -> None:
    browser_tab = tab(javascript=False)
    problems = browser_tab.go(site.url(SEARCH_PAGE))
    page = browser_tab.page
    assert page.locator("#search-form").is_visible()
    assert page.get_by_label("Search this site").is_visible()
    note = page.locator("#search-note")
    assert note.is_visible()
    assert "JavaScript" in note.inner_text()
    links = {a.get_attribute("href") for a in note.locator("a").all()}
    assert links == {"../countries/index.html", "../sources/index.html"}
    assert page.locator("script[src*=pagefind]").count() == 1  # only this page loads it
    assert not problems, "\n".join(problems)
