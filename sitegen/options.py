"""What a build is asked to do, and what it did: shared by the pipeline and its callers.

Light on purpose (the model and renderer types are for type checkers only), so a build
that finds nothing changed runs without importing the whole engine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Report
from .packing import unpack

if TYPE_CHECKING:
    from .model import Site
    from .render import Rendered


class Priority:
    """The outputs a build renders before the rest, and where each goes once rendered.

    The preview makes one per build: `first` are the pages open in a browser when the
    build began, planned and rendered before the rest of the site is even planned. A
    page requested while the build runs is `ask`ed for: rendered next if it is still to
    render. Each of them is handed to `publish` as soon as it is rendered (or, with None,
    as soon as the plan shows it need not be), before the rest of the site. Asked from
    the server's thread, taken on the build's: hence the lock.
    """

    def __init__(
        self,
        first: Collection[str] = (),
        publish: Callable[[str, bytes | None], None] | None = None,
    ) -> None:
        self.first = tuple(first)
        self.publish = publish
        self._lock = threading.Lock()
        self._asked: list[str] = []
        self._pending: frozenset[str] | None = None  # None until the plan is made

    def plan(self, stale: Collection[str]) -> None:
        """The build's plan is made: these outputs are still to render. What was asked
        for and is not among them is published as it stands."""
        with self._lock:
            self._pending = frozenset(stale)
            current = [output for output in self._asked if output not in self._pending]
            self._asked = [output for output in self._asked if output in self._pending]
        for output in current:
            self._hand_over(output, None)

    def ask(self, output: str) -> bool:
        """Render `output` next if it is (or, before the plan, may be) still to render;
        whether it will be published by this build."""
        with self._lock:
            if self._pending is not None and output not in self._pending:
                return False
            self._asked.append(output)
            return True

    def take(self) -> str | None:
        """The output asked for first and not taken yet, if any."""
        with self._lock:
            return self._asked.pop(0) if self._asked else None

    def done(self, output: str, body: bytes | None, publish: bool) -> None:
        """`output` is rendered (`body`: None if it failed), no longer to render; with
        `publish`, it is handed over now."""
        with self._lock:
            if self._pending is not None:
                self._pending = self._pending - {output}
        if publish:
            self._hand_over(output, body)

    def _hand_over(self, output: str, body: bytes | None) -> None:
        if self.publish is not None:
            self.publish(output, body)


class OutputFiles(Mapping[str, bytes]):
    """Every output of a build that keeps them in memory (the preview), by path, each
    held packed (packing.pack) and unpacked when read. The same bytes always pack the same,
    so two versions can be compared packed (`packed`)."""

    def __init__(self, packed: Mapping[str, bytes] | None = None) -> None:
        self._packed = dict(packed or {})

    def __getitem__(self, rel: str) -> bytes:
        return unpack(self._packed[rel])

    def __contains__(self, rel: object) -> bool:
        return rel in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def packed(self, rel: str) -> bytes | None:
        """The file as held, packed; None if there is none."""
        return self._packed.get(rel)

    def with_files(self, packed: Mapping[str, bytes]) -> OutputFiles:
        """These files and `packed` (already packed), which replace any of the same path."""
        return OutputFiles({**self._packed, **packed})


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
    files: OutputFiles = field(default_factory=OutputFiles)  # when not writing: every output
    copies: dict[str, Path] = field(default_factory=dict)
    rendered: dict[str, Rendered] = field(default_factory=dict)
    rerendered: tuple[str, ...] = ()  # pages rendered by this build, not reused
    pages: int = 0  # pages in the site
    converted: int = 0  # Markdown files converted by this build, not reused
    unchanged: bool = False  # nothing changed since the last build: nothing was done

    @property
    def ok(self) -> bool:
        return not self.report.errors
