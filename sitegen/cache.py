"""The persistent cache in `.cache/`: what a later build in a new process can reuse.

One SQLite database (the standard library's sqlite3). Each row holds plain JSON text and,
for converted Markdown, the packed HTML as bytes; nothing read from it is ever unpickled
or evaluated, so a crafted cache can at worst be wrong, and it is checked: every row
carries a digest of its contents, and the database the key of the engine, Python and the
libraries that made it (engine.BUILD_KEY). A build writes all its rows in one
transaction, so a killed build leaves the cache as the last build left it. A damaged
cache, or one made by another version, is reported once as a note and rebuilt. The cache
only speeds builds up; deleting `.cache/` is always safe.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .engine import BUILD_KEY
from .errors import Location, Report

FOLDER = ".cache/sitegen"
DATABASE = f"{FOLDER}/cache.sqlite"
FORMAT = "sitegen-cache-2"
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

    Reads return only rows whose digest matches; a row or a database that fails is
    reported (once per build, at `.cache/sitegen/cache.sqlite`) and the cache is
    emptied, so the build goes on as if it had none and writes it afresh.
    """

    def __init__(self, root: Path, report: Report) -> None:
        self.path = root / DATABASE
        self.report = report
        self._db: sqlite3.Connection | None = None
        self._reported = False

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self._connect()
            found = dict(db.execute("SELECT name, value FROM meta").fetchall())
            if found and found != {"format": FORMAT, "key": BUILD_KEY}:
                self.note("was made by another version of the engine or its libraries")
                db.close()
                return self._fresh()
            if not found:
                _stamp(db)
            return db
        except sqlite3.DatabaseError as exc:
            self.damaged(exc)
            return self._fresh()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA trusted_schema = OFF")  # a crafted schema runs no functions
        db.executescript(_SCHEMA)
        return db

    def _fresh(self) -> sqlite3.Connection:
        """An empty cache in place of the one that could not be used."""
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        db = self._connect()
        _stamp(db)
        return db

    def note(self, what: str) -> None:
        if not self._reported:
            self._reported = True
            self.report.note(
                Location(DATABASE),
                f"the cache {what}; it was ignored",
                "nothing to do: it is rebuilt; delete .cache/ if this repeats",
            )

    def damaged(self, exc: Exception) -> None:
        self.note(f"is damaged ({exc})")

    def decoded(self, decode: Callable[[], T], empty: T) -> T:
        """`decode()` of rows read from here, or `empty` if they cannot be what a build
        wrote (reported, and the cache emptied)."""
        try:
            return decode()
        except (ValueError, KeyError, TypeError) as exc:
            self.damaged(exc)
            self.clear()
            return empty

    def get(self, kind: str, key: str) -> Row | None:
        """One row, or None if missing or damaged."""
        rows = self._read("WHERE kind = ? AND key = ?", (kind, key))
        return rows.get(key)

    def all(self, kind: str) -> dict[str, Row]:
        """Every row of one kind, by key."""
        return self._read("WHERE kind = ?", (kind,))

    def _read(self, where: str, args: tuple[str, ...]) -> dict[str, Row]:
        try:
            cursor = self._connection().execute(
                f"SELECT kind, key, text, data, digest FROM entries {where}", args
            )
            rows = {}
            for kind, key, text, data, digest in cursor:
                if not (isinstance(text, str) and isinstance(data, bytes)):
                    raise Damaged(f"a {kind} entry has the wrong type")
                if _digest(kind, key, text, data) != digest:
                    raise Damaged(f"a {kind} entry does not match its digest")
                rows[key] = (text, data)
            return rows
        except (sqlite3.DatabaseError, Damaged) as exc:
            self.damaged(exc)
            self.clear()
            return {}

    def clear(self) -> None:
        """Forget everything (a damaged cache): the build writes it afresh."""
        if self._db is not None:
            self._db.close()
        self._db = self._fresh()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Every write of one build: all of them reach the disk, or none."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def update(self, kind: str, new: Mapping[str, Row], keep: Collection[str] | None) -> None:
        """Inside `transaction`: add or replace `new`; with `keep`, drop every other row of
        the kind whose key is in neither."""
        db = self._connection()
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

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
