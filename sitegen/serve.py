"""The writers' preview: rebuild on every save and reload the open browser tab.

Pages are served from memory: each successful rebuild replaces the whole snapshot at
once, so a half-built site is never served, and nothing is written to disk. A failed
rebuild keeps the last good snapshot and shows the build's `path:line:col` messages over
it; fixing the file rebuilds and reloads by itself. The livereload package provides the
browser side (livereload.js and its WebSocket handshake); watching is ours (watch.py),
because its watcher polls every 800 ms and drops changes made just after a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import ipaddress
import json
import logging
import mimetypes
import os
import threading
import time
import webbrowser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from livereload.handlers import LiveReloadHandler, LiveReloadJSHandler
from tornado import httpserver, ioloop, iostream, netutil, web

from .errors import Report, printable
from .filekeys import FileKey, key_of
from .layout import CONTENT, STATIC, TEMPLATES
from .options import OutputFiles, Priority
from .packing import pack
from .pipeline import Builder, Options, Result
from .watch import make_watcher

DEBOUNCE = 0.005  # seconds of quiet that end a burst of events
MAX_DELAY = 0.15  # never wait longer than this after the first event
ASKED_SECONDS = 30.0  # a request for a page still to render waits this long at most


# Static files larger than this are sent from disk, a chunk at a time, not held in memory.
STREAMED_BYTES = 1 << 20
CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class OnDisk:
    """A large static file, as the build that copied it saw it: sent from disk, and only
    while the file there is that same file (the same inode, size and times), so nothing
    put in its place since (a link to a secret, say) is ever sent."""

    path: Path
    key: FileKey


@dataclass(frozen=True)
class Snapshot:
    """One consistent state of the preview: the files, or the errors over them."""

    files: OutputFiles
    errors: tuple[str, ...] = ()
    version: int = 0
    large: Mapping[str, OnDisk] = field(default_factory=dict)  # sent from disk


@dataclass
class PreviewState:
    """What the handlers read; the snapshot is replaced whole, never mutated.

    While a build runs, `priority` is its Priority: a request for a page it has still to
    render asks for that page, and waits (on the server's loop) until it is published.
    """

    snapshot: Snapshot = field(default_factory=lambda: Snapshot(OutputFiles()))
    port: int = 0
    host: str = "127.0.0.1"  # the address listened on
    viewing: dict[object, str] = field(default_factory=dict)  # reload socket -> its page
    room: Room = field(default_factory=lambda: Room.for_limit(None))
    recent: str = ""  # the page requested last
    priority: Priority | None = None
    waiting: dict[str, list[asyncio.Future[None]]] = field(default_factory=dict)

    def in_view(self) -> list[str]:
        """The pages open in a browser, and the one requested last: rendered first."""
        return list(
            dict.fromkeys([*self.viewing.values(), *([self.recent] if self.recent else [])])
        )

    def ready(self, output: str) -> asyncio.Future[None]:
        """On the loop: a future done once `output` is published, or the build ends."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(output, []).append(future)
        return future

    def published(self, output: str | None) -> None:
        """On the loop: wake the requests waiting for `output` (None: for any page)."""
        keys = list(self.waiting) if output is None else [output]
        for key in keys:
            for future in self.waiting.pop(key, []):
                if not future.done():
                    future.set_result(None)


def output_key(path: str) -> str:
    """The snapshot's key for a URL path: a folder's index.html."""
    key = path.lstrip("/")
    return key + "index.html" if key == "" or key.endswith("/") else key


def served_files(result: Result, previous: Snapshot) -> tuple[OutputFiles, dict[str, OnDisk]]:
    """Rendered files plus static files: the small ones' bytes (read once each), the
    large ones' place on disk (`previous`: the snapshot, for a file that cannot be read
    now)."""
    static, large = {}, {}
    for rel, path in result.copies.items():
        try:
            info = os.stat(path)
            if info.st_size > STREAMED_BYTES:
                large[rel] = OnDisk(path, key_of(info))
            else:
                static[rel] = pack(path.read_bytes())
        except OSError:
            if (old := previous.files.packed(rel)) is not None:
                static[rel] = old
            elif rel in previous.large:
                large[rel] = previous.large[rel]
    return result.files.with_files(static), large


def overlay(errors: tuple[str, ...]) -> bytes:
    """The build's messages, shown over the last good page until the mistake is fixed."""
    items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in errors)
    return (
        '<div id="sitegen-errors" role="alert" style="position:fixed;inset:0 0 auto 0;'
        "z-index:2147483647;max-height:70vh;overflow:auto;margin:0;padding:1rem 1.5rem;"
        "background:#fff0f0;color:#5c0000;border-bottom:4px solid #b00020;"
        'font:14px/1.5 ui-monospace,monospace;white-space:pre-wrap">'
        "<strong>The build failed; this is the last good version of the page.</strong>"
        f'<ul style="margin:.5rem 0 0;padding-left:1.2rem">{items}</ul></div>'
    ).encode()


