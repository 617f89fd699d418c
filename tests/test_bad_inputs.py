"""One broken mini-site per error class, each with its exact expected message.

Each case in tests/bad_inputs/<case>/ holds `files/` (laid over the valid base site) and
`expected.txt` (the exact standard error). The case first builds the valid site, then
breaks it and builds again: the build must exit 1 with exactly that message and leave
the previous site/ byte-identical. To add a case, add a folder. A symbolic link in
`files/` is laid over as a link with the same target.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CASES = Path(__file__).parent / "bad_inputs"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_bad_input_reports_file_and_line_and_keeps_site(make_site, case: str) -> None:
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    folder = CASES / case / "files"
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():  # laid over as a link, pointing where the case's link points
            target = site.root / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            target.symlink_to(os.readlink(path))
        elif path.is_file():
            site.write_bytes(path.relative_to(folder).as_posix(), path.read_bytes())
    outcome = site.build()
    assert outcome.code == 1
    assert outcome.err == (CASES / case / "expected.txt").read_text("utf-8")
    assert "Traceback" not in outcome.err
    assert site.tree() == before


def test_strict_turns_warnings_into_errors(make_site) -> None:
    site = make_site()
    assert site.build().code == 0
    before = site.tree()
    site.write(
        "content/sources.yaml",
        (site.root / "content/sources.yaml").read_text()
        + "- id: nobody-cites-me\n  publisher: X\n  date: 2018\n  kind: news\n",
    )
    warned = site.build()
    assert warned.code == 0
    message = (
        "content/sources.yaml:17:3: {}: source 'nobody-cites-me' is not cited anywhere; "
        "cite it with [@nobody-cites-me] or remove it\n"
    )
    assert message.format("warning") in warned.err
    before = site.tree()
    strict = site.build("build", "--strict")
    assert strict.code == 1
    assert message.format("error") in strict.err
    assert site.tree() == before


@pytest.mark.parametrize("out", [".", "content", "templates", "static", "content/site", ".."])
def test_output_folder_holding_sources_is_refused(make_site, out: str) -> None:
    site = make_site()
    before = site.tree("content")
    outcome = site.build("build", "--out", out)
    assert outcome.code == 1
    assert "error: the output folder" in outcome.err
    assert "; choose another --out folder\n" in outcome.err
    assert site.tree("content") == before


def test_foreign_output_folder_is_not_replaced(make_site) -> None:
    site = make_site()
    site.write("elsewhere/precious.txt", "keep me")
    outcome = site.build("build", "--out", "elsewhere")
    assert outcome.code == 1
    assert "exists and was not made by this tool; it will not be replaced" in outcome.err
    assert (site.root / "elsewhere/precious.txt").read_text() == "keep me"


def test_usage_error_exits_2(make_site) -> None:
    site = make_site()
    with pytest.raises(SystemExit) as raised:
        site.build("build", "--no-such-flag")
    assert raised.value.code == 2
