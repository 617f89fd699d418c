"""The build-time SVG visuals: the status tile map and the timeline chart.

Built through the real CLI on small sites, and asserted on the parsed HTML: every tile
and mark links where it should, says its status or precision in text, carries a title
and description, and never lets text from the YAML become markup.
"""

from __future__ import annotations

import datetime as dt
import itertools

from bs4 import BeautifulSoup, Tag
from conftest import BASE_FILES, SiteDir

from sitegen.dates import PartialDate
from sitegen.schema import STATUSES
from sitegen.visuals import (
    GRID_POSITIONS,
    TILE_LABELS,
    period,
    place_tiles,
    tick_step,
    year_range,
)

TIMELINE_PAGE = {
    "content/timeline.md": """\
        ---
        title: Timeline
        template: timeline.html
        ---
        Every measure, in date order.
        """
}


def built(make_site, files: dict[str, str | None] | None = None) -> SiteDir:
    site: SiteDir = make_site({**TIMELINE_PAGE, **(files or {})})
    outcome = site.build()
    assert outcome.code == 0, outcome.err
    return site


def the(soup: BeautifulSoup | Tag, selector: str) -> Tag:
    found = soup.select(selector)
    assert len(found) == 1, f"{len(found)} matches for {selector}"
    return found[0]


def tiles(page: BeautifulSoup) -> list[Tag]:
    return the(page, "figure.vis-map svg.tile-map").select("a.tile")


def assert_labelled(svg: Tag) -> None:
    """role group, and aria-labelledby naming the svg's own <title> and <desc>."""
    assert svg["role"] == "group"
    title_id, desc_id = svg["aria-labelledby"].split()
    title = the(svg, f"#{title_id}")
    desc = the(svg, f"#{desc_id}")
    assert (title.name, desc.name) == ("title", "desc")
    assert title.parent is svg and desc.parent is svg
    assert title.get_text(strip=True) and desc.get_text(strip=True)


def test_map_has_one_tile_per_country_linking_to_its_page(make_site) -> None:
    site = built(make_site)
    home = sorted(a["href"] for a in tiles(site.html("index.html")))
    assert home == ["countries/china/index.html", "countries/japan/index.html"]
    index = sorted(a["href"] for a in tiles(site.html("countries/index.html")))
    assert index == ["china/index.html", "japan/index.html"]


def test_each_tile_says_its_code_and_status_in_text(make_site) -> None:
    site = built(make_site)
    found = {}
    for tile in tiles(site.html("index.html")):
        code = the(tile, ".tile-code").get_text()
        statuses = [t.get_text() for t in tile.select(".tile-status")]
        found[code] = (tile.title.get_text(), statuses, tile["class"])
    assert found == {
        "CN": (
            "China: Opposes restrictions as of 7 December 2018",
            list(dict.fromkeys(TILE_LABELS["opposes"])),
            ["tile", "tile-opposes"],
        ),
        "JP": (
            "Japan: Planned as of 10 December 2018",
            list(dict.fromkeys(TILE_LABELS["planned"])),
            ["tile", "tile-planned"],
        ),
    }


def test_map_legend_spells_out_each_status_shown(make_site) -> None:
    site = built(make_site)
    legend = the(site.html("index.html"), "figure.vis-map figcaption .vis-key")
    items = [" ".join(li.get_text().split()) for li in legend.select("li")]
    assert items == ["Plan Planned", "Opp. Opposes restrictions"]


def test_map_and_chart_have_title_and_desc_named_by_aria_labelledby(make_site) -> None:
    site = built(make_site)
    home_map = the(site.html("index.html"), "svg.tile-map")
    assert_labelled(home_map)
    assert "table" in home_map.desc.get_text()  # points at its text alternative
    chart = the(site.html("timeline/index.html"), "svg.timeline-chart")
    assert_labelled(chart)
    assert "list below" in chart.desc.get_text()
    ids = [el["id"] for el in site.html("index.html").find_all(id=True)]
    assert len(ids) == len(set(ids))


