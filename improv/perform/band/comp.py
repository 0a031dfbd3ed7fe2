"""Comping: shell and rootless voicings, voice-led, in rhythms that breathe.

Voicings (the bass has the root, so the piano leaves it out): every voicing holds the chord's 3rd and 7th
(the guide tones; the 6th stands in for a missing 7th, the 4th for the 3rd of a sus chord), plus up to two
colours: the 9th (or its written alteration), the 13th on a dominant (or b13), the 5th (or #11, b5, #5),
the 11th on minor chords. Shells are the guide tones with one colour; rootless voicings have two. Each is
placed in every position between D3 and E5 that spans at most a tenth; the one chosen moves least from the
last voicing, keeps the top voice close (a melody on top) and stays near the middle of the keyboard.

Rhythm: one pattern of 0-3 attacks per bar, most off the beat (Charleston, the and of 1, pushes on the and of
4 that anticipate the next bar's chord); a chord no pattern reached gets an attack at its start. A chord
sounds until the next attack or its end.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from improv.perform.band.form import BandNote, Form, Player, Span, jitter, make_note
from improv.theory.harmony import Chord
from improv.theory.timing import DEFAULT_TEMPO, TICKS_PER_BEAT

LOW, HIGH, CENTRE = 50, 76, 63
EIGHTH = TICKS_PER_BEAT // 2

# (eighth of the bar, length in eighths) per attack, and a weight; 4/4 bars. The and of 4 (eighth 7) pushes.
PATTERNS_4: tuple[tuple[tuple[tuple[int, int], ...], float], ...] = (
    (((0, 3), (3, 2)), 3.0),  # Charleston
    (((1, 2), (5, 2)), 2.0),  # and of 1, and of 3
    (((2, 2), (5, 3)), 2.0),  # 2, and of 3
    (((3, 4),), 2.0),  # and of 2, held
    (((7, 2),), 1.5),  # a push into the next bar
    (((0, 6),), 1.0),  # held on 1
    (((2, 1), (4, 3), (7, 2)), 1.0),  # 2, 3, push
    (((1, 3), (6, 2)), 1.5),  # and of 1, 4
    (((3, 1), (7, 2)), 1.5),  # and of 2, push
    ((), 0.6),  # lay out
)
# bossa: the two bars of the clave phrase (1, the and of 2, 4 | 2, the and of 3), straight eighths
PATTERNS_BOSSA: tuple[tuple[tuple[tuple[tuple[int, int], ...], float], ...], ...] = (
    ((((0, 3), (3, 3), (6, 2)), 3.0), (((0, 2), (3, 3)), 2.0), (((0, 3), (3, 3), (7, 1)), 1.5)),
    ((((2, 3), (5, 3)), 3.0), (((2, 2), (5, 2), (7, 1)), 2.0), (((1, 2), (4, 2), (7, 1)), 1.0)),
)


def guide_tones(chord: Chord) -> tuple[int | None, int | None]:
    """The chord's 3rd (or sus 4th/2nd) and 7th (or 6th, or the diminished 7th) as pitch classes."""
    if chord.root is None:
        return None, None
    rel = {(pc - chord.root) % 12 for pc in chord.tones}
    third = next((i for i in (4, 3, 5, 2) if i in rel), None)
    seventh = next((i for i in (10, 11, 9) if i in rel), None)
    if seventh is None and chord.quality in ("maj", "min", "dim"):
        seventh = 9  # a triad in jazz is a 6 chord (dim: the diminished 7th)
    return tuple(None if i is None else (chord.root + i) % 12 for i in (third, seventh))  # type: ignore[return-value]


def colours(chord: Chord) -> list[int]:
    """Colour tones for the chord (pitch classes), most idiomatic first."""
    root = chord.root
    rel_t = {(pc - root) % 12 for pc in chord.tensions}
    rel_c = {(pc - root) % 12 for pc in chord.tones}
    ninth = next((i for i in (1, 3, 2) if i in rel_t), None)
    if ninth is None and chord.quality in ("maj", "min", "dom", "sus"):
        ninth = 2
    fifth = next((i for i in (6, 8) if i in rel_t | rel_c), 7 if 7 in rel_c else None)
    out = [ninth]
    if chord.quality == "dom":
        out.append(next((i for i in (8, 9) if i in rel_t), 9))
    elif chord.quality == "min":
        out.append(5)
    elif chord.quality == "hdim":
        out.append(5)
    out.append(fifth)
    return [(root + i) % 12 for i in dict.fromkeys(out) if i is not None]


def voicing_sets(chord: Chord) -> list[tuple[int, ...]]:
    """Pitch-class sets to voice: shells (guide tones + 1 colour) and rootless voicings (+ 2 colours)."""
    third, seventh = guide_tones(chord)
    guides = tuple(pc for pc in (third, seventh) if pc is not None)
    if not guides:
        return [tuple(sorted(chord.tones))] if chord.tones else []
    extra = [pc for pc in colours(chord) if pc not in guides]
    sets = [guides + (pc,) for pc in extra[:2]]
    sets += [guides + pair for pair in itertools.combinations(extra[:3], 2)]
    return sets or [guides]


