"""What a session played: :class:`PlayedNote` (beats from bar 1, a channel) and the MIDI record of a
session (:func:`write_midi`: the player as received, then improv). No threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from improv.midi import midifile
from improv.midi.messages import is_channel_message, note_off, note_on


@dataclass(frozen=True)
class PlayedNote:
    """A note as the engine queued it: beats from bar 1, channel 0..15."""

    onset: float
    offset: float
    channel: int
    pitch: int
    velocity: int


def clip_note(note, channel: int, end: float | None) -> PlayedNote:
    """A performer note as played: cut at the session's end (``end`` beats, None for none)."""
    stop = note.onset + note.duration
    if end is not None:
        stop = min(stop, end)
    return PlayedNote(note.onset, max(note.onset, stop), channel, int(note.pitch),
                      max(1, min(127, int(note.velocity))))


def write_midi(path: Path | str, player: Iterable[tuple[float, Sequence[int]]],
               improv: Iterable[PlayedNote], *, tempo: float, beats_per_bar: int = 4) -> Path:
    """A type-1 MIDI file: track 1 the player (as received), track 2 improv."""
    mid = midifile.new_file("player", tempo=tempo, beats_per_bar=beats_per_bar)
    timed = [(max(0.0, b), 1, tuple(m)) for b, m in player if is_channel_message(m)]
    midifile.append_events(mid.tracks[0], timed)
    events = []
    for n in improv:
        events.append((n.offset, 0, note_off(n.channel, n.pitch)))
        events.append((n.onset, 2, note_on(n.channel, n.pitch, n.velocity)))
    mid.tracks.append(midifile.events_track("improv", events))
    return midifile.save(mid, path)


__all__ = ["PlayedNote", "clip_note", "write_midi"]
