"""Builds stopped at random moments: Ctrl-C and kill -9, in bounded rounds.

Each round edits a page, adds a country and edits the base template (so every page
renders again), starts `sitegen build --jobs 2` as its own process group (as a terminal
runs it), waits until its workers are at work and a random moment more, and either
sends Ctrl-C's SIGINT to the whole group or SIGKILLs the build alone. Then: the build
ended within 2 s of Ctrl-C, no worker outlives it by more than 2 s, `site/` is the old
tree or the new one, and the next build equals a clean build of the same content and
leaves nothing beside `site/` (what the stopped builds left is removed).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
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


def add_country(root: Path, name: str) -> None:
    """A new country, and an edit of the base template: the build renders every page
    again, in its workers."""
    first = (root / "content/countries/country-00000.yaml").read_text()
    added = root / f"content/countries/{name.lower().replace(' ', '-')}.yaml"
    added.write_text(first.replace("name: Country 00000", f"name: {name}"))
    base = root / "templates/base.html"
    base.write_text(base.read_text() + f"<!-- {name} -->\n")


def start_build(root: Path, stderr: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """`sitegen build --jobs 2` as its own process group, as a terminal runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "sitegen", "build", "--jobs", "2"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )


def mid_build(build: subprocess.Popen[bytes], rng: random.Random) -> None:
    """Wait until the build is at work in its workers, then a random moment more (in the
    parsing, the conversion, the rendering or the writing); it must still be running."""
    deadline = time.monotonic() + 60
    while len(live_members(build.pid)) < 2:
        assert build.poll() is None, "the build ended before its workers started"
        assert time.monotonic() < deadline, "the build never started its workers"
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.25))
    assert build.poll() is None, "the build ended before the moment chosen"


def beside(out: Path) -> list[str]:
    """What builds left beside the output folder: temporary and old trees."""
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*"))


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
        add_country(root, f"Added {round_}")
        new = clean_build(root, tmp_path / f"clean-{round_}")
        build = start_build(root)
        mid_build(build, rng)
        if how == "ctrl-c":
            os.killpg(build.pid, signal.SIGINT)
            try:
                build.wait(LIMIT)
            except subprocess.TimeoutExpired:
                os.killpg(build.pid, signal.SIGKILL)
                pytest.fail(f"round {round_}: the build hung after Ctrl-C")
            # 130 if interrupted; 0 if the build had just finished when the signal came
            # (it was tearing down), and then site/ must be the new tree
            assert build.returncode in (130, 0), f"round {round_}: exit {build.returncode}"
            if build.returncode == 0:
                assert tree(out) == new, f"round {round_}: finished, but site/ is not new"
            stderr = build.stderr.read().decode() if build.stderr else ""
            assert "Traceback" not in stderr, stderr
        else:
            build.kill()
            build.wait(LIMIT)
        assert gone_within(build.pid, LIMIT), f"round {round_}: workers outlived the build"
        if build.stderr:
            build.stderr.close()
        assert tree(out) in (old, new), f"round {round_}: site/ is neither old nor new"
        if how == "kill-9":
            left = beside(out)
            assert main(["build", "--jobs", "2"], root=root) == 0
            assert beside(out) == [], f"round {round_}: left {left}, still {beside(out)}"
    assert main(["build", "--jobs", "2"], root=root) == 0
    assert tree(out) == clean_build(root, tmp_path / "clean-final")
    assert beside(out) == []


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
        add_country(root, f"Added {round_}")
        build = start_build(root, subprocess.DEVNULL)
        mid_build(build, rng)
        page.write_text(text.replace("## Section 1", f"## Section edited in round {round_}", 1))
        assert build.poll() is None, f"round {round_}: the edit came after the build"
        assert build.wait(120) == 0
        assert main(["build", "--jobs", "2"], root=root) == 0
        assert tree(out) == clean_build(root, tmp_path / f"clean-{round_}"), f"round {round_}"


def test_a_worker_killed_mid_build_is_one_plain_error(tmp_path: Path) -> None:
    """A worker killed by the system (as the out-of-memory killer does): the build says so
    in plain words, without a traceback, exits 3 and leaves site/ as it was."""
    root = tmp_path / "project"
    generate(root, PAGES, search=False)
    out = root / "site"
    assert main(["build", "--jobs", "2"], root=root) == 0
    old = tree(out)
    add_country(root, "Added")
    build = start_build(root)
    mid_build(build, random.Random("worker-killed"))
    killed = set()
    while build.poll() is None:  # until one at work is hit (an idle one may just exit)
        for pid in live_members(build.pid):
            if pid != build.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
        time.sleep(0.01)
    _, stderr = build.communicate(timeout=60)
    lines = stderr.decode().splitlines()
    assert build.returncode == 3, "\n".join(lines)
    named = re.fullmatch(
        r"error: worker (\d+) exited unexpectedly; site/ was left as it was", lines[-2]
    )
    assert named and int(named.group(1)) in killed, lines
    assert lines[-1] == "try again with --jobs 1; if it happens again, please report it"
    assert not any("Traceback" in line for line in lines)
    assert tree(out) == old
