"""Worker processes, owned by one call: forked, fed chunks, and gone when it returns.

Workers are multiprocessing Processes of the "fork" context, so each inherits what the
caller's function closes over (the site model, the Jinja environment) copy-on-write
instead of receiving it pickled; only chunks and their results cross the pipes (between
our own processes, never from disk). Nothing is kept in module globals: a `WorkerPool`
lives for one `map`, and every worker is reaped before it returns, whatever happens:

- Ctrl-C, or any exception in the caller: every worker is killed at once and reaped.
- The parent killed (even with SIGKILL): the kernel kills its workers (Linux's
  PR_SET_PDEATHSIG, a setting of the worker process alone); a worker whose parent died
  before it could ask for that exits.
- A worker that fails: its traceback is raised in the parent as a WorkerError.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from .errors import WorkerError

T = TypeVar("T")
R = TypeVar("R")
PR_SET_PDEATHSIG = 1
STOP_SECONDS = 1.0  # a worker asked to stop that has not exited by then is killed


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


class _Worker:
    """One forked process and the parent's end of its pipe."""

    def __init__(self, function: Callable[[Any], Any], renew: int | None) -> None:
        context = multiprocessing.get_context("fork")
        self.pipe, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(function, child_end, os.getpid(), renew), daemon=True
        )
        self.process.start()
        child_end.close()
        self.busy: int | None = None  # the index of the chunk it works on
        self.done = 0  # chunks finished
        self.gone = False  # exited after its last chunk (renewed), and reaped

    def end(self, seconds: float) -> None:
        """Reap the process, killing it if it has not exited within `seconds`."""
        self.process.join(seconds)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.pipe.close()
        self.gone = True


def _serve(
    function: Callable[[Any], Any], pipe: Connection, parent: int, renew: int | None
) -> None:
    """The worker's loop: a chunk in, its result out, until told to stop or renewed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent(parent)
    done = 0
    while True:
        try:
            chunk = pipe.recv()
        except EOFError:  # the parent closed its end: nothing more to do
            return
        if chunk is None:
            return
        try:
            result = ("ok", function(chunk))
        except Exception:
            result = ("error", traceback.format_exc())
        pipe.send(result)
        done += 1
        if result[0] == "error" or (renew is not None and done >= renew):
            return


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this worker when its parent dies; exit if it has already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(1)


def _died(worker: _Worker) -> str:
    return f"worker {worker.process.pid} exited unexpectedly"


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
        try:
            yield from self._run(chunks, workers)
        finally:
            self._stop(workers)

    def _run(self, chunks: Sequence[T], workers: list[_Worker]) -> Iterator[R]:
        results: dict[int, R] = {}
        following = 0  # the next chunk to hand out
        wanted = 0  # the next chunk to yield
        # Results wait here until they can be yielded in order: hand out at most this
        # many chunks ahead of the one awaited, so a slow consumer slows the work.
        ahead = 2 * self.jobs
        while wanted < len(chunks):
            workers[:] = [w for w in workers if not w.gone]
            busy = sum(1 for w in workers if w.busy is not None)
            while len(workers) < min(self.jobs, len(chunks) - following + busy):
                workers.append(_Worker(self.function, self.renew))
            for worker in workers:
                if worker.busy is None and following < min(len(chunks), wanted + ahead):
                    try:
                        worker.pipe.send(chunks[following])
                    except OSError:  # it died idle: a broken pipe
                        raise WorkerError(_died(worker)) from None
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

    def _receive(self, worker: _Worker) -> Any:
        try:
            status, value = worker.pipe.recv()
        except (EOFError, OSError):  # it died: its end closed, or reset
            raise WorkerError(_died(worker)) from None
        if status == "error":
            raise WorkerError(f"a worker failed:\n{value}")
        worker.done += 1
        if self.renew is not None and worker.done >= self.renew:
            worker.end(STOP_SECONDS)  # it exits by itself after its last chunk
        return value

    @staticmethod
    def _stop(workers: list[_Worker]) -> None:
        """Every worker ends: asked to when idle, killed when busy or slow; all reaped."""
        live = [w for w in workers if not w.gone]
        for worker in live:
            if worker.busy is None:
                try:
                    worker.pipe.send(None)
                except OSError:
                    worker.process.kill()
            else:
                worker.process.kill()
        for worker in live:
            worker.end(STOP_SECONDS)
