"""The preview server under hostile requests and a busy writer.

It serves only what is in its in-memory snapshot (no path can reach the disk), listens on
127.0.0.1 unless told otherwise and says so loudly when told, lets only its own pages
open the live-reload WebSocket, and keeps answering, with whole pages, while it rebuilds
and while clients misbehave. Every test here stops by itself: sockets have timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import queue
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT, SiteDir
from test_serve import fetch, wait_for
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from sitegen.pipeline import Options
from sitegen.serve import (
    MOST_RELOAD_SOCKETS,
    BackgroundPreview,
    Room,
    host_allowed,
    is_loopback,
)

LINK_OUT = "symbolic link leads outside content/, templates/ and static/, or to a hidden file"
SECRET = "sitegen-test-secret-3f9a"  # in a file outside the project: must never be served


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    return secret


def raw_request(port: int, target: bytes, host: bytes = b"127.0.0.1") -> tuple[int, bytes]:
    """Send `GET target` exactly as given (no client normalises it); status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n")
        conn.sendall(b"Connection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# Traversal ---------------------------------------------------------------------------


def traversal_targets(root: Path, secret: Path) -> list[bytes]:
    targets = [
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/%252e%252e/%252e%252e/etc/passwd",
        "/..%c0%af..%c0%afetc/passwd",
        "//etc/passwd",
        "///etc//passwd",
        "/..\\..\\..\\etc\\passwd",
        "/%5c..%5c..%5cetc%5cpasswd",
        "/C:/Windows/win.ini",
        "/etc/passwd%00.html",
        "/%00",
        "/content/site.yaml",
        "/../content/site.yaml",
        "/%2e%2e/content/site.yaml",
        "/templates/page.html",
        "/static/style.css",
        "/.sitegen-output",
        "/site.yaml",
        str(root / "content/site.yaml"),
        "/" + str(root / "content/site.yaml"),
        str(secret),
        "/" + str(secret),
        "/../" + os.path.relpath(secret, root),
        "/countries/../../" + os.path.relpath(secret, root),
        "/leak.txt",
        "/leak-dir/secret.txt",
    ]
    return [t.encode() for t in targets]


def test_no_path_reaches_outside_the_snapshot(preview, outside: Path) -> None:
    site, running = preview
    port = running.preview.state.port
    (site.root / "static/leak.txt").symlink_to(outside)  # refused at load, never served
    (site.root / "static/leak-dir").symlink_to(outside.parent)
    wait_for(lambda: "sitegen-errors" in fetch(running.url)[1])
    refused = f"error: {LINK_OUT}"
    assert f"static/leak.txt:1:1: {refused}; copy the file in instead" in (running.snapshot.errors)
    yaml_line = b"base_url: https://example.org/sub/path/"
    for target in traversal_targets(site.root, outside):
        status, body = raw_request(port, target)
        assert status in (400, 404), (target, status)
        assert SECRET.encode() not in body, target
        assert yaml_line not in body and b"root:x:0:0" not in body, target
        assert b"{% block" not in body, target  # no template source either


def test_absolute_form_and_odd_hosts_find_nothing_outside(preview, outside: Path) -> None:
    _site, running = preview
    port = running.preview.state.port
    for target, host in (
        (b"http://127.0.0.1/../../etc/passwd", b"127.0.0.1"),
        (b"file://" + str(outside).encode(), b"127.0.0.1"),
        (b"/" + str(outside).encode(), b"../../"),
        (b"/../etc/passwd", str(outside.parent).encode()),
    ):
        status, body = raw_request(port, target, host)
        assert status in (400, 403, 404), (target, status)
        assert SECRET.encode() not in body


def test_doubled_slashes_stay_inside_the_site(preview) -> None:
    _, running = preview
    port = running.preview.state.port
    status, body = raw_request(port, b"//about/")
    assert status == 200 and b"How we source this" in body
    status, _ = raw_request(port, b"/about//../../..//")
    assert status in (200, 404)


# Binding -----------------------------------------------------------------------------


def serve_cli(site: SiteDir, *args: str) -> tuple[list[str], int]:
    """Start `sitegen serve` as the writer would; its first lines and port; then stop it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sitegen", "serve", "--port", "0", *args],
        cwd=site.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    lines: list[str] = []
    received: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [received.put(line) for line in stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while not any(line.startswith("serving ") for line in lines):
            with contextlib.suppress(queue.Empty):
                lines.append(received.get(timeout=1).rstrip("\n"))
            assert time.monotonic() < deadline, lines
            assert process.poll() is None, lines
        url = next(line for line in lines if line.startswith("serving ")).split()[1]
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/about/", timeout=5) as response:
            assert response.status == 200
        return lines, port
    finally:
        process.terminate()
        process.wait(10)


def test_serve_binds_loopback_by_default_and_says_where(make_site) -> None:
    lines, port = serve_cli(make_site())
    assert lines[-1] == (
        f"serving http://127.0.0.1:{port}/ (Ctrl-C to stop); watching content/, templates/, static/"
    )
    assert not any("WARNING" in line for line in lines)


def test_serve_on_all_interfaces_warns_loudly(make_site) -> None:
    lines, _ = serve_cli(make_site(), "--host", "0.0.0.0")
    assert (
        "WARNING: serving on 0.0.0.0, reachable from other machines. The preview server is "
        "for writing, not for publishing; use 127.0.0.1 unless you mean it."
    ) in lines


def test_the_preview_listens_on_the_loopback_address(preview) -> None:
    _, running = preview
    addresses = [s.getsockname()[0] for s in running.preview.listening]
    assert addresses == ["127.0.0.1"]


# The live-reload WebSocket -------------------------------------------------------------


def websocket_status(port: int, origin: str | None, host: str | None = None) -> int:
    """101 if the WebSocket handshake succeeds with these headers, else the HTTP status."""

    async def attempt() -> int:
        headers = {} if origin is None else {"Origin": origin}
        if host is not None:
            headers["Host"] = host
        request = HTTPRequest(
            f"ws://127.0.0.1:{port}/livereload",
            headers=headers,
            connect_timeout=5,
            request_timeout=5,
        )
        try:
            connection = await websocket_connect(request)
        except HTTPClientError as error:
            return error.code
        connection.close()
        return 101

    return asyncio.run(attempt())


def test_only_our_own_pages_may_open_the_reload_socket(preview) -> None:
    _, running = preview
    port = running.preview.state.port
    own = f"127.0.0.1:{port}"
    assert websocket_status(port, f"http://{own}") == 101
    assert websocket_status(port, f"http://localhost:{port}", f"localhost:{port}") == 101
    assert websocket_status(port, "http://evil.example") == 403
    assert websocket_status(port, f"http://evil.example:{port}") == 403
    assert websocket_status(port, "null") == 403
    assert websocket_status(port, f"http://{own}.evil.example") == 403
    assert websocket_status(port, f"https://127.0.0.1:{port + 1}") == 403
    # DNS rebinding: a foreign name resolved to 127.0.0.1 sends matching Host and Origin
    for name in ("evil.example", "127.evil.example", "127.0.0.1.nip.io"):
        rebound = f"{name}:{port}"
        assert websocket_status(port, f"http://{rebound}", rebound) == 403, name


def reload_request(port: int) -> HTTPRequest:
    """The reload socket's handshake, as one of the preview's own pages sends it."""
    return HTTPRequest(
        f"ws://127.0.0.1:{port}/livereload",
        headers={"Origin": f"http://127.0.0.1:{port}"},
        connect_timeout=5,
        request_timeout=5,
    )


async def closed(connection: WebSocketClientConnection) -> bool:
    """Whether the preview closed this reload socket (an open one has nothing to read
    for half a second, or a reload message)."""
    try:
        message = await asyncio.wait_for(connection.read_message(), 0.5)
    except TimeoutError:
        return False
    return message is None


def test_reload_sockets_past_the_cap_are_closed_and_room_comes_back(preview) -> None:
    """A WebSocket is no longer a connection the server's cap counts: the preview holds
    at most MOST_RELOAD_SOCKETS of them, closes the next at once, and takes new ones
    when some close."""
    _, running = preview
    port = running.preview.state.port

    async def scenario() -> tuple[int, int, bool]:
        request = reload_request(port)
        sockets = [await websocket_connect(request) for _ in range(MOST_RELOAD_SOCKETS + 6)]
        shut = await asyncio.gather(*(closed(connection) for connection in sockets))
        for connection in sockets[:10]:
            connection.close()
        await asyncio.sleep(0.5)
        again = await websocket_connect(request)
        reopened = not await closed(again)
        again.close()
        for connection in sockets[10:]:
            connection.close()
        return shut.count(True), shut.count(False), reopened

    refused, kept, reopened = asyncio.run(scenario())
    assert (refused, kept, reopened) == (6, MOST_RELOAD_SOCKETS, True)


def test_connections_tabs_and_files_sent_share_one_room(capsys) -> None:
    """Each holds an open file: a connection, a tab or a file being sent past the room
    left by the limit would make accept() fail. Each kind turned away is said once a
    run, and a run ends once a quarter of the room (of the tabs' share) is free."""
    room = Room.for_limit(64 + 20)  # RESERVED_FILES kept: 20 left
    assert (room.most, room.most_sockets) == (20, 10)
    assert all(room.take_connection() for _ in range(12))
    for _ in range(10):  # upgraded: the server lets each connection go after its open
        assert room.take_socket()
        room.drop_connection()
    assert not room.take_socket()
    assert all(room.take_connection() for _ in range(8))
    assert not room.take_file()
    assert [room.take_connection() for _ in range(3)] == [False] * 3
    tabs_notice = (
        "10 reload sockets (browser tabs) are open, as many as the preview holds at once; "
        "new ones are closed until some end"
    )
    connections_notice = (
        "10 connections and 10 reload sockets are open, as many as the preview holds at "
        "once; new connections are closed until some end"
    )
    assert capsys.readouterr().out.splitlines() == [tabs_notice, connections_notice]
    room.drop_connection()
    assert room.take_file() and not room.take_connection()  # a file sent takes a place
    room.drop_file()
    assert room.take_connection()  # the room full again

    def refill_and_refuse(connections: int, sockets: int) -> list[str]:
        """Give back some of each, take them again, and one more: what is said."""
        for _ in range(connections):
            room.drop_connection()
        for _ in range(sockets):
            room.drop_socket()
        assert all(room.take_socket() for _ in range(sockets))
        assert all(room.take_connection() for _ in range(connections))
        assert not room.take_socket() and not room.take_connection()
        return capsys.readouterr().out.splitlines()

    assert refill_and_refuse(3, 1) == []  # 16 held, 9 tabs, at the least: the same run
    assert refill_and_refuse(5, 0) == [connections_notice]  # 15 held: a run ended
    assert refill_and_refuse(0, 2) == [tabs_notice]  # 8 tabs: a run ended


def test_every_request_must_name_this_server(preview) -> None:
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 makes
    the browser send `Host: evil.example`. Nothing is served to it, drafts or not."""
    _site, running = preview
    port = running.preview.state.port
    for target in (b"/", b"/about/", b"/livereload.js", b"/style.css", b"/nope/"):
        for host in (b"evil.example", b"evil.example:%d" % port, b"127.0.0.1.nip.io"):
            status, body = raw_request(port, target, host)
            assert status == 403, (target, host, status)
            assert b"How we source this" not in body and b"livereload" not in body
        for host in (b"127.0.0.1:%d" % port, b"localhost:%d" % port, b"[::1]:%d" % port):
            status, _ = raw_request(port, target, host)
            assert status in (200, 404), (target, host, status)


@pytest.mark.parametrize(
    ("host", "listening", "allowed"),
    [
        ("127.0.0.1:8000", "127.0.0.1", True),
        ("localhost:8000", "127.0.0.1", True),
        ("[::1]:8000", "127.0.0.1", True),
        ("evil.example:8000", "127.0.0.1", False),
        ("127.0.0.1.nip.io", "127.0.0.1", False),
        ("192.168.1.20:8000", "127.0.0.1", False),  # not this address
        ("192.168.1.20:8000", "0.0.0.0", True),  # on every interface: any address
        ("laptop.local:8000", "0.0.0.0", False),  # a name: only the one --host gave
        ("laptop.local:8000", "laptop.local", True),
        ("LAPTOP.local", "laptop.local", True),
        ("evil.example", "laptop.local", False),
    ],
)
def test_host_allowed_names_this_server_exactly(host: str, listening: str, allowed: bool) -> None:
    assert host_allowed(host, listening) is allowed


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8000", True),
        ("127.1.2.3:8000", True),
        ("localhost", True),
        ("LocalHost:8000", True),
        ("[::1]:8000", True),
        ("::1", True),
        ("127.evil.example", False),
        ("127.0.0.1.nip.io:8000", False),
        ("localhost.evil.example", False),
        ("evil.example:8000", False),
        ("[::ffff:10.0.0.1]:8000", False),
        ("0.0.0.0:8000", False),
        ("", False),
    ],
)
def test_loopback_means_an_address_of_this_machine_exactly(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# A busy preview -------------------------------------------------------------------------

CLIENTS = 200  # requests in flight at once
WAVES = 3  # rounds of them, while the writer saves every 20 ms
PATHS = ("", "about/", "countries/japan/", "countries/china/", "sources/", "style.css", "nope/")


def test_concurrent_requests_during_rebuilds_get_whole_pages(preview, capsys) -> None:
    site, running = preview
    about = site.root / "content/about.md"
    text = about.read_text()
    stop = threading.Event()
    saves = [0]

    def writer() -> None:
        while not stop.is_set():
            saves[0] += 1
            about.write_text(text.replace("Every fact is cited", f"Save {saves[0]} is cited"))
            time.sleep(0.02)

    def one(path: str, barrier: threading.Barrier) -> tuple[str, int, str, float]:
        barrier.wait(10)
        started = time.perf_counter()
        status, body = fetch(running.url + path)  # 5 s timeout; a cut body raises
        return path, status, body, time.perf_counter() - started

    version_before = running.snapshot.version
    results = []
    started = time.perf_counter()
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            for _ in range(WAVES):
                barrier = threading.Barrier(CLIENTS)
                futures = [pool.submit(one, PATHS[i % len(PATHS)], barrier) for i in range(CLIENTS)]
                results += [future.result(timeout=30) for future in futures]
    finally:
        stop.set()
        thread.join(10)
    took = time.perf_counter() - started
    rebuilds = running.snapshot.version - version_before
    assert took < 30
    assert len(results) == CLIENTS * WAVES
    assert rebuilds >= 2  # the load really ran while the site was being rebuilt
    for path, status, body, _ in results:
        assert status == (404 if path == "nope/" else 200), (path, status)
        if path.endswith("/") or path == "":
            assert body.startswith("<!doctype html>") and body.rstrip().endswith("</html>")
            assert body.count("</html>") == 1
        if path == "about/":  # one version of the text, never a mixture or a part
            assert len(re.findall(r"(?:Every fact|Save \d+) is cited", body)) == 1, body
    slowest = max(latency for *_, latency in results)
    with capsys.disabled():
        print(
            f"\n  preview load: {len(results)} requests ({CLIENTS} at once, {WAVES} waves) "
            f"in {took:.1f} s during {rebuilds} rebuilds ({saves[0]} saves); "
            f"slowest answer {slowest * 1000:.0f} ms"
        )
    final = f"Save {saves[0]} is cited"
    wait_for(lambda: final in fetch(running.url + "about/")[1])  # the last save is not lost


def test_clients_that_hang_up_or_stall_do_not_disturb_others(preview) -> None:
    site, running = preview
    port = running.preview.state.port
    site.write_bytes("static/big.bin", os.urandom(8 * 1024 * 1024))
    whole_file = 8 * 1024 * 1024

    def whole() -> bool:  # the watcher may see the file half written first
        large = running.snapshot.large.get("big.bin")
        return large is not None and large.key.size == whole_file

    wait_for(whole, 20)
    stalled = []
    for _ in range(50):  # half a request line, never finished
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(b"GET /about/ HTTP/1.1\r\nHost: 127.0.0")
        stalled.append(conn)

    def hang_up_mid_response() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            conn.recv(65536)
            # reset the connection with most of the 8 MB still unsent
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def normal() -> int:
        with urllib.request.urlopen(running.url + "big.bin", timeout=10) as response:
            return len(response.read())

    try:
        with ThreadPoolExecutor(40) as pool:
            aborted = [pool.submit(hang_up_mid_response) for _ in range(30)]
            whole = [pool.submit(normal) for _ in range(10)]
            for future in aborted:
                future.result(timeout=30)
            assert [future.result(timeout=30) for future in whole] == [8 * 1024 * 1024] * 10
        status, body = fetch(running.url + "about/")
        assert status == 200 and "How we source this" in body
    finally:
        for conn in stalled:
            conn.close()


def serve_logged(
    site: SiteDir, limit_files: int | None = None
) -> tuple[subprocess.Popen[str], list[str], str]:
    """`sitegen serve` in a subprocess (with at most `limit_files` open files, if given):
    the process, its log lines as they come, and its URL once it serves."""
    import resource

    def limit() -> None:
        if limit_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_files, limit_files))

    process = subprocess.Popen(
        [sys.executable, "-m", "sitegen", "serve", "--port", "0"],
        cwd=site.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        preexec_fn=limit,
    )
    lines: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.append(line) for line in stdout], daemon=True).start()
    try:
        wait_for(lambda: any(line.startswith("serving ") for line in lines), 30)
    except AssertionError:
        process.terminate()
        raise
    return process, lines, next(line for line in lines if line.startswith("serving ")).split()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Tabs:
    """Browser tabs' reload sockets, held open on an event loop of their own while the
    test goes on."""

    def __init__(self, port: int, count: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sockets: list[WebSocketClientConnection] = self._run(self._open(port, count))

    def _run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(30)

    @staticmethod
    async def _open(port: int, count: int) -> list[WebSocketClientConnection]:
        request = reload_request(port)
        return [await websocket_connect(request) for _ in range(count)]  # one by one

    def closed(self) -> int:
        """How many of them the preview closed."""
        return sum(self._run(self._closed()))

    async def _closed(self) -> list[bool]:
        return list(await asyncio.gather(*(closed(s) for s in self.sockets)))

    def close(self) -> None:
        for connection in self.sockets:
            self.loop.call_soon_threadsafe(connection.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def still_open(conn: socket.socket) -> bool:
    """Whether the server has not closed this connection (a look, not a wait)."""
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # open, and nothing sent yet
    except OSError:  # reset: closed with our request unread
        return False


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_more_clients_than_files_it_may_open_are_refused_quietly(make_site) -> None:
    """Under `ulimit -n 128`, MOST_RELOAD_SOCKETS tabs and then 200 clients that never
    finish a request: connections and reload sockets together stay within what the
    limit leaves after the build's RESERVED_FILES, so accept() never fails. The preview
    does not spin or flood its log, it says once of each kind that it turns some away,
    a save still rebuilds right (no false 'missing settings file'), and once they leave
    it answers again."""
    site = make_site()
    process, lines, url = serve_logged(site, limit_files=128)
    room = Room.for_limit(128)
    stalled: list[socket.socket] = []
    tabs: Tabs | None = None
    try:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        idle_files = open_files(process.pid)
        tabs = Tabs(port, MOST_RELOAD_SOCKETS)
        assert tabs.closed() == MOST_RELOAD_SOCKETS - room.most_sockets
        for _ in range(200):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError as error:  # its accept loop has stopped taking any
                raise AssertionError(f"no longer accepted: {error}", lines[-3:]) from None
            conn.sendall(b"GET /about/ HTTP/1.1\r\nHost: 127.0.0")
            stalled.append(conn)
        time.sleep(1)
        busy = _cpu_seconds(process.pid)
        time.sleep(2)
        assert _cpu_seconds(process.pid) - busy < 0.5, "the server spins"
        assert sum(still_open(conn) for conn in stalled) == room.most - room.most_sockets
        assert open_files(process.pid) - idle_files <= room.most
        site.write("content/about.md", (site.root / "content/about.md").read_text() + "\nSaved.\n")
        wait_for(
            lambda: any(line.startswith("rebuilt after content/about.md") for line in lines), 20
        )
        log = "".join(lines)
        assert "Traceback" not in log and "error" not in log, log[-2000:]
        assert "Too many open files" not in log and "missing settings file" not in log
        assert len(log) < 5000, log[-2000:]
        tabs_notice = (
            f"{room.most_sockets} reload sockets (browser tabs) are open, as many as the "
            "preview holds at once; new ones are closed until some end\n"
        )
        connections_notice = (
            f"{room.most - room.most_sockets} connections and {room.most_sockets} reload "
            "sockets are open, as many as the preview holds at once; new connections are "
            "closed until some end\n"
        )
        assert (lines.count(tabs_notice), lines.count(connections_notice)) == (1, 1), log
    finally:
        for conn in stalled:
            conn.close()
        if tabs is not None:
            tabs.close()
    try:

        def answered() -> bool:  # refused (reset) until it sees the stalled ones gone
            try:
                return fetch(url + "about/")[0] == 200
            except OSError:
                return False

        wait_for(answered, 20)
        assert "Saved." in fetch(url + "about/")[1]
    finally:
        process.terminate()
        process.wait(10)


def test_connections_idle_past_the_limit_are_closed_and_busy_ones_kept(make_site) -> None:
    """A client that sends nothing, or never finishes its request, holds its connection
    (an open file) only for the idle limit; one that keeps asking on its connection, and
    a tab's reload socket, are kept however long they last."""
    site = make_site()
    idle = 1.0
    options = Options(root=site.root, out=site.root / "site", write=False)
    running = BackgroundPreview(options, idle_seconds=idle)
    port = running.preview.state.port
    tabs = Tabs(port, 1)
    busy = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    started = time.monotonic()
    silent = socket.create_connection(("127.0.0.1", port), timeout=5)
    halfway = socket.create_connection(("127.0.0.1", port), timeout=5)
    halfway.sendall(b"GET /about/ HTTP/1.1\r\nHost: 127.0.0")
    closed_after: dict[str, float] = {}
    local_ports = set()
    try:
        while time.monotonic() - started < 3 * idle:
            busy.request("GET", "/about/")
            with busy.getresponse() as response:
                assert response.status == 200 and b"How we source this" in response.read()
            local_ports.add(busy.sock.getsockname()[1])
            for name, conn in (("silent", silent), ("halfway", halfway)):
                if name not in closed_after and not still_open(conn):
                    closed_after[name] = time.monotonic() - started
            time.sleep(idle / 10)
        assert sorted(closed_after) == ["halfway", "silent"], closed_after
        assert all(idle <= after < 2 * idle for after in closed_after.values()), closed_after
        assert len(local_ports) == 1  # the busy client's one connection, kept throughout
        assert tabs.closed() == 0
    finally:
        for conn in (busy, silent, halfway):
            conn.close()
        tabs.close()
        running.stop()


def test_control_characters_reach_the_terminal_escaped(make_site) -> None:
    """A writer's value, a file's name and a request's path are printed by `serve` with
    each control character escaped: ESC and BEL (clear the screen, retitle the window)
    and the 8-bit CSI never reach the terminal raw."""
    site = make_site()
    process, lines, url = serve_logged(site)
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    shown = "\\x1b[2J\\x1b]0;pwned\\x07"
    japan = site.root / "content/countries/japan.yaml"
    text = japan.read_text()
    name = "content/a\x1b[2J\x1b]0;pwned\x07.md"

    def after(line: str, seen: int) -> Callable[[], bool]:
        return lambda: any(got.startswith(line) for got in lines[seen:])

    try:
        seen = len(lines)
        japan.write_text(text.replace("code: JP", 'code: "\\e[2J\\e]0;pwned\\a"'))
        wait_for(after("  content/countries/japan.yaml", seen), 20)
        japan.write_text(text)
        wait_for(after("rebuilt after content/countries/japan.yaml", seen), 20)
        seen = len(lines)
        site.write(name, "---\ntitle: A page\n---\nText.\n")
        wait_for(after(f"  content/a{shown}.md", seen), 20)
        site.remove(name)
        wait_for(after(f"rebuilt after content/a{shown}.md: ", seen), 20)
        assert raw_request(port, b"/nope\x9b[2J/")[0] == 404
        wait_for(after("404 GET /nope", 0), 10)
    finally:
        process.terminate()
        process.wait(10)
    log = "".join(lines)
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", log), repr(log)
    assert (
        f"  content/countries/japan.yaml:2:7: error: field 'code': '{shown}' is not an ISO "
        "3166-1 alpha-2 code; write two capital letters\n"
    ) in lines
    assert (
        f"  content/a{shown}.md:1:1: error: the name has a backslash or a control character; "
        "rename it with letters, digits, hyphens, underscores and dots\n"
    ) in lines
    (access,) = [line for line in lines if line.startswith("404 ")]
    assert re.fullmatch(r"404 GET /nope\\x9b\[2J/ \(127\.0\.0\.1\) [0-9.]+ms\n", access), access


def _vm_hwm_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None
    return int(match.group(1)) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_large_static_file_is_sent_from_disk_not_held(make_site, outside: Path) -> None:
    """A 64 MB file downloaded four times at once costs the preview a few chunks of
    memory, not the file (nor a copy per download); and a link to a secret put in its
    place is never sent, before or after the rebuild that refuses it."""
    site = make_site()
    size = 64 * 1024 * 1024
    site.write_bytes("static/big.bin", os.urandom(1024) * (size // 1024))
    process, lines, url = serve_logged(site)
    try:
        before = _vm_hwm_mib(process.pid)

        def download() -> int:
            with urllib.request.urlopen(url + "big.bin", timeout=30) as response:
                return sum(len(chunk) for chunk in iter(lambda: response.read(1 << 20), b""))

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda _: download(), range(4))) == [size] * 4
        assert _vm_hwm_mib(process.pid) - before < 16, "the file was held in memory"
        big = site.root / "static/big.bin"
        big.unlink()
        big.symlink_to(outside)
        for _ in range(20):  # before the rebuild and after it
            status, body = fetch(url + "big.bin")
            assert SECRET not in body and status in (404, 503), (status, body[:200])
            time.sleep(0.05)
        wait_for(lambda: any(LINK_OUT in line for line in lines), 20)
        status, body = fetch(url + "big.bin")
        assert SECRET not in body and status == 503
    finally:
        process.terminate()
        process.wait(10)
