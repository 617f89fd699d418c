"""Declared fields of every input, and the checks that turn raw YAML into typed values.

No I/O: takes a YamlDoc, returns a dict of converted values, and reports each problem at
the line of the offending key or value, with the allowed values or form as the hint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .dates import PartialDate
from .errors import Report
from .sanitise import RAW_HTML_MODES
from .yamldoc import KeyPath, YamlDoc

STATUSES: Mapping[str, str] = {
    "ban": "Ban",
    "restriction": "Restriction",
    "planned": "Planned",
    "urged": "Urged",
    "under-review": "Under review",
    "no-restriction": "No restriction",
    "opposes": "Opposes restrictions",
}
CONFIDENCES: Mapping[str, str] = {
    "confirmed": "Confirmed",
    "reported": "Reported",
    "thought": "Thought",
}
STATUS_MEANINGS: Mapping[str, str] = {
    "ban": "A rule in force excludes the vendors from the stated scope.",
    "restriction": "A narrower limit: part of a network, a procurement channel, a sales outlet.",
    "planned": "A government has decided on, or is reported to be preparing, a restriction "
    "not yet in force.",
    "urged": "Officials or others have called for a restriction; no decision has been made.",
    "under-review": "A formal review is under way whose outcome may restrict the vendors.",
    "no-restriction": "No restriction is in place.",
    "opposes": "The government has said it opposes restricting or excluding the vendors.",
}
CONFIDENCE_MEANINGS: Mapping[str, str] = {
    "confirmed": "An official statement, a law or the company concerned confirms it.",
    "reported": "News reports say so, citing sources, but it is not officially confirmed.",
    "thought": "The reporting says it is thought or believed, without a named source.",
}
VENDORS: Mapping[str, str] = {"huawei": "Huawei", "zte": "ZTE"}
SOURCE_KINDS: Mapping[str, str] = {
    "news": "News report",
    "official": "Official statement",
    "company": "Company statement",
    "law": "Law",
    "reference": "Reference work",
}
# The kinds whose works always have a title, and what it is called: for these a source
# without one says its title is not confirmed. A statement or a directive may have none.
TITLED_KINDS: Mapping[str, str] = {"news": "headline", "law": "title", "reference": "title"}

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Characters HTML and XML cannot carry (YAML's escapes, like "\0", can still write them).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
RESERVED_SLUGS = frozenset({"index"})


class Invalid(Exception):
    """A value that does not fit its field: the message and what to write instead.

    A message that quotes the value (made by `quoting`) can be said again with the value
    as its writer wrote it (`said`), which only the caller knows: a converter sees True,
    1.5 or 31 where the writer wrote TRUE, 1.50 or 0x1F.
    """

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint
        self._rest: str | None = None  # what follows the quoted value, in `quoting`'s
        self._before = ""  # what comes before it
        self.at: tuple[int, ...] = ()  # where in the field's value the value is quoted

    @classmethod
    def quoting(cls, value: Any, rest: str, hint: str) -> Invalid:
        """`'value' rest`: a message that starts with the value it refuses."""
        made = cls(f"'{value}' {rest}", hint)
        made._rest = rest
        return made

    def in_list(self, index: int) -> Invalid:
        """The same refusal of the list's item at `index`, said of the list."""
        made = Invalid(f"in the list, {self.message}", self.hint)
        made._rest, made._before = self._rest, f"in the list, {self._before}"
        made.at = (index, *self.at)
        return made

    def said(self, written: str | None) -> str:
        """The message, quoting the value as `written` where that is known."""
        if self._rest is None or written is None:
            return self.message
        return f"{self._before}'{written}' {self._rest}"


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """One declared field: how to convert it, whether it must be present, and what it
    means where the pages or the downloads need to say so."""

    name: str
    convert: Converter
    required: bool = False
    meaning: str = ""


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    return "text"


# The most characters a value may have: a title, a name or a publisher fits on a line, a
# summary, an action or a note in a paragraph. Values are repeated across pages (the
# site's title on every one, a page's title wherever it is listed), so these bound the
# output too.
LINE = 200
PARAGRAPH = 2000


def text(value: Any, most: int = PARAGRAPH) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected text, got {_type_name(value)}", "write it as text in quotes")
    if not value.strip():
        raise Invalid("is empty", "write a value or remove the field")
    if control := _CONTROL.search(value):
        raise Invalid(
            f"contains the control character U+{ord(control.group()):04X}",
            "remove it (no page, feed or download can show it)",
        )
    value = value.strip()
    if len(value) > most:
        what, hint = (
            ("one line", "shorten it")
            if most == LINE
            else ("a paragraph", "shorten it; longer text belongs in a page's Markdown")
        )
        raise Invalid(
            f"is {len(value):,} characters long; it may have at most {most:,} ({what})", hint
        )
    return value