EVIL_NAME = "Evil <script>alert(\"x\")</script> & 'Land'"
EVIL_ACTION = 'Said <img src=x onerror=alert(1)> "ban" & <b>more</b>'


def test_text_from_yaml_is_escaped_not_injected(make_site) -> None:
    site = built(
        make_site,
        {
            "content/countries/evil.yaml": f"""\
                name: '{EVIL_NAME.replace("'", "''")}'
                code: FR
                summary: A hostile name.
                status: ban
                as_of: 2018-12-10
                measures:
                  - id: evil-act
                    date: 2017
                    actor: 'Actor "quoted" <i>'
                    action: '{EVIL_ACTION}'
                    scope: Everything
                    vendors: [huawei]
                    confidence: thought
                    sources: [reuters-japan]
                """
        },
    )
    home = site.html("index.html")
    tile = next(t for t in tiles(home) if the(t, ".tile-code").get_text() == "FR")
    assert tile.title.get_text() == f"{EVIL_NAME}: Ban as of 10 December 2018"
    chart = the(site.html("timeline/index.html"), "figure.vis-chart")
    mark = next(a for a in chart.select("a.mark") if "evil" in a["href"])
    assert (
        mark.title.get_text() == f'{EVIL_NAME}, 2017 (year only): Actor "quoted" <i>: {EVIL_ACTION}'
    )
    label = next(t for t in chart.select(".chart-label") if "Evil" in t.get_text())
    assert label.get_text() == EVIL_NAME
    for figure in (the(home, "figure.vis-map"), chart):
        assert not figure.select("script, img, b, i")
        assert all(not attr.startswith("on") for el in figure.find_all() for attr in el.attrs)


def test_unknown_iso_code_still_builds_in_a_row_of_its_own(make_site) -> None:
    assert "XZ" not in GRID_POSITIONS
    site = built(
        make_site,
        {
            "content/countries/nowhere.yaml": """\
                name: Nowhere
                code: XZ
                summary: Not on any map.
                status: urged
                as_of: 2018-12-10
                measures:
                  - id: ban-urged
                    date: 2018-12-01
                    actor: Someone
                    action: Urged a ban
                    scope: All
                    vendors: [zte]
                    confidence: reported
                    sources: [reuters-japan]
                """
        },
    )
    page = site.html("index.html")
    by_code = {the(t, ".tile-code").get_text(): t for t in tiles(page)}
    assert sorted(by_code) == ["CN", "JP", "XZ"]
    assert by_code["XZ"]["href"] == "countries/nowhere/index.html"
    rows = {code: int(the(tile, "rect")["y"]) for code, tile in by_code.items()}
    assert rows["XZ"] > max(rows["CN"], rows["JP"])
    assert "bottom row" in the(page, "svg.tile-map desc").get_text()


def test_place_tiles_keeps_geographic_order_and_never_fails() -> None:
    placement = place_tiles(
        [("us", "US"), ("gb", "GB"), ("jp", "JP"), ("au", "AU"), ("zz", "ZZ"), ("gb2", "GB")]
    )
    cells = placement.cells
    assert cells["us"][0] < cells["gb"][0] < cells["jp"][0]  # west to east
    assert cells["gb"][1] < cells["jp"][1] < cells["au"][1]  # north to south
    assert placement.unplaced == ("zz", "gb2")
    assert len(set(cells.values())) == len(cells)
    assert all(0 <= c < placement.columns and 0 <= r < placement.rows for c, r in cells.values())
    assert {cells["zz"][1], cells["gb2"][1]} == {placement.rows - 1}
    only_unknown = place_tiles([("a", "XA"), ("b", "XB")])
    assert (only_unknown.columns, only_unknown.rows) == (2, 1)


def test_every_status_has_tile_labels() -> None:
    assert set(TILE_LABELS) == set(STATUSES)


