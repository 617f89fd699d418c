"""What a build is asked to do, and what it did: shared by the pipeline and its shortcuts.

Light on purpose (the model and renderer types are for type checkers only), so the
shortcuts of shortcut.py can run without importing the whole engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Report

if TYPE_CHECKING:
    from .model import Site
    from .render import Rendered


def default_jobs() -> int:
    """All the cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Options:
    root: Path
    out: Path
    include_drafts: bool = False
    strict: bool = False
    write: bool = True
    jobs: int = 1  # processes for conversion and rendering
    cache: bool = False  # use and update the persistent cache in .cache/
    progress: Callable[[str, int, int], None] | None = None  # (stage, done, total)

    def output_key(self) -> tuple[object, ...]:
        """The options that change what a build writes (not how fast it works)."""
        return (str(self.out), self.include_drafts, self.strict, self.write)


@dataclass
class Result:
    """What a build did: its diagnostics, and the model and files when it got that far."""

    report: Report = field(default_factory=Report)
    site: Site | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # when not writing: every output
    copies: dict[str, Path] = field(default_factory=dict)
    rendered: dict[str, Rendered] = field(default_factory=dict)
    rerendered: tuple[str, ...] = ()  # pages rendered by this build, not reused
    pages: int = 0  # pages in the site
    converted: int = 0  # Markdown files converted by this build, not reused
    unchanged: bool = False  # nothing changed since the last build: nothing was done

    @property
    def ok(self) -> bool:
        return not self.report.errors
