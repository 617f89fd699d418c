"""Choosing and writing the output folder: refusals, whole replacement, no leftovers."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from sitegen import write
from sitegen.filekeys import key_of
from sitegen.write import MARKER, OutputError, OutputFolder, checksum, refuse_output


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for folder in ("content/countries", "templates", "static"):
        (project / folder).mkdir(parents=True)
    (project / "content/index.md").write_text("---\ntitle: Home\n---\n")
    return project


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# refuse_output


@pytest.mark.parametrize("name", [".", "content", "templates", "static"])
def test_refuses_the_project_and_its_source_folders(root: Path, name: str) -> None:
    out = (root / name).resolve()
    assert refuse_output(root / name, root) == f"the output folder {out} would replace {out}"


def test_refuses_a_parent_of_the_root(root: Path) -> None:
    parent = root.parent.resolve()
    assert refuse_output(root / "..", root) == (
        f"the output folder {parent} would replace {root.resolve()}"
    )


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("content/countries", "content"),
        ("content/site", "content"),
        ("static/out", "static"),
        ("templates/x/y", "templates"),
    ],
)
def test_refuses_a_folder_inside_a_source_folder(root: Path, name: str, source: str) -> None:
    out = (root / name).resolve()
    assert refuse_output(root / name, root) == (
        f"the output folder {out} is inside the source folder {(root / source).resolve()}"
    )


def test_refuses_a_file(root: Path) -> None:
    (root / "notes.txt").write_text("x")
    assert refuse_output(root / "notes.txt", root) == (
        f"the output path {(root / 'notes.txt').resolve()} is a file"
    )


def test_refuses_a_foreign_folder(root: Path) -> None:
    (root / "elsewhere").mkdir()
    (root / "elsewhere/precious.txt").write_text("keep me")
    out = (root / "elsewhere").resolve()
    assert refuse_output(root / "elsewhere", root) == (
        f"{out} exists and was not made by this tool; it will not be replaced"
    )


def test_refuses_a_symlink_to_a_source_folder(root: Path) -> None:
    (root / "site").symlink_to(root / "content")
    content = (root / "content").resolve()
    assert refuse_output(root / "site", root) == (
        f"the output folder {content} would replace {content}"
    )


def test_accepts_a_new_folder(root: Path) -> None:
    assert refuse_output(root / "site", root) is None
    assert refuse_output(root / "site/deeper", root) is None
    assert refuse_output(root.parent / "elsewhere", root) is None


def test_accepts_an_empty_folder(root: Path) -> None:
    (root / "site").mkdir()
    assert refuse_output(root / "site", root) is None


def test_accepts_a_previous_output(root: Path) -> None:
    write_site(root / "site", {"index.html": b"old", "a/b.html": b"B"}, {})
    assert refuse_output(root / "site", root) is None


def test_refuses_an_output_of_an_older_version_that_listed_nothing(root: Path) -> None:
    (root / "site").mkdir()
    (root / "site" / MARKER).write_text("made by sitegen; replaced whole on every build\n")
    (root / "site/index.html").write_text("old")
    assert refuse_output(root / "site", root) == (
        f"{root / 'site'} was made by an older version of this tool, which did not list its "
        "files; it will not be replaced: delete it once if it holds only a built site"
    )


def test_refuses_a_copy_of_the_site_with_files_beside_it(root: Path, tmp_path: Path) -> None:
    """`cp -a site/. /var/www/` copies the marker: what was there already is not ours."""
    write_site(root / "site", {"index.html": b"home", "about/index.html": b"about"}, {})
    www = tmp_path / "www"
    shutil.copytree(root / "site", www)
    (www / "uploads").mkdir()
    (www / "uploads/invoice-2018.pdf").write_bytes(b"%PDF")
    (www / ".well-known").mkdir()
    (www / ".well-known/security.txt").write_text("Contact: x\n")
    (www / "old-link").symlink_to("index.html")
    assert refuse_output(www, root) == (
        f"{www} holds files this tool did not write, or that changed since it wrote them: "
        ".well-known/security.txt, old-link, uploads/invoice-2018.pdf; it will not be "
        "replaced: move them out of it"
    )
    for name in ("uploads/invoice-2018.pdf", ".well-known/security.txt", "old-link"):
        (www / name).unlink()
    assert refuse_output(www, root) is None  # a copy of ours alone: the digests match


def test_refuses_an_output_changed_by_hand_and_names_at_most_five(root: Path) -> None:
    files = {f"p{n}/index.html": b"page %d" % n for n in range(8)}
    write_site(root / "site", files, {})
    for n in range(7):
        (root / f"site/p{n}/index.html").write_bytes(b"edited %d" % n)
    assert refuse_output(root / "site", root) == (
        f"{root / 'site'} holds files this tool did not write, or that changed since it "
        "wrote them: p0/index.html, p1/index.html, p2/index.html, p3/index.html, "
        "p4/index.html and 2 more; it will not be replaced: move them out of it"
    )


# OutputFolder


def nothing_beside(root: Path) -> bool:
    """Nothing left beside site/: no temporary or old tree."""
    return sorted(p.name for p in root.iterdir()) == ["content", "site", "static", "templates"]


def write_site(out: Path, files: dict[str, bytes], copies: dict[str, Path]) -> None:
    """Fill a new output folder and swap it in, as the pipeline does; discard on failure."""
    folder = OutputFolder(out)
    try:
        for rel in sorted(files):
            folder.write(rel, files[rel])
        for rel in sorted(copies):
            folder.copy(rel, copies[rel])
        assert folder.commit() is None
    finally:
        folder.discard()


def test_writes_files_and_copies(root: Path) -> None:
    (root / "static/style.css").write_text("body {}")
    out = root / "site"
    write_site(
        out,
        {"index.html": b"<h1>Home</h1>", "countries/japan/index.html": b"JP"},
        {"style.css": root / "static/style.css"},
    )
    written = tree(out)
    assert sorted(written) == [
        MARKER,
        "countries/japan/index.html",
        "index.html",
        "style.css",
    ]
    assert written["index.html"] == b"<h1>Home</h1>"
    assert written["countries/japan/index.html"] == b"JP"
    assert written["style.css"] == b"body {}"
    assert json.loads(written[MARKER]) == {
        "format": "sitegen-output-2",
        "files": {
            "countries/japan/index.html": checksum(b"JP"),
            "index.html": checksum(b"<h1>Home</h1>"),
            "style.css": checksum(b"body {}"),
        },
    }
    assert refuse_output(out, root) is None


def test_replaces_the_previous_output_whole(root: Path) -> None:
    out = root / "site"
    write_site(out, {"index.html": b"old", "stray/old.html": b"stray"}, {})
    write_site(out, {"index.html": b"new"}, {})
    assert sorted(tree(out)) == [MARKER, "index.html"]
    assert tree(out)["index.html"] == b"new"


def test_leaves_no_temporary_folders(root: Path) -> None:
    before = sorted(p.name for p in root.iterdir())
    write_site(root / "site", {"index.html": b"1"}, {})
    write_site(root / "site", {"index.html": b"2"}, {})
    assert sorted(p.name for p in root.iterdir()) == sorted([*before, "site"])


@pytest.mark.parametrize("bad", ["../evil.html", "/abs.html", "a/../../x.html", "", "."])
def test_refuses_paths_outside_the_output(root: Path, bad: str) -> None:
    out = root / "site"
    write_site(out, {"index.html": b"previous"}, {})
    before = tree(out)
    entries = sorted(p.name for p in root.parent.iterdir())
    with pytest.raises(ValueError) as raised:
        write_site(out, {"a.html": b"1", bad: b"x"}, {})
    assert str(raised.value) == f"refusing to write outside the output folder: {bad!r}"
    assert tree(out) == before
    assert sorted(p.name for p in root.parent.iterdir()) == entries
    assert nothing_beside(root)


def test_refuses_copies_outside_the_output(root: Path) -> None:
    (root / "static/style.css").write_text("body {}")
    out = root / "site"
    write_site(out, {"index.html": b"previous"}, {})
    with pytest.raises(ValueError) as raised:
        write_site(out, {}, {"../style.css": root / "static/style.css"})
    assert str(raised.value) == "refusing to write outside the output folder: '../style.css'"
    assert tree(out)["index.html"] == b"previous"
    assert not (root / "style.css").exists()
    assert nothing_beside(root)


@pytest.mark.parametrize("how", ["deleted", "a pipe now"])
def test_a_file_gone_before_its_copy_is_said_so_and_keeps_previous_output(
    root: Path, how: str
) -> None:
    """Found by the walk, gone when copied (or replaced by a pipe, which would block):
    said of the file itself, in the writer's words."""
    out = root / "site"
    write_site(out, {"index.html": b"previous"}, {})
    source = root / "static/gone.css"
    if how == "a pipe now":
        os.mkfifo(source)
    with pytest.raises(OutputError) as raised:
        write_site(out, {"index.html": b"new"}, {"gone.css": source})
    failure = raised.value
    assert (failure.path, failure.message, failure.hint) == (
        source,
        "the file disappeared while building",
        "build again",
    )
    assert tree(out)["index.html"] == b"previous"
    assert nothing_beside(root)