def test_chart_has_one_linked_mark_per_measure_at_its_anchor(make_site) -> None:
    site = built(make_site)
    chart = the(site.html("timeline/index.html"), "figure.vis-chart svg.timeline-chart")
    hrefs = [a["href"] for a in chart.select("a.mark")]
    assert sorted(hrefs) == [
        "../countries/china/index.html#measure-concern",
        "../countries/japan/index.html#measure-exclusion-reported",
        "../countries/japan/index.html#measure-policy-agreed",
    ]
    for href in hrefs:
        path, fragment = href.removeprefix("../").split("#")
        assert site.html(path).find(id=fragment) is not None
    assert [t.get_text() for t in chart.select(".chart-label")] == ["China", "Japan"]
    timeline = site.html("timeline/index.html")
    chart_position = str(timeline).index("timeline-chart")
    assert chart_position < str(timeline).index('<ol class="timeline"')


def test_chart_marks_approximate_dates(make_site) -> None:
    site = built(make_site)
    chart = the(site.html("timeline/index.html"), "svg.timeline-chart")
    marks = {a["href"].split("/")[-2] + a["href"].split("#")[1]: a for a in chart.select("a.mark")}
    approx = marks["japanmeasure-exclusion-reported"]  # December 2018: a month
    assert "mark-approx" in approx["class"]
    assert "(month only)" in approx.title.get_text()
    assert approx.line is not None  # a dashed line across the month
    for key in ("japanmeasure-policy-agreed", "chinameasure-concern"):  # exact days
        assert "mark-approx" not in marks[key]["class"]
        assert marks[key].line is None
    legend = the(site.html("timeline/index.html"), "figure.vis-chart figcaption").get_text()
    assert "Month or year only" in legend


def test_marks_that_would_overlap_on_a_phone_are_stacked(make_site) -> None:
    japan = BASE_FILES["content/countries/japan.yaml"].replace("2018-12-10", "2018-12-01")
    site = built(make_site, {"content/countries/japan.yaml": japan})
    chart = the(site.html("timeline/index.html"), "svg.timeline-chart")
    japan_marks = [a.circle for a in chart.select("a.mark") if "japan" in a["href"]]
    assert len({(c["cx"], c["cy"]) for c in japan_marks}) == 2
    assert len({c["cy"] for c in japan_marks}) == 2


def test_chart_spans_whole_years_and_labels_them(make_site) -> None:
    china = BASE_FILES["content/countries/china.yaml"].replace("date: 2018-12-07", "date: 2015")
    site = built(make_site, {"content/countries/china.yaml": china})
    chart = the(site.html("timeline/index.html"), "svg.timeline-chart")
    assert [t.get_text() for t in chart.select(".chart-year")] == [
        "2015",
        "2016",
        "2017",
        "2018",
    ]
    assert "from 2015 to 2018" in chart.desc.get_text()


def test_periods_start_at_the_start_and_end_after_the_end() -> None:
    assert period(PartialDate(2018, 12, 10)) == (dt.date(2018, 12, 10), dt.date(2018, 12, 10))
    assert period(PartialDate(2018, 12)) == (dt.date(2018, 12, 1), dt.date(2019, 1, 1))
    assert period(PartialDate(2012)) == (dt.date(2012, 1, 1), dt.date(2013, 1, 1))


def test_year_range_and_ticks_handle_any_span() -> None:
    class M:
        def __init__(self, date: PartialDate) -> None:
            self.date = date

    assert year_range([M(PartialDate(2018, 12, 31))]) == (2018, 2019)
    assert year_range([M(PartialDate(2012)), M(PartialDate(2018, 12))]) == (2012, 2019)
    assert tick_step(7) == 1
    assert tick_step(30) == 5
    assert tick_step(300) >= 50


def test_a_long_range_labels_every_few_years_only(make_site) -> None:
    china = BASE_FILES["content/countries/china.yaml"].replace("date: 2018-12-07", "date: 1950")
    site = built(make_site, {"content/countries/china.yaml": china})
    chart = the(site.html("timeline/index.html"), "svg.timeline-chart")
    years = [int(t.get_text()) for t in chart.select(".chart-year")]
    assert years[0] == 1950 and years[-1] <= 2018
    assert all(b - a == 10 for a, b in itertools.pairwise(years))
    assert len(chart.select(".chart-grid")) == len(years) + 1  # and the end of the axis
