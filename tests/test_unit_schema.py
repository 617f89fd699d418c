"""Field converters and check_mapping: accepted values and the exact complaints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from sitegen import schema
from sitegen.dates import PartialDate
from sitegen.errors import Report
from sitegen.schema import Invalid
from sitegen.yamldoc import parse_yaml


def refusal(convert: Callable[[Any], Any], value: Any) -> tuple[str, str]:
    with pytest.raises(Invalid) as raised:
        convert(value)
    assert str(raised.value) == raised.value.message
    return raised.value.message, raised.value.hint


# text

TEXT_HINT = "write it as text in quotes"


def test_text_is_stripped() -> None:
    assert schema.text("  hi there \n") == "hi there"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, "expected text, got a number"),
        (1.5, "expected text, got a number"),
        (None, "expected text, got nothing"),
        (True, "expected text, got true/false"),
        ([1], "expected text, got a list"),
        ({"a": 1}, "expected text, got a mapping"),
        (dt.date(2018, 1, 1), "expected text, got a date"),
    ],
)
def test_text_refuses_other_types(value: Any, message: str) -> None:
    assert refusal(schema.text, value) == (message, TEXT_HINT)


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_text_refuses_empty(value: str) -> None:
    assert refusal(schema.text, value) == ("is empty", "write a value or remove the field")


# one_of

STATUS_HINT = "use one of: ban, restriction, planned, urged, under-review, no-restriction, opposes"


def test_one_of_accepts_vocabulary_keys() -> None:
    convert = schema.one_of(schema.STATUSES)
    assert [convert(v) for v in ("ban", "under-review")] == ["ban", "under-review"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Ban", "'Ban' is not allowed"),
        ("", "'' is not allowed"),
        (3, "'3' is not allowed"),
        (True, "'True' is not allowed"),
        (None, "expected one word, got nothing"),
        (["ban"], "expected one word, got a list"),
    ],
)
def test_one_of_refuses_others(value: Any, message: str) -> None:
    convert = schema.one_of(schema.STATUSES)
    assert refusal(convert, value) == (message, STATUS_HINT)


def test_one_of_refuses_labels() -> None:
    convert = schema.one_of(schema.VENDORS)
    assert refusal(convert, "Huawei") == ("'Huawei' is not allowed", "use one of: huawei, zte")


# partial_date and day


def test_partial_date_converts() -> None:
    assert schema.partial_date("2018-12") == PartialDate(2018, 12)
    assert schema.partial_date(2018) == PartialDate(2018)
    assert schema.partial_date(dt.date(2018, 1, 2)) == PartialDate(2018, 1, 2)


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("2018-02-30", "'2018-02-30' is not a valid date", "write a day that exists in that month"),
        ("2018-13", "'2018-13' is not a valid date", "write a month between 01 and 12"),
        ("soon", "'soon' is not a valid date", "write a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        (
            dt.datetime(2018, 1, 1),
            "'2018-01-01 00:00:00' is not a valid date",
            "write a date without a time of day",
        ),
    ],
)
def test_partial_date_refuses(value: Any, message: str, hint: str) -> None:
    assert refusal(schema.partial_date, value) == (message, hint)


@pytest.mark.parametrize("value", [dt.date(2018, 12, 10), "2018-12-10", " 2018-12-10 "])
def test_day_accepts_a_full_date(value: Any) -> None:
    assert schema.day(value) == dt.date(2018, 12, 10)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2018-12", "2018-12"),
        ("2018-02-30", "2018-02-30"),
        ("20181210", "20181210"),
        ("10 Dec 2018", "10 Dec 2018"),
        (2018, "2018"),
        (None, "None"),
        (dt.datetime(2018, 1, 1), "2018-01-01 00:00:00"),
    ],
)
def test_day_refuses(value: Any, shown: str) -> None:
    assert refusal(schema.day, value) == (
        f"'{shown}' is not a date",
        "write a day as YYYY-MM-DD, for example 2018-12-10",
    )


# boolean and integer


def test_boolean() -> None:
    assert schema.boolean(True) is True
    assert schema.boolean(False) is False
    assert refusal(schema.boolean, "yes") == (
        "expected true or false, got text",
        "write true or false",
    )
    assert refusal(schema.boolean, 1) == (
        "expected true or false, got a number",
        "write true or false",
    )


def test_integer() -> None:
    assert schema.integer(3) == 3
    assert schema.integer(-1) == -1
    hint = "write a number like 3"
    assert refusal(schema.integer, True) == ("expected a whole number, got true/false", hint)
    assert refusal(schema.integer, 1.0) == ("expected a whole number, got a number", hint)
    assert refusal(schema.integer, "3") == ("expected a whole number, got text", hint)


# slug

SLUG_HINT = "use lower-case letters, digits and single hyphens, like new-zealand"


@pytest.mark.parametrize("value", ["new-zealand", "a1", "x", "2018-report"])
def test_slug_accepts(value: str) -> None:
    assert schema.slug(value) == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("index", "index"),
        ("New", "New"),
        ("a--b", "a--b"),
        ("-a", "-a"),
        ("a-", "a-"),
        ("a_b", "a_b"),
        ("a b", "a b"),
        ("", ""),
        (3, "3"),
    ],
)
def test_slug_refuses(value: Any, shown: str) -> None:
    assert refusal(schema.slug, value) == (f"'{shown}' is not a valid id", SLUG_HINT)


def test_slug_refuses_trailing_newline() -> None:
    assert refusal(schema.slug, "japan\n") == ("'japan\n' is not a valid id", SLUG_HINT)


MEASURE_ID_HINT = (
    "use lower-case letters, digits and single hyphens, at most 60 characters, that say "
    "what the measure is, like procurement-rules-agreed"
)


@pytest.mark.parametrize("value", ["policy-agreed", "5g-guidance", "index", "a" * 60])
def test_measure_id_accepts(value: str) -> None:
    assert schema.measure_id(value) == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Policy", "'Policy'"),
        ("a--b", "'a--b'"),
        ("a_b", "'a_b'"),
        ("measure 1", "'measure 1'"),
        ("a" * 61, "'" + "a" * 61 + "'"),
        ("", "''"),
        (2018, "'2018'"),
        (True, "true/false"),
        (["a"], "a list"),
        ({"a": 1}, "a mapping"),
    ],
)
def test_measure_id_refuses(value: Any, shown: str) -> None:
    message = f"{shown} is not a valid measure id"
    assert refusal(schema.measure_id, value) == (message, MEASURE_ID_HINT)


# country_code and language


def test_country_code() -> None:
    assert schema.country_code("JP") == "JP"
    for value, shown in [("jp", "jp"), ("JPN", "JPN"), ("J", "J"), (1, "1"), ("JP\n", "JP\n")]:
        assert refusal(schema.country_code, value) == (
            f"'{shown}' is not an ISO 3166-1 alpha-2 code",
            "write two capital letters",
        )


@pytest.mark.parametrize("value", ["en", "en-GB", "zh-Hant-TW", "fil"])
def test_language_accepts(value: str) -> None:
    assert schema.language(value) == value


@pytest.mark.parametrize("value", ["english", "e", "en_GB", "en-", "en\n", 3])
def test_language_refuses(value: Any) -> None:
    assert refusal(schema.language, value) == (
        f"'{value}' is not a language tag",
        "write a BCP 47 tag such as en or en-GB",
    )


# web_url and base_url

URL_HINT = "write a full http:// or https:// URL"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/a?b=1#c", "https://example.com/a?b=1#c"),
        ("http://x.org", "http://x.org"),
        ("  https://x.org/  ", "https://x.org/"),
    ],
)
def test_web_url_accepts(value: str, expected: str) -> None:
    assert schema.web_url(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "JavaScript://x.org/%0aalert(1)",
        "data:text/html,<b>x</b>",
        "ftp://x.org/file",
        "mailto:a@b.org",
        "https:///path",
        "https://",
        "//x.org/a",
        "x.org",
        "https://x.org/a b",
        'https://x.org/"onmouseover',
        "https://x.org/<script>",
    ],
)
def test_web_url_refuses(value: str) -> None:
    assert refusal(schema.web_url, value) == (f"'{value}' is not an http(s) URL", URL_HINT)


def test_web_url_refuses_non_text() -> None:
    assert refusal(schema.web_url, 3) == ("expected text, got a number", TEXT_HINT)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.org", "https://example.org/"),
        ("https://example.org/sub", "https://example.org/sub/"),
        ("https://example.org/sub/", "https://example.org/sub/"),
    ],
)
def test_base_url_ends_with_slash(value: str, expected: str) -> None:
    assert schema.base_url(value) == expected


@pytest.mark.parametrize("value", ["https://example.org/?q=1", "https://example.org/#top"])
def test_base_url_refuses_query_and_fragment(value: str) -> None:
    assert refusal(schema.base_url, value) == (
        f"'{value}' has a query or fragment",
        "write the site's root address",
    )


@pytest.mark.parametrize("value", ["https://example.org/?", "https://example.org/#"])
def test_base_url_refuses_empty_query_and_fragment(value: str) -> None:
    assert refusal(schema.base_url, value)[0] == f"'{value}' has a query or fragment"


def test_base_url_refuses_other_schemes() -> None:
    assert refusal(schema.base_url, "ftp://x.org/") == (
        "'ftp://x.org/' is not an http(s) URL",
        URL_HINT,
    )


# template_name


def test_template_name() -> None:
    assert schema.template_name("page.html") == "page.html"
    assert schema.template_name(" country_page.html ") == "country_page.html"
    for value in ["Page.html", "../x.html", "sub/page.html", "page.htm", "page"]:
        assert refusal(schema.template_name, value) == (
            f"'{value}' is not a template name",
            "write a file name like page.html",
        )
    assert refusal(schema.template_name, 3) == ("expected text, got a number", TEXT_HINT)


# list_of


def test_list_of_converts_each_item() -> None:
    convert = schema.list_of(schema.text)
    assert convert([" a ", "b"]) == ("a", "b")
    assert convert([]) == ()


def test_list_of_min_items() -> None:
    convert = schema.list_of(schema.slug, min_items=1)
    assert convert(["a"]) == ("a",)
    assert refusal(convert, []) == ("needs at least 1 item(s)", "add one")
    assert refusal(schema.list_of(schema.slug, min_items=2), ["a"]) == (
        "needs at least 2 item(s)",
        "add one",
    )


def test_list_of_refuses_duplicates_after_conversion() -> None:
    assert refusal(schema.list_of(schema.text), [" a ", "a"]) == (
        "'a' is listed twice",
        "list it once",
    )
    assert schema.list_of(schema.text, unique=False)(["a", "a"]) == ("a", "a")


def test_list_of_reports_the_bad_item() -> None:
    convert = schema.list_of(schema.one_of(schema.VENDORS), min_items=1)
    assert refusal(convert, ["huawei", "apple"]) == (
        "in the list, 'apple' is not allowed",
        "use one of: huawei, zte",
    )


@pytest.mark.parametrize(("value", "got"), [("a", "text"), (None, "nothing"), ({}, "a mapping")])
def test_list_of_refuses_non_lists(value: Any, got: str) -> None:
    assert refusal(schema.list_of(schema.slug), value) == (
        f"expected a list, got {got}",
        "write a list like [a, b]",
    )


# check_mapping

PAGE_ALLOWED = "title, summary, updated, draft, order, template"


def check(
    text: str,
    keypath: tuple[str | int, ...] = (),
    fields: tuple[schema.Field, ...] = schema.PAGE_FIELDS,
    line_offset: int = 1,
) -> tuple[dict[str, Any] | None, list[str]]:
    report = Report()
    doc = parse_yaml(text, "content/x.md", report, line_offset)
    assert doc is not None
    result = schema.check_mapping(doc, keypath, fields, report, "front matter")
    return result, [d.format() for d in report.diagnostics]


def test_check_mapping_converts_fields() -> None:
    result, problems = check("title: A\nupdated: 2018-12-10\ndraft: false\norder: 2\n")
    assert problems == []
    assert result == {"title": "A", "updated": dt.date(2018, 12, 10), "draft": False, "order": 2}


def test_check_mapping_treats_empty_optional_field_as_absent() -> None:
    assert check("title: A\nsummary:\n") == ({"title": "A"}, [])


def test_unknown_field_with_suggestion() -> None:
    assert check("title: A\ntitel: B\n") == (
        None,
        [
            "content/x.md:3:1: error: unknown field 'titel' in front matter; "
            f"did you mean 'title'? (allowed fields: {PAGE_ALLOWED})"
        ],
    )


def test_unknown_field_without_suggestion() -> None:
    assert check("title: A\nzzz: B\n") == (
        None,
        [
            "content/x.md:3:1: error: unknown field 'zzz' in front matter; "
            f"remove it (allowed fields: {PAGE_ALLOWED})"
        ],
    )


@pytest.mark.parametrize("text", ["summary: A\n", "title:\nsummary: A\n"])
def test_missing_required_field(text: str) -> None:
    assert check(text) == (
        None,
        [
            "content/x.md:2:1: error: missing required field 'title' in front matter; "
            "add 'title: ...'"
        ],
    )


def test_invalid_values_are_reported_at_the_value() -> None:
    result, problems = check("title: A\norder: many\ndraft: 1\n")
    assert result is None
    assert problems == [
        "content/x.md:4:8: error: field 'draft': expected true or false, got a number; "
        "write true or false",
        "content/x.md:3:8: error: field 'order': expected a whole number, got text; "
        "write a number like 3",
    ]


def test_every_problem_is_reported_at_once() -> None:
    result, problems = check("titel: A\norder: x\n")
    assert result is None
    assert [p.split(": error: ")[1].split(";")[0] for p in problems] == [
        "unknown field 'titel' in front matter",
        "missing required field 'title' in front matter",
        "field 'order': expected a whole number, got text",
    ]


def test_nested_mapping_by_keypath() -> None:
    text = "x:\n  - title: A\n    order: many\n  - title: B\n"
    assert check(text, ("x", 1)) == ({"title": "B"}, [])
    assert check(text, ("x", 0)) == (
        None,
        [
            "content/x.md:4:12: error: field 'order': expected a whole number, got text; "
            "write a number like 3"
        ],
    )


@pytest.mark.parametrize(
    ("text", "got", "where"),
    [
        ("- a\n", "a list", "2:1"),
        ("just text\n", "text", "2:1"),
        ("x:\n  - 3\n", "a number", "3:5"),
    ],
)
def test_non_mapping_is_refused(text: str, got: str, where: str) -> None:
    keypath: tuple[str | int, ...] = ("x", 0) if text.startswith("x:") else ()
    assert check(text, keypath) == (
        None,
        [
            f"content/x.md:{where}: error: front matter must be a mapping of fields, got {got}; "
            f"write fields as 'name: value'; expected: {PAGE_ALLOWED}"
        ],
    )