def test_a_write_the_disk_refuses_is_said_of_the_output_path(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary folder is the tool's business: the error names the file's path in
    the output folder, and the system's words."""
    out = root / "site"
    write_site(out, {"index.html": b"previous"}, {})

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OutputError) as raised:
        write_site(out, {"a/page.html": b"new"}, {})
    failure = raised.value
    assert (failure.path, failure.message, failure.hint) == (
        out / "a/page.html",
        "could not write: No space left on device",
        "free some space on that disk, then build again",
    )
    monkeypatch.undo()
    assert tree(out)["index.html"] == b"previous"
    assert nothing_beside(root)


def test_keeps_an_unchanged_file_by_hard_link(root: Path) -> None:
    out = root / "site"
    write_site(out, {"a.html": b"A", "b.html": b"B"}, {})
    st = (out / "a.html").stat()
    folder = OutputFolder(out)
    assert folder.unchanged("a.html", key_of(st))
    assert not folder.unchanged("a.html", (st.st_size + 1, *key_of(st)[1:]))
    assert not folder.unchanged(
        "a.html", (st.st_size, st.st_mtime_ns, st.st_ctime_ns + 1, st.st_ino)
    )
    assert not folder.unchanged(
        "a.html", (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino + 1)
    )
    assert not folder.unchanged("missing.html", (1, 1))
    assert not folder.unchanged("a.html", None)
    folder.keep("a.html")
    folder.write("b.html", b"B2")
    assert folder.commit() is None
    assert folder.stats()["a.html"][:2] == (st.st_size, st.st_mtime_ns)
    assert (out / "a.html").stat().st_ino == st.st_ino
    assert tree(out) == {MARKER: tree(out)[MARKER], "a.html": b"A", "b.html": b"B2"}


