"""The persistent cache in `.cache/`: what a later build in a new process can reuse.

One SQLite database (the standard library's sqlite3). Each row holds plain JSON text and,
for converted Markdown, the packed HTML as bytes; nothing read from it is ever unpickled
or evaluated, so a crafted cache can at worst be wrong, and it is checked: every row
carries a digest of its contents, and the database the key of the engine, Python and the
libraries that made it (engine.BUILD_KEY). A build writes all its rows in one
transaction, so a killed build leaves the cache as the last build left it. A damaged
cache, or one made by another version, is reported once as a note and rebuilt; one the
system fails to open, read or save (no file descriptor left, a full disk) is not
damaged: that is reported as such, and the cache is left as it is. The cache only speeds
builds up; deleting `.cache/` is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from .engine import BUILD_KEY
from .errors import Diagnostic, Location, Report

FOLDER = ".cache/sitegen"
DATABASE = f"{FOLDER}/cache.sqlite"
FORMAT = "sitegen-cache-2"
BUSY_SECONDS = 2.0  # how long to wait for another build that holds the database
# SQLite's codes for a failure of the system, not of the database: it cannot be opened
# (no file descriptor left), the disk fails or is full, no memory, no permission.
_NOT_DAMAGE = frozenset(
    {
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_NOLFS,
        sqlite3.SQLITE_INTERRUPT,
    }
)
LEFT_ALONE = (
    "nothing was deleted: if this repeats, check the disk and the limit of open files (ulimit -n)"
)
T = TypeVar("T")
Row = tuple[str, bytes]  # JSON text, and bytes (empty when the kind has none)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL, key TEXT NOT NULL, text TEXT NOT NULL, data BLOB NOT NULL,
    digest TEXT NOT NULL, PRIMARY KEY (kind, key)
);
"""


def _stamp(db: sqlite3.Connection) -> None:
    """Mark a new database with the format and the key of what writes it."""
    with db:
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("key", BUILD_KEY)])


class Damaged(Exception):
    """A cache value that cannot be what a build wrote: decoding it failed."""


def _digest(kind: str, key: str, text: str, data: bytes) -> str:
    hashed = hashlib.blake2b(f"{kind}\x1f{key}\x1f{text}\x1f".encode(), digest_size=16)
    hashed.update(data)
    return hashed.hexdigest()


