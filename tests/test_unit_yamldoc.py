"""parse_yaml: values with their positions, and every kind of YAML it refuses."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sitegen.errors import Location, Report
from sitegen.yamldoc import YamlDoc, parse_yaml

ALIAS_MESSAGE = "YAML anchors, aliases and merge keys are not supported"
ALIAS_HINT = "write the value out in full where it is needed"
YAML_HINT = "check the indentation, colons and quoting on this line"
TAB_HINT = "YAML does not allow tabs here; indent with spaces"


def parse(text: str, line_offset: int = 0) -> tuple[YamlDoc | None, Report]:
    report = Report()
    return parse_yaml(text, "content/x.yaml", report, line_offset), report


def only_error(report: Report) -> str:
    assert len(report.diagnostics) == 1, report.diagnostics
    assert report.warnings == []
    return report.diagnostics[0].format()


NESTED = "a: 1\nb:\n  c: [x, y]\n  d: hello\n"


def test_values_are_plain_python() -> None:
    doc, report = parse(NESTED)
    assert report.diagnostics == []
    assert doc is not None
    assert doc.path == "content/x.yaml"
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"], "d": "hello"}}


@pytest.mark.parametrize(
    ("keypath", "line", "col"),
    [
        ((), 1, 1),
        (("a",), 1, 4),
        (("b",), 3, 3),
        (("b", "c"), 3, 6),
        (("b", "c", 0), 3, 7),
        (("b", "c", 1), 3, 10),
        (("b", "d"), 4, 6),
    ],
)
def test_value_positions(keypath: tuple[str | int, ...], line: int, col: int) -> None:
    doc, _ = parse(NESTED)
    assert doc is not None
    assert doc.at(keypath) == Location("content/x.yaml", line, col)


@pytest.mark.parametrize(
    ("keypath", "line", "col"),
    [(("a",), 1, 1), (("b",), 2, 1), (("b", "c"), 3, 3), (("b", "d"), 4, 3)],
)
def test_key_positions(keypath: tuple[str | int, ...], line: int, col: int) -> None:
    doc, _ = parse(NESTED)
    assert doc is not None
    assert doc.key_at(keypath) == Location("content/x.yaml", line, col)


def test_missing_keypath_falls_back_to_nearest_parent() -> None:
    doc, _ = parse(NESTED)
    assert doc is not None
    assert doc.at(("b", "missing")) == Location("content/x.yaml", 3, 3)
    assert doc.at(("nope", "deeper")) == Location("content/x.yaml", 1, 1)
    # a list item has no key: key_at falls back to the value
    assert doc.key_at(("b", "c", 1)) == Location("content/x.yaml", 3, 10)


def test_line_offset_shifts_lines_not_columns() -> None:
    doc, _ = parse(NESTED, line_offset=3)
    assert doc is not None
    assert doc.at(("b", "c", 1)) == Location("content/x.yaml", 6, 10)
    assert doc.key_at(("b", "d")) == Location("content/x.yaml", 7, 3)
    assert doc.at(("a",)) == Location("content/x.yaml", 4, 4)


def test_keys_keep_their_yaml_types() -> None:
    doc, report = parse("1: a\n'1': b\nnull: c\n")
    assert report.diagnostics == []
    assert doc is not None
    assert doc.data == {1: "a", "1": "b", None: "c"}


def test_duplicate_key_is_refused_with_first_line() -> None:
    doc, report = parse("a: 1\nb: 2\na: 3\n")
    assert doc is None
    assert only_error(report) == (
        "content/x.yaml:3:1: error: duplicate key 'a' (first given on line 1); keep one of them"
    )


def test_duplicate_nested_key_is_reported_with_line_offset() -> None:
    doc, report = parse("m:\n  x: 1\n\n  x: 2\n", line_offset=1)
    assert doc is None
    assert only_error(report) == (
        "content/x.yaml:5:3: error: duplicate key 'x' (first given on line 3); keep one of them"
    )


def test_same_key_in_different_mappings_is_fine() -> None:
    doc, report = parse("- id: a\n- id: b\n")
    assert report.diagnostics == []
    assert doc is not None
    assert doc.data == [{"id": "a"}, {"id": "b"}]


def test_alias_is_refused() -> None:
    doc, report = parse("a: &x 1\nb: *x\n")
    assert doc is None
    assert only_error(report) == f"content/x.yaml:1:4: error: {ALIAS_MESSAGE}; {ALIAS_HINT}"


def test_merge_key_is_refused() -> None:
    doc, report = parse("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert doc is None
    assert only_error(report) == f"content/x.yaml:3:3: error: {ALIAS_MESSAGE}; {ALIAS_HINT}"


def test_merge_key_without_alias_is_refused() -> None:
    doc, report = parse("other:\n  <<: {x: 1}\n  y: 2\n")
    assert doc is None
    assert only_error(report) == f"content/x.yaml:2:3: error: {ALIAS_MESSAGE}; {ALIAS_HINT}"


def test_billion_laughs_is_refused() -> None:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    doc, report = parse("\n".join(lines) + "\n")
    assert doc is None
    assert only_error(report) == f"content/x.yaml:1:5: error: {ALIAS_MESSAGE}; {ALIAS_HINT}"


def test_tab_indentation_gets_the_tabs_hint() -> None:
    doc, report = parse("title: x\n\tdescription: y\n")
    assert doc is None
    assert only_error(report) == (
        "content/x.yaml:2:1: error: malformed YAML: found a tab character that violates "
        f"indentation; {TAB_HINT}"
    )


def test_tab_indented_child_key_gets_the_tabs_hint() -> None:
    doc, report = parse("a:\n\tb: 1\n")
    assert doc is None
    assert report.diagnostics[0].location == Location("content/x.yaml", 2, 1)
    assert report.diagnostics[0].hint == TAB_HINT


def test_malformed_yaml_location_and_context() -> None:
    doc, report = parse("a: [1, 2\nb: 3\n", line_offset=1)
    assert doc is None
    assert only_error(report) == (
        "content/x.yaml:3:2: error: malformed YAML: did not find expected ',' or ']' "
        f"(while parsing a flow sequence); {YAML_HINT}"
    )


def test_mapping_value_in_wrong_place() -> None:
    doc, report = parse("a: b: c\n")
    assert doc is None
    assert only_error(report) == (
        f"content/x.yaml:1:5: error: malformed YAML: mapping values are not allowed in this "
        f"context; {YAML_HINT}"
    )


def test_second_document_is_refused() -> None:
    doc, report = parse("a: 1\n---\nb: 2\n")
    assert doc is None
    assert only_error(report) == (
        "content/x.yaml:2:1: error: malformed YAML: but found another document "
        f"(expected a single document in the stream); {YAML_HINT}"
    )


@pytest.mark.parametrize(
    ("text", "line"), [("", 1), ("\n", 1), ("# only a comment\n", 1), ("---\n", 2)]
)
def test_empty_document_has_no_data(text: str, line: int) -> None:
    doc, report = parse(text)
    assert report.diagnostics == []
    assert doc is not None
    assert doc.data is None
    assert doc.at(("anything",)) == Location("content/x.yaml", line, 1)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("0123", "0123"),  # YAML 1.1: octal 83
        ("-017", "-017"),
        ("1:30", "1:30"),  # YAML 1.1: base 60, 90
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("0", 0),
        ("10", 10),
        ("-4", -4),
        ("1.5", 1.5),
        ("0.5", 0.5),
        ('"0123"', "0123"),
        ("NO", "NO"),
        ("Off", "Off"),
        # the rest as YAML 1.1 reads it, though YAML 1.2 reads these otherwise (the
        # README lists what is read as text, and says nothing else is read another way)
        ("1e3", "1e3"),
        ("0o17", "0o17"),
        ("2018-12-10", dt.date(2018, 12, 10)),
        # and as both read it
        ("TRUE", True),
        ("0x1F", 31),
        ("012.5", 12.5),
        ("1.0e+3", 1000.0),
        ("~", None),
    ],
)
def test_numbers_only_yaml_1_1_reads_are_text_as_written(written: str, read: object) -> None:
    report = Report()
    doc = parse_yaml(f"value: {written}\n", "content/a.yaml", report)
    assert report.diagnostics == []
    assert doc is not None and doc.data == {"value": read}
    assert type(doc.data["value"]) is type(read)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("yes", "yes"),  # YAML 1.1: true
        ("off", "off"),
        ("0123", "0123"),  # YAML 1.1: octal 83
        ("1:30", "1:30"),  # YAML 1.1: base 60, 90
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("10", 10),
        ("true", True),
        ("TRUE", True),
        ("~", None),
        ("0x1F", 31),
        ("1.50", "1.5"),
    ],
)
def test_keys_are_read_as_values_are_and_quoted_as_written(written: str, read: object) -> None:
    doc, report = parse(f"{written}: x\n")
    assert report.diagnostics == []
    assert doc is not None and list(doc.data) == [read]
    assert type(next(iter(doc.data))) is type(read)
    assert doc.key_text((read,)) == written
    back = YamlDoc.from_json(json.loads(json.dumps(doc.to_json())))
    assert back.key_text((read,)) == written


def test_values_read_as_more_than_text_keep_how_they_were_written() -> None:
    """Messages quote values as written: TRUE, 1.50, 0x1F, not True, 1.5, 31; where the
    value's text form is as written (12, a date, text), nothing is kept."""
    doc, report = parse(
        "a: TRUE\nb: 1.50\nc: [x, 0x1F]\nd: 12\ne: 2018-12-10\nf: text\ng: ~\n"
        "h: 2018-12-07T10:30:00Z\n"
    )
    assert doc is not None and report.diagnostics == []
    written = {
        ("a",): "TRUE",
        ("b",): "1.50",
        ("c", 1): "0x1F",
        ("h",): "2018-12-07T10:30:00Z",
    }
    for keypath in [("a",), ("b",), ("c",), ("c", 0), ("c", 1), ("d",), ("e",), ("f",), ("g",)]:
        assert doc.value_text(keypath) == written.get(keypath), keypath
    assert dict(doc.value_texts) == written
    back = YamlDoc.from_json(json.loads(json.dumps(doc.to_json())))
    assert dict(back.value_texts) == written


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yes: 1\n'yes': 2\n", "content/x.yaml:2:1: error: duplicate key 'yes'"),
        ("TRUE: 1\ntrue: 2\n", "content/x.yaml:2:1: error: duplicate key 'true'"),
        ("0123: 1\n'0123': 2\n", "content/x.yaml:2:1: error: duplicate key '0123'"),
    ],
)
def test_duplicate_keys_are_quoted_as_written(text: str, message: str) -> None:
    doc, report = parse(text)
    assert doc is None
    assert only_error(report) == f"{message} (first given on line 1); keep one of them"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "2018-02-30",
            "'2018-02-30' is not a real date; check the year, month and day (there is no "
            "30 February), or quote it if it is text",
        ),
        (
            "!!float abc",
            "'abc' cannot be read as a number, as its tag asks; remove the tag (the !! part), "
            "or quote the value if it is text",
        ),
        (
            "!!timestamp soon",
            "'soon' cannot be read as a date, as its tag asks; remove the tag (the !! part), "
            "or quote the value if it is text",
        ),
        (
            "7" * 4400,
            "'" + "7" * 40 + "...' is a number of 4400 digits; a number this long is not "
            "content; quote it if it is text",
        ),
    ],
)
def test_values_yaml_cannot_make_are_errors_at_their_line(written: str, message: str) -> None:
    report = Report()
    assert parse_yaml(f"a: 1\nvalue: {written}\n", "content/a.yaml", report, 3) is None
    assert [d.format() for d in report.diagnostics] == [f"content/a.yaml:5:8: error: {message}"]