def line(value: Any) -> str:
    """Text that fits on one line: a title, a name, a publisher."""
    return text(value, LINE)


def one_of(vocabulary: Mapping[str, str]) -> Converter:
    def convert(value: Any) -> str:
        if isinstance(value, str) and value in vocabulary:
            return value
        hint = f"use one of: {', '.join(vocabulary)}"
        if value is None or isinstance(value, dict | list):
            raise Invalid(f"expected one word, got {_type_name(value)}", hint)
        raise Invalid.quoting(value, "is not allowed", hint)

    return convert


# The years a date may have: what the timeline and the feeds can show, and more than
# any explainer of recent events needs.
YEARS = (1800, 2200)


def partial_date(value: Any) -> PartialDate:
    try:
        date = PartialDate.parse(value)
    except ValueError as exc:
        raise Invalid.quoting(value, "is not a valid date", f"write {exc}") from None
    _check_year(value, date.year)
    return date


def _in_years(value: dt.date) -> dt.date:
    _check_year(value, value.year)
    return value


def _check_year(value: Any, year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise Invalid.quoting(
            value,
            f"is outside the years a date may have ({YEARS[0]} to {YEARS[1]})",
            "check the year",
        )


def day(value: Any) -> dt.date:
    """A full date, written bare (YAML's date) or quoted as 'YYYY-MM-DD'."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return _in_years(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            if len(value.strip()) == 10:
                return _in_years(dt.date.fromisoformat(value.strip()))
    raise Invalid.quoting(
        value, "is not a date", "write a day as YYYY-MM-DD, for example 2018-12-10"
    )


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid(f"expected true or false, got {_type_name(value)}", "write true or false")


def integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise Invalid(f"expected a whole number, got {_type_name(value)}", "write a number like 3")


def slug(value: Any) -> str:
    if isinstance(value, str) and SLUG_RE.fullmatch(value) and value not in RESERVED_SLUGS:
        return value
    raise Invalid.quoting(
        value,
        "is not a valid id",
        "use lower-case letters, digits and single hyphens, like new-zealand",
    )


# A measure's id is part of a URL (its anchor) and of every row that downloads it.
MEASURE_ID_MOST = 60


def measure_id(value: Any) -> str:
    """A measure's own id, fixed once written: its anchor and its key in the downloads,
    so that adding or moving a measure changes no other measure's address."""
    if isinstance(value, str) and SLUG_RE.fullmatch(value) and len(value) <= MEASURE_ID_MOST:
        return value
    shown = value if isinstance(value, str | int) and not isinstance(value, bool) else None
    what = f"'{shown}'" if shown is not None else _type_name(value)
    raise Invalid(
        f"{what} is not a valid measure id",
        f"use lower-case letters, digits and single hyphens, at most {MEASURE_ID_MOST} "
        "characters, that say what the measure is, like procurement-rules-agreed",
    )


def country_code(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Z]{2}", value):
        return value
    raise Invalid.quoting(value, "is not an ISO 3166-1 alpha-2 code", "write two capital letters")


def web_url(value: Any) -> str:
    value = text(value)
    try:
        parts = urlsplit(value)
    except ValueError:  # an unbalanced [ or ] in the host
        raise Invalid(
            f"'{value}' is not a valid URL (a [ or ] in its host is not closed)",
            "write a full http:// or https:// URL",
        ) from None
    odd = any(c.isspace() or c in '<>"\\' for c in value)  # spaces, markup, backslashes
    if parts.scheme not in ("http", "https") or not parts.netloc or odd:
        raise Invalid(f"'{value}' is not an http(s) URL", "write a full http:// or https:// URL")
    return value


def base_url(value: Any) -> str:
    value = web_url(value)
    if "?" in value or "#" in value:
        raise Invalid(f"'{value}' has a query or fragment", "write the site's root address")
    return value if value.endswith("/") else value + "/"


def language(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*", value):
        return value
    raise Invalid.quoting(value, "is not a language tag", "write a BCP 47 tag such as en or en-GB")


def template_name(value: Any) -> str:
    value = text(value)
    if not re.fullmatch(r"[a-z0-9_-]+\.html", value):
        raise Invalid(f"'{value}' is not a template name", "write a file name like page.html")
    return value


def list_of(item: Converter, *, min_items: int = 0, unique: bool = True) -> Converter:
    def convert(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise Invalid(f"expected a list, got {_type_name(value)}", "write a list like [a, b]")
        if len(value) < min_items:
            raise Invalid(f"needs at least {min_items} item(s)", "add one")
        items = []
        for index, element in enumerate(value):
            try:
                converted = item(element)
            except Invalid as exc:
                raise exc.in_list(index) from None
            if unique and converted in items:
                raise Invalid(f"'{converted}' is listed twice", "list it once")
            items.append(converted)
        return tuple(items)

    return convert


def check_mapping(
    doc: YamlDoc,
    keypath: KeyPath,
    fields: tuple[Field, ...],
    report: Report,
    what: str,
) -> dict[str, Any] | None:
    """Convert the mapping at `keypath`; report unknown, missing and invalid fields."""
    value = doc.data
    for key in keypath:
        value = value[key]
    if not isinstance(value, dict):
        report.error(
            doc.at(keypath),
            f"{what} must be a mapping of fields, got {_type_name(value)}",
            f"write fields as 'name: value'; expected: {', '.join(f.name for f in fields)}",
        )
        return None
    known = {f.name: f for f in fields}
    result: dict[str, Any] = {}
    ok = True
    for key in value:
        if key not in known:
            written = doc.key_text((*keypath, key))
            close = difflib.get_close_matches(written, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "remove it"
            report.error(
                doc.key_at((*keypath, key)),
                f"unknown field '{written}' in {what}",
                f"{hint} (allowed fields: {', '.join(known)})",
            )
            ok = False
    for field in fields:
        if field.name not in value or value[field.name] is None:
            if field.required:
                report.error(
                    doc.at(keypath),
                    f"missing required field '{field.name}' in {what}",
                    f"add '{field.name}: ...'",
                )
                ok = False
            continue
        try:
            result[field.name] = field.convert(value[field.name])
        except Invalid as exc:
            written = doc.value_text((*keypath, field.name, *exc.at))
            report.error(
                doc.at((*keypath, field.name)),
                f"field '{field.name}': {exc.said(written)}",
                exc.hint,
            )
            ok = False
    return result if ok else None


SETTINGS_FIELDS = (
    Field("title", line, required=True),
    Field("description", text, required=True),
    Field("language", language, required=True),
    Field("base_url", base_url, required=True),
    Field("publisher", line, required=True),
    Field("licence", line, required=True),
    Field("licence_url", web_url),
    Field("raw_html", one_of(RAW_HTML_MODES)),
)

PAGE_FIELDS = (
    Field("title", line, required=True),
    Field("summary", text),
    Field("updated", day),
    Field("draft", boolean),
    Field("order", integer),
    Field("template", template_name),
)

COUNTRY_FIELDS = (
    Field("name", line, required=True),
    Field("code", country_code, required=True),
    Field("summary", text, required=True),
    Field("status", one_of(STATUSES), required=True),
    Field("as_of", day, required=True),
    Field("related", list_of(slug)),
    Field("measures", lambda v: v, required=True),
)

MEASURE_FIELDS = (
    Field("id", measure_id, required=True),
    Field("date", partial_date, required=True),
    Field("actor", line, required=True),
    Field("action", text, required=True),
    Field("scope", text, required=True),
    Field(
        "vendors",
        list_of(one_of(VENDORS)),
        required=True,
        meaning="the vendors the measure itself names",
    ),
    Field(
        "affects",
        list_of(one_of(VENDORS)),
        meaning="the vendors the reporting says the measure affects, though the measure "
        "does not name them",
    ),
    Field("confidence", one_of(CONFIDENCES), required=True),
    Field("sources", list_of(slug, min_items=1), required=True),
    Field("note", text),
)

SOURCE_FIELDS = (
    Field("id", slug, required=True),
    Field("publisher", line, required=True),
    Field("title", line),
    Field(
        "untitled",
        line,
        meaning="why the source has no title here, in a few plain words shown in its place",
    ),
    Field("date", partial_date, required=True),
    Field("url", web_url),
    Field("kind", one_of(SOURCE_KINDS), required=True),
    Field("author", line),
    Field("note", text),
    Field("excerpts", list_of(text, min_items=1)),
)

MEASURE_MEANINGS: Mapping[str, str] = {f.name: f.meaning for f in MEASURE_FIELDS if f.meaning}


def vendor_problems(
    vendors: tuple[str, ...], affects: tuple[str, ...]
) -> list[tuple[str, Invalid]]:
    """What is wrong with a measure's two lists of vendors, each with the field to point at.

    `vendors` is what the measure names and `affects` what the reporting adds, so a vendor
    belongs in one of them, and a measure must concern at least one vendor.
    """
    if not vendors and not affects:
        return [
            (
                "vendors",
                Invalid(
                    "the measure names no vendor and lists none it affects",
                    "list the vendors it names in 'vendors', or, if it names none, those the "
                    "reporting says it affects in 'affects'",
                ),
            )
        ]
    return [
        (
            "affects",
            Invalid(
                f"'{vendor}' is in both 'vendors' and 'affects'",
                "a vendor the measure names goes in 'vendors' only; 'affects' is for those "
                "it does not name",
            ),
        )
        for vendor in affects
        if vendor in vendors
    ]
