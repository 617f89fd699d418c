"""Builds stopped at random moments: Ctrl-C and kill -9, in bounded rounds.

Each round edits a page, starts `sitegen build --jobs 2` as its own process group (as a
terminal runs it), waits a random moment and either sends Ctrl-C's SIGINT to the whole
group or SIGKILLs the build alone. Then: the build ended within 2 s of Ctrl-C, no worker
outlives it by more than 2 s, `site/` is the old tree or the new one, and the next build
equals a clean build of the same content.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.corpus import generate
from sitegen.cli import main

PAGES = 120
ROUNDS = 3
LIMIT = 2.0  # seconds


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def clean_build(root: Path, out: Path) -> dict[str, bytes]:
    assert main(["build", "--no-cache", "--jobs", "1", "--out", str(out)], root=root) == 0
    return tree(out)


def live_members(group: int) -> list[int]:
    """Processes of a process group that have not exited (zombies do not count)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def gone_within(group: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while live_members(group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "kill-9"])
def test_stopped_builds_leave_no_workers_and_a_whole_site(tmp_path: Path, how: str) -> None:
    root = tmp_path / "project"
    generate(root, PAGES, search=False)
    out = root / "site"
    assert main(["build", "--jobs", "2"], root=root) == 0
    rng = random.Random(f"{how}-1")
    for round_ in range(ROUNDS):
        old = tree(out)
        page = root / f"content/pages/page-{round_:05d}.md"
        page.write_text(page.read_text() + f"\nA sentence added in round {round_}.\n")
        # a new country makes every page list something new: the build renders them all
        new_country = root / f"content/countries/added-{round_}.yaml"
        first = (root / "content/countries/country-00000.yaml").read_text()
        new_country.write_text(first.replace("name: Country 00000", f"name: Added {round_}"))
        new = clean_build(root, tmp_path / f"clean-{round_}")
        build = subprocess.Popen(
            [sys.executable, "-m", "sitegen", "build", "--jobs", "2"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 2.5))
        stopped = time.monotonic()
        if how == "ctrl-c":
            os.killpg(build.pid, signal.SIGINT)
            try:
                build.wait(LIMIT)
            except subprocess.TimeoutExpired:
                os.killpg(build.pid, signal.SIGKILL)
                pytest.fail(f"round {round_}: the build hung after Ctrl-C")
            took = time.monotonic() - stopped
            assert took <= LIMIT, f"round {round_}: {took:.2f} s to stop"
            stderr = build.stderr.read().decode() if build.stderr else ""
            assert "Traceback" not in stderr, stderr
        else:
            build.kill()
            build.wait(LIMIT)
        assert gone_within(build.pid, LIMIT), f"round {round_}: workers outlived the build"
        if build.stderr:
            build.stderr.close()
        assert tree(out) in (old, new), f"round {round_}: site/ is neither old nor new"
    assert main(["build", "--jobs", "2"], root=root) == 0
    assert tree(out) == clean_build(root, tmp_path / "clean-final")


def test_a_file_edited_while_a_build_runs_is_built_next_time(tmp_path: Path) -> None:
    """The inputs' Stats are taken before they are read: an edit made while a build runs
    (whether that build saw it or not) makes the next build look again."""
    root = tmp_path / "project"
    generate(root, PAGES, search=False)
    out = root / "site"
    assert main(["build", "--jobs", "2"], root=root) == 0
    rng = random.Random("edited-while-building")
    for round_ in range(ROUNDS):
        page = root / f"content/pages/page-{round_:05d}.md"
        text = page.read_text()
        touched = root / "content/countries/country-00000.yaml"
        touched.write_text(touched.read_text().replace("name: Country", "name: Land", 1))
        build = subprocess.Popen(
            [sys.executable, "-m", "sitegen", "build", "--jobs", "2"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 2.0))
        page.write_text(text.replace("## Section 1", f"## Section edited in round {round_}", 1))
        assert build.wait(120) == 0
        assert main(["build", "--jobs", "2"], root=root) == 0
        assert tree(out) == clean_build(root, tmp_path / f"clean-{round_}"), f"round {round_}"
