"""Dates only as precise as the reporting: a day, a month or a year."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
# English month names, whatever the machine's locale: the same input gives the same
# output anywhere. (calendar.month_name follows the locale, and formats a date with
# strftime on every lookup: 21,000 lookups for the 2000 pages of a bench build.)
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True, order=True)
class PartialDate:
    """A date with a year, optionally a month, optionally a day; sorts chronologically."""

    year: int
    month: int = 0
    day: int = 0

    @classmethod
    def parse(cls, value: object) -> PartialDate:
        """Accept a YAML date, an integer year, or 'YYYY', 'YYYY-MM', 'YYYY-MM-DD'."""
        if isinstance(value, dt.datetime):
            raise ValueError("a date without a time of day")
        if isinstance(value, dt.date):
            return cls(value.year, value.month, value.day)
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:04d}"
        if not isinstance(value, str) or not (match := _PARTIAL.match(value.strip())):
            raise ValueError("a date as YYYY-MM-DD, YYYY-MM or YYYY")
        year, month, day = (int(g) if g else 0 for g in match.groups())
        if match.group(2) and not 1 <= month <= 12:
            raise ValueError("a month between 01 and 12")
        if match.group(3) and not 1 <= day <= calendar.monthrange(year, month)[1]:
            raise ValueError("a day that exists in that month")
        return cls(year, month, day)

    @property
    def precision(self) -> str:
        return "day" if self.day else "month" if self.month else "year"

    @property
    def iso(self) -> str:
        """Machine-readable form, as precise as known (valid in <time datetime>)."""
        if self.day:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.month:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}"

    @property
    def display(self) -> str:
        """Human form: '10 December 2018', 'November 2018' or '2018'."""
        if self.day:
            return f"{self.day} {MONTHS[self.month - 1]} {self.year}"
        if self.month:
            return f"{MONTHS[self.month - 1]} {self.year}"
        return str(self.year)

    def __str__(self) -> str:
        return self.display
