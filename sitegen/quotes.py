"""The quotation check: a quotation followed by a citation must match a cited excerpt.

An explainer built on quotes must quote exactly. A quotation is text in straight or
curly double quotation marks; the first citation after it in the same paragraph is the
one it must match. Matching ignores only the kind of quotation marks and line breaks.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import Location, Report
from .markdown import CITATION_RE

if TYPE_CHECKING:
    from .model import Site, Source

_QUOTE_RE = re.compile(r"[\"“]([^\"“”\n]*(?:\n[^\"“”\n]+)*)[\"”]")
_CITATION = re.compile(CITATION_RE)


@dataclass(frozen=True)
class Quotation:
    text: str
    source_ids: tuple[str, ...]
    location: Location


def normalise(text: str) -> str:
    """Fold quotation marks and whitespace, so only the words are compared."""
    text = text.replace("‘", "'").replace("’", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.split())


def find_quotations(body: str, path: str, first_line: int) -> list[Quotation]:
    """Quotations followed by a citation in the same paragraph, with their lines.

    One pass over each paragraph: the citation after a quotation is found by bisection,
    and lines are counted on from the last quotation, so a file of many quotations and
    citations takes time in proportion to its length.
    """
    found = []
    offset = 0
    line, line_start, counted = first_line, 0, 0  # the line at body index `counted`
    for paragraph in re.split(r"(\n\s*\n)", body):
        block = paragraph.lstrip("\n")
        if paragraph.strip() and not block.startswith(("```", "~~~", "    ", "\t")):
            citations = list(_CITATION.finditer(paragraph))
            starts = [c.start() for c in citations]
            for match in _QUOTE_RE.finditer(paragraph):
                after = bisect.bisect_left(starts, match.end())
                if after == len(citations) or not match.group(1).strip():
                    continue
                ids = tuple(p.strip()[1:] for p in citations[after].group(1).split(";"))
                index = offset + match.start()
                if newlines := body.count("\n", counted, index):
                    line += newlines
                    line_start = body.rfind("\n", counted, index) + 1
                counted = index
                col = index - line_start + 1
                found.append(Quotation(match.group(1), ids, Location(path, line, col)))
        offset += len(paragraph)
    return found


def closest_excerpt(quote: str, sources: Iterable[Source]) -> str | None:
    """The passage of the cited excerpts that looks most like the quotation."""
    best, best_ratio = None, 0.0
    for source in sources:
        for excerpt in source.excerpts:
            text = normalise(excerpt)
            matcher = difflib.SequenceMatcher(None, quote, text, autojunk=False)
            match = matcher.find_longest_match(0, len(quote), 0, len(text))
            start = max(0, match.b - match.a)
            end = start + len(quote)
            while start > 0 and not text[start - 1].isspace():
                start -= 1  # widen to whole words
            while end < len(text) and not text[end].isspace():
                end += 1
            window = text[start:end].strip()
            ratio = difflib.SequenceMatcher(None, quote, window, autojunk=False).ratio()
            if ratio > best_ratio:
                best, best_ratio = window, ratio
    return best


def check_quotations(
    quotations: Iterable[Quotation], sources: Mapping[str, Source], report: Report
) -> None:
    """Warn about each quotation that no cited source's excerpts contain."""
    for quotation in quotations:
        cited = [sources[i] for i in quotation.source_ids if i in sources]
        quote = normalise(quotation.text)
        if any(quote in normalise(e) for s in cited for e in s.excerpts):
            continue
        names = ", ".join(quotation.source_ids)
        shown = " ".join(quotation.text.split())
        near = closest_excerpt(quote, cited)
        hint = (
            f'closest excerpt: "{near}"'
            if near
            else f"add the quoted passage to the excerpts of {names} in content/sources.yaml"
        )
        report.warning(
            quotation.location,
            f'quotation "{shown}" does not match an excerpt of {names}',
            hint,
        )


def site_quotations(site: Site, by_file: Mapping[str, Sequence[Quotation]]) -> list[Quotation]:
    """Every quotation in the published pages and in the measures' text fields.

    `by_file`: each Markdown file's quotations (find_quotations), found once per build.
    """
    found: list[Quotation] = []
    for page in site.pages:
        if page.document is None:
            continue
        for path in page.inputs:
            found.extend(by_file.get(path, ()))
    for measure in site.measures:
        for text in (measure.action, measure.scope, measure.note or ""):
            for match in _QUOTE_RE.finditer(text):
                found.append(Quotation(match.group(1), measure.sources, measure.location))
    return found
