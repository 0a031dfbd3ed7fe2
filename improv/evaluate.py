"""Musical metrics of a solo over its changes: does the line fit the harmony, and is it varied?

A solo is a `Line` (notes in ticks plus ``chord_at``), so generated solos, MIDI files and corpus solos
are measured alike. Definitions (all per solo):

- chord-tone ratio: share of notes (with a chord under them, N.C. excluded) whose pitch class is a chord
  tone; *strong* = only notes whose onset is on beat 1 or 3 of a 4/4 bar (beat 1, and the middle beat of
  other even meters; beat 1 only in odd meters). Scale-tone ratio counts chord or scale tones.
- range, mean |interval| between consecutive notes, share of intervals over an octave.
- rest ratio: time with no sounding note over the solo's length; gaps shorter than an eighth are
  articulation (legato), as in the values grammar. Density: notes per beat.
- longest repeat: the longest run of values (``improv.theory.values.encode``, rests included) that occurs
  twice without overlapping, in values.
- repeated 4-bar phrases: bar-aligned 4-bar windows (with at least 4 notes) whose notes have exactly the
  same values at the same offsets as an earlier, non-overlapping window of the same chorus (the leap
  into the window's first note is ignored).
- distinct 4-gram ratio: distinct value 4-grams / all 4-grams, averaged over chunks of 200 values so that
  long and short solos compare.
- longest copy: the longest run of values found verbatim in a training corpus (`CorpusIndex`).
- histogram distances: Jensen-Shannon distances (base 2, 0..1) between the solo's and a reference
  corpus' histograms of pitch class relative to the chord root, intervals and inter-onset intervals.

Pure numpy; no TensorFlow.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from improv.theory.harmony import Chord
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import REST_MIN, Line, Note, Token, Value, classify, encode

PHRASE_BARS = 4
PHRASE_MIN_NOTES = 4
NGRAM = 4
NGRAM_CHUNK = 200
MAX_INTERVAL = 24  # interval histogram bins: -24..+24 semitones (wider leaps go to the end bins)
MAX_IOI = 4 * TICKS_PER_BEAT  # inter-onset histogram bins: 1..48 ticks (longer go to the last bin)
_MASK = (1 << 64) - 1
_BASE = 0x9E3779B97F4A7C15  # odd multiplier for the polynomial hash (mod 2**64)


class TimedLike(Protocol):
    """Anything with onset/duration in beats and a pitch (``improv.improviser.TimedNote``)."""

    onset: float
    duration: float
    pitch: int


# -- building solos --------------------------------------------------------------------------------
def line_from_timed(
    notes: Iterable[TimedLike],
    chord_at: Callable[[int], Chord],
    beats_per_bar: int = 4,
    name: str = "solo",
) -> Line:
    """A Line (ticks) from notes in beats, sorted by onset; onsets snap to the 12-tick grid."""
    ticks = [
        Note(
            int(round(n.onset * TICKS_PER_BEAT)),
            max(1, int(round(n.duration * TICKS_PER_BEAT))),
            int(n.pitch),
        )
        for n in notes
    ]
    ticks.sort(key=lambda n: (n.onset, n.pitch))
    return Line(name, ticks, chord_at, beats_per_bar)


def solo_length(line: Line) -> int:
    """Ticks from 0 to the end of the last note, rounded up to a whole bar."""
    bar = line.beats_per_bar * TICKS_PER_BEAT
    end = max((n.onset + n.duration for n in line.notes), default=0)
    return max(bar, -(-end // bar) * bar)


# -- harmony ---------------------------------------------------------------------------------------
def strong_beats(beats_per_bar: int) -> tuple[int, ...]:
    """Ticks in the bar that are strong beats: 1 and 3 in 4/4 (1 and the middle in even meters)."""
    if beats_per_bar >= 2 and beats_per_bar % 2 == 0:
        return (0, beats_per_bar // 2 * TICKS_PER_BEAT)
    return (0,)


def _kinds(line: Line, strong_only: bool = False) -> list[str]:
    """C/S/A/X of each note with a chord under it (optionally only notes starting on strong beats)."""
    bar = line.beats_per_bar * TICKS_PER_BEAT
    strong = strong_beats(line.beats_per_bar)
    kinds = []
    for note in line.notes:
        if strong_only and note.onset % bar not in strong:
            continue
        chord = line.chord_at(note.onset)
        if chord.root is None:
            continue
        kinds.append(classify(note.pitch, chord))
    return kinds


def chord_tone_ratio(line: Line, strong_only: bool = False) -> float | None:
    """Share of notes that are chord tones (None when no note has a chord under it)."""
    kinds = _kinds(line, strong_only)
    return sum(k == "C" for k in kinds) / len(kinds) if kinds else None


def scale_tone_ratio(line: Line) -> float | None:
    """Share of notes that are chord or scale tones."""
    kinds = _kinds(line)
    return sum(k in ("C", "S") for k in kinds) / len(kinds) if kinds else None


# -- pitch and time --------------------------------------------------------------------------------
def intervals(line: Line) -> np.ndarray:
    """Semitones between consecutive notes."""
    return np.diff(np.array([n.pitch for n in line.notes], dtype=np.int64))


def pitch_range(line: Line) -> int:
    """Highest minus lowest pitch (0 for fewer than two notes)."""
    pitches = [n.pitch for n in line.notes]
    return max(pitches) - min(pitches) if pitches else 0


def mean_abs_interval(line: Line) -> float | None:
    """Mean |interval| in semitones."""
    steps = intervals(line)
    return float(np.abs(steps).mean()) if steps.size else None


def octave_leap_share(line: Line) -> float | None:
    """Share of intervals larger than an octave."""
    steps = intervals(line)
    return float((np.abs(steps) > 12).mean()) if steps.size else None


def rest_ratio(line: Line, length: int | None = None) -> float:
    """Time without a sounding note over ``length`` ticks (default `solo_length`); short gaps are legato."""
    length = length or solo_length(line)
    sounding = 0
    notes = sorted(line.notes, key=lambda n: n.onset)
    for i, note in enumerate(notes):
        end = note.onset + note.duration
        if i + 1 < len(notes):
            following = notes[i + 1].onset
            end = following if following - end < REST_MIN else min(end, following)
        start, end = max(note.onset, 0), min(end, length)
        sounding += max(0, end - start)
    return 1.0 - sounding / length if length > 0 else 0.0


def note_density(line: Line, length: int | None = None) -> float:
    """Notes per beat over ``length`` ticks (default `solo_length`)."""
    length = length or solo_length(line)
    return len(line.notes) * TICKS_PER_BEAT / length if length > 0 else 0.0


# -- repetition ------------------------------------------------------------------------------------
def symbol_ids(items: Sequence, table: dict | None = None) -> np.ndarray:
    """Small ints for hashable items (``table`` maps item -> id and grows)."""
    table = {} if table is None else table
    return np.array([table.setdefault(item, len(table)) for item in items], dtype=np.int64)


def longest_repeat(symbols: Sequence) -> int:
    """Length of the longest run that occurs twice without overlapping."""
    ids = symbol_ids(symbols)
    n = len(ids)
    prefix = _prefix_hashes(ids)

    def repeats(length: int) -> bool:
        first: dict[int, int] = {}
        for start, h in enumerate(_window_hashes(prefix, length).tolist()):
            seen = first.setdefault(h, start)
            if start - seen >= length:
                return True
        return False

    return _largest(repeats, n // 2)


def repeated_phrases(
    tokens: Sequence[Token],
    bar_ticks: int,
    chorus_ticks: int | None = None,
    bars: int = PHRASE_BARS,
    min_notes: int = PHRASE_MIN_NOTES,
) -> int:
    """How many bar-aligned ``bars``-bar windows repeat an earlier non-overlapping one in their chorus.

    Windows compare the values of their notes and where they start in the window. ``chorus_ticks`` None
    treats the whole solo as one chorus.
    """
    notes = sorted((t for t in tokens if t.value.kind != "R"), key=lambda t: t.onset)
    if not notes:
        return 0
    onsets = [t.onset for t in notes]
    end = notes[-1].onset + notes[-1].value.duration
    chorus_ticks = chorus_ticks or -(-end // bar_ticks) * bar_ticks
    span = bars * bar_ticks
    count = 0
    for chorus_start in range(0, end, chorus_ticks):
        seen: dict[tuple, int] = {}
        chorus_end = chorus_start + chorus_ticks
        for start in range(chorus_start, chorus_end - span + 1, bar_ticks):
            lo, hi = bisect.bisect_left(onsets, start), bisect.bisect_left(onsets, start + span)
            inside = [(t.onset - start, t.value) for t in notes[lo:hi]]
            if len(inside) < min_notes:
                continue
            first_offset, first = inside[0]  # its leap comes from before the window: ignore it
            content = ((first_offset, Value(first.kind, first.duration)), *inside[1:])
            earlier = seen.setdefault(content, start)
            if start - earlier >= span:
                count += 1
    return count


def distinct_ngram_ratio(symbols: Sequence, n: int = NGRAM, chunk: int = NGRAM_CHUNK) -> float | None:
    """Distinct n-grams / n-grams, averaged over consecutive chunks of ``chunk`` symbols.

    A solo shorter than a chunk is one chunk; a last partial chunk counts if at least half a chunk.
    """
    items = list(symbols)
    if len(items) < n:
        return None
    pieces = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    pieces = [p for i, p in enumerate(pieces) if i == 0 or len(p) >= chunk // 2]
    ratios = []
    for piece in pieces:
        grams = [tuple(piece[i : i + n]) for i in range(len(piece) - n + 1)]
        if grams:
            ratios.append(len(set(grams)) / len(grams))
    return float(np.mean(ratios)) if ratios else None


# -- copying from a corpus -------------------------------------------------------------------------
class CorpusIndex:
    """Value sequences of a training corpus, indexed by hashed n-grams of any length.

    ``longest_copy`` finds the longest run of a query that occurs verbatim in one corpus sequence
    (never across two), by an exponential then binary search on the length; the sorted hashes of the
    corpus' windows of each length tried are cached.
    """

    def __init__(self, sequences: Sequence[Sequence[Value]], cache_size: int = 48) -> None:
        self.ids: dict[Value, int] = {}
        parts, bounds = [], [0]
        for seq in sequences:
            parts.append(symbol_ids(seq, self.ids))
            bounds.append(bounds[-1] + len(seq) + 1)
        self.bounds = np.array(bounds, dtype=np.int64)  # start of each sequence (+1 separator each)
        self.tokens = int(self.bounds[-1] - len(parts))
        separator = len(self.ids) + 1 + np.arange(len(parts), dtype=np.int64)  # one unique id per line
        stream = np.zeros(0, dtype=np.int64)
        if parts:
            stream = np.concatenate([np.append(p, s) for p, s in zip(parts, separator, strict=True)])
        self._prefix = _prefix_hashes(stream)
        self._cache: dict[int, np.ndarray] = {}
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def _sorted_hashes(self, length: int) -> np.ndarray:
        found = self._cache.get(length)
        if found is None:
            found = np.sort(_window_hashes(self._prefix, length))
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[length] = found
        return found

    def _query_ids(self, values: Sequence[Value]) -> np.ndarray:
        """Ids of the query's values; a value the corpus never has gets an id that matches nothing."""
        unknown = -1 - np.arange(len(values), dtype=np.int64)
        known = np.array([self.ids.get(v, -1) for v in values], dtype=np.int64)
        return np.where(known >= 0, known, unknown)

    def longest_copy(self, values: Sequence[Value], exclude: int | None = None) -> int:
        """The longest run of ``values`` found verbatim in a corpus sequence (other than ``exclude``)."""
        if not len(self) or not values:
            return 0
        query = _prefix_hashes(self._query_ids(values))
        own = None
        if exclude is not None:  # the excluded sequence's own windows, to discount their hits
            lo, hi = int(self.bounds[exclude]), int(self.bounds[exclude + 1]) - 1
            own = self._prefix[lo : hi + 1]

        def found(length: int) -> bool:
            wanted = _window_hashes(query, length)
            corpus = self._sorted_hashes(length)
            hits = np.searchsorted(corpus, wanted, "right") - np.searchsorted(corpus, wanted, "left")
            if own is not None:
                mine = np.sort(_window_hashes(own, length))
                hits = hits - (np.searchsorted(mine, wanted, "right") - np.searchsorted(mine, wanted, "left"))
            return bool((hits > 0).any())

        return _largest(found, len(values))


