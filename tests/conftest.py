"""Fixtures: small sites written into tmp_path and built through the real CLI."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sitegen.cli import main
from sitegen.pipeline import Options
from sitegen.serve import BackgroundPreview

PROJECT = Path(__file__).resolve().parent.parent

BASE_FILES: dict[str, str] = {
    "content/site.yaml": """\
        title: Test explainer
        description: A small site for tests.
        language: en
        base_url: https://example.org/sub/path/
        publisher: Test Desk
        licence: CC BY 4.0
        licence_url: https://creativecommons.org/licenses/by/4.0/
        """,
    "content/index.md": """\
        ---
        title: Overview
        summary: What happened.
        updated: 2018-12-10
        ---
        ## What is happening

        [Japan](countries/japan.yaml) is planning a ban [@reuters-japan].
        Suga said "Cybersecurity is becoming an important issue in Japan" [@reuters-japan].

        See [the measures](countries/japan.yaml#measures) and [China](countries/china.yaml).
        """,
    "content/about.md": """\
        ---
        title: How we source this
        order: 2
        ---
        ## Confidence

        Every fact is cited [@mfa-statement; @reuters-japan].
        """,
    "content/countries/japan.yaml": """\
        name: Japan
        code: JP
        summary: Plans to exclude Huawei and ZTE from government procurement.
        status: planned
        as_of: 2018-12-10
        related: [china]
        measures:
          - id: policy-agreed
            date: 2018-12-10
            actor: Government of Japan
            action: Agreed a procurement policy
            scope: Government procurement
            vendors: [huawei, zte]
            confidence: confirmed
            sources: [kyodo-decision]
          - id: exclusion-reported
            date: 2018-12
            actor: Government of Japan
            action: Reported to plan an exclusion
            scope: Government procurement
            vendors: [huawei, zte]
            confidence: reported
            sources: [reuters-japan]
        """,
    "content/countries/japan.md": """\
        ---
        title: Japan
        ---
        ## What happened

        Japan planned to exclude the vendors [@reuters-japan].
        """,
    "content/countries/china.yaml": """\
        name: China
        code: CN
        summary: Opposes the restrictions.
        status: opposes
        as_of: 2018-12-07
        measures:
          - id: concern
            date: 2018-12-07
            actor: Ministry of Foreign Affairs
            action: Expressed serious concern
            scope: Japan's reported plan
            vendors: [huawei, zte]
            confidence: confirmed
            sources: [mfa-statement]
        """,
    "content/sources.yaml": """\
        - id: reuters-japan
          publisher: Reuters
          title: Japan to ban Huawei, ZTE from govt contracts
          date: 2018-12-07
          url: https://example.com/reuters
          kind: news
          excerpts:
            - Cybersecurity is becoming an important issue in Japan
        - id: kyodo-decision
          publisher: Kyodo
          date: 2018-12-10
          kind: news
        - id: mfa-statement
          publisher: Ministry of Foreign Affairs
          date: 2018-12
          kind: official
        """,
}


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@dataclass
class SiteDir:
    """A project folder in tmp_path with the real templates and static files."""

    root: Path
    capsys: pytest.CaptureFixture[str]

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")

    def write_bytes(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def remove(self, path: str) -> None:
        (self.root / path).unlink()

    def build(self, *args: str) -> Outcome:
        self.capsys.readouterr()
        code = main(list(args) or ["build"], root=self.root)
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def html(self, output: str) -> BeautifulSoup:
        return BeautifulSoup((self.root / "site" / output).read_text("utf-8"), "html.parser")

    def tree(self, folder: str = "site") -> dict[str, bytes]:
        base = self.root / folder
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def make_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., SiteDir]:
    """Write the base site plus `files` overrides (a None value deletes a file)."""

    def make(files: dict[str, str | None] | None = None) -> SiteDir:
        root = tmp_path / "project"
        shutil.copytree(PROJECT / "templates", root / "templates")
        shutil.copytree(PROJECT / "static", root / "static")
        site = SiteDir(root, capsys)
        merged: dict[str, str | None] = {**BASE_FILES, **(files or {})}
        for path, text in merged.items():
            if text is not None:
                site.write(path, text)
        monkeypatch.chdir(root)
        return site

    return make


@pytest.fixture
def preview(make_site: Callable[..., SiteDir]) -> Iterator[tuple[SiteDir, BackgroundPreview]]:
    """The base site, and a preview server of it on a free port, stopped after the test."""
    site = make_site()
    running = BackgroundPreview(Options(root=site.root, out=site.root / "site", write=False))
    try:
        yield site, running
    finally:
        running.stop()
