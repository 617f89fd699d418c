"""The quotation check: a quotation followed by a citation must match a cited excerpt.

An explainer built on quotes must quote exactly. A quotation is text in straight or
curly double quotation marks; the first citation after it in the same paragraph is the
one it must match. Matching ignores only the kind of quotation marks and line breaks.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


# Checking a quotation scans the excerpts it cites, and the hint for one that matches
# none compares it with each of them: work that grows with the quotations times the
# excerpts they cite (500 near misses against a source of 200 long excerpts took a
# minute). Both are bounded per build, to a few seconds at most: past the first bound
# the quotation is refused at its line, past the second a hint names no closest excerpt.
MAX_CHECKED = 300_000_000  # characters of cited excerpts scanned, for all quotations
MAX_COMPARED = 20_000_000  # steps of SequenceMatcher's search (at most 0.1 µs each)
_SETUP = 250  # what a comparison costs beside its steps, in steps


class Budget:
    """Work a build may still do, spent in the site's order of quotations, so every build
    of the same input stops at the same one."""

    def __init__(self, amount: int) -> None:
        self.left = amount
        self.exhausted = False  # some work was refused: none is done from then on

    def spend(self, cost: int) -> bool:
        """Take `cost` if that much is left; once it is not, nothing more is taken."""
        if self.exhausted or cost > self.left:
            self.exhausted = True
            return False
        self.left -= cost
        return True


def _steps(quote: Counter[str], text: Counter[str]) -> int:
    """How many steps SequenceMatcher.find_longest_match takes over the whole of both:
    one for each pair of equal characters, without junk (autojunk=False)."""
    return sum(count * text[character] for character, count in quote.items())


def _ratio(quote: str, counted: Counter[str], window: str, budget: Budget) -> float | None:
    """SequenceMatcher's ratio of the two, found block by block as its get_matching_blocks
    does, each search paid for before it runs (for 2,000 characters of the worst kind,
    ratio() takes a minute). None if the budget runs out."""
    matcher = difflib.SequenceMatcher(None, quote, window, autojunk=False)
    matched = 0
    todo = [(0, len(quote), 0, len(window), _steps(counted, Counter(window)))]
    while todo:
        alo, ahi, blo, bhi, steps = todo.pop()
        if not budget.spend(steps + ahi - alo + _SETUP):
            return None
        i, j, size = matcher.find_longest_match(alo, ahi, blo, bhi)
        if size:
            matched += size
            # each character of the one part against the other's up to the part's end,
            # at most: the search skips, step by step, those before the part's start
            if alo < i and blo < j:
                todo.append((alo, i, blo, j, (i - alo) * j))
            if i + size < ahi and j + size < bhi:
                todo.append((i + size, ahi, j + size, bhi, (ahi - i - size) * bhi))
    total = len(quote) + len(window)
    return 2 * matched / total if total else 1.0


def closest_excerpt(
    quote: str, excerpts: Iterable[tuple[str, Counter[str]]], budget: Budget
) -> str | None:
    """The passage of the cited excerpts that looks most like the quotation; None if there
    is none, or if finding it would cost more than the budget has left.

    `excerpts`: each normalised, with the count of each of its characters.
    """
    best, best_ratio = None, 0.0
    counted = Counter(quote)
    for text, text_counted in excerpts:
        if not budget.spend(_steps(counted, text_counted) + len(quote) + len(text) + _SETUP):
            return None
        matcher = difflib.SequenceMatcher(None, quote, text, autojunk=False)
        match = matcher.find_longest_match(0, len(quote), 0, len(text))
        start = max(0, match.b - match.a)
        end = start + len(quote)
        while start > 0 and not text[start - 1].isspace():
            start -= 1  # widen to whole words
        while end < len(text) and not text[end].isspace():
            end += 1
        window = text[start:end].strip()
        ratio = _ratio(quote, counted, window, budget)
        if ratio is None:
            return None
        if ratio > best_ratio:
            best, best_ratio = window, ratio
    return best


def check_quotations(
    quotations: Iterable[Quotation], sources: Mapping[str, Source], report: Report
) -> None:
    """Warn about each quotation that no cited source's excerpts contain; refuse the
    quotations past what can be checked in time (MAX_CHECKED)."""
    # Each source's excerpts normalised once, and joined: a quotation holds no line
    # break, so it is in the joined text only if it is in one excerpt.
    excerpts = {i: tuple(normalise(e) for e in s.excerpts) for i, s in sources.items()}
    joined = {i: "\n".join(texts) for i, texts in excerpts.items()}
    counted: dict[str, tuple[tuple[str, Counter[str]], ...]] = {}  # made for hints only

    def compared_with(cited: Iterable[str]) -> Iterator[tuple[str, Counter[str]]]:
        for source_id in cited:
            if source_id not in counted:
                counted[source_id] = tuple((t, Counter(t)) for t in excerpts[source_id])
            yield from counted[source_id]

    checked, compared = Budget(MAX_CHECKED), Budget(MAX_COMPARED)
    # (quotation, cited sources) -> whether it matches, else its closest excerpt, and
    # whether that was given up for the budget
    outcomes: dict[tuple[str, tuple[str, ...]], tuple[bool, str | None, bool]] = {}
    for quotation in quotations:
        cited = tuple(i for i in quotation.source_ids if i in sources)
        quote = normalise(quotation.text)
        outcome = outcomes.get((quote, cited))
        if outcome is None:
            if not checked.spend(sum(len(joined[i]) + 1 for i in cited)):
                report.error(
                    quotation.location,
                    "checking the quotations from here on would take too long: each is "
                    "compared with all the excerpt text it cites, and a site's quotations "
                    f"may cite {MAX_CHECKED:,} characters of it in all",
                    "give each source only the excerpts its pages quote, or quote fewer passages",
                )
                return
            matched = any(quote in joined[i] for i in cited)
            near = None if matched else closest_excerpt(quote, compared_with(cited), compared)
            gave_up = near is None and compared.exhausted and any(excerpts[i] for i in cited)
            outcome = outcomes[quote, cited] = (matched, near, gave_up)
        matched, near, gave_up = outcome
        if matched:
            continue
        names = ", ".join(quotation.source_ids)
        if near:
            hint = f'closest excerpt: "{near}"'
        else:
            hint = f"add the quoted passage to the excerpts of {names} in content/sources.yaml"
            if gave_up:
                hint += " (too many quotations differ from their excerpts to show the closest)"
        report.warning(
            quotation.location,
            f'quotation "{" ".join(quotation.text.split())}" does not match an excerpt of {names}',
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
