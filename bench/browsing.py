"""What the browser tests and bench/budgets.py share: the system's Chromium and a quiet
static file server.

Chromium is Debian's /usr/bin/chromium unless CHROME_PATH (the name Lighthouse reads) or
CHROMIUM_PATH says otherwise; Playwright drives it with `executable_path`.
"""

from __future__ import annotations

import http.server
import os
import sys
from pathlib import Path

CHROMIUM = Path(
    os.environ.get("CHROMIUM_PATH") or os.environ.get("CHROME_PATH") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    """Does not print a traceback when a browser drops a connection it no longer needs."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]
