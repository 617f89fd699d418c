"""The quotation check: finding quotations and matching them against cited excerpts."""

from __future__ import annotations

import difflib
from collections import Counter

import pytest

from sitegen import quotes
from sitegen.dates import PartialDate
from sitegen.errors import Location, Report
from sitegen.model import Source
from sitegen.quotes import Quotation, check_quotations, find_quotations, normalise

PATH = "content/x.md"


def source(source_id: str, *excerpts: str) -> Source:
    return Source(
        id=source_id,
        publisher="Publisher",
        date=PartialDate(2018, 12),
        kind="news",
        location=Location("content/sources.yaml", 1, 3),
        excerpts=excerpts,
    )


SOURCES = {
    "a": source("a", "Cybersecurity is becoming an important issue in Japan, he said."),
    "b": source("b", "The other thing was said.", "Second excerpt is right here"),
    "none": source("none"),
}


def at(line: int, col: int) -> Location:
    return Location(PATH, line, col)


def find(body: str, first_line: int = 4) -> list[Quotation]:
    return find_quotations(body, PATH, first_line)


def check(body: str) -> list[str]:
    report = Report()
    check_quotations(find(body), SOURCES, report)
    assert report.errors == []
    return [d.format() for d in report.diagnostics]


# find_quotations


def test_straight_quotes() -> None:
    assert find('He said "hello world" [@a].\n') == [Quotation("hello world", ("a",), at(4, 9))]


def test_curly_quotes_and_several_ids() -> None:
    assert find("He said \u201chello world\u201d [@a; @b].\n") == [
        Quotation("hello world", ("a", "b"), at(4, 9))
    ]


@pytest.mark.parametrize(
    "body",
    [
        'He said "hello world".\n',
        'He said "one".\n\nLater [@a].\n',
        'Cited first [@a], then "quoted".\n',
        'He said "" [@a].\n',
    ],
)
def test_quotation_without_following_citation_is_ignored(body: str) -> None:
    assert find(body) == []


def test_first_following_citation_in_the_paragraph_is_used() -> None:
    body = 'Intro.\n\nHe said "one" and "two" [@a] then "three" [@b; @c].\n'
    assert find(body) == [
        Quotation("one", ("a",), at(6, 9)),
        Quotation("two", ("a",), at(6, 19)),
        Quotation("three", ("b", "c"), at(6, 35)),
    ]


def test_line_and_column_with_offset() -> None:
    body = "First para.\n\n\nSecond para says \u201cq\u201d [@a].\n"
    assert find(body, first_line=10) == [Quotation("q", ("a",), at(13, 18))]


def test_paragraphs_separated_by_a_whitespace_line() -> None:
    body = 'Text "x" [@a]\n  \nMore "y" [@b]\n'
    assert find(body) == [Quotation("x", ("a",), at(4, 6)), Quotation("y", ("b",), at(6, 6))]


def test_multi_line_quotation() -> None:
    body = 'Line one\nHe said "a long\nquotation here" [@a].\n'
    assert find(body) == [Quotation("a long\nquotation here", ("a",), at(5, 9))]


def test_quotation_does_not_cross_a_paragraph_break() -> None:
    assert find('He said "a\n\nb" [@a]\n') == []


def test_fenced_code_is_skipped() -> None:
    assert find('```\n"code" [@a]\n```\n\nText "real" [@b].\n') == [
        Quotation("real", ("b",), at(8, 6))
    ]


def test_indented_code_is_skipped() -> None:
    assert find('Text.\n\n    print("code") [@a]\n') == []


# normalise


def test_normalise_folds_quotes_and_whitespace() -> None:
    assert normalise("  \u201cHello\u201d\n  it\u2019s  \u2018ok\u2019\t") == "\"Hello\" it's 'ok'"


# check_quotations


@pytest.mark.parametrize(
    "body",
    [
        'He said "Cybersecurity is becoming an important issue in Japan" [@a].\n',
        "He said \u201cCybersecurity is becoming an important issue in Japan\u201d [@a].\n",
        'He said "Cybersecurity is becoming\nan important issue in Japan" [@a].\n',
        'He said "Second excerpt is right here" [@a; @b].\n',
        'He said "important issue" [@none; @a].\n',
    ],
)
def test_matching_quotations_pass(body: str) -> None:
    assert check(body) == []


def near_miss(body: str) -> tuple[str, str]:
    report = Report()
    check_quotations(find(body), SOURCES, report)
    assert report.errors == []
    assert len(report.warnings) == 1
    warning = report.warnings[0]
    return f"{warning.location}: {warning.message}", warning.hint