def test_discarded_folder_leaves_the_old_one_untouched(root: Path) -> None:
    out = root / "site"
    write_site(out, {"index.html": b"old"}, {})
    folder = OutputFolder(out)
    folder.write("index.html", b"new")
    folder.discard()
    assert tree(out)["index.html"] == b"old"
    assert nothing_beside(root)


def added_while_building(out: Path, *names: str) -> str:
    return (
        f"files were added to {out} or changed in it while the build ran: "
        f"{', '.join(names)}; it was not replaced, and this build was discarded"
    )


def test_a_file_added_while_the_build_runs_is_seen_before_the_swap(root: Path) -> None:
    """The old folder is looked at again just before the swap: what came into it since
    the build began is not the tool's, and nothing is replaced."""
    out = root / "site"
    write_site(out, {"index.html": b"old", "a/b.html": b"B"}, {})
    folder = OutputFolder(out)
    folder.write("index.html", b"new")
    (out / "a/upload.pdf").write_bytes(b"%PDF")
    (out / "a/b.html").write_bytes(b"edited")
    try:
        assert folder.commit() == added_while_building(out, "a/b.html", "a/upload.pdf")
    finally:
        folder.discard()
    assert tree(out) == {
        MARKER: tree(out)[MARKER],
        "index.html": b"old",
        "a/b.html": b"edited",
        "a/upload.pdf": b"%PDF",
    }
    assert nothing_beside(root)


