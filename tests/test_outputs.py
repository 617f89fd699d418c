"""Downloads, discovery files and page metadata, built from small sites in tmp_path."""

from __future__ import annotations

import csv
import datetime as dt
import json
import textwrap
import xml.etree.ElementTree as ET

import yaml
from conftest import BASE_FILES, SiteDir

from sitegen.metadata import bibtex_escape, bibtex_key, bibtex_url, og_locale, script_json
from sitegen.outputs import COUNTRY_TABLE_FIELDS, collisions, csv_column, neutralise
from sitegen.schema import MEASURE_FIELDS, SOURCE_FIELDS

BASE = "https://example.org/sub/path/"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
EVIL = "Say \"hi\" & 'bye' </script><script>alert(1)</script> <!-- x"


def built(make_site, files: dict[str, str | None] | None = None) -> SiteDir:
    site: SiteDir = make_site(files)
    outcome = site.build()
    assert outcome.code == 0, outcome.err
    return site


def output(site: SiteDir, path: str) -> str:
    return (site.root / "site" / path).read_text("utf-8")


def csv_rows(site: SiteDir) -> list[dict[str, str]]:
    with (site.root / "site/data/measures.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def yaml_of(path: str) -> object:
    return yaml.safe_load(textwrap.dedent(BASE_FILES[path]))


# Downloads -----------------------------------------------------------------------------


def test_measures_csv_has_one_row_per_measure_with_sources(make_site) -> None:
    site = built(make_site)
    raw = (site.root / "site/data/measures.csv").read_bytes()
    assert b"\r" not in raw
    rows = csv_rows(site)
    assert [(r["country"], r["code"], r["date"], r["date_precision"]) for r in rows] == [
        ("China", "CN", "2018-12-07", "day"),
        ("Japan", "JP", "2018-12", "month"),
        ("Japan", "JP", "2018-12-10", "day"),
    ]
    assert all(r["source_ids"].split() for r in rows)
    assert [r["id"] for r in rows] == ["concern", "exclusion-reported", "policy-agreed"]
    japan = rows[1]
    assert japan["source_ids"] == "reuters-japan"
    assert japan["source_urls"] == "https://example.com/reuters"
    assert japan["vendors"] == "huawei zte"
    assert japan["confidence"] == "reported"
    assert rows[2]["source_urls"] == "(none)"  # kyodo-decision has no URL


def test_measures_csv_neutralises_formulas(make_site) -> None:
    china = BASE_FILES["content/countries/china.yaml"].replace(
        "actor: Ministry of Foreign Affairs", "actor: \"=HYPERLINK('http://evil', 'x')\""
    )
    china = china.replace("action: Expressed serious concern", 'action: "+1 and -2"')
    china = china.replace("scope: Japan's reported plan", 'scope: "@SUM(A1)"')
    china = china.replace(
        "sources: [mfa-statement]",
        'sources: [mfa-statement]\n            note: "-2+3, said, \\"x\\""',
    )
    site = built(make_site, {"content/countries/china.yaml": china})
    row = csv_rows(site)[0]
    assert row["actor"] == "'=HYPERLINK('http://evil', 'x')"
    assert row["action"] == "'+1 and -2"
    assert row["scope"] == "'@SUM(A1)"
    assert row["note"] == '\'-2+3, said, "x"'
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"
    assert neutralise("a=b") == "a=b"


def test_countries_json_matches_the_yaml(make_site) -> None:
    site = built(make_site)
    data = json.loads(output(site, "data/countries.json"))
    assert data["url"] == BASE
    assert [c["slug"] for c in data["countries"]] == ["china", "japan"]
    for country in data["countries"]:
        source = yaml_of(f"content/countries/{country['slug']}.yaml")
        assert isinstance(source, dict)
        for key in ("name", "code", "summary", "status"):
            assert country[key] == source[key]
        assert country["as_of"] == source["as_of"].isoformat()
        assert country["url"] == f"{BASE}countries/{country['slug']}/"
        expected = sorted(
            (str(m["date"]), m["actor"], m["action"], m["scope"], m["vendors"], m["sources"])
            for m in source["measures"]
        )
        got = sorted(
            (
                m["date"],
                m["actor"],
                m["action"],
                m["scope"],
                m["vendors"],
                [s["id"] for s in m["sources"]],
            )
            for m in country["measures"]
        )
        assert got == expected
    japan = data["countries"][1]
    assert japan["status_label"] == "Planned"
    month = next(m for m in japan["measures"] if m["date"] == "2018-12")
    assert month["date_precision"] == "month"
    assert month["confidence"] == "reported"
    assert month["sources"] == [{"id": "reuters-japan", "url": "https://example.com/reuters"}]
    day = next(m for m in japan["measures"] if m["date"] == "2018-12-10")
    assert day["sources"] == [{"id": "kyodo-decision", "url": None}]
    assert day["id"] == "policy-agreed"
    assert day["url"] == f"{BASE}countries/japan/#measure-policy-agreed"
    text = output(site, "data/countries.json")
    assert text.endswith("}\n") and "\r" not in text


# Every field set somewhere: a note and the vendors a measure affects but does not name,
# related countries, and a measure citing a source without a URL before one with it.
EVERY_FIELD = {
    "content/countries/japan.yaml": BASE_FILES["content/countries/japan.yaml"]
    .replace(
        "vendors: [huawei, zte]\n            confidence: reported",
        "vendors: [huawei]\n            affects: [zte]\n            confidence: reported",
    )
    .replace(
        "sources: [reuters-japan]\n",
        "sources: [reuters-japan]\n            note: A caveat, with a comma\n",
    )
    .replace("sources: [kyodo-decision]", "sources: [kyodo-decision, reuters-japan]"),
    "content/sources.yaml": BASE_FILES["content/sources.yaml"]
    .replace(
        "kind: news\n          excerpts:",
        "kind: news\n          author: A. Reporter\n          note: A syndicated copy\n"
        "          excerpts:",
    )
    .replace("publisher: Kyodo\n", "publisher: Kyodo\n          untitled: seen only in copies\n"),
}


def as_written(value: object) -> object:
    """A YAML value as the downloads write it: dates in ISO form."""
    return value.isoformat() if isinstance(value, dt.date) else value


def as_cell(value: object) -> str:
    """A YAML value as a CSV cell: lists of ids separated by spaces."""
    if isinstance(value, list):
        return " ".join(value)
    return "" if value is None else str(as_written(value))


def test_every_declared_field_reaches_both_downloads(make_site) -> None:
    site = built(make_site, EVERY_FIELD)
    tables = {
        slug: yaml.safe_load(textwrap.dedent(EVERY_FIELD.get(path, BASE_FILES[path])))
        for slug, path in (
            ("china", "content/countries/china.yaml"),
            ("japan", "content/countries/japan.yaml"),
        )
    }
    bibliography = yaml.safe_load(textwrap.dedent(EVERY_FIELD["content/sources.yaml"]))
    measures = [m for table in tables.values() for m in table["measures"]]
    # the site sets every declared field, so none can be left out unseen
    assert {f.name for f in COUNTRY_TABLE_FIELDS} <= {k for t in tables.values() for k in t}
    assert {f.name for f in MEASURE_FIELDS} <= {k for m in measures for k in m}
    assert {f.name for f in SOURCE_FIELDS} <= {k for s in bibliography for k in s}

    data = json.loads(output(site, "data/countries.json"))
    rows = csv_rows(site)
    assert len(rows) == len(measures)
    urls = {s["id"]: s.get("url") for s in bibliography}
    for country in data["countries"]:
        table = tables[country["slug"]]
        for field in COUNTRY_TABLE_FIELDS:
            if field.name in table:
                assert country[field.name] == as_written(table[field.name]), field.name
            else:
                assert country[field.name] in (None, []), field.name
        for measure in table["measures"]:
            (got,) = [m for m in country["measures"] if m["id"] == measure["id"]]
            (row,) = [r for r in rows if (r["country"], r["id"]) == (table["name"], measure["id"])]
            for field in COUNTRY_TABLE_FIELDS:
                column = csv_column("country", field.name)
                assert row[column] == as_cell(table.get(field.name)), column
            for field in MEASURE_FIELDS:
                column = csv_column("measure", field.name)
                assert row[column] == as_cell(measure.get(field.name)), column
                if field.name == "sources":
                    assert [s["id"] for s in got["sources"]] == measure["sources"]
                    assert [s["url"] for s in got["sources"]] == [
                        urls[s] for s in measure["sources"]
                    ]
                elif field.name in measure:
                    assert got[field.name] == as_written(measure[field.name]), field.name
                else:
                    assert got[field.name] in (None, []), field.name
            # one URL slot per source id, in the same order
            slots = row["source_urls"].split(" ")
            assert slots == [urls[s] or "(none)" for s in measure["sources"]]
            assert (
                row["url"]
                == got["url"]
                == (f"{BASE}countries/{country['slug']}/#measure-{measure['id']}")
            )
    japan = next(r for r in rows if r["id"] == "policy-agreed")
    assert japan["source_urls"] == "(none) https://example.com/reuters"
    cited = {s for m in measures for s in m["sources"]}
    expected = [s for s in bibliography if s["id"] in cited]
    assert sorted(s["id"] for s in data["sources"]) == sorted(s["id"] for s in expected)
    for source in expected:
        (got,) = [s for s in data["sources"] if s["id"] == source["id"]]
        for field in SOURCE_FIELDS:
            if field.name in source:
                assert got[field.name] == as_written(source[field.name]), field.name
            else:
                assert got[field.name] in (None, []), field.name


def test_downloads_are_linked_relatively(make_site) -> None:
    site = built(make_site)
    japan = site.html("countries/japan/index.html")
    footer = [a["href"] for a in japan.select("footer .downloads a")]
    assert footer == ["../../data/countries.json", "../../data/measures.csv"]
    index = site.html("countries/index.html")
    assert [a["href"] for a in index.select("main .downloads a")] == [
        "../data/countries.json",
        "../data/measures.csv",
    ]


# Discovery -----------------------------------------------------------------------------


def test_sitemap_lists_every_page_but_404_with_absolute_urls(make_site) -> None:
    site = built(make_site)
    root = ET.fromstring((site.root / "site/sitemap.xml").read_bytes())
    assert root.tag == f"{SITEMAP}urlset"
    entries = {
        u.findtext(f"{SITEMAP}loc"): u.findtext(f"{SITEMAP}lastmod")
        for u in root.iter(f"{SITEMAP}url")
    }
    assert entries == {
        BASE: "2018-12-10",
        f"{BASE}about/": None,
        f"{BASE}countries/": None,
        f"{BASE}countries/china/": None,  # a status date is not a date of change
        f"{BASE}countries/japan/": None,
        f"{BASE}sources/": None,
    }


def test_robots_txt_points_at_the_sitemap(make_site) -> None:
    site = built(make_site)
    lines = output(site, "robots.txt").splitlines()
    assert "User-agent: *" in lines
    assert "Allow: /" in lines
    assert f"Sitemap: {BASE}sitemap.xml" in lines


def test_atom_feed_lists_updated_pages_newest_first(make_site) -> None:
    site = built(make_site)
    root = ET.fromstring((site.root / "site/feed.xml").read_bytes())
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == BASE
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == f"{BASE}feed.xml"
    entries = [
        (e.findtext(f"{ATOM}id"), e.findtext(f"{ATOM}updated")) for e in root.iter(f"{ATOM}entry")
    ]
    # only pages whose writer gave them an `updated:` date
    assert entries == [(BASE, "2018-12-10T00:00:00Z")]
    assert root.findtext(f"{ATOM}updated") == "2018-12-10T00:00:00Z"
    first = next(root.iter(f"{ATOM}entry"))
    link = first.find(f"{ATOM}link")
    assert link is not None and link.get("href") == BASE
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    home = site.html("countries/japan/index.html")
    feed = home.select_one('head link[rel="alternate"][type="application/atom+xml"]')
    assert feed is not None and feed["href"] == "../../feed.xml"


def test_a_page_colliding_with_a_generated_file_is_an_error(make_site) -> None:
    site = make_site({"content/sitemap.xml.md": "---\ntitle: Clash\n---\nText.\n"})
    outcome = site.build()
    assert outcome.code == 1
    assert (
        "content/sitemap.xml.md:1:1: error: the page sitemap.xml/index.html collides with "
        "the generated file sitemap.xml"
    ) in outcome.err
    assert not (site.root / "site").exists()
    assert collisions(["a/index.html", "data/x.json/index.html"], ["data/x.json", "a"]) == [
        ("a", "a/index.html"),
        ("data/x.json", "data/x.json/index.html"),
    ]
    assert collisions(["data/index.html"], ["data/x.json"]) == []


# Metadata in <head> --------------------------------------------------------------------


def meta(soup, name: str) -> str:
    tag = soup.select_one(f'meta[property="{name}"]') or soup.select_one(f'meta[name="{name}"]')
    assert tag is not None, name
    return tag["content"]


def json_ld(soup) -> dict:
    scripts = soup.select('script[type="application/ld+json"]')
    assert len(scripts) == 1
    return json.loads(scripts[0].string)


def test_open_graph_and_twitter_tags_are_absolute(make_site) -> None:
    site = built(make_site)
    page = site.html("countries/japan/index.html")
    url = f"{BASE}countries/japan/"
    assert page.select_one('link[rel="canonical"]')["href"] == url
    assert meta(page, "og:url") == url
    assert meta(page, "og:type") == "article"
    assert meta(page, "og:title") == "Japan"
    assert meta(page, "og:site_name") == "Test explainer"
    assert meta(page, "og:locale") == "en"
    assert meta(page, "og:description") == meta(page, "description")
    assert meta(page, "twitter:card") == "summary"
    home = site.html("index.html")
    assert meta(home, "og:url") == BASE
    assert meta(home, "og:type") == "website"
    assert og_locale("en-GB") == "en_GB" and og_locale("pt") == "pt"
    missing = site.html("404.html")
    assert missing.select_one('meta[property="og:url"]') is None
    assert missing.select_one('script[type="application/ld+json"]') is None


def test_json_ld_describes_the_page_and_its_citations(make_site) -> None:
    site = built(make_site)
    data = json_ld(site.html("countries/japan/index.html"))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "Article"
    assert data["headline"] == "Japan"
    assert data["url"] == f"{BASE}countries/japan/"
    assert data["inLanguage"] == "en"
    assert data["publisher"] == {"@type": "Organization", "name": "Test Desk", "url": BASE}
    assert data["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert "dateModified" not in data  # the narrative gives no `updated:`
    assert data["citation"] == [
        {
            "@type": "CreativeWork",
            "name": "Japan to ban Huawei, ZTE from govt contracts",
            "publisher": {"@type": "Organization", "name": "Reuters"},
            "datePublished": "2018-12-07",
            "url": "https://example.com/reuters",
        },
        {
            "@type": "CreativeWork",
            "publisher": {"@type": "Organization", "name": "Kyodo"},
            "datePublished": "2018-12-10",
        },
    ]
    home = json_ld(site.html("index.html"))
    assert home["@type"] == "WebSite"
    assert home["url"] == BASE
    about = json_ld(site.html("about/index.html"))
    assert "dateModified" not in about
    assert [c["datePublished"] for c in about["citation"]] == ["2018-12", "2018-12-07"]


def test_yaml_text_cannot_break_out_of_script_or_attributes(make_site) -> None:
    quoted = json.dumps(EVIL)  # a valid YAML double-quoted scalar
    sources = BASE_FILES["content/sources.yaml"].replace(
        "title: Japan to ban Huawei, ZTE from govt contracts", f"title: {quoted}"
    )
    about = BASE_FILES["content/about.md"].replace(
        "title: How we source this", f"title: {quoted}\n        summary: {quoted}"
    )
    site = built(make_site, {"content/sources.yaml": sources, "content/about.md": about})
    html = output(site, "about/index.html")
    assert "</script><script>" not in html
    assert "<!-- x" not in html
    page = site.html("about/index.html")
    assert [s.get("type") for s in page.find_all("script")] == ["application/ld+json"]
    data = json_ld(page)
    assert data["headline"] == EVIL
    assert data["description"] == EVIL
    assert EVIL in [c.get("name") for c in data["citation"]]
    for name in ("description", "og:title", "og:description"):
        assert meta(page, name) == EVIL
    # the other outputs carry it as data, still well-formed
    ET.fromstring((site.root / "site/feed.xml").read_bytes())
    assert script_json({"a": "</script>&"}) == '{"a": "\\u003c/script\\u003e\\u0026"}'


# Cite this page ------------------------------------------------------------------------


def test_cite_block_has_plain_text_and_bibtex(make_site) -> None:
    site = built(make_site)
    page = site.html("countries/japan/index.html")
    block = page.select_one("footer .cite-page")
    assert block is not None
    text = " ".join(block.p.get_text().split())
    assert (
        text == "Cite this page: Test Desk, “Japan”, Test explainer, " + f"{BASE}countries/japan/."
    )
    pre = block.select_one("details pre")
    assert pre is not None
    assert pre.get_text() == (
        "@misc{example-org-sub-path-countries-japan,\n"
        "  title = {{Japan}},\n"
        "  author = {{Test Desk}},\n"
        "  organization = {Test Desk},\n"
        f"  howpublished = {{\\url{{{BASE}countries/japan/}}}},\n"
        "  note = {Test explainer}\n"
        "}"
    )
    home = site.html("index.html").select_one("footer .cite-page")
    assert " ".join(home.p.get_text().split()).endswith(", last updated 10 December 2018.")
    home_bibtex = home.select_one("details pre").get_text()
    assert "  year = {2018},\n  month = dec,\n  note = {Last updated 2018-12-10}\n" in home_bibtex
    about = site.html("about/index.html").select_one("footer .cite-page pre").get_text()
    assert "year" not in about and "month" not in about
    assert "note = {Test explainer}" in about


def test_bibtex_escapes_special_characters(make_site) -> None:
    title = r"50% of R&D {costs} $5 #1 snake_case \path ~x ^y"
    about = BASE_FILES["content/about.md"].replace(
        "title: How we source this", f"title: {json.dumps(title)}"
    )
    site = built(make_site, {"content/about.md": about})
    pre = site.html("about/index.html").select_one("footer .cite-page pre").get_text()
    escaped = (
        r"50\% of R\&D \{costs\} \$5 \#1 snake\_case \textbackslash{}path "
        r"\textasciitilde{}x \textasciicircum{}y"
    )
    assert f"  title = {{{{{escaped}}}}},\n" in pre
    assert bibtex_escape("a\n  b") == "a b"
    assert bibtex_url("https://x.org/a{b}%20#c") == r"https://x.org/a\%7Bb\%7D\%20\#c"
    assert bibtex_key("https://Example.org/a_b/") == "example-org-a-b"


def test_a_country_page_shows_only_the_update_date_its_writer_gave(make_site) -> None:
    site = built(make_site)
    japan = site.html("countries/japan/index.html")
    footer = " ".join(japan.select_one("footer").get_text().split())
    assert "updated" not in footer.lower()
    assert "dateModified" not in json_ld(japan)
    status = " ".join(japan.select_one(".country-status").get_text().split())
    assert status == "Status: Planned as of 10 December 2018"
    rows = site.html("index.html").select("table.status-table tbody tr")
    assert [" ".join(r.select_one('td[data-label="Status"]').get_text().split()) for r in rows] == [
        "Opposes restrictions as of 7 December 2018",
        "Planned as of 10 December 2018",
    ]
    related = japan.select_one("#related ~ ul li")
    assert (
        " ".join(related.get_text().split()) == "China: Opposes restrictions as of 7 December 2018"
    )


def test_a_country_page_shows_the_update_date_its_writer_gave(make_site) -> None:
    narrative = BASE_FILES["content/countries/japan.md"].replace(
        "title: Japan", "title: Japan\n        updated: 2018-12-12"
    )
    site = built(make_site, {"content/countries/japan.md": narrative})
    japan = site.html("countries/japan/index.html")
    footer = japan.select_one("footer p time")
    assert footer is not None and footer["datetime"] == "2018-12-12"
    assert json_ld(japan)["dateModified"] == "2018-12-12"
    cite = " ".join(japan.select_one("footer .cite-page p").get_text().split())
    assert cite.endswith(", last updated 12 December 2018.")
    assert (
        "note = {Test explainer. Last updated 2018-12-12}"
        in japan.select_one("footer .cite-page pre").get_text()
    )
    root = ET.fromstring((site.root / "site/feed.xml").read_bytes())
    assert [e.findtext(f"{ATOM}id") for e in root.iter(f"{ATOM}entry")] == [
        f"{BASE}countries/japan/",
        BASE,
    ]
    sitemap = ET.fromstring((site.root / "site/sitemap.xml").read_bytes())
    lastmod = {
        u.findtext(f"{SITEMAP}loc"): u.findtext(f"{SITEMAP}lastmod")
        for u in sitemap.iter(f"{SITEMAP}url")
    }
    assert lastmod[f"{BASE}countries/japan/"] == "2018-12-12"
    assert lastmod[f"{BASE}countries/china/"] is None
