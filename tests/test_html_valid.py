"""Every HTML file of the real site, and its CSS, pass the Nu HTML Checker (vnu).

vnu.jar comes from the npm package `vnu-jar` (installed by `make test` into
node_modules/) and runs on the machine's Java. Without Java or the jar the tests fail
under CI=true and are skipped, with the reason, on a developer's machine. One run of the
checker reads the whole site plus one deliberately broken file, so a checker that read
nothing cannot pass.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from realsite import NODE_MODULES, BuiltSite, missing_tool, real_site

VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
# Valid CSS that vnu's CSS checker does not know yet (each is in every current browser).
KNOWN_CSS_GAPS = (re.compile(r"Property “paint-order” doesn't exist"),)
CANARY = "vnu-canary.html"
Message = dict[str, object]


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[Message]:
    """vnu's messages for every .html and .css file of the site, and for the canary."""
    site: BuiltSite = real_site(tmp_path_factory)
    java = shutil.which("java")
    if java is None:
        missing_tool("Java is not installed (vnu needs it): apt-get install default-jre-headless")
    if not VNU_JAR.exists():
        missing_tool(f"{VNU_JAR} is missing; run `make test`, which installs it with npm")
    canary = tmp_path_factory.mktemp("vnu") / CANARY
    canary.write_text("<!doctype html><title>x</title><p><div></p>", encoding="utf-8")
    command = [java, "-jar", str(VNU_JAR), "--format", "json", "--also-check-css"]
    command += ["--skip-non-html", str(site.folder), str(canary)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    # vnu writes its report to stderr, and exits 1 when it found errors
    return json.loads(completed.stderr)["messages"]


def is_error(message: Message) -> bool:
    text = str(message.get("message", ""))
    return message.get("type") in ("error", "non-document-error") and not any(
        gap.search(text) for gap in KNOWN_CSS_GAPS
    )


def describe(message: Message) -> str:
    where = str(message.get("url", "")).rpartition("/sub/")[2]
    return f"{where}:{message.get('lastLine', '?')}: {message.get('message')}"


def test_the_checker_ran_and_rejects_broken_html(messages: list[Message]) -> None:
    assert any(is_error(m) and str(m.get("url", "")).endswith(CANARY) for m in messages)


def test_every_page_and_stylesheet_is_valid(messages: list[Message]) -> None:
    errors = [m for m in messages if is_error(m) and not str(m.get("url")).endswith(CANARY)]
    assert not errors, "\n".join(describe(m) for m in errors)
