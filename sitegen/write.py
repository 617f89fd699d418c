"""Write the site atomically: into a temporary folder, swapped in only on success.

Nothing is ever written or deleted outside the output folder and the temporary trees
beside it (`.site.tmp-PID`, `.site.old-PID`); an output folder that holds the project's
sources is refused. The marker file in every output folder lists each file the build
put there, with its digest: an existing folder is replaced only if it holds those files
and nothing else, so nothing another tool or a person put there, or changed, is ever
deleted (a deploy that copies site/ elsewhere copies the marker too: the files added
beside it are still not ours).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath

from .errors import printable
from .filekeys import FileKey, as_left, key_of

MARKER = ".sitegen-output"
MARKER_FORMAT = "sitegen-output-2"
SOURCE_FOLDERS = ("content", "templates", "static")
SHOWN = 5  # files named in a refusal; the rest are counted
CHUNK = 1 << 20  # bytes read at a time from a file that is copied or digested
GONE = "the file disappeared while building"
AGAIN = "build again"


class OutputError(Exception):
    """The system failed the build while it made the output folder (a full disk, a file
    gone since the walk): not a mistake in the content. Said of `path` (a file by its
    path in the output folder, not the temporary one); the old output folder is as it
    was."""

    def __init__(self, path: Path, message: str, hint: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message, self.hint = path, message, hint


def could_not(path: Path, exc: OSError, doing: str) -> OutputError:
    """`doing` ("read" or "write") `path` failed with `exc`: the system's own words, and
    what the writer can do about it."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some space on that disk, then build again"
    elif code in (errno.EMFILE, errno.ENFILE):
        hint = "close some programs, or raise the limit of open files (ulimit -n), then build again"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = f"check that you may {'write there' if doing == 'write' else 'read it'}"
    else:
        hint = "build again; if it fails again, check the disk"
    return OutputError(path, f"could not {doing}: {exc.strerror or exc}", hint)


def refuse_output(out: Path, root: Path, stats: Mapping[str, FileKey] | None = None) -> str | None:
    """Why `out` may not be used as the output folder, or None if it may."""
    return check_output(out, root, stats)[0]


def check_output(
    out: Path, root: Path, stats: Mapping[str, FileKey] | None = None
) -> tuple[str | None, bool, dict[str, FileKey]]:
    """Why `out` may not be used as the output folder (None if it may); whether it is
    exactly as the last build left it: every file of `stats` (the FileKey of each file the
    last build left, from its cache) still has its FileKey; and the FileKey each of its files
    had when it was found as the marker lists it (so a second look, just before the
    swap, need not read them again). One look at each file answers all three; a file
    still as it was is not read again to compare its digest."""
    out, root = out.resolve(), root.resolve()
    stats = stats or {}
    protected = [root, *(root / name for name in SOURCE_FOLDERS)]
    for folder in protected:
        if out == folder or folder.is_relative_to(out):
            return f"the output folder {out} would replace {folder}", False, {}
        if out.is_relative_to(folder) and folder != root:
            return f"the output folder {out} is inside the source folder {folder}", False, {}
    if out.exists() and not out.is_dir():
        return f"the output path {out} is a file", False, {}
    if not out.is_dir() or not any(out.iterdir()):
        return None, not stats, {}
    if not (out / MARKER).exists():
        return f"{out} exists and was not made by this tool; it will not be replaced", False, {}
    written = read_marker(out)
    if written is None:
        older = (
            f"{out} was made by an older version of this tool, which did not list its "
            "files; it will not be replaced: delete it once if it holds only a built site"
        )
        return older, False, {}
    foreign, seen = _survey(out, written, stats)
    if foreign:
        changed = (
            f"{out} holds files this tool did not write, or that changed since it wrote "
            f"them: {_named(foreign)}; it will not be replaced: move them out of it"
        )
        return changed, False, {}
    return None, all(seen.get(rel) == was for rel, was in stats.items()), seen


def _named(found: list[str]) -> str:
    """The first few of `found`, and how many more."""
    more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return ", ".join(found[:SHOWN]) + more