def test_a_file_that_reaches_the_old_tree_during_the_swap_is_not_deleted(root: Path) -> None:
    """Written into the old tree as it is swapped out (by a program whose folder moved
    with it): the old tree is looked at again before it is removed, and swapped back."""
    out = root / "site"
    write_site(out, {"index.html": b"old"}, {})

    def swap_and_add(a: Path, b: Path) -> bool:
        done = write.exchange(a, b)
        assert done, "this test needs the one-step exchange"
        (a / "late.txt").write_text("precious")  # a is the old tree now
        return done

    folder = OutputFolder(out, swap=swap_and_add)
    folder.write("index.html", b"new")
    try:
        assert folder.commit() == added_while_building(out, "late.txt")
    finally:
        folder.discard()
    assert tree(out) == {MARKER: tree(out)[MARKER], "index.html": b"old", "late.txt": b"precious"}
    assert nothing_beside(root)


def test_the_swap_is_one_exchange_and_leaves_nothing_beside(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At no instant is there no output folder: the two trees are exchanged in one step."""
    out = root / "site"
    write_site(out, {"index.html": b"old"}, {})
    calls: list[tuple[Path, Path, bool]] = []
    real = write.exchange

    def spy(a: Path, b: Path) -> bool:
        done = real(a, b)
        calls.append((a, b, done))
        assert b.is_dir() and (b / "index.html").read_bytes() == (b"new" if done else b"old")
        return done

    monkeypatch.setattr(write, "exchange", spy)
    inode = (root / "site").stat().st_ino
    write_site(out, {"index.html": b"new"}, {})
    assert [(a.name, b.name, done) for a, b, done in calls] == [
        (f".site.tmp-{os.getpid()}", "site", True)
    ]
    assert tree(out)["index.html"] == b"new"
    assert (root / "site").stat().st_ino != inode
    assert nothing_beside(root)


def test_without_an_exchange_two_renames_still_give_the_new_tree(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = root / "site"
    write_site(out, {"index.html": b"old"}, {})
    monkeypatch.setattr(write, "exchange", lambda a, b: False)
    write_site(out, {"index.html": b"new"}, {})
    assert tree(out)["index.html"] == b"new"
    assert nothing_beside(root)


def test_what_an_interrupted_build_left_is_removed_by_the_next(root: Path) -> None:
    """A build killed mid-way leaves its new tree, or the old one, beside site/: the next
    build removes them once their process is gone, if they carry the marker (a build
    killed before it marked its folder left it empty, or with half a marker written), and
    leaves a running build's alone."""
    out = root / "site"
    write_site(out, {"index.html": b"old"}, {})
    dead = []
    for _ in range(3):
        ended = subprocess.Popen(["true"])  # a process that has ended
        ended.wait()
        dead.append(ended.pid)
    ours = [f".site.tmp-{dead[0]}", f".site.old-{dead[0]}", f".site.tmp-{os.getppid()}"]
    for name in ours:
        (root / name).mkdir()
        (root / name / "index.html").write_text("left")
        write.write_marker(root / name, {"index.html": checksum(b"left")})
    (root / f".site.old-{dead[1]}").mkdir()  # killed before it was marked
    (root / f".site.tmp-{dead[2]}").mkdir()  # killed while it wrote its first marker
    (root / f".site.tmp-{dead[2]}/{write.MARKER}.tmp-{dead[2]}").write_text('{"format"')
    (root / f".site.tmp-{dead[1]}").mkdir()  # named as ours, but not ours
    (root / f".site.tmp-{dead[1]}/notes.txt").write_text("keep me")
    write_site(out, {"index.html": b"new"}, {})
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [
            f".site.tmp-{dead[1]}",
            f".site.tmp-{os.getppid()}",  # its process runs: perhaps a build of its own
            "content",
            "site",
            "static",
            "templates",
        ]
    )
    assert (root / f".site.tmp-{dead[1]}/notes.txt").read_text() == "keep me"


