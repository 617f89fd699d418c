"""Generate a deterministic corpus: N Markdown pages, N country fact tables, a sources file,
and a search page (so that every build also makes the search index, as a real site's does).

Each page has front matter and 600-1000 words with headings, emphasis, a list, a table,
a blockquote, a footnote, cross-links to other pages and countries, and citations. The
same N and seed always give byte-identical files, so timings are comparable across runs.

    python bench/corpus.py OUT_DIR --pages 4000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
WORDS = [
    "network",
    "equipment",
    "vendor",
    "security",
    "review",
    "operator",
    "government",
    "procurement",
    "core",
    "radio",
    "access",
    "spectrum",
    "licence",
    "supplier",
    "policy",
    "ministry",
    "agency",
    "statement",
    "report",
    "decision",
    "risk",
    "assessment",
    "mitigation",
    "contract",
    "agreement",
    "infrastructure",
    "mobile",
    "broadband",
    "fibre",
    "standard",
    "regulator",
    "parliament",
    "committee",
    "minister",
    "official",
    "source",
    "analysis",
    "evidence",
    "question",
    "answer",
    "market",
    "competition",
    "cooperation",
    "trust",
    "telecoms",
    "company",
    "strategy",
    "timeline",
    "measure",
]
STATUSES = ("ban", "restriction", "planned", "urged", "under-review", "no-restriction", "opposes")
CONFIDENCES = ("confirmed", "reported", "thought")


def sentence(rng: random.Random, low: int = 8, high: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    if rng.random() < 0.3:
        i = rng.randrange(len(words))
        words[i] = f"*{words[i]}*"
    if rng.random() < 0.15:
        i = rng.randrange(len(words))
        words[i] = f"**{words[i]}**"
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, n: int, sources: int, pages: int, countries: int) -> str:
    parts = [sentence(rng) for _ in range(rng.randint(3, 5))]
    parts[-1] = parts[-1][:-1] + f" [@source-{rng.randrange(sources):05d}]."
    if rng.random() < 0.5:
        target = rng.randrange(pages)
        if target != n:
            parts.append(f"See [page {target}](page-{target:05d}.md).")
    if rng.random() < 0.4:
        c = rng.randrange(countries)
        parts.append(f"Compare [country {c}](../countries/country-{c:05d}.yaml#measures).")
    return " ".join(parts)


def page(rng: random.Random, n: int, pages: int, countries: int, sources: int) -> str:
    day = 1 + n % 28
    lines = [
        "---",
        f"title: Page {n} on {rng.choice(WORDS)} {rng.choice(WORDS)}",
        f"summary: {json.dumps(sentence(rng, 6, 10))}",
        f"updated: 2018-{1 + n % 12:02d}-{day:02d}",
        "---",
        "",
    ]
    for section in range(4):
        lines += [f"## Section {section + 1}: {rng.choice(WORDS)} {rng.choice(WORDS)}", ""]
        for _ in range(2):
            lines += [paragraph(rng, n, sources, pages, countries), ""]
        if section == 0:
            lines += [f"- {sentence(rng, 4, 8)}" for _ in range(4)] + [""]
        if section == 1:
            lines += ["| Item | Value | Note |", "|---|---|---|"]
            lines += [
                f"| {rng.choice(WORDS)} | {rng.randint(1, 99)} | {sentence(rng, 3, 5)} |"
                for _ in range(4)
            ] + [""]
        if section == 2:
            lines += [f"> {sentence(rng)} {sentence(rng)}", ""]
            lines += [f"A claim with a footnote.[^{n}]", "", f"[^{n}]: {sentence(rng)}", ""]
    lines += ["### In short", "", paragraph(rng, n, sources, pages, countries), ""]
    return "\n".join(lines)


def country(rng: random.Random, n: int, countries: int, sources: int) -> str:
    code = chr(65 + n % 26) + chr(65 + (n // 26) % 26)
    related = sorted({rng.randrange(countries) for _ in range(2)} - {n})
    lines = [
        f"name: Country {n:05d}",
        f"code: {code}",
        f"summary: {json.dumps(sentence(rng, 8, 14))}",
        f"status: {rng.choice(STATUSES)}",
        f"as_of: 2018-{1 + n % 12:02d}-15",
        f"related: [{', '.join(f'country-{r:05d}' for r in related)}]",
        "measures:",
    ]
    for m in range(rng.randint(2, 3)):
        lines += [
            f"  - id: measure-of-201{6 + m}",
            f'    date: "201{6 + m}-{1 + (n + m) % 12:02d}"',
            f"    actor: Ministry of {rng.choice(WORDS)}",
            f"    action: {json.dumps(sentence(rng, 6, 12))}",
            f"    scope: {rng.choice(WORDS)} {rng.choice(WORDS)}",
            "    vendors: [huawei, zte]",
            f"    confidence: {rng.choice(CONFIDENCES)}",
            f"    sources: [source-{rng.randrange(sources):05d}]",
        ]
    return "\n".join(lines) + "\n"


def sources_file(count: int) -> str:
    lines = []
    for n in range(count):
        lines += [
            f"- id: source-{n:05d}",
            f"  publisher: Publisher {n % 50}",
            f"  title: Report number {n}",
            f"  date: 2018-{1 + n % 12:02d}-{1 + n % 28:02d}",
            f"  url: https://example.com/reports/{n}",
            "  kind: news",
        ]
    return "\n".join(lines) + "\n"


SEARCH_PAGE = "---\ntitle: Search\norder: 9999\ntemplate: search.html\n---\nSearch every page.\n"


def generate(out: Path, pages: int, seed: int = 1, search: bool = True) -> None:
    """Write a complete project (content, templates, static) into `out`; `search`: with a
    search page."""
    rng = random.Random(seed)
    countries = pages
    sources = max(10, pages // 2)
    if out.exists():
        shutil.rmtree(out)
    (out / "content/pages").mkdir(parents=True)
    (out / "content/countries").mkdir(parents=True)
    for folder in ("templates", "static"):
        shutil.copytree(PROJECT / folder, out / folder)
    (out / "content/site.yaml").write_text(
        "title: Benchmark corpus\ndescription: Generated pages.\nlanguage: en\n"
        "base_url: https://example.org/bench/\npublisher: Bench\nlicence: CC BY 4.0\n"
    )
    (out / "content/index.md").write_text(
        "---\ntitle: Home\n---\nThe [first page](pages/page-00000.md).\n"
    )
    for n in range(pages):
        text = page(rng, n, pages, countries, sources)
        (out / f"content/pages/page-{n:05d}.md").write_text(text)
    for n in range(countries):
        (out / f"content/countries/country-{n:05d}.yaml").write_text(
            country(rng, n, countries, sources)
        )
    (out / "content/sources.yaml").write_text(sources_file(sources))
    if search:
        (out / "content/search.md").write_text(SEARCH_PAGE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-search", action="store_true", help="leave out the search page")
    args = parser.parse_args()
    generate(args.out, args.pages, args.seed, search=not args.no_search)
    print(f"wrote {args.pages} pages, {args.pages} countries into {args.out}")


if __name__ == "__main__":
    main()