def inject(body: bytes, snapshot: Snapshot, port: int) -> bytes:
    """Add the live-reload script, and the error overlay if the last build failed."""
    script = f'<script src="/livereload.js?port={port}"></script>'.encode()
    if snapshot.errors:
        body = body.replace(b"<body>", b"<body>" + overlay(snapshot.errors), 1)
    if b"</body>" in body:
        return body.replace(b"</body>", script + b"</body>", 1)
    return body + script


def host_allowed(host: str, listening: str) -> bool:
    """Whether a request's Host names this server: "localhost", an address (an address
    cannot be pointed elsewhere, as a page's DNS name can: DNS rebinding), or the name
    --host gave. On a loopback address, only loopback addresses and "localhost"."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name == listening.lower() and not is_loopback(listening)
    return address.is_loopback or not is_loopback(listening)


def host_name(host: str) -> str:
    """The name in a Host header, without its port or an IPv6 address's brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    if host.count(":") > 1:
        return host.lower()  # a bare IPv6 address
    return host.partition(":")[0].lower()


class HostChecked(web.RequestHandler):
    """Answers only requests whose Host names this server (host_allowed): a page on
    another site that gets a browser to send it requests learns nothing."""

    def prepare(self) -> None:
        host = self.request.headers.get("Host", "")
        if not host_allowed(host, self.settings["preview_host"]):
            raise web.HTTPError(403, "the preview answers only for its own address")


class PageHandler(HostChecked):
    """Serves the in-memory snapshot, and large static files from where the build found
    them; no request's path is ever looked up on disk, so none can escape."""

    def initialize(self, state: PreviewState) -> None:
        self.state = state

    async def get(self, path: str) -> None:
        key = output_key(path)
        page = key.endswith(".html")
        if page:
            self.state.recent = key
        priority = self.state.priority
        if page and priority is not None and priority.ask(key):
            # Still to render in the build that runs: it goes next. Its publication
            # reaches this loop as a callback, so it cannot come before `ready` is made.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.state.ready(key), ASKED_SECONDS)
        snapshot = self.state.snapshot
        if key in snapshot.large:
            await self._send_from_disk(key, snapshot.large[key])
            return
        body = snapshot.files.get(key)
        if body is None and f"{key}/index.html" in snapshot.files:
            self.redirect(f"/{key}/", permanent=False)
            return
        if body is None:
            self.set_status(404)
            key = "404.html"
            body = snapshot.files.get(key, b"<!doctype html><title>Not found</title><body></body>")
        kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
        if kind == "text/html":
            body = inject(body, snapshot, self.state.port)
            kind += "; charset=utf-8"
        self.set_header("Content-Type", kind)
        self.set_header("Cache-Control", "no-store")
        self.write(body)

    async def _send_from_disk(self, key: str, file: OnDisk) -> None:
        """A large static file, a chunk at a time; refused if it is not the file the
        build saw (it changed, or something else took its place: a rebuild follows),
        or if the file it opens would take the last of the preview's room (Room)."""
        room = self.state.room
        if not room.take_file():
            self.set_status(503)
            self.set_header("Retry-After", "1")
            self.write("The preview is sending as many files as it can at once; try again.")
            return
        try:
            with open(file.path, "rb") as handle:
                if key_of(os.fstat(handle.fileno())) != file.key:
                    self._changed()
                    return
                kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
                self.set_header("Content-Type", kind)
                self.set_header("Cache-Control", "no-store")
                left = file.key[2]  # no more than the build saw, should it grow meanwhile
                while left > 0 and (chunk := handle.read(min(CHUNK_BYTES, left))):
                    left -= len(chunk)
                    self.write(chunk)
                    await self.flush()  # sent in chunks: no length promised up front
        except iostream.StreamClosedError:
            pass  # the client went away (a kind of OSError: caught first)
        except OSError:
            self._changed()
        finally:
            room.drop_file()

    def _changed(self) -> None:
        self.set_status(503)
        self.set_header("Retry-After", "1")
        self.write("This file changed since the preview last built it; try again.")


