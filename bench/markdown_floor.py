"""The floor of a build: convert every Markdown page, nothing else.

Reads `content/**/*.md` of a project, splits off the front matter (a plain split, no YAML
parsing), and converts each body in one process on one core. No validation, templates or
writing. bench/build_speed.py times this as a whole process, both ways:

- by default with one `sitegen.markdown.MarkdownRenderer`: exactly the engine's
  Python-Markdown extensions, citations, sanitising and configuration;
- with --plain, with plain Python-Markdown and only its tables, footnotes and toc
  extensions: what any generator built on Python-Markdown pays at least. The gap
  between the two is what the engine's own Markdown work costs.

    python bench/markdown_floor.py PROJECT_DIR [--plain]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import markdown

from sitegen import urls
from sitegen.markdown import MarkdownRenderer

FENCE = "---"


def split_body(text: str) -> tuple[str, int]:
    """The body after the `---` front matter, and the 1-based line where it starts."""
    lines = text.split("\n")
    if lines and lines[0].rstrip() == FENCE:
        for index in range(1, len(lines)):
            if lines[index].rstrip() in (FENCE, "..."):
                return "\n".join(lines[index + 1 :]), index + 2
    return text, 1


def convert_all(root: Path) -> tuple[int, int]:
    """Convert every page under `root/content`; return (pages, characters of HTML)."""
    renderer = MarkdownRenderer()
    pages = chars = 0
    for path in sorted((root / "content").rglob("*.md")):
        rel = path.relative_to(root).as_posix()
        body, body_line = split_body(path.read_text(encoding="utf-8"))
        url = urls.url_for_content(rel.removeprefix("content/")) or ""
        try:
            document = renderer.convert(body, rel, body_line, url)
        except TypeError as error:
            raise SystemExit(
                f"sitegen.markdown.MarkdownRenderer.convert changed its signature ({error}); "
                "update bench/markdown_floor.py to call it as the engine does"
            ) from error
        pages += 1
        chars += len(document.html)
    return pages, chars


def convert_plain(root: Path) -> tuple[int, int]:
    """Convert every page with plain Python-Markdown (tables, footnotes, toc)."""
    converter = markdown.Markdown(extensions=["tables", "footnotes", "toc"])
    pages = chars = 0
    for path in sorted((root / "content").rglob("*.md")):
        body, _ = split_body(path.read_text(encoding="utf-8"))
        chars += len(converter.reset().convert(body))
        pages += 1
    return pages, chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a project folder with content/")
    parser.add_argument(
        "--plain", action="store_true", help="plain Python-Markdown: tables, footnotes, toc"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    pages, chars = (convert_plain if args.plain else convert_all)(args.root)
    seconds = time.perf_counter() - started
    print(f"converted {pages} pages ({chars} characters of HTML) in {seconds:.2f} s")


if __name__ == "__main__":
    main()