class Store:
    """The cache database of one project, opened on first use.

    Reads decode rows with the caller's function and return only rows whose digest
    matches and that decode; a row or a database that fails is reported (once per build,
    at `.cache/sitegen/cache.sqlite`) and the cache is emptied, so the build goes on as if
    it had none and writes it afresh. A database another build holds locked is in use,
    and one the system fails (it cannot be opened, the disk is full) is not damaged:
    this build reads nothing more from it, saves nothing to it, and deletes nothing.
    """

    def __init__(self, root: Path, report: Report) -> None:
        self.path = root / DATABASE
        self.report = report
        self._db: sqlite3.Connection | None = None
        self._reported = False
        self._off = False  # in use by another build, or it cannot be opened: left alone

    def _connection(self) -> sqlite3.Connection | None:
        if self._db is None and not self._off:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection | None:
        db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._connect()
            found = dict(db.execute("SELECT name, value FROM meta").fetchall())
            if found and found != {"format": FORMAT, "key": BUILD_KEY}:
                self.note(
                    "was made by another version of the engine, of Python or of its libraries"
                )
                db.close()
                return self._fresh()
            if not found:
                _stamp(db)
            return db
        except sqlite3.DatabaseError as exc:
            self._failed(exc, db)
            return self._db
        except OSError as exc:  # .cache/ cannot be made: a file in its place, no room
            self.note(f"could not be opened ({exc})", LEFT_ALONE)
            self._off = True
            return None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_SECONDS)
        db.execute("PRAGMA trusted_schema = OFF")  # a crafted schema runs no functions
        db.executescript(_SCHEMA)
        return db

    def _fresh(self) -> sqlite3.Connection | None:
        """An empty cache in place of the one that could not be used."""
        try:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            db = self._connect()
            _stamp(db)
        except (OSError, sqlite3.DatabaseError) as exc:  # a folder in its place, a full disk
            self.note(f"could not be made afresh ({exc})")
            self._off = True
            return None
        return db

    def _failed(
        self, exc: sqlite3.DatabaseError, db: sqlite3.Connection | None, doing: str = "opened"
    ) -> None:
        """After a database error while the cache was being `doing` (opened, read,
        saved): in use by another build or failed by the system (both left as they are),
        or damaged (then emptied)."""
        if db is not None:
            db.close()
        self._db = None
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None  # without the extension
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            self._off = True
            self.note("is in use by another build", "nothing to do: it is left as it is")
        elif primary in _NOT_DAMAGE:
            self._off = True
            self.note(f"could not be {doing} ({exc})", LEFT_ALONE)
        else:
            self.damaged(exc)
            self._db = self._fresh()

    def note(self, what: str, hint: str = "") -> None:
        """Report the first trouble of this build with the cache (once, though the
        build may open the cache more than once)."""
        if self._reported:
            return
        self._reported = True
        note = Diagnostic(
            Location(DATABASE),
            "note",
            f"the cache {what}; it was ignored",
            hint or "nothing to do: it is rebuilt; delete .cache/ if this repeats",
        )
        if note not in self.report.diagnostics:
            self.report.diagnostics.append(note)

    def damaged(self, exc: Exception) -> None:
        self.note(f"is damaged ({exc})")

    def get(self, kind: str, key: str, decode: Callable[[str, bytes], T]) -> T | None:
        """One row, decoded; None if missing, damaged or in use."""
        rows = self._read("WHERE kind = ? AND key = ?", (kind, key), decode)
        return rows.get(key)

    def all(self, kind: str, decode: Callable[[str, bytes], T]) -> dict[str, T]:
        """Every row of one kind, decoded, by key; {} if one is damaged (or in use)."""
        return self._read("WHERE kind = ?", (kind,), decode)

    def _read(
        self, where: str, args: tuple[str, ...], decode: Callable[[str, bytes], T]
    ) -> dict[str, T]:
        db = self._connection()
        if db is None:
            return {}
        try:
            cursor = db.execute(f"SELECT kind, key, text, data, digest FROM entries {where}", args)
            rows = {}
            for kind, key, text, data, digest in cursor:
                if not (isinstance(text, str) and isinstance(data, bytes)):
                    raise Damaged(f"a {kind} entry has the wrong type")
                if _digest(kind, key, text, data) != digest:
                    raise Damaged(f"a {kind} entry does not match its digest")
                try:
                    rows[key] = decode(text, data)
                except Exception as exc:  # whatever a decoder meets, it is not our row
                    raise Damaged(f"a {kind} entry is not what a build writes ({exc})") from exc
            return rows
        except sqlite3.DatabaseError as exc:
            self._failed(exc, db, "read")
        except Damaged as exc:
            self.damaged(exc)
            self.clear()
        return {}

    def clear(self) -> None:
        """Forget everything (a damaged cache): the build writes it afresh."""
        if self._db is not None:
            self._db.close()
        self._db = self._fresh()

    def save(
        self, changes: Sequence[tuple[str, Mapping[str, Row], Collection[str] | None]]
    ) -> None:
        """Every write of one build, in one transaction: all reach the disk, or none. Each
        change is (kind, rows to add or replace, keys to keep): with keys to keep, every
        other row of the kind whose key is in neither is dropped."""
        db = self._connection()
        if db is None:
            return
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            self._failed(exc, db, "saved")
            return
        try:
            for kind, new, keep in changes:
                _update(db, kind, new, keep)
            db.execute("COMMIT")  # a full disk may fail it too
        except BaseException as exc:
            with contextlib.suppress(sqlite3.DatabaseError):  # none left to roll back
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                self._failed(exc, db, "saved")
                return
            raise

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _update(
    db: sqlite3.Connection, kind: str, new: Mapping[str, Row], keep: Collection[str] | None
) -> None:
    if keep is not None:
        wanted = set(keep) | set(new)
        old = [k for (k,) in db.execute("SELECT key FROM entries WHERE kind = ?", (kind,))]
        db.executemany(
            "DELETE FROM entries WHERE kind = ? AND key = ?",
            [(kind, k) for k in old if k not in wanted],
        )
    db.executemany(
        "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
        [
            (kind, key, text, data, _digest(kind, key, text, data))
            for key, (text, data) in new.items()
        ],
    )