def _prefix_hashes(ids: np.ndarray) -> np.ndarray:
    """P[0] = 0, P[i + 1] = P[i] * B + ids[i] + 1 (mod 2**64), as uint64."""
    out = np.zeros(len(ids) + 1, dtype=np.uint64)
    h = 0
    for i, x in enumerate(ids.tolist()):
        h = (h * _BASE + (x & _MASK) + 1) & _MASK
        out[i + 1] = h
    return out


def _window_hashes(prefix: np.ndarray, length: int) -> np.ndarray:
    """Hashes of every window of ``length`` symbols: P[i + L] - P[i] * B**L (mod 2**64).

    Only differences of the prefix are used, so a slice of a longer prefix gives that slice's windows.
    """
    count = len(prefix) - length
    if length <= 0 or count <= 0:
        return np.zeros(0, dtype=np.uint64)
    power = np.uint64(pow(_BASE, length, 1 << 64))
    with np.errstate(over="ignore"):
        return prefix[length : length + count] - prefix[:count] * power


def _largest(ok: Callable[[int], bool], limit: int) -> int:
    """The largest L in 0..limit with ok(L), for a monotone ok (ok(0) is taken as true)."""
    if limit <= 0 or not ok(1):
        return 0
    lo, hi = 1, 2
    while hi <= limit and ok(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)  # ok(lo) holds; ok(hi) fails or hi is past the limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


