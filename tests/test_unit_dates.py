"""PartialDate: parsing, precision, the two printed forms and chronological order."""

from __future__ import annotations

import datetime as dt

import pytest

from sitegen.dates import PartialDate


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2018, 12, 10), PartialDate(2018, 12, 10)),
        (2018, PartialDate(2018)),
        ("2018", PartialDate(2018)),
        ("2018-11", PartialDate(2018, 11)),
        ("2018-12-10", PartialDate(2018, 12, 10)),
        (" 2018-12 ", PartialDate(2018, 12)),
        ("2016-02-29", PartialDate(2016, 2, 29)),
        (999, PartialDate(999)),
    ],
)
def test_parse(value: object, expected: PartialDate) -> None:
    assert PartialDate.parse(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2018-13", "a month between 01 and 12"),
        ("2018-00", "a month between 01 and 12"),
        ("2018-02-30", "a day that exists in that month"),
        ("2017-02-29", "a day that exists in that month"),
        ("2018-04-31", "a day that exists in that month"),
        ("2018-02-00", "a day that exists in that month"),
        ("18", "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        ("2018-1", "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        ("2018/01/01", "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        ("2018-12-10T00:00", "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        ("December 2018", "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        (12345, "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        (-5, "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        (2018.0, "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        (True, "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        (None, "a date as YYYY-MM-DD, YYYY-MM or YYYY"),
        (dt.datetime(2018, 1, 1, 3), "a date without a time of day"),
    ],
)
def test_parse_refuses(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        PartialDate.parse(value)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("date", "precision", "iso", "display"),
    [
        (PartialDate(2018, 12, 10), "day", "2018-12-10", "10 December 2018"),
        (PartialDate(2018, 1, 5), "day", "2018-01-05", "5 January 2018"),
        (PartialDate(2018, 11), "month", "2018-11", "November 2018"),
        (PartialDate(2018), "year", "2018", "2018"),
        (PartialDate(999), "year", "0999", "999"),
    ],
)
def test_forms(date: PartialDate, precision: str, iso: str, display: str) -> None:
    assert date.precision == precision
    assert date.iso == iso
    assert date.display == display
    assert str(date) == display


def test_round_trip_through_iso() -> None:
    for text in ["2018", "2018-02", "2018-02-28"]:
        assert PartialDate.parse(text).iso == text


def test_order_is_chronological_with_less_precise_first() -> None:
    dates = [
        PartialDate.parse("2018-02"),
        PartialDate.parse("2018-01-01"),
        PartialDate.parse("2018"),
        PartialDate.parse("2018-01"),
        PartialDate.parse("2017-12-31"),
        PartialDate.parse("2019"),
    ]
    assert [d.iso for d in sorted(dates)] == [
        "2017-12-31",
        "2018",
        "2018-01",
        "2018-01-01",
        "2018-02",
        "2019",
    ]
    assert PartialDate(2018) < PartialDate(2018, 1) < PartialDate(2018, 1, 1) < PartialDate(2018, 2)


def test_is_hashable_and_immutable() -> None:
    date = PartialDate(2018, 5)
    assert {date, PartialDate(2018, 5)} == {date}
    with pytest.raises(AttributeError):
        date.year = 2019  # type: ignore[misc]
