"""Reading files: decoding, front matter, and which files of a project are used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sitegen.errors import Location, Report
from sitegen.inputs import find_inputs
from sitegen.load import load_project, read_text, split_front_matter

LINK_OUT = "symbolic link leads outside content/, templates/ and static/, or to a hidden file"
UNKNOWN_YAML = (
    "unknown YAML file; YAML goes in content/site.yaml, content/sources.yaml or "
    "content/countries/<slug>.yaml"
)
NOT_USED = (
    "file is not used; content/ holds only .md and .yaml files; put images and downloads in static/"
)


def read(tmp_path: Path, data: bytes) -> tuple[str | None, Report]:
    (tmp_path / "f.md").write_bytes(data)
    report = Report()
    return read_text(tmp_path, "f.md", report), report


def messages(report: Report) -> list[str]:
    return [d.format() for d in report.sorted()]


# read_text


def test_bom_is_dropped_and_line_endings_normalised(tmp_path: Path) -> None:
    text, report = read(tmp_path, b"\xef\xbb\xbfhello\r\nworld\rend\n")
    assert report.diagnostics == []
    assert text == "hello\nworld\nend\n"


def test_utf8_text_is_decoded(tmp_path: Path) -> None:
    text, report = read(tmp_path, "caf\u00e9 \u201cq\u201d\n".encode())
    assert report.diagnostics == []
    assert text == "caf\u00e9 \u201cq\u201d\n"


@pytest.mark.parametrize(
    ("data", "where", "byte"),
    [
        (b"ab\ncd\xffef\n", "2:3", "ff"),
        (b"ab\r\ncd\xffef\n", "2:3", "ff"),
        (b"one\ntwo\nthree \xc3\n", "3:7", "c3"),
        (b"\xef\xbb\xbf\xff", "1:1", "ff"),
        ("é€".encode() + b"\xff", "1:3", "ff"),
    ],
)
def test_invalid_utf8_reports_line_and_column(
    tmp_path: Path, data: bytes, where: str, byte: str
) -> None:
    text, report = read(tmp_path, data)
    assert text is None
    assert messages(report) == [
        f"f.md:{where}: error: invalid UTF-8 (byte 0x{byte}); save the file as UTF-8"
    ]


def test_nul_character_is_refused(tmp_path: Path) -> None:
    text, report = read(tmp_path, b"a\nb\nc\x00d\n")
    assert text is None
    assert len(report.errors) == 1
    error = report.errors[0]
    assert (error.location.path, error.location.line) == ("f.md", 3)
    assert (error.message, error.hint) == ("the file contains a NUL character", "remove it")


@pytest.mark.parametrize("bad", [b"\x00", b"\xff"])
def test_errors_in_a_lone_cr_file_are_on_the_right_line(tmp_path: Path, bad: bytes) -> None:
    text, report = read(tmp_path, b"a\rb\rc" + bad + b"d\r")
    assert text is None
    assert report.errors[0].location.line == 3


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    report = Report()
    assert read_text(tmp_path, "missing.md", report) is None
    assert messages(report) == [
        "missing.md:1:1: error: cannot read file: No such file or directory; check its permissions"
    ]


# split_front_matter


def split(text: str) -> tuple[object, Report]:
    report = Report()
    return split_front_matter(text, "content/x.md", report), report


def test_front_matter_and_body_line() -> None:
    page, report = split("---\ntitle: A\nsummary: B\n---\n\nBody\n")
    assert report.diagnostics == []
    assert page is not None
    assert page.path == "content/x.md"
    assert page.front.data == {"title": "A", "summary": "B"}
    assert page.body == "\nBody\n"
    assert page.body_line == 5
    assert page.front.at(("summary",)) == Location("content/x.md", 3, 10)
    assert page.front.key_at(("title",)) == Location("content/x.md", 2, 1)
    assert len(page.digest) == 64


def test_front_matter_closed_with_dots() -> None:
    page, report = split("---\ntitle: A\n...\nBody\n")
    assert report.diagnostics == []
    assert page is not None
    assert (page.front.data, page.body, page.body_line) == ({"title": "A"}, "Body\n", 4)


def test_fences_may_have_trailing_spaces() -> None:
    page, report = split("---  \ntitle: A\n--- \nBody")
    assert report.diagnostics == []
    assert page is not None
    assert (page.body, page.body_line) == ("Body", 4)


def test_empty_front_matter() -> None:
    page, report = split("---\n---\nBody\n")
    assert report.diagnostics == []
    assert page is not None
    assert (page.front.data, page.body, page.body_line) == (None, "Body\n", 3)


@pytest.mark.parametrize("text", ["title: A\n---\nBody\n", "", "\n---\ntitle: A\n---\n"])
def test_missing_front_matter(text: str) -> None:
    page, report = split(text)
    assert page is None
    assert messages(report) == [
        "content/x.md:1:1: error: missing front matter; start the file with a line '---', "
        "then 'title: ...', then another '---'"
    ]


def test_front_matter_never_closed() -> None:
    page, report = split("---\ntitle: A\nBody text\n")
    assert page is None
    assert messages(report) == [
        "content/x.md:1:1: error: front matter is never closed; add a line '---' after the "
        "last front matter field"
    ]


def test_front_matter_errors_are_on_file_lines() -> None:
    page, report = split("---\ntitle: A\ntitle: B\n---\nBody")
    assert page is None
    assert messages(report) == [
        "content/x.md:3:1: error: duplicate key 'title' (first given on line 2); keep one of them"
    ]


def test_digest_changes_with_the_text() -> None:
    first, _ = split("---\ntitle: A\n---\nBody\n")
    second, _ = split("---\ntitle: A\n---\nBody!\n")
    assert first is not None and second is not None
    assert first.digest != second.digest


# load_project


def write(root: Path, rel: str, text: str) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    write(root, "content/site.yaml", "title: T\n")
    write(root, "content/sources.yaml", "- id: a\n")
    write(root, "content/index.md", "---\ntitle: Home\n---\nHi\n")
    write(root, "content/countries/japan.yaml", "name: Japan\n")
    write(root, "content/countries/japan.md", "---\ntitle: J\n---\n")
    write(root, "templates/page.html", "x")
    write(root, "static/style.css", "x")
    write(root, "static/img/a.svg", "x")
    return root


def load(root: Path) -> tuple[object, Report]:
    """The load stage as a build runs it: the walk, then reading and parsing."""
    report = Report()
    return load_project(root, find_inputs(root, report), report), report


def test_load_project_reads_every_kind_of_file(project: Path) -> None:
    loaded, report = load(project)
    assert report.diagnostics == []
    assert loaded.root == project
    assert loaded.settings.data == {"title": "T"}
    assert loaded.sources.data == [{"id": "a"}]
    assert [c.path for c in loaded.countries] == ["content/countries/japan.yaml"]
    assert [(p.path, p.front.data) for p in loaded.pages] == [
        ("content/countries/japan.md", {"title": "J"}),
        ("content/index.md", {"title": "Home"}),
    ]
    assert loaded.templates == ("page.html",)
    assert loaded.static_files == ("img/a.svg", "style.css")


def test_hidden_and_backup_files_are_skipped(project: Path) -> None:
    for rel in [
        "content/.#index.md",
        "content/index.md~",
        "content/.hidden/x.md",
        "content/.x.md.swp",
        "content/countries/.#japan.yaml",
        "content/junk.yaml~",
        "templates/.page.html.swp",
        "static/.DS_Store",
    ]:
        write(project, rel, "not: [valid")
    loaded, report = load(project)
    assert report.diagnostics == []
    assert [p.path for p in loaded.pages] == ["content/countries/japan.md", "content/index.md"]
    assert loaded.templates == ("page.html",)
    assert loaded.static_files == ("img/a.svg", "style.css")


def test_other_files_in_content_are_warned_about(project: Path) -> None:
    write(project, "content/notes.txt", "x")
    write(project, "content/img/photo.png", "x")
    loaded, report = load(project)
    assert report.errors == []
    assert messages(report) == [
        f"content/img/photo.png:1:1: warning: {NOT_USED}",
        f"content/notes.txt:1:1: warning: {NOT_USED}",
    ]
    assert len(loaded.pages) == 2


def test_unknown_yaml_files_are_errors(project: Path) -> None:
    write(project, "content/other.yaml", "x: 1\n")
    write(project, "content/other.yml", "x: 1\n")
    write(project, "content/countries/sub/deep.yaml", "x: 1\n")
    loaded, report = load(project)
    assert messages(report) == [
        f"content/countries/sub/deep.yaml:1:1: error: {UNKNOWN_YAML}",
        f"content/other.yaml:1:1: error: {UNKNOWN_YAML}",
        f"content/other.yml:1:1: error: {UNKNOWN_YAML}",
    ]
    assert [c.path for c in loaded.countries] == ["content/countries/japan.yaml"]


def test_symlink_outside_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret.md", "---\ntitle: Secret\n---\n")
    write(outside, "dir/page.md", "---\ntitle: Deep\n---\n")
    (project / "content/link.md").symlink_to(outside / "secret.md")
    (project / "content/linked-dir").symlink_to(outside / "dir")
    loaded, report = load(project)
    refused = f"error: {LINK_OUT}"
    assert messages(report) == [
        f"content/link.md:1:1: {refused}; copy the file in instead",
        f"content/linked-dir:1:1: {refused}; copy the folder in instead",
    ]
    assert [p.path for p in loaded.pages] == ["content/countries/japan.md", "content/index.md"]


def test_links_to_the_projects_secrets_are_refused(project: Path) -> None:
    """Inside the project but outside the source folders (.git/config, .env), or to a
    hidden file inside them: never read, never published."""
    write(project, ".git/config", "[remote]\n  token = ci-secret\n")
    write(project, ".env", "API_KEY=secret\n")
    write(project, "notes/plan.txt", "not for publishing\n")
    write(project, "static/.hidden/key.txt", "secret\n")
    (project / "static").mkdir(exist_ok=True)
    (project / "static/notes.txt").symlink_to("../.git/config")
    (project / "static/env.txt").symlink_to(project / ".env")
    (project / "static/plan.txt").symlink_to("../notes/plan.txt")
    (project / "static/key.txt").symlink_to(".hidden/key.txt")
    (project / "static/git").symlink_to("../.git")
    loaded, report = load(project)
    refused = f"error: {LINK_OUT}"
    assert messages(report) == [
        f"static/env.txt:1:1: {refused}; copy the file in instead",
        f"static/git:1:1: {refused}; copy the folder in instead",
        f"static/key.txt:1:1: {refused}; copy the file in instead",
        f"static/notes.txt:1:1: {refused}; copy the file in instead",
        f"static/plan.txt:1:1: {refused}; copy the file in instead",
    ]
    assert loaded.static_files == ("img/a.svg", "style.css")  # the project's own


def test_a_source_folder_linked_to_a_hidden_folder_is_refused(project: Path) -> None:
    write(project, ".git/config", "[remote]\n  token = ci-secret\n")
    shutil.rmtree(project / "static")
    (project / "static").symlink_to(".git")
    loaded, report = load(project)
    assert messages(report) == [
        "static:1:1: error: symbolic link leads outside the project, or to a hidden folder; "
        "copy the folder in instead"
    ]
    assert loaded.static_files == ()


def test_links_between_the_source_folders_are_followed(project: Path) -> None:
    write(project, "static/logo.svg", "<svg/>\n")
    (project / "static/img/logo.svg").symlink_to("../logo.svg")
    (project / "static/index-source.md").symlink_to("../content/index.md")
    loaded, report = load(project)
    assert report.diagnostics == []
    assert loaded.static_files == (
        "img/a.svg",
        "img/logo.svg",
        "index-source.md",
        "logo.svg",
        "style.css",
    )


def test_symlink_inside_the_project_is_followed(project: Path) -> None:
    (project / "content/copy.md").symlink_to(project / "content/index.md")
    loaded, report = load(project)
    assert report.diagnostics == []
    assert [(p.path, p.front.data) for p in loaded.pages] == [
        ("content/copy.md", {"title": "Home"}),
        ("content/countries/japan.md", {"title": "J"}),
        ("content/index.md", {"title": "Home"}),
    ]


def test_broken_files_are_reported_and_left_out(project: Path) -> None:
    write(project, "content/about.md", "no front matter\n")
    (project / "content/countries/china.yaml").write_bytes(b"name: \xff\n")
    loaded, report = load(project)
    assert messages(report) == [
        "content/about.md:1:1: error: missing front matter; start the file with a line '---', "
        "then 'title: ...', then another '---'",
        "content/countries/china.yaml:1:7: error: invalid UTF-8 (byte 0xff); "
        "save the file as UTF-8",
    ]
    assert [c.path for c in loaded.countries] == ["content/countries/japan.yaml"]
    assert [p.path for p in loaded.pages] == ["content/countries/japan.md", "content/index.md"]


def test_missing_settings_file(project: Path) -> None:
    (project / "content/site.yaml").unlink()
    loaded, report = load(project)
    assert loaded.settings is None
    assert messages(report) == [
        "content/site.yaml:1:1: error: missing settings file; create content/site.yaml with "
        "title, description, language, base_url, publisher and licence"
    ]


def test_malformed_settings_file_is_not_also_missing(project: Path) -> None:
    write(project, "content/site.yaml", "title: [x\n")
    loaded, report = load(project)
    assert loaded.settings is None
    assert len(report.errors) == 1
    assert report.errors[0].location.path == "content/site.yaml"
    assert report.errors[0].message.startswith("malformed YAML: ")


def test_missing_settings_is_reported_beside_a_broken_country_named_site(
    project: Path,
) -> None:
    (project / "content/site.yaml").unlink()
    write(project, "content/countries/site.yaml", "name: [x\n")
    _, report = load(project)
    assert [d.location.path for d in report.errors] == [
        "content/countries/site.yaml",
        "content/site.yaml",
    ]


def test_missing_content_folder(tmp_path: Path) -> None:
    loaded, report = load(tmp_path)
    assert loaded.pages == ()
    assert messages(report) == [
        f"content:1:1: error: no content folder; create {tmp_path / 'content'}",
        "content/site.yaml:1:1: error: missing settings file; create content/site.yaml with "
        "title, description, language, base_url, publisher and licence",
    ]


def test_names_that_break_on_other_systems_are_refused(project: Path) -> None:
    """One file on macOS and Windows, or none at all there: refused with a hint."""
    write(project, "content/how-we-source.md", "---\ntitle: A\n---\n")
    write(project, "content/How-We-Source.md", "---\ntitle: B\n---\n")
    write(project, "content/CON.md", "---\ntitle: C\n---\n")
    write(project, "content/trail..md", "---\ntitle: D\n---\n")
    write(project, "static/lpt1.txt", "x\n")
    write(project, "static/Img/b.svg", "x\n")  # beside static/img
    loaded, report = load(project)
    rename = "rename it with letters, digits, hyphens, underscores and dots"
    assert messages(report) == [
        "content/CON.md:1:1: error: the name 'CON' is a device on Windows: no file there "
        f"can have it; {rename}",
        "content/how-we-source.md:1:1: error: the name differs from 'How-We-Source.md' only "
        "in case: one file on macOS and Windows; rename one of them",
        "content/trail..md:1:1: error: the name ends a part in a dot or a space, which "
        f"Windows drops; {rename}",
        "static/img:1:1: error: the name differs from 'Img' only in case: one file on macOS "
        "and Windows; rename one of them",
        "static/lpt1.txt:1:1: error: the name 'lpt1' is a device on Windows: no file there "
        f"can have it; {rename}",
    ]
    assert sorted(p.path for p in loaded.pages) == [
        "content/How-We-Source.md",
        "content/countries/japan.md",
        "content/index.md",
    ]