def test_a_write_after_the_new_tree_was_removed_does_not_bring_it_back(root: Path) -> None:
    """A render worker outliving a killed build writes into a tree the next build has
    removed: the write fails, and no folder without its marker appears beside site/."""
    folder = OutputFolder(root / "site")
    shutil.rmtree(folder.tmp)
    with pytest.raises((OSError, OutputError)):
        folder.write("pages/page-1/index.html", b"late")
    assert not folder.tmp.exists()


def two_renames(out: Path) -> OutputFolder:
    """A new tree for `out` that is swapped in by two renames, as where there is no
    one-step exchange."""
    folder = OutputFolder(out, swap=lambda a, b: False)
    folder.write("index.html", b"new")
    return folder


def test_ctrl_c_between_the_two_renames_waits_for_the_new_tree(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the renames there is no site/: Ctrl-C there is held back until the new
    tree is in place, and the finished tree is never deleted."""
    out = root / "site"
    write_site(out, {"index.html": b"old"}, {})
    real = os.rename

    def rename(source: Path, target: Path) -> None:
        real(source, target)
        if Path(target).name.startswith(".site.old-"):  # site/ moved away: none is left
            # To this thread, as the kernel sends a terminal's Ctrl-C to a one-threaded
            # build: to the process, it could reach another thread of the test run,
            # which holds nothing back.
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    folder = two_renames(out)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        try:
            folder.commit()
        finally:
            folder.discard()  # as the pipeline does on the way out
    assert tree(out)["index.html"] == b"new"
    assert nothing_beside(root)


@pytest.mark.parametrize("failures", [1, 2])
def test_a_swap_that_fails_half_way_puts_the_old_tree_back(
    root: Path, monkeypatch: pytest.MonkeyPatch, failures: int
) -> None:
    """The second rename fails: the first is undone. If that fails too, the build's
    cleanup puts the old tree back rather than delete it."""
    out = root / "site"
    write_site(out, {"index.html": b"old"}, {})
    real = os.rename
    left = [failures]

    def rename(source: Path, target: Path) -> None:
        if Path(target) == out.resolve() and left[0]:
            left[0] -= 1
            raise OSError(5, "Input/output error", str(source))
        real(source, target)

    folder = two_renames(out)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="Input/output error"):
        folder.commit()
    assert out.exists() == (failures == 1)  # undone at once, or not
    folder.discard()  # as the pipeline does on the way out
    assert tree(out)["index.html"] == b"old"
    assert nothing_beside(root)


def test_a_failure_of_the_system_is_said_of_a_path_the_writer_knows(root: Path) -> None:
    """An OSError from anywhere in the build (a marker write, a template read): a file of
    the temporary tree by its path in the output folder, anything else as itself."""
    folder = OutputFolder(root / "site")
    try:
        said = [
            (str(f.path), f.message, f.hint)
            for f in (
                folder.failure(OSError(errno.ENOSPC, "No space left on device", str(folder.tmp))),
                folder.failure(OSError(errno.EIO, "Input/output error", str(folder.tmp / "a/b"))),
                folder.failure(FileNotFoundError(errno.ENOENT, "No such file", "/x/base.html")),
                folder.failure(PermissionError(errno.EACCES, "Permission denied", "/x/y.html")),
            )
        ]
    finally:
        folder.discard()
    assert said == [
        (
            str(root / "site"),
            "could not write: No space left on device",
            "free some space on that disk, then build again",
        ),
        (
            str(root / "site/a/b"),
            "could not write: Input/output error",
            "build again; if it fails again, check the disk",
        ),
        ("/x/base.html", "the file disappeared while building", "build again"),
        ("/x/y.html", "could not read: Permission denied", "check that you may read it"),
    ]
