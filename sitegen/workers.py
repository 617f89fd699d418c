"""Worker processes, owned by one call: forked, fed chunks, and gone when it returns.

Workers are forked, so each inherits what the caller's function closes over (the site
model, the Jinja environment) copy-on-write instead of receiving it pickled; only chunks
and their results cross the pipes. Nothing is kept in module globals: a `WorkerPool`
lives for one `map` and every worker is reaped before it returns, whatever happens:

- Ctrl-C, or any exception in the caller: every worker is killed at once and reaped.
- The parent killed (even with SIGKILL): the kernel kills its workers (Linux's
  PR_SET_PDEATHSIG); a worker whose parent died before it could ask for that exits.
- A worker that fails: its traceback is raised in the parent as a WorkerError.

Objects made before the fork are frozen out of the garbage collector for the pool's
life: a worker's collections would otherwise write to every one of them and so copy the
parent's whole heap into each worker (copy-on-write). The pool unfreezes them at its end.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
PR_SET_PDEATHSIG = 1
STOP_SECONDS = 1.0  # a worker asked to stop that has not exited by then is killed


class WorkerError(RuntimeError):
    """A worker's function raised: the worker's traceback, as text."""


def can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform != "darwin"


class _Worker:
    """One forked process and the parent's end of its pipe."""

    def __init__(self, function: Callable[[Any], Any], renew: int | None) -> None:
        parent_end, child_end = Pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            parent_end.close()
            _serve(function, child_end, parent, renew)
        child_end.close()
        self.pid = pid
        self.pipe = parent_end
        self.busy: int | None = None  # the index of the chunk it works on
        self.done = 0  # chunks finished
        self.gone = False  # exited after its last chunk (renewed), and reaped

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def reap(self, block: bool) -> bool:
        """Collect the exited process; whether it has exited."""
        try:
            pid, _ = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return True
        return pid != 0


def _serve(
    function: Callable[[Any], Any], pipe: Connection, parent: int, renew: int | None
) -> None:
    """The worker's loop: a chunk in, its result out, until told to stop or renewed."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        _die_with_parent(parent)
        done = 0
        while True:
            chunk = pipe.recv()
            if chunk is None:
                break
            try:
                result = ("ok", function(chunk))
            except BaseException:
                result = ("error", traceback.format_exc())
            pipe.send(result)
            done += 1
            if result[0] == "error" or (renew is not None and done >= renew):
                break
    except BaseException:
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffers


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this worker when its parent dies; exit if it has already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


class WorkerPool:
    """Runs `function` over chunks in `jobs` forked workers; results in chunk order.

    `renew`: a worker exits after that many chunks and a fresh fork takes its place. A
    worker's private memory only grows (every object it reads has its reference count
    written, which copies that memory page from the parent), so a long-lived worker that
    reads the whole model bit by bit ends up holding a copy of most of it.
    """

    def __init__(self, function: Callable[[T], R], jobs: int, renew: int | None = None) -> None:
        self.function, self.jobs, self.renew = function, jobs, renew

    def map(self, chunks: Sequence[T]) -> Iterator[R]:
        workers: list[_Worker] = []
        gc.freeze()
        try:
            yield from self._run(chunks, workers)
        finally:
            self._stop(workers)
            gc.unfreeze()

    def _run(self, chunks: Sequence[T], workers: list[_Worker]) -> Iterator[R]:
        results: dict[int, R] = {}
        following = 0  # the next chunk to hand out
        wanted = 0  # the next chunk to yield
        # Results wait here until they can be yielded in order: hand out at most this
        # many chunks ahead of the one awaited, so a slow consumer slows the work.
        ahead = 2 * self.jobs
        while wanted < len(chunks):
            workers[:] = [w for w in workers if not (w.busy is None and w.gone)]
            while len(workers) < min(self.jobs, len(chunks) - following + self._busy(workers)):
                workers.append(_Worker(self.function, self.renew))
            for worker in workers:
                if worker.busy is None and following < min(len(chunks), wanted + ahead):
                    worker.pipe.send(chunks[following])
                    worker.busy = following
                    following += 1
            busy = [w for w in workers if w.busy is not None]
            for pipe in wait([w.pipe for w in busy]):
                worker = next(w for w in busy if w.pipe is pipe)
                results[worker.busy] = self._receive(worker)  # type: ignore[index]
                worker.busy = None
            while wanted in results:
                yield results.pop(wanted)
                wanted += 1

    @staticmethod
    def _busy(workers: list[_Worker]) -> int:
        return sum(1 for w in workers if w.busy is not None)

    def _receive(self, worker: _Worker) -> Any:
        try:
            status, value = worker.pipe.recv()
        except EOFError:
            raise WorkerError(f"worker {worker.pid} exited unexpectedly") from None
        if status == "error":
            raise WorkerError(f"a worker failed:\n{value}")
        worker.done += 1
        if self.renew is not None and worker.done >= self.renew:
            worker.pipe.close()
            worker.reap(block=True)
            worker.gone = True
        return value

    @staticmethod
    def _stop(workers: list[_Worker]) -> None:
        """Every worker ends: asked to when idle, killed when busy or slow; all reaped."""
        live = [w for w in workers if not w.gone]
        for worker in live:
            try:
                if worker.busy is not None:
                    raise OSError("busy")
                worker.pipe.send(None)
            except OSError:
                worker.kill()
        deadline = time.monotonic() + STOP_SECONDS
        for worker in live:
            while not worker.reap(block=False):
                if time.monotonic() >= deadline:
                    worker.kill()
                    worker.reap(block=True)
                    break
                time.sleep(0.002)
            worker.pipe.close()