CACHED = """\
when: 2018-12-10
at: 2018-12-10 10:00:00+01:00
raw: !!binary aGVsbG8=
pairs: !!omap [x: 1, y: 2]
1: a number key
set: !!set {p, q}
odd: [.nan, .inf, -0.0, 10000000000000000000000]
"""


def test_a_document_from_the_cache_is_the_same_document() -> None:
    """The cache keeps a parse as JSON: it comes back with the same values of the same
    types (dates, bytes, tuples, number keys) and the same positions."""
    doc, report = parse(CACHED, line_offset=3)
    assert doc is not None and report.diagnostics == []
    back = YamlDoc.from_json(json.loads(json.dumps(doc.to_json())))
    assert repr(back.data) == repr(doc.data)
    assert [type(v) for v in back.data.values()] == [type(v) for v in doc.data.values()]
    for keypath in [(), ("when",), ("pairs", 1), (1,), ("odd", 3), ("set", "q")]:
        assert back.at(keypath) == doc.at(keypath)
        assert back.key_at(keypath) == doc.key_at(keypath)
    assert doc.at(("odd", 1)) == Location("content/x.yaml", 10, 13)
    assert doc.key_at((1,)) == Location("content/x.yaml", 8, 1)
    assert back.key_text((1,)) == "1" and back.key_text(("when",)) == "when"


@pytest.mark.parametrize(
    "value",
    [
        ["content/x.yaml", ["set", []], [], [], [], []],
        [7, None, [], [], [], []],
        ["content/x.yaml", None, [[["a"], 1, "2"]], [], [], []],
        ["content/x.yaml", None, [], [[[["a"]], 1, 2]], [], []],
        ["content/x.yaml", ["b", "not base64!"], [], [], [], []],
        ["content/x.yaml", None, [], [], [[[1], 1]], []],
        ["content/x.yaml", None, [], [], [[[[1]], "1"]], []],
        ["content/x.yaml", None, [], [], [], [[["a"], 1.5]]],
        ["content/x.yaml", None, [], [], [], [[[["a"]], "1.50"]]],
        ["content/x.yaml", None, [], [], []],
    ],
)
def test_a_cache_entry_no_parse_gives_is_refused(value: list[object]) -> None:
    with pytest.raises(ValueError):
        YamlDoc.from_json(value)