class ReloadScript(HostChecked, LiveReloadJSHandler):
    """livereload.js, for our own pages only."""


class ReloadSocket(HostChecked, LiveReloadHandler):
    """livereload's WebSocket protocol, accepting only pages from our own origin.

    The Host must name this server (HostChecked.prepare: Tornado accepts an origin that
    matches the Host header without asking check_origin, so a page whose name an
    attacker points at 127.0.0.1, DNS rebinding, is refused there), and the origin must
    be the address the request was sent to.
    """

    counted = False  # among the state's open sockets

    def check_origin(self, origin: str) -> bool:
        host = self.request.headers.get("Host", "")
        return origin in (f"http://{host}", f"https://{host}")

    def open(self, *args: str, **kwargs: str) -> None:
        """Past the room's reload sockets, close the new one: once a connection is a
        WebSocket the server no longer counts it as a connection, so the room does."""
        if not self.settings["preview_state"].room.take_socket():
            self.close()
            return
        self.counted = True

    def on_message(self, message: str | bytes) -> None:
        """livereload.js's handshake; its "info" names the page open in the tab."""
        super().on_message(message)
        try:
            value = json.loads(message)
        except ValueError:
            return
        if isinstance(value, dict) and value.get("command") == "info":
            url = value.get("url")
            with contextlib.suppress(ValueError):  # not a URL: nothing to note
                if isinstance(url, str):
                    path = urlsplit(url).path
                    self.settings["preview_state"].viewing[self] = output_key(path)

    def on_close(self) -> None:
        super().on_close()
        state = self.settings["preview_state"]
        state.viewing.pop(self, None)
        if self.counted:
            state.room.drop_socket()
            self.counted = False


