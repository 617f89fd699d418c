"""Where the Markdown floor goes: each stock extension's share of a conversion.

Converts every page of a project (`content/**/*.md`, front matter split off as
bench/markdown_floor.py does) with the stock Python-Markdown extensions the engine
uses, then once more without each of them in turn, and with plain tables, footnotes
and toc; one process, one core, the best of --runs for each. The engine's own
extension (citations, links, ids) and its sanitising are what bench/markdown_floor.py
measures beyond these.

    python bench/markdown_extensions.py PROJECT_DIR [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import markdown
from markdown.extensions import Extension
from markdown.extensions.abbr import AbbrExtension
from markdown.extensions.attr_list import AttrListExtension
from markdown.extensions.def_list import DefListExtension
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.md_in_html import MarkdownInHtmlExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.smarty import SmartyExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension

sys.path.insert(0, str(Path(__file__).resolve().parent))

from markdown_floor import split_body

Make = Callable[[], Extension]
# The engine's stock extensions (sitegen/markdown.py), and smarty, which it leaves out.
STOCK: dict[str, Make] = {
    "fenced_code": FencedCodeExtension,
    "footnotes": FootnoteExtension,
    "attr_list": AttrListExtension,
    "def_list": DefListExtension,
    "tables": TableExtension,
    "abbr": AbbrExtension,
    "md_in_html": MarkdownInHtmlExtension,
    "sane_lists": SaneListExtension,
    "toc": lambda: TocExtension(permalink=False, toc_depth="2-3"),
    "smarty": SmartyExtension,
}
PLAIN: list[Make] = [TableExtension, FootnoteExtension, TocExtension]


def seconds(bodies: Sequence[str], makes: Sequence[Make], runs: int) -> float:
    """The best of `runs` conversions of every body with these extensions."""
    best = float("inf")
    for _ in range(runs):
        md = markdown.Markdown(extensions=[make() for make in makes], output_format="html")
        started = time.perf_counter()
        for body in bodies:
            md.reset().convert(body)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a project folder with content/")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args()
    paths = sorted((args.root / "content").rglob("*.md"))
    bodies = [split_body(path.read_text(encoding="utf-8"))[0] for path in paths]
    every = seconds(bodies, list(STOCK.values()), args.runs)
    print(f"{len(bodies)} pages; best of {args.runs} runs, one core")
    print(f"{'every stock extension (smarty too)':<40}{every:>8.2f} s")
    for name in STOCK:
        without = seconds(bodies, [m for n, m in STOCK.items() if n != name], args.runs)
        share = (every - without) / every
        print(f"{'  without ' + name:<40}{without:>8.2f} s   its share {share:>6.1%}")
    print(f"{'plain: tables, footnotes, toc':<40}{seconds(bodies, PLAIN, args.runs):>8.2f} s")


if __name__ == "__main__":
    main()
