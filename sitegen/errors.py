"""Source locations and diagnostics: how every content mistake is reported.

Imports nothing from the rest of the package, so every stage can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# A note tells of something the build handled itself (a cache it rebuilt): never fails.
Severity = Literal["error", "warning", "note"]


def printable(text: str) -> str:
    """`text` safe to print on a terminal: each control character, and each byte of a
    file name that is not UTF-8 (Python holds those as surrogates), shown as an escape."""
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(character: str) -> str:
    code = ord(character)
    if 0xD800 <= code <= 0xDFFF:
        return f"\\x{code & 0xFF:02x}"  # the byte os.fsdecode could not decode
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@dataclass(frozen=True, order=True)
class Location:
    """A place in a project file: a POSIX path relative to the project root, 1-based."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def to_json(self) -> list[Any]:
        return [self.path, self.line, self.col]

    @classmethod
    def from_json(cls, value: Any) -> Location:
        """From `to_json`'s form; ValueError if it is not (a damaged cache)."""
        path, line, col = value
        if not (isinstance(path, str) and type(line) is int and type(col) is int):
            raise ValueError(f"not a location: {value!r:.80}")
        return cls(path, line, col)


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding: where, what is wrong, and what the writer should do about it."""

    location: Location
    severity: Severity
    message: str
    hint: str = ""

    def to_json(self) -> list[Any]:
        return [self.location.to_json(), self.severity, self.message, self.hint]

    @classmethod
    def from_json(cls, value: Any) -> Diagnostic:
        """From `to_json`'s form; ValueError if it is not (a damaged cache)."""
        location, severity, message, hint = value
        if severity not in ("error", "warning", "note") or not (
            isinstance(message, str) and isinstance(hint, str)
        ):
            raise ValueError(f"not a diagnostic: {value!r:.80}")
        return cls(Location.from_json(location), severity, message, hint)

    def format(self) -> str:
        """Render as `path:line:col: error: what is wrong; what to do`, on one line and
        with no control character raw (a message may quote a writer's value)."""
        text = f"{self.location}: {self.severity}: {self.message}"
        return printable(f"{text}; {self.hint}" if self.hint else text)


@dataclass
class Report:
    """Collects every diagnostic of a build so they can be printed together."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, location: Location, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(location, "error", message, hint))

    def warning(self, location: Location, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(location, "warning", message, hint))

    def note(self, location: Location, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(location, "note", message, hint))

    def extend(self, other: Report) -> None:
        self.diagnostics.extend(other.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def sorted(self) -> list[Diagnostic]:
        """Errors and warnings in file order, each printed once."""
        return sorted(set(self.diagnostics))


class BuildFailed(Exception):
    """Raised by a stage that cannot go on; carries every diagnostic found so far."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"{len(report.errors)} error(s)")
        self.report = report


class WorkerError(RuntimeError):
    """A worker process failed: its function raised (the traceback is the message's
    rest), or it was killed (out of memory, a signal)."""

    def summary(self) -> str:
        """One line for a writer: what happened, and the exception's own last line."""
        lines = [line.strip() for line in str(self).splitlines() if line.strip()]
        first, last = lines[0] if lines else "a worker failed", lines[-1] if lines else ""
        return printable(first if last == first else f"{first.rstrip(':')}: {last}")
