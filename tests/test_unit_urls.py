"""Where content lands, which file serves a URL, and relative links between outputs."""

from __future__ import annotations

import pytest

from sitegen import urls


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("index.md", ""),
        ("a.md", "a/"),
        ("a/index.md", "a/"),
        ("a/b.md", "a/b/"),
        ("a/b/c.md", "a/b/c/"),
        ("countries/japan.yaml", "countries/japan/"),
        ("countries/japan.md", "countries/japan/"),
        ("countries/index.md", "countries/"),
        ("sources.yaml", "sources/"),
        ("sources.md", "sources/"),
        ("site.yaml", None),
        ("other.yaml", None),
        ("a/site.yaml", None),
        ("countries/x/y.yaml", None),
        ("index.yaml", None),
        ("notes.txt", None),
        ("README", None),
        ("page.MD", None),
    ],
)
def test_url_for_content(path: str, url: str | None) -> None:
    assert urls.url_for_content(path) == url


@pytest.mark.parametrize(
    ("url", "output"),
    [
        ("", "index.html"),
        ("a/", "a/index.html"),
        ("countries/japan/", "countries/japan/index.html"),
        ("404.html", "404.html"),
        ("style.css", "style.css"),
    ],
)
def test_output_path(url: str, output: str) -> None:
    assert urls.output_path(url) == output


@pytest.mark.parametrize(
    ("from_url", "to_url", "link"),
    [
        ("", "", "index.html"),
        ("", "countries/japan/", "countries/japan/index.html"),
        ("", "style.css", "style.css"),
        ("countries/japan/", "", "../../index.html"),
        ("countries/japan/", "countries/china/", "../china/index.html"),
        ("countries/japan/", "countries/", "../index.html"),
        ("countries/japan/", "countries/japan/", "index.html"),
        ("countries/japan/", "style.css", "../../style.css"),
        ("countries/japan/", "404.html", "../../404.html"),
        ("countries/", "countries/japan/", "japan/index.html"),
        ("about/", "sources/", "../sources/index.html"),
        ("404.html", "", "index.html"),
        ("404.html", "style.css", "style.css"),
        ("a/b/c/", "a/x/", "../../x/index.html"),
    ],
)
def test_relative(from_url: str, to_url: str, link: str) -> None:
    assert urls.relative(from_url, to_url) == link


def test_absolute() -> None:
    assert urls.absolute("https://example.org/sub/", "countries/japan/") == (
        "https://example.org/sub/countries/japan/"
    )
    assert urls.absolute("https://example.org/", urls.HOME) == "https://example.org/"
