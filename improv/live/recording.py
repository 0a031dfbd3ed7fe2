"""What a session played and heard, held compactly for ``--record`` while the session grows.

A note costs 19 bytes (onset and offset as float64 beats; channel, pitch, velocity as bytes) and a
player message 8 bytes plus its own bytes, instead of a Python object each (~200 bytes), so hours of
playing stay a few MB. One writer thread per store (the generator for notes, the listen thread for
the player); read once, at the end.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence

from improv.perform.played import PlayedNote


class NoteStore:
    """Played notes in the order they were stored."""

    def __init__(self) -> None:
        self._times = array("d")
        self._bytes = bytearray()

    def append(self, note: PlayedNote) -> None:
        self._times.append(note.onset)
        self._times.append(note.offset)
        self._bytes += bytes((note.channel, note.pitch, note.velocity))

    def __len__(self) -> int:
        return len(self._bytes) // 3

    def __iter__(self) -> Iterator[PlayedNote]:
        times, raw = self._times, self._bytes
        for i in range(len(self)):
            yield PlayedNote(times[2 * i], times[2 * i + 1], raw[3 * i], raw[3 * i + 1], raw[3 * i + 2])


class MessageStore:
    """Timed MIDI messages ``(beat, bytes)`` in the order they were stored."""

    def __init__(self) -> None:
        self._beats = array("d")
        self._bytes = bytearray()

    def append(self, beat: float, message: Sequence[int]) -> None:
        self._beats.append(beat)
        self._bytes.append(len(message))
        self._bytes += bytes(message)

    def __len__(self) -> int:
        return len(self._beats)

    def __iter__(self) -> Iterator[tuple[float, tuple[int, ...]]]:
        raw, pos = self._bytes, 0
        for beat in self._beats:
            size = raw[pos]
            yield beat, tuple(raw[pos + 1:pos + 1 + size])
            pos += 1 + size


__all__ = ["MessageStore", "NoteStore"]
