"""Form sections take their lengths from the tune (or WJazzD's form column), not an even split."""

from __future__ import annotations

from improv.theory.tunes import find_tune, form_sections


def starts(labels):
    """(bar from 1, label) where each section begins."""
    return [(i + 1, lab) for i, lab in enumerate(labels) if i == 0 or lab != labels[i - 1]]


def test_all_the_things_you_are_has_a_twelve_bar_last_a():
    assert starts(form_sections("AABA 36", 36)) == [(1, "A1"), (9, "A2"), (17, "B"), (25, "A3")]
    tune = find_tune("All the Things You Are")
    labels = form_sections(tune.form, tune.progression.bar_count)
    assert tune.progression.bar_count == 36
    assert starts(labels) == [(1, "A1"), (9, "A2"), (17, "B"), (25, "A3")] and labels.count("A3") == 12


def test_written_lengths_and_wjazzd_forms():
    assert starts(form_sections("A8 A8 B8 A12", 36)) == [(1, "A1"), (9, "A2"), (17, "B"), (25, "A3")]
    wjazzd = "(A1,8), (A2,8), (B1,8), (A3,8)"
    assert starts(form_sections(wjazzd, 32)) == [(1, "A1"), (9, "A2"), (17, "B"), (25, "A3")]
    assert starts(form_sections("(I1,4), (A1,16), (B1,16)", 32)) == [(1, "A"), (17, "B")]


def test_even_forms_and_forms_without_letters():
    assert starts(form_sections("AABA 32", 32)) == [(1, "A1"), (9, "A2"), (17, "B"), (25, "A3")]
    assert starts(form_sections("ABAC", 32)) == [(1, "A1"), (9, "B"), (17, "A2"), (25, "C")]
    assert form_sections("12-bar blues", 12) == ("A",) * 12
    assert form_sections("A8 B8 C8 D8 E8", 32) == ("A",) * 32  # lengths that overrun the chorus
