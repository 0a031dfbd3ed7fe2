"""The issue-9 musicianship measures on hand-made solos with known answers, and the real-solo bands."""

from __future__ import annotations

import pytest

from improv.measures import (
    b7_to_third,
    distinct_interval_4grams,
    extremes_share,
    long_clash_share,
    longest_interval_run,
    measure_line,
    mixed_tuplet_share,
    notes_per_phrase,
    repeated_pitch_share,
    rest_share,
    tempo_bin,
    transposed_cells,
)
from improv.theory.progression import parse_progression
from improv.theory.values import Line, Note

IIVI = parse_progression("Dm7 | G7 | Cmaj7 | C7")


def line(notes, prog=IIVI) -> Line:
    return Line("t", [Note(*n) for n in notes], prog.chord_at, prog.beats_per_bar)


def eighths(pitches, start=0):
    return [(start + 6 * i, 6, p) for i, p in enumerate(pitches)]


def test_transposed_cells_count_a_cell_restated_on_another_pitch_within_four_bars():
    cell = [60, 62, 64, 60]
    moved = line(eighths(cell + [50] * 0 + [67, 69, 71, 67]))
    assert transposed_cells(moved) == pytest.approx(1 / 5)  # the 5th cell restates the 1st a fifth up
    same = line(eighths(cell + cell))
    assert transposed_cells(same) == 0.0  # an exact repeat is not a transposition
    far = line(eighths(cell) + eighths([67, 69, 71, 67], start=5 * 48))
    assert transposed_cells(far) == 0.0  # more than 4 bars later


def test_b7_to_third_needs_the_b7_before_the_change_and_a_step_to_the_third():
    # Dm7: C (b7) on beat 4, then B (3rd of G7) on the downbeat: resolved by step
    assert b7_to_third(line([(36, 12, 72), (48, 12, 71)])) == (1, 1)
    assert b7_to_third(line([(36, 12, 72), (48, 12, 74)])) == (0, 1)  # to the 5th: counted, not resolved
    assert b7_to_third(line([(36, 12, 72), (48, 12, 59)])) == (0, 1)  # the 3rd, but not by step
    assert b7_to_third(line([(36, 12, 69), (48, 12, 71)])) == (0, 0)  # A is not the b7 of Dm7
    # G7 -> Cmaj7: F (b7) to E by step; Cmaj7 -> C7 is not a ii-V or V-I
    assert b7_to_third(line([(84, 12, 65), (96, 12, 64), (132, 12, 71), (144, 12, 70)])) == (1, 1)


def test_repeated_pitches_count_inside_phrases_only():
    notes = [(0, 6, 60), (6, 6, 60), (12, 6, 62), (18, 6, 64), (60, 6, 64), (66, 6, 65)]
    # the 64 after a 3.5-beat rest starts a new phrase: in-phrase intervals 0, 2, 2, 1
    assert repeated_pitch_share(line(notes)) == pytest.approx(1 / 4)


def test_long_clashes_are_the_three_named_ones():
    prog = parse_progression("C7 | Cmaj7 | Cm7b5 | Cm7")
    notes = [(0, 12, 71), (12, 6, 71), (48, 24, 70), (96, 12, 67), (144, 12, 71), (156, 12, 60)]
    # long notes: B over C7 (clash), Bb over Cmaj7 (clash), G over Cm7b5 (clash), B over Cm7, C: 3 of 5
    assert long_clash_share(line(notes, prog)) == pytest.approx(3 / 5)
    # an eighth followed by a short gap sounds to the next onset (legato): it counts as long
    assert long_clash_share(line([(0, 10, 71), (12, 6, 60)], prog)) == pytest.approx(1.0)


def test_mixed_tuplets_and_extremes_and_runs():
    mixed = line([(0, 3, 60), (3, 1, 62), (4, 4, 64), (12, 4, 65), (16, 4, 67), (20, 4, 69), (24, 6, 70)])
    assert mixed_tuplet_share(mixed) == pytest.approx(1 / 2)  # beat 1 mixes, beat 2 is whole triplets
    spread = line(eighths([60, 61, 65, 66, 67, 70, 72]))
    assert extremes_share(spread) == pytest.approx(4 / 7)  # 60, 61 near the bottom, 70, 72 near the top
    run = line(eighths([60, 62, 64, 65, 67, 50, 60, 62, 64, 65, 67]))
    assert longest_interval_run(run) == 4
    assert distinct_interval_4grams(line(eighths([60, 62] * 10))) == pytest.approx(2 / 16)


def test_breath_phrases_end_at_a_rest_of_a_beat_and_rests_share_the_time():
    # 3 eighths, a 1-beat rest, 5 eighths, a half-beat rest (articulation for phrases), 2 eighths
    notes = eighths([60, 62, 64]) + eighths([65, 67, 69, 71, 72], start=30) + eighths([71, 69], start=66)
    assert notes_per_phrase(line(notes)) == pytest.approx(5)  # phrases of 3 and 7 notes: median 5
    assert rest_share(line(notes)) == pytest.approx((12 + 6) / 78)  # rests of 12 and 6 ticks in 78
    legato = eighths([60, 62, 64, 65])
    assert notes_per_phrase(line(legato)) == 4 and rest_share(line(legato)) == 0
    assert rest_share(line(legato[:1])) is None and notes_per_phrase(line([])) is None


def test_tempo_bins_and_measure_line():
    assert [tempo_bin(b) for b in (70, 120, 159.9, 199, 200, 259, 260, None)] == [
        "< 120", "120-160", "120-160", "160-200", "200-260", "200-260", ">= 260", None]
    result = measure_line(line(eighths([60, 62, 64, 65, 67, 69, 71, 72])))
    assert result["range"] == 12 and result["density"] == pytest.approx(8 / 4)


@pytest.mark.slow
def test_real_solo_bands_match_the_issue():
    from improv.reference import impro_visor_dir, load_reference, wjazzd_dir

    if not wjazzd_dir().is_dir() or not impro_visor_dir().is_dir():
        pytest.skip(f"WJazzD or Impro-Visor not found under {wjazzd_dir().parents[1]} (set IMPROV_SHARED)")
    wj = load_reference("WJazzD", wjazzd_dir())
    iv = load_reference("Impro-Visor", impro_visor_dir())
    assert 330 <= len(wj.solos) <= 347 and 60 <= len(iv.solos) <= 64
    assert wj.bands["distinct_interval_4gram"].median == pytest.approx(0.91, abs=0.02)
    assert iv.bands["distinct_interval_4gram"].median == pytest.approx(0.88, abs=0.02)
    assert wj.bands["range"].median == 28 and iv.bands["range"].median == 28
    assert wj.bands["density >= 260"].median == pytest.approx(1.29, abs=0.05)
    pooled = sum(s["b7_hits"] for s in iv.solos) / sum(s["b7_changes"] for s in iv.solos)
    assert pooled == pytest.approx(0.63, abs=0.04)
    again = load_reference("WJazzD", wjazzd_dir())  # from the cache, the same numbers
    assert again.bands["transposed_cells"] == wj.bands["transposed_cells"]
