"""The real explainer, built once per test session and served from a sub-path.

Shared by the browser tests (tests/browser/), the HTML checker (test_html_valid.py) and
the size budgets (test_budgets.py), so the site is built once, not once per module. The
project is copied into a temporary folder and built there with `base_url` pointing at the
local server, exactly as it would be deployed under a sub-path: then even the 404 page,
which links absolutely, requests nothing from any other origin.
"""

from __future__ import annotations

import atexit
import functools
import http.server
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.browsing import QuietHandler, QuietServer
from sitegen.cli import main

PROJECT = Path(__file__).resolve().parent.parent
SUB_PATH = "/sub/"
NODE_MODULES = PROJECT / "node_modules"
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class BuiltSite:
    """The built site's folder and the address it is served at (ending in SUB_PATH)."""

    folder: Path
    base_url: str

    def pages(self) -> list[str]:
        """Every HTML file, as a path relative to the site folder."""
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*.html"))

    def url(self, page: str) -> str:
        return self.base_url + page


_state: dict[str, object] = {}


def real_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """Build the real site (once per test session) and serve it until the session ends."""
    if "site" in _state:
        return _state["site"]  # type: ignore[return-value]
    base = tmp_path_factory.mktemp("realsite")
    www = base / "www"
    www.mkdir()
    handler = functools.partial(QuietHandler, directory=str(www))
    server = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _state["server"] = server
    atexit.register(stop_server)
    base_url = f"http://127.0.0.1:{server.server_address[1]}{SUB_PATH}"

    project = base / "project"
    for folder in ("content", "templates", "static"):
        shutil.copytree(PROJECT / folder, project / folder)
    settings = project / "content" / "site.yaml"
    text, count = re.subn(
        r"(?m)^base_url:.*$", f"base_url: {base_url}", settings.read_text("utf-8")
    )
    assert count == 1, "content/site.yaml has no base_url line"
    settings.write_text(text, encoding="utf-8")
    out = www / SUB_PATH.strip("/")
    code = main(["build", "--strict", "--out", str(out)], root=project)
    assert code == 0, "the real site does not build; run `python build.py build --strict`"
    site = BuiltSite(out, base_url)
    _state["site"] = site
    return site


def stop_server() -> None:
    """Stop the server started by real_site, if any."""
    server = _state.pop("server", None)
    if isinstance(server, http.server.ThreadingHTTPServer):
        server.shutdown()
        server.server_close()
    _state.pop("site", None)


def missing_tool(reason: str) -> None:
    """A tool the test needs is missing: a failure in CI, a skip on a developer's machine."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required, see .ci/run)", pytrace=False)
    pytest.skip(reason)
