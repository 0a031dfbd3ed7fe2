"""The seed corpus (seed spec §2-§5): the legacy MIDI import, the seed's bar grouping and its grammar.

With the defaults, ``seed_corpus`` reproduces the seed's corpus exactly (18 bars, 193 tokens, 78 values).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import groupby
from pathlib import Path

from improv.corpus.legacy_midi import LegacyChord, LegacyElement, LegacyMidi, LegacyNote
from improv.errors import InputError
from improv.theory.seed_grammar import parse_bar

log = logging.getLogger(__name__)

SEED_WINDOW = (476, 548)


@dataclass
class SeedCorpus:
    """The seed corpus: one token list per bar, all tokens in order, sorted distinct values."""

    bars: list[list[str]]
    tokens: list[str]
    values: list[str]
    bar_indices: list[int]  # zero-based bar number of each bar (floor(offset / beats_per_bar))


def group_by_bar(
    elements: Sequence[LegacyElement], beats_per_bar: int = 4
) -> list[tuple[int, list[LegacyElement]]]:
    """(bar index, elements) in order of appearance; the sort is stable (creation order)."""
    ordered = sorted(elements, key=lambda e: e.offset)
    return [
        (bar, list(group)) for bar, group in groupby(ordered, key=lambda e: int(e.offset // beats_per_bar))
    ]


def seed_corpus(
    path: str | Path,
    *,
    melody: str | None = "Guitar",
    chords: str | None = "Piano",
    melody_channel: int | None = None,
    chords_channel: int | None = None,
    start: float = SEED_WINDOW[0],
    end: float = SEED_WINDOW[1],
    beats_per_bar: int = 4,
    zero_duration: float = 0.25,
    drop_last_chord_group: bool = True,
) -> SeedCorpus:
    """Read a MIDI file and build the seed corpus (defaults reproduce the seed exactly).

    Tracks are chosen by name and/or channel (1-16). The window keeps onsets in [start, end]
    (end inclusive). Bars are paired by order of appearance, as the seed did; a mismatch in the
    number of melody and chord bars is an ``InputError``.
    """
    midi = LegacyMidi.open(path)
    mel = midi.track(name=melody, channel=melody_channel)
    acc = midi.track(name=chords, channel=chords_channel)
    zero = Fraction(zero_duration)
    mel_elements = [e if e.duration else replace(e, duration=zero) for e in mel.elements]
    lo, hi = Fraction(start), Fraction(end)
    window = f"window {start}..{end}"
    mel_bars = group_by_bar([e for e in mel_elements if lo <= e.offset <= hi], beats_per_bar)
    chord_bars = group_by_bar(
        [e for e in acc.window(start, end) if isinstance(e, LegacyChord)], beats_per_bar
    )
    if drop_last_chord_group and chord_bars:
        chord_bars.pop()
    if not mel_bars:
        raise InputError(f"{path}: track {mel.name!r} has no notes in the {window}")
    if not chord_bars:
        raise InputError(f"{path}: track {acc.name!r} has no chords in the {window}")
    if len(mel_bars) != len(chord_bars):
        raise InputError(
            f"{path}: {len(mel_bars)} melody bars but {len(chord_bars)} chord bars in the {window}"
            " (the seed grammar pairs bars by order and needs equal counts)"
        )
    bars: list[list[str]] = []
    for (_, elements), (_, voicings) in zip(mel_bars, chord_bars, strict=True):
        notes = [e for e in elements if isinstance(e, LegacyNote)]
        bars.append(parse_bar(notes, [c for c in voicings if isinstance(c, LegacyChord)]))
    tokens = [t for bar in bars for t in bar]
    log.info("seed corpus: %d bars, %d tokens, %d values", len(bars), len(tokens), len(set(tokens)))
    return SeedCorpus(bars, tokens, sorted(set(tokens)), [bar for bar, _ in mel_bars])