def test_near_miss_gives_closest_excerpt() -> None:
    where_what, hint = near_miss(
        'He said "Cybersecurity is becoming an important issue in Germany" [@a].\n'
    )
    assert where_what == (
        'content/x.md:4:9: quotation "Cybersecurity is becoming an important issue in Germany" '
        "does not match an excerpt of a"
    )
    assert hint.startswith(
        'closest excerpt: "Cybersecurity is becoming an important issue in Japan'
    )
    assert hint.endswith('"')


def test_closest_excerpt_comes_from_the_right_passage() -> None:
    where_what, hint = near_miss('He said "Second excerpt is rite here" [@a; @b].\n')
    assert where_what == (
        'content/x.md:4:9: quotation "Second excerpt is rite here" does not match an excerpt '
        "of a, b"
    )
    assert hint == 'closest excerpt: "Second excerpt is right here"'


def test_near_miss_formats_as_one_warning() -> None:
    assert check('He said "Second excerpt is rite here" [@b].\n') == [
        'content/x.md:4:9: warning: quotation "Second excerpt is rite here" does not match an '
        'excerpt of b; closest excerpt: "Second excerpt is right here"'
    ]


@pytest.mark.parametrize("cited", ["none", "missing"])
def test_source_without_excerpts_asks_for_the_passage(cited: str) -> None:
    assert check(f'He said "whatever words" [@{cited}].\n') == [
        f'content/x.md:4:9: warning: quotation "whatever words" does not match an excerpt of '
        f"{cited}; add the quoted passage to the excerpts of {cited} in content/sources.yaml"
    ]


def test_quotation_is_only_matched_against_cited_sources() -> None:
    warnings = check('He said "Second excerpt is right here" [@a].\n')
    assert len(warnings) == 1
    assert warnings[0].startswith(
        'content/x.md:4:9: warning: quotation "Second excerpt is right here" does not match '
        "an excerpt of a; "
    )


def test_warning_for_a_multi_line_quotation_is_one_line() -> None:
    warnings = check('He said "Cybersecurity is becoming\nan important issue in Germany" [@a].\n')
    assert len(warnings) == 1
    assert "\n" not in warnings[0]


# bounded work


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Second excerpt is rite here", "Second excerpt is right here"),
        ("", "x"),
        ("a" * 30, " ".join("a" * 20)),
        ("abcabba", "cbabac"),
        ("the cat sat", "a dog stood"),
    ],
)
def test_the_bounded_ratio_is_sequence_matchers(a: str, b: str) -> None:
    ratio = quotes._ratio(a, Counter(a), b, quotes.Budget(10**9))
    assert ratio == difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def test_a_ratio_past_the_budget_is_given_up() -> None:
    budget = quotes.Budget(1_000)
    assert quotes._ratio("a" * 30, Counter("a" * 30), " ".join("a" * 30), budget) is None
    assert budget.exhausted
    assert not budget.spend(1)  # nothing more, however little


def test_hints_past_the_budget_name_no_excerpt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each near miss is compared with every cited excerpt: past MAX_COMPARED steps the
    hint names none, and says why."""
    excerpts = [(e, Counter(e)) for e in SOURCES["b"].excerpts]
    first = quotes.Budget(10**9)
    assert quotes.closest_excerpt("Second excerpt is rite here", excerpts, first)
    monkeypatch.setattr(quotes, "MAX_COMPARED", 10**9 - first.left)  # that one's worth
    assert check(
        'He said "Second excerpt is rite here" [@b].\n\nAnd "Second excerpt is rite there" [@b].\n'
    ) == [
        'content/x.md:4:9: warning: quotation "Second excerpt is rite here" does not match an '
        'excerpt of b; closest excerpt: "Second excerpt is right here"',
        'content/x.md:6:5: warning: quotation "Second excerpt is rite there" does not match an '
        "excerpt of b; add the quoted passage to the excerpts of b in content/sources.yaml (too "
        "many quotations differ from their excerpts to show the closest)",
    ]


def test_quotations_past_what_can_be_checked_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each quotation is looked for in all the excerpt text it cites, at most MAX_CHECKED
    characters for all: the first past that is an error at its line. The same quotation
    of the same sources again is not looked for again."""
    cost = len("The other thing was said.\nSecond excerpt is right here") + 1
    monkeypatch.setattr(quotes, "MAX_CHECKED", 2 * cost)
    body = (
        'He said "Second excerpt is right here" [@b].\n\n'
        'Again "Second excerpt is right here" [@b].\n\n'
        'And "The other thing was said." [@b].\n\n'
        'And "Second excerpt" [@b].\n\n'
        'And "Second excerpt" [@b].\n'
    )
    report = Report()
    check_quotations(find(body), SOURCES, report)
    assert [d.format() for d in report.diagnostics] == [
        f"content/x.md:10:5: error: checking the quotations from here on would take too long: "
        "each is compared with all the excerpt text it cites, and a site's quotations may cite "
        f"{2 * cost:,} characters of it in all; give each source only the excerpts its pages "
        "quote, or quote fewer passages"
    ]
