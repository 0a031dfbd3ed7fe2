"""The one MIDI file writer: type-1 files of a conductor track and tracks of timed messages.

Units: events are in beats (floats); the file has ``MIDI_TICKS_PER_BEAT`` ticks per beat. Used by
`improv.generate` (a solo and its band) and the live session record / replay. No threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from improv.errors import RuntimeFailure
from improv.midi.messages import NOTE_OFF, NOTE_ON, PROGRAM

if TYPE_CHECKING:
    import mido  # imported by the functions that build a file: `improv play` needs it only at the end

MIDI_TICKS_PER_BEAT = 480

# (beat, order, message): at one tick lower ``order`` first (note-offs before note-ons)
Event = tuple[float, int, Sequence[int]]


def ticks(beats: float) -> int:
    """Beats to MIDI file ticks."""
    return int(round(beats * MIDI_TICKS_PER_BEAT))


def new_file(title: str, *, tempo: float, beats_per_bar: int) -> mido.MidiFile:
    """A type-1 file whose first track (named ``title``) holds the tempo and the time signature."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=MIDI_TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=title, time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=beats_per_bar, denominator=4, time=0))
    mid.tracks.append(conductor)
    return mid


def append_events(track: mido.MidiTrack, events: Iterable[Event]) -> mido.MidiTrack:
    """``events`` in time order (stable for equal tick and order), then end of track; messages
    mido cannot read are skipped."""
    import mido

    last = 0
    for beat, _, message in sorted(events, key=lambda e: (ticks(e[0]), e[1])):
        tick = ticks(beat)
        try:
            msg = mido.Message.from_bytes(list(message))
        except (ValueError, TypeError):
            continue
        track.append(msg.copy(time=max(0, tick - last)))
        last = max(last, tick)
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def events_track(name: str, events: Iterable[Event], *,
                 program: tuple[int, int] | None = None) -> mido.MidiTrack:
    """A track named ``name``; ``program`` = (channel, program) puts a program change first."""
    import mido

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    if program is not None:
        track.append(mido.Message.from_bytes([PROGRAM | program[0], program[1]]))
    return append_events(track, events)


def note_events(notes: Iterable[tuple[float, float, int, int, int]]) -> list[Event]:
    """(start, end, pitch, velocity, channel) notes in beats as events, note-offs before note-ons at
    a tie (a note lasts at least 0.01 beat)."""
    keyed = []
    for start, end, pitch, velocity, ch in notes:
        keyed.append((ticks(start), 1, pitch, velocity, ch, start))
        stop = max(end, start + 0.01)
        keyed.append((ticks(stop), 0, pitch, 0, ch, stop))
    keyed.sort()
    return [(beat, on, (NOTE_ON | ch, pitch, velocity) if on else (NOTE_OFF | ch, pitch, 0))
            for _, on, pitch, velocity, ch, beat in keyed]


def save(mid: mido.MidiFile, path: Path | str) -> Path:
    """Write ``mid``; RuntimeFailure naming the file when it cannot be written."""
    path = Path(path)
    try:
        mid.save(path)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {path}: {exc}") from None
    return path
