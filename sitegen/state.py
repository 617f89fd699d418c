"""What the last build left for the next one to compare against: its inputs, its output
files, what it reported, and its search index.

Saved in the cache (cache.Store) by every build that writes, read back by the next one,
which finds nothing to do when every input and every output is as this state records.
Plain JSON: nothing read back can run code, and a value no build could write is damage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .cache import Row, Store
from .errors import Diagnostic
from .filekeys import FileKey


@dataclass(frozen=True)
class BuildState:
    """The state a build that wrote its output folder left."""

    inputs: dict[str, FileKey]  # every input file, as inputs.settled gives them
    manifest: dict[str, FileKey]  # every output file, as the build left it
    diagnostics: tuple[Diagnostic, ...]  # its warnings, shown again when nothing changed
    pages: int
    options: str  # the engine and the options that change the output, as text
    search: tuple[str, tuple[str, ...]] = ("", ())  # the search index: its key, its files

    def to_json(self) -> str:
        return json.dumps(
            {
                "inputs": self.inputs,
                "manifest": self.manifest,
                "diagnostics": [d.to_json() for d in self.diagnostics],
                "pages": self.pages,
                "options": self.options,
                "search": [self.search[0], list(self.search[1])],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> BuildState:
        """From `to_json`; ValueError (or a KeyError, TypeError) if not what a build wrote."""
        value = json.loads(text)
        key, files = value["search"]
        return cls(
            inputs=_tuples(value["inputs"]),
            manifest=_tuples(value["manifest"]),
            diagnostics=tuple(Diagnostic.from_json(d) for d in value["diagnostics"]),
            pages=int(value["pages"]),
            options=str(value["options"]),
            search=(str(key), tuple(str(f) for f in files)),
        )


def _tuples(value: Mapping[str, Any]) -> dict[str, Any]:
    """Keys and Stats as JSON gave them back. Not checked one by one: each is only ever
    compared with a file's own, and a value no file has just counts as a change."""
    return {str(path): tuple(numbers) for path, numbers in value.items()}


def load_state(store: Store) -> BuildState | None:
    """The last build's state from the cache, or None (none yet, or damaged: reported)."""
    return store.get("state", "build", lambda text, _: BuildState.from_json(text))


def state_row(state: BuildState) -> tuple[str, dict[str, Row], None]:
    """The change to the cache (Store.save) that leaves `state` for the next build."""
    return ("state", {"build": (state.to_json(), b"")}, None)