@lru_cache(maxsize=4096)
def placements(pcs: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Every close placement of ``pcs`` (one pitch each) in LOW..HIGH, spanning at most a tenth."""
    choices = [[p for p in range(LOW, HIGH + 1) if p % 12 == pc] for pc in pcs]
    out = []
    for combo in itertools.product(*choices):
        voicing = tuple(sorted(combo))
        if voicing[-1] - voicing[0] > 16 or voicing[-1] < 60:
            continue
        if voicing[0] < 55 and voicing[1] - voicing[0] < 3:  # no seconds down low: mud
            continue
        if voicing[-1] - voicing[-2] == 1:  # no minor second on top
            continue
        out.append(voicing)
    return tuple(sorted(set(out)))


class Comper(Player):
    """Comping over a form, one bar at a time (call ``bar`` with 0, 1, 2, ... in order)."""

    def __init__(self, form: Form, rng: np.random.Generator, *, channel: int = 2, swing: float = 0.5,
                 tempo: float = DEFAULT_TEMPO, velocity: int = 62, groove: str = "swing") -> None:
        super().__init__(form, rng, channel=channel, swing=swing, velocity=velocity)
        self.tempo = tempo
        self.groove = groove
        self.voicing: tuple[int, ...] | None = None
        self.voiced: Chord | None = None
        self._pushed: int | None = None  # tick of the next bar's downbeat already played by a push

    def bar(self, index: int) -> list[BandNote]:
        """The comping notes of bar ``index``."""
        start = self.form.bar_start(index)
        attacks = self._attacks(start)
        notes: list[BandNote] = []
        for k, (tick, length, span) in enumerate(attacks):
            end = min(tick + length, span.end)
            if k + 1 < len(attacks):
                end = min(end, attacks[k + 1][0])
            voicing = self._voice(span.chord)
            velocity = self.velocity + (6 if tick % TICKS_PER_BEAT else 0) + jitter(self.rng, 5)
            notes += [make_note(tick, end - tick - 1, p, velocity, self.channel, self.swing) for p in voicing]
        return notes

    def _pattern(self, bar: int) -> tuple[tuple[int, int], ...]:
        """A rhythm for the bar: the 4/4 patterns (scaled to other meters by dropping what does not fit);
        in a bossa, the patterns of the bar's half of the two-bar clave phrase."""
        table = PATTERNS_BOSSA[bar % 2] if self.groove == "bossa" else PATTERNS_4
        weights = np.array([w for _, w in table])
        if self.tempo > 200:  # fast: fewer attacks
            weights *= np.array([1.0 / max(1, len(p)) for p, _ in table])
        pattern = table[int(self.rng.choice(len(table), p=weights / weights.sum()))][0]
        eighths = self.form.beats_per_bar * 2
        return tuple((e + eighths - 8, n) if e == 7 else (e, n) for e, n in pattern if e < eighths)

    def _attacks(self, start: int) -> list[tuple[int, int, Span]]:
        """(tick, length, span voiced) for every attack of the bar starting at ``start``."""
        bar_end = start + self.form.bar_ticks
        pushed, self._pushed = self._pushed, None
        attacks: dict[int, tuple[int, Span]] = {}
        for eighth, length in self._pattern(start // self.form.bar_ticks):
            tick = start + eighth * EIGHTH
            if tick == pushed:
                continue
            ahead = self.form.span_at(tick + EIGHTH)
            offbeat = tick % TICKS_PER_BEAT != 0
            span = ahead if offbeat and ahead.start == tick + EIGHTH else self.form.span_at(tick)
            attacks[tick] = (length * EIGHTH, span)
            if span.start >= bar_end:
                self._pushed = span.start
        covered = {span.start for _, span in attacks.values()}
        for span in self.form.spans_in_bar(start // self.form.bar_ticks):
            if span.start < start or span.start in covered or span.start == pushed:
                continue
            if span.chord.root is not None:
                attacks[span.start] = (min(span.length, 2 * TICKS_PER_BEAT), span)
        return [(tick, length, span) for tick, (length, span) in sorted(attacks.items())
                if span.chord.root is not None]

    def _voice(self, chord: Chord) -> tuple[int, ...]:
        """The voicing for ``chord``: the same as last time for the same chord, else voice-led."""
        if chord == self.voiced and self.voicing is not None:
            return self.voicing
        best, best_cost = None, float("inf")
        guides = set(guide_tones(chord))
        for pcs in voicing_sets(chord):
            for voicing in placements(pcs):
                cost = self._cost(voicing, guides) + self.rng.uniform(0, 1.5)
                if cost < best_cost:
                    best, best_cost = voicing, cost
        self.voicing = best or ()
        self.voiced = chord
        return self.voicing

    def _cost(self, voicing: tuple[int, ...], guides: set) -> float:
        """Voice-leading distance from the last voicing, top-voice motion, distance from the centre, and
        the sound: a guide tone at the bottom (rootless A/B positions), few semitone clusters."""
        centre = abs(sum(voicing) / len(voicing) - CENTRE) * 0.4
        centre += 1.0 * sum(b - a == 1 for a, b in zip(voicing, voicing[1:], strict=False))
        centre += 0.0 if voicing[0] % 12 in guides else 1.5
        if not self.voicing:
            return centre
        prev = self.voicing
        moves = sum(min(abs(p - q) for q in prev) for p in voicing)
        top = abs(voicing[-1] - prev[-1])
        fuller = -2.5 if len(voicing) > 3 else 0.0  # rootless four-note voicings as often as shells
        return moves + 2.0 * top + (4.0 if top > 2 else 0.0) + centre + fuller
