"""Charts drawn at build time as inline SVG: a tile map of statuses and a timeline chart.

Both are pure functions of the immutable site and the page's `url` helper, registered as
Jinja globals (see render.py), so a template writes `{{ status_map(site, url) }}`. They
need no JavaScript and no geography data, and they add no facts: the status table and
the timeline list on the same pages stay the text alternatives, and every mark links to
the page (or the table row) that gives its sources.

Layout is responsive without a viewBox. Horizontal positions are percentages of the
drawing's width and text sizes stay in CSS pixels, so the drawing stretches to fit any
column from a 320 px phone to a desktop while its labels stay readable. Colours come
from classes styled in static/style.css, which switch with prefers-color-scheme; every
colour also has a text label, so nothing is told by colour alone.

Every text from the content (names, codes, labels, actions) goes through
`markupsafe.escape`; numbers are formatted here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from markupsafe import Markup, escape

from .dates import PartialDate
from .model import Country, Measure, Site
from .schema import STATUSES

Url = Callable[[str], str]

# A rough world tile grid: one cell per country, (column, row), keyed by ISO 3166-1
# alpha-2 code. Each row is written as the map reads, ".." being sea; only relative
# positions matter, because the map keeps only the rows and columns it uses.
_WORLD_ROWS = (
    ".. .. .. .. .. GL .. .. IS .. .. NO SE FI",
    ".. .. CA .. .. .. .. .. IE GB .. DK .. EE .. RU",
    ".. .. US .. .. .. .. .. .. .. NL DE PL LV BY .. .. KZ KG MN",
    ".. MX .. CU .. .. .. .. .. FR BE CZ SK LT UA .. GE AZ UZ CN .. KP JP",
    ".. GT .. JM DO .. .. .. PT ES CH AT HU RO MD .. AM TM TJ .. .. KR",
    ".. SV HN .. .. .. .. .. .. .. IT SI HR RS BG TR SY IQ IR AF NP HK TW",
    ".. .. NI .. .. .. .. .. .. .. MT BA ME MK GR CY LB JO KW PK IN BD",
    ".. .. CR PA .. .. .. .. .. .. .. .. AL .. .. IL PS SA QA AE LK MM TH LA VN PH",
    ".. .. .. CO VE GY SR .. MA DZ TN LY EG .. .. .. .. YE OM .. .. .. KH MY",
    ".. .. EC PE BR .. .. .. MR ML NE TD SD ER .. .. .. .. .. .. .. .. SG ID",
    ".. .. .. BO PY .. .. .. SN BF NG CF SS ET SO .. .. .. .. .. .. .. .. TL PG",
    ".. .. .. CL AR UY .. .. .. CI GH CM CD UG KE .. .. .. .. .. .. .. AU .. .. FJ",
    ".. .. .. .. .. .. .. .. .. .. AO ZM MW TZ .. .. .. .. .. .. .. .. .. .. NZ",
    ".. .. .. .. .. .. .. .. .. .. NA BW ZW MZ MG",
    ".. .. .. .. .. .. .. .. .. .. .. ZA",
)


def _parse_grid(rows: Iterable[str]) -> dict[str, tuple[int, int]]:
    """The (column, row) of every code in the picture above; a code may appear once."""
    grid: dict[str, tuple[int, int]] = {}
    for row, line in enumerate(rows):
        for column, cell in enumerate(line.split()):
            if cell != "..":
                if cell in grid:
                    raise ValueError(f"{cell} appears twice in the tile grid")
                grid[cell] = (column, row)
    return grid


GRID_POSITIONS: Mapping[str, tuple[int, int]] = _parse_grid(_WORLD_ROWS)

# What a tile says about its status: (narrow, wide). Narrow tiles on phones hold about
# six characters; the legend beside the map spells every label out in full.
TILE_LABELS: Mapping[str, tuple[str, str]] = {
    "ban": ("Ban", "Ban"),
    "restriction": ("Restr.", "Restriction"),
    "planned": ("Plan", "Planned"),
    "urged": ("Urged", "Urged"),
    "under-review": ("Review", "Under review"),
    "no-restriction": ("None", "No restriction"),
    "opposes": ("Opp.", "Opposes"),
}

TILE_HEIGHT = 50  # px
TILE_GAP_Y = 6  # px
TILE_GAP_X = 1.2  # percent of the map's width
WIDE_LABELS_MAX_COLUMNS = 7  # beyond this, even a desktop tile is too narrow


def _num(value: float) -> str:
    """A compact, deterministic number for an SVG attribute."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _pct(value: float) -> str:
    return f"{_num(value)}%"


def tile_labels(status: str) -> tuple[str, str]:
    """A status's tile labels; a status added to the vocabulary later still gets some."""
    if status in TILE_LABELS:
        return TILE_LABELS[status]
    label = STATUSES.get(status, status)
    return (label[:6], label)


