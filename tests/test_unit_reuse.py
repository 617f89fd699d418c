"""The records one build hands to the next: reused only when they are the same.

assemble.Reuse keeps records made from one input object while that object lives on, and
replaces a record equal to the last build's by that one; deps.DigestMemo keeps the digest
of each record for as long as the record lives, and never takes a new object for it.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from sitegen import deps
from sitegen.assemble import Reuse
from sitegen.errors import Location, Report


@dataclass(frozen=True)
class _Record:
    name: str
    order: object = None


def _made(source: object, report: Report) -> _Record:
    report.warning(Location("content/a.md", 3), "looked at", "nothing to do")
    return _Record(str(source))


def test_derived_from_the_same_inputs_is_made_once_and_reports_again() -> None:
    """A record made from several inputs is made again only when one of them is another
    object, even an equal one, and its diagnostics come back with the reused record."""
    reuse, calls = Reuse(), []
    file, front = ["a parsed file"], {"title": "A"}

    def make(report: Report) -> _Record:
        calls.append(1)
        return _made("page", report)

    first, again, changed = Report(), Report(), Report()
    made = reuse.derived("page", "/a/", (file, front), make, first)
    reuse.next_build()
    assert reuse.derived("page", "/a/", (file, front), make, again) is made
    assert len(calls) == 1
    assert [d.format() for d in again.diagnostics] == [d.format() for d in first.diagnostics]
    reuse.next_build()
    remade = reuse.derived("page", "/a/", (file, {"title": "A"}), make, changed)
    assert remade is not made and remade == made and len(calls) == 2
    assert reuse.derived("page", "/b/", (file, front), make, Report()) is not remade
    reuse.next_build()
    reuse.next_build()  # a build that did not ask for it: forgotten
    assert reuse.derived("page", "/a/", (file, front), make, Report()) is not remade
    assert len(calls) == 4


def test_made_from_the_same_object_is_made_once_and_reports_again() -> None:
    reuse, source, calls = Reuse(), ["a parsed file"], []

    def make(given: object, report: Report) -> _Record:
        calls.append(given)
        return _made(given, report)

    first, again = Report(), Report()
    made = reuse.made_from("kind", source, make, first)
    reuse.next_build()
    assert reuse.made_from("kind", source, make, again) is made
    assert calls == [source]
    assert [d.format() for d in again.diagnostics] == [
        "content/a.md:3:1: warning: looked at; nothing to do"
    ]
    # an equal object that is not the same (a file parsed again) is made again
    assert reuse.made_from("kind", ["a parsed file"], make, Report()) is not made
    assert len(calls) == 2


def test_what_a_build_did_not_use_is_not_kept() -> None:
    reuse, source = Reuse(), ["a file"]
    made = reuse.made_from("kind", source, _made, Report())
    reuse.next_build()
    reuse.next_build()  # a build that used nothing
    assert reuse.made_from("kind", source, _made, Report()) is not made


def test_same_takes_the_last_record_only_when_equal_and_of_one_type() -> None:
    reuse = Reuse()
    old = reuse.same("page", "a/", _Record("A", 1))
    reuse.next_build()
    assert reuse.same("page", "a/", _Record("A", 1)) is old
    reuse.next_build()
    changed = _Record("A", 2)
    assert reuse.same("page", "a/", changed) is changed
    reuse.next_build()
    # equal to Python (1 == True), but not the same value: a template shows "True"
    assert reuse.same("order", "a/", 1) == 1
    reuse.next_build()
    assert reuse.same("order", "a/", True) is True
    assert reuse.same("other", "a/", _Record("A", 2)) is not changed  # another key


def test_a_record_keeps_its_digest_while_it_lives_and_no_longer() -> None:
    memo = deps.DigestMemo()
    record = _Record("kept")
    known = deps.digest(record, memo)
    assert memo.fresh == {"_Record": 1}
    memo.next_build()
    memo.next_build()  # records are remembered for as long as they live, not by build
    assert deps.digest(record, memo) == known and memo.fresh == {}
    assert deps.digest(_Record("kept"), memo) == known  # an equal one: made, and equal
    assert memo.fresh == {"_Record": 1}
    del record
    gc.collect()
    # a new object may take the old one's id: it is never taken for it
    others = [_Record(f"new {n}") for n in range(1000)]
    assert all(memo.get(other) is None for other in others)


def test_entries_of_records_gone_are_swept_out_between_builds() -> None:
    """A preview that runs all day makes new records with every edit: the memo holds
    at most a few times as many entries as there are records alive."""
    memo = deps.DigestMemo()
    for build in range(20):
        records = [_Record(f"build {build}, record {n}") for n in range(2000)]
        for record in records:
            deps.digest(record, memo)
        memo.next_build()
        assert len(memo) <= 3 * 2000 + 1000, f"build {build}"
    assert deps.digest(records[0], memo) and memo.fresh == {}  # the live ones are kept


def test_a_record_met_inside_another_is_not_digested_again() -> None:
    memo = deps.DigestMemo()
    inner = _Record("inner")
    outer = _Record("outer", inner)
    deps.digest(outer, memo)
    memo.next_build()
    assert deps.digest(_Record("outer again", inner), memo)
    assert memo.fresh == {"_Record": 1}  # the new outer only


def test_a_tuple_is_held_by_the_builds_that_meet_it() -> None:
    memo = deps.DigestMemo()
    value = (_Record("a"), _Record("b"))
    known = deps.digest(value, memo)
    memo.next_build()
    assert deps.digest(value, memo) == known and memo.fresh == {}
    memo.next_build()
    memo.next_build()  # a build that did not meet it: dropped
    assert memo.get(value) is None