# -- histograms against a reference ----------------------------------------------------------------
@dataclass
class Histograms:
    """Counts of pitch class over the chord root (12), intervals (-24..24) and inter-onsets (1..48 ticks)."""

    pitch_class: np.ndarray
    interval: np.ndarray
    ioi: np.ndarray

    @classmethod
    def empty(cls) -> Histograms:
        """All zeros."""
        return cls(np.zeros(12), np.zeros(2 * MAX_INTERVAL + 1), np.zeros(MAX_IOI))

    def add(self, line: Line) -> Histograms:
        """Count one line in (returns self)."""
        for note in line.notes:
            chord = line.chord_at(note.onset)
            if chord.root is not None:
                self.pitch_class[(note.pitch - chord.root) % 12] += 1
        steps = np.clip(intervals(line), -MAX_INTERVAL, MAX_INTERVAL)
        np.add.at(self.interval, steps + MAX_INTERVAL, 1)
        onsets = np.array([n.onset for n in line.notes], dtype=np.int64)
        gaps = np.clip(np.diff(onsets), 1, MAX_IOI)
        np.add.at(self.ioi, gaps - 1, 1)
        return self

    @classmethod
    def of(cls, lines: Iterable[Line]) -> Histograms:
        """Histograms of many lines pooled."""
        hist = cls.empty()
        for line in lines:
            hist.add(line)
        return hist

    def distances(self, other: Histograms) -> dict[str, float | None]:
        """Jensen-Shannon distance of each histogram to ``other``'s."""
        return {
            "js_pitch_class": js_distance(self.pitch_class, other.pitch_class),
            "js_interval": js_distance(self.interval, other.interval),
            "js_ioi": js_distance(self.ioi, other.ioi),
        }