def is_loopback(host: str) -> bool:
    """Whether a host (with or without a port, IPv6 in brackets) names this machine only."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name: only "localhost" is known to be this machine
        return False


def broadcast_reload(path: str) -> None:
    """Tell every connected page to reload (livereload's message format)."""
    message = {"command": "reload", "path": path, "liveCSS": True, "liveImg": True}
    for waiter in list(LiveReloadHandler.waiters):
        try:
            waiter.write_message(message)
        except Exception:  # a closed socket: forget it
            LiveReloadHandler.waiters.discard(waiter)


class Rebuilder:
    """Waits for changes, debounces them, rebuilds, and swaps the snapshot in.

    Events that arrive during a rebuild are kept and cause one more rebuild, so no save
    is lost; a burst of events causes one rebuild.
    """

    def __init__(self, builder: Builder, state: PreviewState, loop: ioloop.IOLoop) -> None:
        self.builder, self.state, self.loop = builder, state, loop
        self.watcher = make_watcher(builder.options.root, (CONTENT, TEMPLATES, STATIC))
        self.stopped = threading.Event()

    def first_build(self) -> None:
        self._rebuild([])

    def run(self) -> None:
        """Rebuild until stopped; the watcher is closed here, by the thread that reads it.

        Closing it from another thread could let its descriptor number be reused by a
        new file or socket while this thread is about to read it.
        """
        try:
            self._loop()
        finally:
            self.watcher.close()

    def _loop(self) -> None:
        idle_since_build = False
        while not self.stopped.is_set():
            changed = self.watcher.read(0.5)
            if changed == [] and not idle_since_build:
                # Half a second without a save after a rebuild: the time to collect the
                # garbage of the whole heap, which a rebuild would otherwise stop for
                # (the heap holds the model, so a full collection is slow).
                gc.collect()
                idle_since_build = True
            if changed == []:
                continue
            idle_since_build = False
            pending = set(changed or [])
            rescan = changed is None
            deadline = time.monotonic() + MAX_DELAY
            while time.monotonic() < deadline:
                more = self.watcher.read(DEBOUNCE)
                if more == []:
                    break
                rescan = rescan or more is None
                pending.update(more or [])
            if rescan:
                self.builder.files.entries.clear()
            self._rebuild(sorted(pending))

    def _rebuild(self, changed: list[str]) -> None:
        started = time.perf_counter()
        self.builder.forget(changed)
        priority = Priority(self.state.in_view(), self._publish)
        self.state.priority = priority
        try:
            result = self.builder.build(priority=priority)
        except Exception as exc:  # an engine bug, not a content mistake: keep serving
            self._show_errors((f"internal error in the build, please report it: {exc!r}",))
            return
        finally:
            self.state.priority = None
            self.loop.add_callback(self.state.published, None)
        took = (time.perf_counter() - started) * 1000
        old = self.state.snapshot
        if result.ok:
            files, large = served_files(result, old)
            self.state.snapshot = Snapshot(files, (), old.version + 1, large)
            changed_outputs = [k for k in files if old.files.packed(k) != files.packed(k)]
            shown = printable(", ".join(changed)) if changed else "everything"
            print(
                f"rebuilt after {shown}: {len(result.rerendered)} page(s) rendered, "
                f"{len(changed_outputs)} file(s) changed, {took:.0f} ms",
                flush=True,
            )
            _print_warnings(result.report)
            if changed_outputs or old.errors:
                target = changed_outputs[0] if len(changed_outputs) == 1 else "*"
                self.loop.add_callback(broadcast_reload, "/" + target)
        else:
            lines = tuple(d.format() for d in result.report.sorted())
            self._show_errors(lines)

    def _publish(self, output: str, body: bytes | None) -> None:
        """One page rendered ahead of the rest of its build: served, and reloaded, now
        (None: the page needs no new rendering, or failed to render: as it stands).

        While the last build's errors are shown, the page is served new but not reloaded
        yet: whether they are gone is known only at the end of the build, which reloads
        every page then. (Two reloads so close together lost the second: the page was
        still opening its new reload socket.)"""
        old = self.state.snapshot
        packed = pack(body) if body is not None else None
        if packed is None or old.files.packed(output) == packed:
            self.loop.add_callback(self.state.published, output)
            return
        self.state.snapshot = Snapshot(
            old.files.with_files({output: packed}), old.errors, old.version + 1, old.large
        )
        self.loop.add_callback(self.state.published, output)
        if not old.errors:
            self.loop.add_callback(broadcast_reload, "/" + output)

    def _show_errors(self, lines: tuple[str, ...]) -> None:
        old = self.state.snapshot
        self.state.snapshot = Snapshot(old.files, lines, old.version + 1, old.large)
        print("build failed; still serving the last good version:", flush=True)
        for line in lines:
            print(f"  {line}", flush=True)
        self.loop.add_callback(broadcast_reload, "*")


def _print_warnings(report: Report) -> None:
    for warning in report.warnings:
        print(f"  {warning.format()}", flush=True)


# Descriptors kept free for the build's own files, the watcher, the loop and stdio.
RESERVED_FILES = 64
MOST_CONNECTIONS = 1000
IDLE_SECONDS = 60.0  # a connection that sends nothing for this long is closed
MOST_RELOAD_SOCKETS = 64  # browser tabs open on the preview at once


@dataclass
class Room:
    """What the preview holds open at once, each an open file: HTTP connections, reload
    sockets and large files being sent, counted together against `most`.

    At the process's limit of open files, accept() fails and Tornado's accept loop tries
    again at once, logging a traceback each time, without end, while the build cannot
    open its files. So `most` is what the limit leaves after RESERVED_FILES, and a
    connection past it is closed as soon as it is accepted; the first of a run of
    refusals is said once (`refusing`), not once per connection.
    """

    most: int  # connections, reload sockets and files being sent, together
    most_sockets: int  # reload sockets: at most half of `most`, so pages still load
    connections: int = 0  # HTTP connections (a reload socket's, until its upgrade)
    sockets: int = 0
    files: int = 0
    refusing: set[str] = field(default_factory=set)  # what is turned away, said once

    @classmethod
    def for_limit(cls, limit: int | None) -> Room:
        """The room left by a limit of `limit` open files (None: no limit)."""
        most = MOST_CONNECTIONS if limit is None else min(MOST_CONNECTIONS, limit - RESERVED_FILES)
        most = max(8, most)
        return cls(most, min(MOST_RELOAD_SOCKETS, most // 2))

    @classmethod
    def of_this_process(cls) -> Room:
        """The room this process's limit leaves (where it cannot be read, half of
        MOST_CONNECTIONS, as a guess that stays below common limits)."""
        try:
            import resource
        except ImportError:  # not on POSIX
            return cls.for_limit(MOST_CONNECTIONS // 2 + RESERVED_FILES)
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return cls.for_limit(None if soft == resource.RLIM_INFINITY else soft)

    @property
    def held(self) -> int:
        return self.connections + self.sockets + self.files

    def take_connection(self) -> bool:
        """Whether a connection just accepted may stay open."""
        if self.held >= self.most:
            self._refuse(
                "connections",
                f"{self.connections} connections and {self.sockets} reload sockets are open, "
                "as many as the preview holds at once; new connections are closed until some end",
            )
            return False
        self.connections += 1
        return True

    def drop_connection(self) -> None:
        self.connections -= 1
        self._room_made()

    def take_socket(self) -> bool:
        """Whether a connection just upgraded may stay a reload socket (its connection
        was counted when it was accepted, and is let go by the server soon after)."""
        if self.sockets >= self.most_sockets:
            self._refuse(
                "sockets",
                f"{self.sockets} reload sockets (browser tabs) are open, as many as the "
                "preview holds at once; new ones are closed until some end",
            )
            return False
        self.sockets += 1
        return True

    def drop_socket(self) -> None:
        self.sockets -= 1
        self._room_made()

    def take_file(self) -> bool:
        """Whether a connection may open a file to send (an open file like any other)."""
        if self.held >= self.most:
            return False
        self.files += 1
        return True

    def drop_file(self) -> None:
        self.files -= 1
        self._room_made()

    def _room_made(self) -> None:
        """Once a quarter of the room (or of the tabs' share) is free again, a run of
        refusals has ended: the next is said again. (A half could never come free for
        connections while the tabs hold their whole share.)"""
        if self.held <= self.most - self.most // 4:
            self.refusing.discard("connections")
        if self.sockets <= self.most_sockets - self.most_sockets // 4:
            self.refusing.discard("sockets")

    def _refuse(self, what: str, notice: str) -> None:
        if what not in self.refusing:
            self.refusing.add(what)
            print(notice, flush=True)


class CappedServer(httpserver.HTTPServer):
    """Tornado's HTTP server, closing each connection its room has no place for as
    soon as it is accepted (Room)."""

    room: Room  # the preview state's, set before any socket is added

    def handle_stream(self, stream: iostream.IOStream, address: tuple[Any, ...]) -> None:
        if not self.room.take_connection():
            stream.close()
            return
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        self.room.drop_connection()


def make_app(state: PreviewState) -> web.Application:
    return web.Application(
        [
            (r"/livereload", ReloadSocket),
            (r"/livereload\.js", ReloadScript),
            (r"(/.*)", PageHandler, {"state": state}),
        ],
        preview_host=state.host,
        preview_state=state,
    )


class Preview:
    """The preview server: the web app, the builder and the rebuilder thread."""

    def __init__(
        self,
        options: Options,
        host: str = "127.0.0.1",
        port: int = 8000,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.options, self.host, self.requested_port = options, host, port
        self.idle_seconds = idle_seconds  # a connection silent this long is closed
        self.state = PreviewState(host=host, room=Room.of_this_process())

    def start(self) -> None:
        """Listen, build once, and start watching; call on the thread that runs the loop."""
        self.loop = ioloop.IOLoop.current()
        self.listening = sockets = netutil.bind_sockets(self.requested_port, address=self.host)
        self.server = CappedServer(
            make_app(self.state),
            idle_connection_timeout=self.idle_seconds,
            body_timeout=self.idle_seconds,
        )
        self.server.room = self.state.room
        self.server.add_sockets(sockets)
        self.state.port = sockets[0].getsockname()[1]
        self.rebuilder = Rebuilder(Builder(self.options), self.state, self.loop)
        self.rebuilder.first_build()
        threading.Thread(target=self.rebuilder.run, name="rebuilder", daemon=True).start()

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{shown}:{self.state.port}/"

    def close(self) -> None:
        """Stop serving; the rebuilder thread ends within its half-second wait."""
        self.rebuilder.stopped.set()
        self.server.stop()


class PrintableLines(logging.Formatter):
    """Tornado's log lines, each with no control character raw: a 404's line names the
    path as the request sent it, and a path can carry a terminal's control codes."""

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().format(record).split("\n"))


def log_printably() -> None:
    """Tornado's warnings and errors to stderr, as Python prints them when no logging
    is set up, but through PrintableLines; once, by the process that serves."""
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(PrintableLines())
    logging.getLogger("tornado").addHandler(handler)


def serve(options: Options, host: str, port: int, open_browser: bool) -> int:
    """Build, serve on host:port, and rebuild on every change until interrupted."""
    log_printably()
    preview = Preview(options, host, port)
    preview.start()
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"WARNING: serving on {printable(host)}, reachable from other machines. The preview "
            "server is for writing, not for publishing; use 127.0.0.1 unless you mean it.",
            flush=True,
        )
    print(
        f"serving {printable(preview.url)} (Ctrl-C to stop); watching content/, templates/, "
        "static/",
        flush=True,
    )
    if open_browser:
        webbrowser.open(preview.url)
    try:
        preview.loop.start()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        preview.close()
    return 0


class BackgroundPreview:
    """A preview running on its own thread and event loop, for tests and benchmarks."""

    def __init__(
        self,
        options: Options,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.preview = Preview(options, host, port, idle_seconds)
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            self.preview.start()
            started.set()
            self.preview.loop.start()
            self.preview.close()

        self.thread = threading.Thread(target=main, name="preview", daemon=True)
        self.thread.start()
        if not started.wait(60):
            raise RuntimeError("the preview did not start")

    @property
    def url(self) -> str:
        return self.preview.url

    @property
    def snapshot(self) -> Snapshot:
        return self.preview.state.snapshot

    def stop(self) -> None:
        self.preview.loop.add_callback(self.preview.loop.stop)
        self.thread.join(10)