@dataclass(frozen=True)
class Placement:
    """Where each tile goes on the map's grid, keyed by the caller's key."""

    cells: Mapping[str, tuple[int, int]]  # (column, row)
    columns: int
    rows: int
    unplaced: tuple[str, ...]  # keys put in the extra row(s) at the bottom


def place_tiles(tiles: Iterable[tuple[str, str]]) -> Placement:
    """Each tile's (column, row) on a compact grid, and the grid's size.

    `tiles` are (key, ISO code) pairs. Known codes keep their relative geographic order,
    with the rows and columns nobody uses removed, so a handful of countries makes a
    small map rather than a sea of empty cells. A code missing from GRID_POSITIONS (or a
    second country on a taken cell) never breaks the build: it goes in an extra row
    below, left to right.
    """
    known: dict[str, tuple[int, int]] = {}
    unplaced: list[str] = []
    taken: set[tuple[int, int]] = set()
    for key, code in tiles:
        cell = GRID_POSITIONS.get(code.upper())
        if cell is None or cell in taken:
            unplaced.append(key)
        else:
            known[key] = cell
            taken.add(cell)
    columns = {c: i for i, c in enumerate(sorted({c for c, _ in known.values()}))}
    rows = {r: i for i, r in enumerate(sorted({r for _, r in known.values()}))}
    placed = {key: (columns[c], rows[r]) for key, (c, r) in known.items()}
    width = max(len(columns), min(len(unplaced), 6), 1)
    for index, key in enumerate(unplaced):
        placed[key] = (index % width, len(rows) + index // width)
    height = len(rows) + (len(unplaced) + width - 1) // width
    return Placement(placed, width, height, tuple(unplaced))


def status_map(site: Site, url: Url, *, id_prefix: str = "vis-map") -> Markup:
    """A tile map of every country, coloured and labelled by status, each tile a link.

    The figure is a visual summary of the status table on the same page: its <desc>
    says so, the legend spells out the labels, and the links duplicate the table's, so
    the SVG is a group of links (not role="img", which would hide them from assistive
    technology while leaving them in the tab order).
    """
    countries = site.countries
    if not countries:
        return Markup("")
    placement = place_tiles((c.slug, c.code) for c in countries)
    columns, rows = placement.columns, placement.rows
    wide = columns <= WIDE_LABELS_MAX_COLUMNS
    height = rows * (TILE_HEIGHT + TILE_GAP_Y) - TILE_GAP_Y
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    desc = (
        "One tile per country, placed roughly where the country lies and labelled with "
        "its ISO code and status; each tile links to the country's page. The table "
        "“Every country covered, its status and its most recent measure” on this page "
        "gives the same information as text."
    )
    if placement.unplaced:
        desc += " Countries without a known map position are in the bottom row."
    parts = [
        f'<figure class="vis vis-map">'
        f'<svg class="tile-map" width="100%" height="{height}" role="group" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}">'
        f'<title id="{escape(title_id)}">Map: the status of each country covered</title>'
        f'<desc id="{escape(desc_id)}">{escape(desc)}</desc>'
    ]
    taken = set(placement.cells.values())
    for row in range(rows):
        for column in range(columns):
            if (column, row) not in taken:
                parts.append(_empty_cell(column, row, columns))
    for country in countries:
        column, row = placement.cells[country.slug]
        parts.append(_tile(country, column, row, columns, wide, url))
    parts.append("</svg>")
    parts.append(_map_legend(countries, wide))
    parts.append("</figure>")
    return Markup("".join(parts))


def _empty_cell(column: int, row: int, columns: int) -> str:
    """A faint cell where no covered country lies, so the tiles read as a map's grid."""
    pitch = 100 / columns
    return (
        f'<rect class="tile-empty" x="{_pct(column * pitch + TILE_GAP_X / 2)}" '
        f'y="{row * (TILE_HEIGHT + TILE_GAP_Y)}" width="{_pct(pitch - TILE_GAP_X)}" '
        f'height="{TILE_HEIGHT}" rx="4"/>'
    )


def _tile(country: Country, column: int, row: int, columns: int, wide: bool, url: Url) -> str:
    """One tile: a link around a coloured rectangle, the code and the status label."""
    pitch = 100 / columns
    left = column * pitch + TILE_GAP_X / 2
    centre = (column + 0.5) * pitch
    top = row * (TILE_HEIGHT + TILE_GAP_Y)
    short, long = tile_labels(country.status)
    status_class = f"tile-{country.status}"
    as_of = PartialDate(country.as_of.year, country.as_of.month, country.as_of.day).display
    label = f"{country.name}: {country.status_label} as of {as_of}"
    texts = [
        f'<text class="tile-code" x="{_pct(centre)}" y="{top + 22}">{escape(country.code)}</text>'
    ]
    if wide and long != short:
        texts.append(
            f'<text class="tile-status tile-short" x="{_pct(centre)}" y="{top + 39}">'
            f"{escape(short)}</text>"
            f'<text class="tile-status tile-long" x="{_pct(centre)}" y="{top + 39}">'
            f"{escape(long)}</text>"
        )
    else:
        texts.append(
            f'<text class="tile-status" x="{_pct(centre)}" y="{top + 39}">{escape(short)}</text>'
        )
    return (
        f'<a class="tile {escape(status_class)}" href="{escape(url(country.url))}">'
        f"<title>{escape(label)}</title>"
        f'<rect x="{_pct(left)}" y="{top}" width="{_pct(pitch - TILE_GAP_X)}" '
        f'height="{TILE_HEIGHT}" rx="4"/>' + "".join(texts) + "</a>"
    )


def _map_legend(countries: Iterable[Country], wide: bool) -> str:
    """The statuses shown on the map, in vocabulary order: a swatch and the full label.

    The swatch carries the short label the tiles show on phones; where the tiles spell
    the label out (wide screens), the swatch is plain colour, as the text beside it is.
    """
    shown = {c.status for c in countries}
    order = [s for s in STATUSES if s in shown] + sorted(shown - set(STATUSES))
    inner_open, inner_close = ('<span class="tile-short">', "</span>") if wide else ("", "")
    items = []
    for status in order:
        short, _ = tile_labels(status)
        label = STATUSES.get(status, status)
        items.append(
            f'<li><span class="swatch tile-{escape(status)}" aria-hidden="true">'
            f"{inner_open}{escape(short)}{inner_close}</span> {escape(label)}</li>"
        )
    return (
        '<figcaption><ul class="vis-key" aria-label="Map legend">'
        + "".join(items)
        + "</ul></figcaption>"
    )


# The timeline chart.

CHART_PAD = 3.0  # percent of the width kept clear at each end
NARROW_WIDTH = 288  # px: the drawing's width on a 320 px phone; marks never overlap there
MARK_RADIUS = 5.5
MARK_GAP = 3  # px between neighbouring marks in a lane
AXIS_HEIGHT = 22
LABEL_HEIGHT = 18
LANE_HEIGHT = 17
ROW_PAD = 8


@dataclass(frozen=True)
class _Mark:
    """A measure placed on the axis: where its period starts and ends, and its lane."""

    measure: Measure
    start: float  # fraction of the axis
    end: float  # the period's end: the same as start for a day
    lane: int


def period(date: PartialDate) -> tuple[dt.date, dt.date]:
    """The first day of the period a date names and the first day after it."""
    if date.day:
        first = dt.date(date.year, date.month, date.day)
        return first, first
    if date.month:
        first = dt.date(date.year, date.month, 1)
        after = dt.date(date.year + date.month // 12, date.month % 12 + 1, 1)
        return first, after
    return dt.date(date.year, 1, 1), dt.date(date.year + 1, 1, 1)


def year_range(measures: Iterable[Measure]) -> tuple[int, int]:
    """Whole years covering every measure's period: from 1 January of the first year to
    1 January of the year after the last."""
    spans = [period(m.date) for m in measures]
    first = min(start for start, _ in spans).year
    last = max(max(start, after - dt.timedelta(days=1)) for start, after in spans).year
    return first, last + 1


def tick_step(years: int) -> int:
    """Label every year if a year is wide enough on a phone, else every 2, 5, 10... years."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500):
        if NARROW_WIDTH * step / years >= 36:
            return step
    return 1000


def _x(fraction: float) -> float:
    """A fraction of the time axis as a percentage of the drawing's width."""
    return CHART_PAD + fraction * (100 - 2 * CHART_PAD)


def _lanes(spans: list[tuple[Measure, float, float]]) -> list[_Mark]:
    """Stack marks that would overlap on a phone into lanes, keeping their x exact."""
    scale = NARROW_WIDTH / 100
    lane_ends: list[float] = []
    marks = []
    for measure, start, end in spans:
        left = _x(start) * scale - MARK_RADIUS - MARK_GAP
        right = _x(end) * scale + MARK_RADIUS
        lane = next((i for i, e in enumerate(lane_ends) if e <= left), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(right)
        else:
            lane_ends[lane] = right
        marks.append(_Mark(measure, start, end, lane))
    return marks


def timeline_chart(site: Site, url: Url, *, id_prefix: str = "vis-chart") -> Markup:
    """Every measure on a time axis, one row per country, each mark a link to the measure.

    Dates are only as precise as the reporting: a month or a year is drawn as a hollow
    mark at the start of the period with a dashed line across it, never as an invented
    day. The list of measures below the chart is its text alternative.
    """
    measures = site.measures
    if not measures:
        return Markup("")
    first_year, end_year = year_range(measures)
    origin = dt.date(first_year, 1, 1).toordinal()
    length = dt.date(end_year, 1, 1).toordinal() - origin

    def fraction(day: dt.date) -> float:
        return (day.toordinal() - origin) / length

    by_country: dict[str, list[Measure]] = {}
    for measure in measures:
        by_country.setdefault(measure.country, []).append(measure)
    order = [c.slug for c in site.countries if c.slug in by_country]
    order += sorted(set(by_country) - set(order))

    rows: list[str] = []
    top = AXIS_HEIGHT
    for slug in order:
        country = site.country_by_slug.get(slug)
        name = country.name if country else slug
        spans = []
        for measure in by_country[slug]:
            start, after = period(measure.date)
            spans.append((measure, fraction(start), fraction(after)))
        marks = _lanes(spans)
        lanes = max(m.lane for m in marks) + 1
        bottom = top + LABEL_HEIGHT + lanes * LANE_HEIGHT + ROW_PAD
        row = [
            f'<line class="chart-rule" x1="0" x2="100%" y1="{top}" y2="{top}"/>'
            f'<text class="chart-label" x="0" y="{top + 14}">{escape(name)}</text>'
        ]
        href = url(country.url) if country else ""
        for mark in marks:
            row.append(_chart_mark(mark, name, href, top + LABEL_HEIGHT + 8))
        rows.append("".join(row))
        top = bottom
    height = top

    step = tick_step(end_year - first_year)
    axis = []
    for year in range(first_year, end_year + 1):
        if year % step and year not in (first_year, end_year):
            continue  # a gridline only where there is a label, and at both ends
        x = _x(fraction(dt.date(year, 1, 1)))
        axis.append(
            f'<line class="chart-grid" x1="{_pct(x)}" x2="{_pct(x)}" y1="16" y2="{height}"/>'
        )
        if year == end_year or year % step:
            continue
        if step == 1:
            middle = _x(fraction(dt.date(year, 7, 2)))
            axis.append(
                f'<text class="chart-year" x="{_pct(middle)}" y="13" text-anchor="middle">'
                f"{year}</text>"
            )
        else:
            axis.append(f'<text class="chart-year" x="{_pct(x)}" y="13" dx="3">{year}</text>')

    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    desc = (
        f"Each measure from {first_year} to {end_year - 1} as a mark on a time axis, one "
        "row per country; each mark links to the measure on the country's page. A "
        "hollow mark with a dashed line is a date known only to the month or year, "
        "drawn at the start of that period. The list below gives every measure as text."
    )
    return Markup(
        '<figure class="vis vis-chart">'
        f'<svg class="timeline-chart" width="100%" height="{height}" role="group" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}">'
        f'<title id="{escape(title_id)}">Chart: the measures by date</title>'
        f'<desc id="{escape(desc_id)}">{escape(desc)}</desc>'
        + "".join(axis)
        + "".join(rows)
        + f'<line class="chart-rule" x1="0" x2="100%" y1="{height}" y2="{height}"/>'
        + "</svg>"
        '<figcaption><ul class="vis-key" aria-label="Chart legend">'
        '<li><svg class="key-mark" width="14" height="14" aria-hidden="true">'
        '<circle cx="7" cy="7" r="5"/></svg> Exact day</li>'
        '<li><svg class="key-mark approx" width="30" height="14" aria-hidden="true">'
        '<line x1="7" x2="30" y1="7" y2="7"/><circle cx="7" cy="7" r="5"/></svg> '
        "Month or year only, drawn at its start</li>"
        "</ul></figcaption></figure>"
    )


def _chart_mark(mark: _Mark, name: str, href: str, lane_top: int) -> str:
    """One measure: a link around its mark (and dashed period line when approximate)."""
    measure = mark.measure
    y = lane_top + mark.lane * LANE_HEIGHT
    x = _x(mark.start)
    approximate = measure.date.precision != "day"
    when = measure.date.display
    if approximate:
        when += f" ({measure.date.precision} only)"
    label = f"{name}, {when}: {measure.actor}: {measure.action}"
    span = ""
    if approximate:
        span = f'<line x1="{_pct(x)}" x2="{_pct(_x(mark.end))}" y1="{y}" y2="{y}"/>'
    classes = "mark mark-approx" if approximate else "mark"
    return (
        f'<a class="{classes}" href="{escape(href)}#{escape(measure.anchor)}">'
        f"<title>{escape(label)}</title>{span}"
        f'<circle cx="{_pct(x)}" cy="{y}" r="{_num(MARK_RADIUS)}"/></a>'
    )
