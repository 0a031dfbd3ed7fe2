"""The legacy (music21 <= 5) MIDI import, rebuilt on raw events with mido (seed spec §2).

Used only by the seed-compatible mode: notes are paired FIFO per channel and key, near-simultaneous
notes that also end together become chords (tolerance ``tpq / 16`` ticks), and onsets and durations
are snapped independently to the nearest multiple of 1/4 or 1/3 quarter (zero durations allowed).
Times are exact ``Fraction`` quarter notes; pitches are MIDI numbers.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mido

from improv.errors import InputError, closest, excerpt

GRIDS = (Fraction(1, 4), Fraction(1, 3))


@dataclass(frozen=True)
class LegacyNote:
    """One note: onset and duration in quarter notes (quantized), MIDI pitch."""

    offset: Fraction
    duration: Fraction
    pitch: int


@dataclass(frozen=True)
class LegacyChord:
    """Two or more notes merged into one chord; ``pitches`` are in note-on order."""

    offset: Fraction
    duration: Fraction
    pitches: tuple[int, ...]


LegacyElement = LegacyNote | LegacyChord


@dataclass(frozen=True)
class RawNote:
    """A paired note in ticks, before chord building and quantization."""

    on: int
    off: int
    key: int


@dataclass(frozen=True)
class LegacyTrack:
    """The elements of one selected track, in creation (note-on) order."""

    name: str
    elements: tuple[LegacyElement, ...]
    ticks_per_quarter: int

    def window(self, start: float, end: float) -> list[LegacyElement]:
        """Elements whose onset lies in ``[start, end]`` quarters (end inclusive)."""
        lo, hi = Fraction(start), Fraction(end)
        return [e for e in self.elements if lo <= e.offset <= hi]


def pair_notes(events: Iterable[tuple[int, mido.Message]]) -> list[RawNote]:
    """Pair note-ons with note-offs (FIFO per channel and key); unclosed note-ons are dropped.

    ``events`` are (absolute tick, message) in time order. The result is in note-on order.
    """
    open_notes: dict[tuple[int, int], deque[int]] = defaultdict(deque)
    starts: list[tuple[int, int]] = []  # (tick, key) per note-on, by note-on index
    closed: dict[int, int] = {}  # note-on index -> off tick
    for tick, msg in events:
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes[(msg.channel, msg.note)].append(len(starts))
            starts.append((tick, msg.note))
        elif msg.type in ("note_on", "note_off"):
            pending = open_notes.get((msg.channel, msg.note))
            if pending:
                closed[pending.popleft()] = tick
    return [RawNote(on, closed[i], key) for i, (on, key) in enumerate(starts) if i in closed]


def quantize(value: Fraction) -> Fraction:
    """Snap to the nearest multiple of 1/4 or 1/3; halves round down, ties keep the smaller."""
    best: tuple[Fraction, Fraction] | None = None  # (error, snapped)
    for grid in GRIDS:
        steps = value / grid
        low = steps.numerator // steps.denominator
        k = low if steps - low <= Fraction(1, 2) else low + 1
        snapped = k * grid
        candidate = (abs(value - snapped), snapped)
        if best is None or candidate < best:
            best = candidate
    assert best is not None
    return best[1]


def build_chords(notes: Sequence[RawNote], tpq: int) -> list[LegacyElement]:
    """Merge notes starting and ending within ``tpq / 16`` ticks into chords, then quantize.

    Legacy quirk kept on purpose: a note already absorbed into an earlier chord can be absorbed
    again by a later unabsorbed note, so it then sounds in two chords (seed bars 4 and 18).
    """

    # compare 16 * |difference| <= tpq to stay exact for any tpq
    def close(a: int, b: int) -> bool:
        return 16 * abs(a - b) <= tpq

    absorbed = [False] * len(notes)
    out: list[LegacyElement] = []
    for i, first in enumerate(notes):
        if absorbed[i]:
            continue
        group = [first]
        for j in range(i + 1, len(notes)):
            other = notes[j]
            if not close(other.on, first.on):
                break
            if not close(other.off, first.off):
                continue  # starts with `first` but ends elsewhere
            absorbed[j] = True
            group.append(other)
        offset = quantize(Fraction(first.on, tpq))
        if len(group) == 1:
            out.append(LegacyNote(offset, quantize(Fraction(first.off - first.on, tpq)), first.key))
        else:
            last_on = group[-1].on
            duration = quantize(Fraction(first.off - last_on, tpq))
            out.append(LegacyChord(offset, duration, tuple(n.key for n in group)))
    return out


def _absolute(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    tick = 0
    out = []
    for msg in track:
        tick += msg.time
        out.append((tick, msg))
    return out


def _track_name(track: mido.MidiTrack) -> str:
    for msg in track:
        if msg.type == "track_name":
            return msg.name.strip()
    return ""


def _has_notes(track: mido.MidiTrack) -> bool:
    return any(m.type == "note_on" and m.velocity > 0 for m in track)


class LegacyMidi:
    """A parsed MIDI file from which tracks are selected by name or channel."""

    def __init__(self, midi: mido.MidiFile, source: str) -> None:
        self.midi = midi
        self.source = source
        self.tpq = midi.ticks_per_beat
        if not any(_has_notes(t) for t in midi.tracks):
            raise InputError(f"{source}: the MIDI file contains no notes")

    @classmethod
    def open(cls, path: str | Path) -> LegacyMidi:
        """Read a MIDI file; a missing, corrupt or truncated file raises ``InputError``."""
        from improv.corpus.midi_reader import read_midi_file  # the one error path for MIDI files

        return cls(read_midi_file(path), str(Path(path)))

    @property
    def track_names(self) -> list[str]:
        """Names of the tracks that contain notes, in file order."""
        return [_track_name(t) for t in self.midi.tracks if _has_notes(t)]

    def track(self, name: str | None = None, channel: int | None = None) -> LegacyTrack:
        """Select notes by track name and/or MIDI channel (1-16) and import them.

        With a name, the first track of that name (exact, else case-insensitive) is used; with a
        channel too, only its events on that channel. With a channel alone, the events on that
        channel from every track are merged in time order.
        """
        if name is None and channel is None:
            raise InputError(f"{self.source}: select a track by name or by channel")
        if channel is not None and not 1 <= channel <= 16:
            raise InputError(f"{self.source}: MIDI channel {channel} is out of range 1-16")
        if name is not None:
            events = _absolute(self._find(name))
            label = name
        else:
            events = sorted((ev for t in self.midi.tracks for ev in _absolute(t)), key=lambda ev: ev[0])
            label = f"channel {channel}"
        if channel is not None:
            wanted = channel - 1
            events = [ev for ev in events if getattr(ev[1], "channel", wanted) == wanted]
            if name is not None:
                label = f"{name} (channel {channel})"
        elements = build_chords(pair_notes(events), self.tpq)
        if not elements:
            raise InputError(f"{self.source}: track {label!r} has no notes")
        return LegacyTrack(label, tuple(elements), self.tpq)

    def _find(self, name: str) -> mido.MidiTrack:
        tracks = self.midi.tracks
        for track in tracks:
            if _track_name(track) == name.strip():
                return track
        for track in tracks:
            if _track_name(track).casefold() == name.strip().casefold():
                return track
        known = closest(name, self.track_names, "tracks with notes") if self.track_names else "none"
        raise InputError(f"{self.source}: no track named {excerpt(name)}; {known}")


def read_track(path: str | Path, name: str | None = None, channel: int | None = None) -> LegacyTrack:
    """Convenience: open ``path`` and import one track (see ``LegacyMidi.track``)."""
    return LegacyMidi.open(path).track(name=name, channel=channel)