def read_marker(out: Path) -> dict[str, str] | None:
    """The files the marker says the build wrote, with their digests; None if it is
    missing, unreadable or of another format."""
    try:
        value = json.loads((out / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    files = value.get("files") if isinstance(value, dict) else None
    if value.get("format") != MARKER_FORMAT or not isinstance(files, dict):
        return None
    return {str(rel): str(digest) for rel, digest in files.items()}


def _survey(
    out: Path, written: Mapping[str, str], stats: Mapping[str, FileKey]
) -> tuple[list[str], dict[str, FileKey]]:
    """Every file and link in `out` that the marker (`written`) does not list as it is
    now (links not followed; a folder or file that cannot be read counts as foreign),
    sorted, printable; and the FileKey of every file that is as listed. A file that still
    has its FileKey of `stats` is taken as listed without reading it."""
    found, seen = [], {}
    todo = [("", os.fspath(out))]
    while todo:
        prefix, folder = todo.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            found.append(prefix or ".")
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                todo.append((f"{rel}/", entry.path))
                continue
            if rel == MARKER:
                continue
            digest = written.get(rel)
            if digest is None or entry.is_symlink():
                found.append(rel)
                continue
            try:
                now = key_of(entry.stat(follow_symlinks=False))  # taken before reading it
                if now == stats.get(rel) or file_digest(Path(entry.path)) == digest:
                    seen[rel] = now
                else:
                    found.append(rel)
            except OSError:
                found.append(rel)
    return sorted(printable(rel) for rel in found), seen


def file_digest(path: Path) -> str:
    """checksum() of a file's bytes, read a megabyte at a time."""
    hashed = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            hashed.update(chunk)
    return hashed.hexdigest()


def _read_chunks(source: Path) -> Iterator[bytes]:
    """A file's bytes, a megabyte at a time; a failure is said of the file (gone, if it
    is no longer there or no longer a plain file: a pipe would block the build)."""
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise OutputError(source, GONE, AGAIN) from None
    except OSError as exc:
        raise could_not(source, exc, "read") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OutputError(source, GONE, AGAIN)
        while chunk := os.read(fd, CHUNK):
            yield chunk
    except OSError as exc:
        raise could_not(source, exc, "read") from None
    finally:
        os.close(fd)


def safe_target(base: Path, rel: str) -> Path:
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\x00" in rel:
        raise ValueError(f"refusing to write outside the output folder: {rel!r}")
    return base.joinpath(*pure.parts)


def checksum(data: bytes) -> str:
    """A digest of an output file's bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class OutputFolder:
    """The next output folder: made beside the old one, filled, and swapped in whole.

    Files are written as soon as they are ready, so a build need not hold its output in
    memory. An output that has not changed since the last build is hard-linked from the
    old folder instead of written (`keep`), but only if that file is still as the last
    build left it (same size and modification time); otherwise it is rendered again.
    If anything fails, `discard` removes the new folder and the old one is untouched.
    The swap exchanges the two folders in one step where the system can (Linux's
    renameat2), so at every instant the output folder is the whole old tree or the whole
    new one; elsewhere it is two renames, with Ctrl-C and SIGTERM held back between them
    and the first undone if the second fails. The old tree is then removed, but only if
    it still holds exactly what the last build wrote. Each tree carries the marker from
    the start; what an interrupted build left beside the output folder (its new tree, or
    the old one it had not removed yet) is removed by the next build, once the process
    that made it is gone, if it carries the marker.

    `seen`: the FileKey of each file of the old folder when check_output found it as the
    marker lists it. `swap`: exchanges two folders in one step, or returns False where
    it cannot (`exchange`; a test passes one that cannot, to take the two renames).
    """

    def __init__(
        self,
        out: Path,
        seen: Mapping[str, FileKey] | None = None,
        swap: Callable[[Path, Path], bool] | None = None,
    ) -> None:
        self.named = out  # as messages name it
        self.out = out.resolve()
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}"
        self._old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
        self.swap = swap or exchange
        for leftover in _leftovers(self.out):
            if read_marker(leftover) is not None:
                _remove_marked(leftover)
            else:  # killed before it was marked (then it is empty, or holds only the
                # marker's own temporary file), or not ours
                with contextlib.suppress(OSError):
                    for unfinished in leftover.glob(f"{MARKER}.tmp-*"):
                        unfinished.unlink()
                    leftover.rmdir()
        try:
            self.tmp.mkdir(parents=True)
        except OSError as exc:
            raise could_not(out, exc, "write") from None
        try:
            write_marker(self.tmp, {})  # a build's from the start, for the next to remove
        except OSError as exc:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise could_not(out, exc, "write") from None
        self._finished = False  # the marker lists every file: the tree is whole
        self._made: set[str] = {""}  # folders made so far: one mkdir each, not one per file
        self.names: dict[str, None] = {}  # every file put in, in order
        self.digests: dict[str, str] = {}  # each file's checksum, for the marker
        self._old_digests = read_marker(self.out) or {}
        self._seen = dict(seen or {})
        self._linked: dict[str, FileKey] = {}  # old files linked in: their FileKey since (ctime)

    def _target(self, rel: str) -> Path:
        target = safe_target(self.tmp, rel)
        folder = rel.rpartition("/")[0]
        if folder not in self._made:
            # Folder by folder below the new tree, never the tree itself: a worker that
            # outlives a killed build must not bring back a folder the next build removed
            # (it would be left without its marker, for no build to remove).
            made = self.tmp
            for part in folder.split("/"):
                made /= part
                with contextlib.suppress(FileExistsError):
                    os.mkdir(made)
            self._made.add(folder)
        self.names[rel] = None
        return target

    def write(self, rel: str, data: bytes) -> None:
        self._put(rel, (data,))

    def copy(self, rel: str, source: Path) -> None:
        """Copy a file in (a static file), reading it once: its digest as it goes."""
        self._put(rel, _read_chunks(source))

    def _put(self, rel: str, chunks: Iterable[bytes]) -> None:
        """Write `rel` from `chunks` and keep its digest; a failure to write is said of
        the file's path in the output folder (a failure to read, of what was read)."""
        hashed = hashlib.blake2b(digest_size=16)
        try:
            fd = os.open(self._target(rel), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            raise could_not(self.named / rel, exc, "write") from None
        try:
            for chunk in chunks:
                hashed.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        except OSError as exc:
            raise could_not(self.named / rel, exc, "write") from None
        finally:
            os.close(fd)
        self.digests[rel] = hashed.hexdigest()

    def adopt(self, digests: Mapping[str, str] | Iterable[str]) -> None:
        """Count files put in by others: forked workers (they write into `tmp`
        themselves, and send back each file's checksum) or a tool (its files are read
        for theirs)."""
        known = digests if isinstance(digests, Mapping) else dict.fromkeys(digests, "")
        for rel, digest in known.items():
            self.names[rel] = None
            try:
                self.digests[rel] = digest or file_digest(safe_target(self.tmp, rel))
            except OSError as exc:
                raise self.failure(exc) from None

    def unchanged(self, rel: str, was: FileKey | None) -> bool:
        """Whether the old folder's `rel` is still as the last build wrote it (`was`)."""
        return was is not None and as_left(safe_target(self.out, rel), was)

    def keep(self, rel: str) -> None:
        """Put the old folder's `rel` in the new one, as a hard link where possible."""
        old = safe_target(self.out, rel)
        try:
            target = self._target(rel)
            before = key_of(os.stat(old))
            try:
                os.link(old, target)
            except FileNotFoundError:
                raise
            except OSError:  # another file system, or links unsupported: copy it, with its mtime
                shutil.copy2(old, target)
            else:
                if before == self._seen.get(rel):  # as found at the start: its FileKey since
                    self._linked[rel] = key_of(os.stat(target))  # (the link changed ctime)
            self.digests[rel] = self._old_digests.get(rel) or file_digest(old)
        except OSError as exc:
            if not os.path.lexists(old):
                raise OutputError(self.named / rel, GONE, AGAIN) from None
            raise could_not(self.named / rel, exc, "write") from None

    def failure(self, exc: OSError) -> OutputError:
        """A failure of the system while this folder was made, said of the path it names:
        the output folder's, for the temporary folders; a file read, as itself."""
        path = Path(os.fsdecode(exc.filename)) if exc.filename is not None else self.tmp
        if path.is_relative_to(self.tmp):
            return could_not(self.named / path.relative_to(self.tmp), exc, "write")
        if path in (self.out, self._old):
            return could_not(self.named, exc, "write")
        if isinstance(exc, FileNotFoundError):
            return OutputError(path, GONE, AGAIN)
        return could_not(path, exc, "read")

    def stats(self) -> dict[str, FileKey]:
        """The FileKey of every file put in, read after `commit`: the swap removes the old
        folder's links to kept files, which changes their inode change time. A file
        that cannot be looked at gets a FileKey no file has, so it counts as changed."""
        found = {}
        for rel in self.names:
            try:
                found[rel] = key_of(os.stat(safe_target(self.out, rel)))
            except OSError:
                found[rel] = (-1, -1, -1, -1)
        return found

    def commit(self) -> str | None:
        """List every file put in, in the marker, and swap the new folder in for the old
        one; None once done. Refused, with both folders left as they are, if the old one
        no longer holds exactly what the last build wrote (files came into it or changed
        while this build ran): it is looked at just before the swap, and again once it is
        out of the way, before it is removed (swapped back if need be)."""
        write_marker(self.tmp, {rel: self.digests[rel] for rel in self.names})
        self._finished = True
        if refused := self._changed(self.out):
            return refused
        with _signals_held():
            old = self._swap_in()
            if old is not None and (refused := self._changed(old)):
                self._swap_back(old)
        if refused or old is None:
            return refused
        _remove_marked(old)
        return None

    def _changed(self, folder: Path) -> str | None:
        """Why the old tree, now at `folder`, may not be removed: it holds files the last
        build did not write or that changed since; None if not (or if there is none)."""
        if not os.path.lexists(folder):
            return None
        known = {**self._seen, **self._linked}
        foreign = ["."] if folder.is_symlink() else _survey(folder, self._old_digests, known)[0]
        if not foreign:
            return None
        return (
            f"files were added to {self.out} or changed in it while the build ran: "
            f"{_named(foreign)}; it was not replaced, and this build was discarded"
        )

    def _swap_in(self) -> Path | None:
        """Put the new tree in the output folder's place; where the old tree is now
        (None if there was none)."""
        if not os.path.lexists(self.out):
            os.rename(self.tmp, self.out)
            return None
        if self.swap(self.tmp, self.out):
            return self.tmp
        self._renames(self._old, self.tmp)  # no exchange here
        return self._old

    def _swap_back(self, old: Path) -> None:
        """Put the old tree back in place (at `old` since `_swap_in`), the new at tmp."""
        if old == self.tmp:
            if not self.swap(self.tmp, self.out):
                raise OSError(errno.EIO, "the exchange could not be undone", str(self.out))
            return
        self._renames(self.tmp, old)

    def _renames(self, away: Path, into: Path) -> None:
        """Move the output folder to `away` and `into` to its place: two renames, the
        first undone if the second fails, so the output folder is missing only between
        them (the caller holds signals back)."""
        os.rename(self.out, away)
        try:
            os.rename(into, self.out)
        except BaseException:
            os.rename(away, self.out)
            raise

    def discard(self) -> None:
        """Remove what this build made beside the output folder, but never the last whole
        tree: where a swap was cut short with no output folder left, the old tree is put
        back (with none, the new one, if finished); one that cannot be is kept."""
        if not os.path.lexists(self.out):
            for whole in (self._old, self.tmp) if self._finished else (self._old,):
                if whole.is_dir():
                    with contextlib.suppress(OSError):
                        os.rename(whole, self.out)
                        break
        placed = os.path.lexists(self.out)
        if placed:
            _remove_marked(self._old)
        if placed or not self._finished:
            _remove_marked(self.tmp)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM held back, and delivered once the block is done: a
    swap cut short between two renames would leave no output folder."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def write_marker(folder: Path, digests: Mapping[str, str]) -> None:
    """The marker: which files the build wrote, and their digests (replaced whole, so
    an interrupted write never leaves half a marker)."""
    text = json.dumps({"format": MARKER_FORMAT, "files": dict(sorted(digests.items()))})
    tmp = folder / f"{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(text + "\n", "utf-8")
    os.replace(tmp, folder / MARKER)


def _remove_marked(folder: Path) -> None:
    """Remove a tree a build made, its marker last: if the build is killed meanwhile, or
    anything in it cannot be removed (or is still being written), the marker stays for
    the next build to find it by and remove the rest."""
    try:
        entries = list(folder.iterdir())
    except OSError:  # gone already, or not a folder
        return
    for entry in entries:
        if entry.name == MARKER:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    with contextlib.suppress(OSError):
        if [entry.name for entry in folder.iterdir()] in ([MARKER], []):
            (folder / MARKER).unlink(missing_ok=True)
            folder.rmdir()


def _leftovers(out: Path) -> list[Path]:
    """The folders beside `out` named as builds name theirs, that their process no longer
    needs: this process's, and those of processes that are gone (killed, interrupted)."""
    found = []
    for kind in ("tmp", "old"):
        for path in out.parent.glob(f".{out.name}.{kind}-*"):
            pid = path.name.rpartition("-")[2]
            if path.is_symlink() or not path.is_dir() or not pid.isdigit():
                continue
            if int(pid) == os.getpid() or not _alive(int(pid)):
                found.append(path)
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


AT_FDCWD = -100
RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux's renameat2 with RENAME_EXCHANGE); False where
    the system or the file system cannot, and nothing was done."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:  # a C library older than glibc 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    done = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))
