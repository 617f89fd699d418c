"""The quotation check on small sites: quotes must match an excerpt of a cited source."""

from __future__ import annotations

ABOUT = "---\ntitle: How we source this\n---\n{}\n"


def test_exact_quotation_passes_strict(make_site) -> None:
    site = make_site(
        {"content/about.md": ABOUT.format('He said "an important issue" [@reuters-japan].')}
    )
    outcome = site.build("build", "--strict")
    assert outcome.code == 0, outcome.err
    assert outcome.err == ""


def test_curly_quotes_and_line_breaks_match_straight_excerpt(make_site) -> None:
    site = make_site(
        {
            "content/about.md": ABOUT.format(
                "He said “Cybersecurity is becoming\nan important issue” [@reuters-japan]."
            )
        }
    )
    outcome = site.build("build", "--strict")
    assert outcome.code == 0, outcome.err


def test_near_miss_warns_with_closest_excerpt(make_site) -> None:
    site = make_site(
        {
            "content/about.md": ABOUT.format(
                'Intro.\n\nSuga said "Cyber security is becoming an important issue" '
                "[@reuters-japan]."
            )
        }
    )
    outcome = site.build()
    assert outcome.code == 0
    assert outcome.err.splitlines()[0] == (
        'content/about.md:6:11: warning: quotation "Cyber security is becoming an important '
        'issue" does not match an excerpt of reuters-japan; closest excerpt: '
        '"Cybersecurity is becoming an important issue in"'
    )
    strict = site.build("build", "--strict")
    assert strict.code == 1
    assert "content/about.md:6:11: error: quotation" in strict.err


def test_quotation_of_source_without_excerpts_says_what_to_add(make_site) -> None:
    site = make_site(
        {"content/about.md": ABOUT.format('They were "seriously concerned" [@mfa-statement].')}
    )
    outcome = site.build()
    assert outcome.err.splitlines()[0] == (
        'content/about.md:4:11: warning: quotation "seriously concerned" does not match an '
        "excerpt of mfa-statement; add the quoted passage to the excerpts of mfa-statement "
        "in content/sources.yaml"
    )


def test_quotation_in_measure_text_is_checked(make_site) -> None:
    site = make_site()
    path = site.root / "content/countries/china.yaml"
    site.write(
        "content/countries/china.yaml",
        path.read_text().replace(
            "action: Expressed serious concern", "action: 'Said it was \"seriously concerned\"'"
        ),
    )
    outcome = site.build()
    assert outcome.err.splitlines()[0].startswith(
        'content/countries/china.yaml:7:5: warning: quotation "seriously concerned" '
        "does not match an excerpt of mfa-statement"
    )