def js_distance(p: np.ndarray, q: np.ndarray) -> float | None:
    """sqrt of the Jensen-Shannon divergence (base 2) of two count vectors; None if either is empty."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return None
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


# -- everything at once ----------------------------------------------------------------------------
METRICS = (
    ("notes", "notes"),
    ("chord_tone", "chord-tone ratio"),
    ("chord_tone_strong", "chord-tone ratio, beats 1 & 3"),
    ("scale_tone", "scale-tone ratio (chord or scale)"),
    ("range", "pitch range (semitones)"),
    ("mean_abs_interval", "mean |interval| (semitones)"),
    ("octave_leaps", "leaps over an octave"),
    ("rest_ratio", "rest ratio"),
    ("density", "notes per beat"),
    ("longest_repeat", "longest repeated phrase (values)"),
    ("repeated_4bar", "repeated 4-bar phrases in a chorus"),
    ("distinct_4gram", "distinct 4-gram ratio of values"),
    ("longest_copy", "longest verbatim copy from training (values)"),
    ("js_pitch_class", "JS distance: pitch class over root"),
    ("js_interval", "JS distance: intervals"),
    ("js_ioi", "JS distance: inter-onset intervals"),
)


def evaluate_line(
    line: Line,
    *,
    length: int | None = None,
    chorus_ticks: int | None = None,
    training: CorpusIndex | None = None,
    exclude: int | None = None,
    reference: Histograms | None = None,
) -> dict[str, float | int | None]:
    """Every metric of one solo (see the module doc); copy and distances only with their corpora."""
    tokens = encode(line)
    values = [t.value for t in tokens]
    bar = line.beats_per_bar * TICKS_PER_BEAT
    result: dict[str, float | int | None] = {
        "notes": len(line.notes),
        "chord_tone": chord_tone_ratio(line),
        "chord_tone_strong": chord_tone_ratio(line, strong_only=True),
        "scale_tone": scale_tone_ratio(line),
        "range": pitch_range(line),
        "mean_abs_interval": mean_abs_interval(line),
        "octave_leaps": octave_leap_share(line),
        "rest_ratio": rest_ratio(line, length),
        "density": note_density(line, length),
        "longest_repeat": longest_repeat(values),
        "repeated_4bar": repeated_phrases(tokens, bar, chorus_ticks),
        "distinct_4gram": distinct_ngram_ratio(values),
    }
    if training is not None:
        result["longest_copy"] = training.longest_copy(values, exclude)
    if reference is not None:
        result.update(Histograms.of([line]).distances(reference))
    return result
