"""Record what was played to a standard MIDI file (``improv play --record FILE.mid``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import mido

from improv.errors import InputError, RuntimeFailure

log = logging.getLogger(__name__)

TICKS_PER_BEAT = 480


class Recorder:
    """Channel messages with their beat positions, written as one track at the session's tempo."""

    def __init__(self, path: str | Path, tempo: float) -> None:
        self.path = Path(path)
        self.tempo = tempo
        self.items: list[tuple[float, tuple[int, ...]]] = []
        check_writable(self.path)

    def add(self, beat: float, message: Sequence[int]) -> None:
        """Keep one sent message (system real-time bytes such as clock ticks are ignored)."""
        if message and 0x80 <= message[0] < 0xF0:
            self.items.append((max(0.0, beat), tuple(message)))

    def write(self) -> Path:
        """Write the file; raises RuntimeFailure when it cannot be written."""
        mid = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
        track = mido.MidiTrack()
        mid.tracks.append(track)
        track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.tempo), time=0))
        last = 0
        for beat, message in sorted(self.items, key=lambda item: item[0]):
            tick = int(round(beat * TICKS_PER_BEAT))
            msg = mido.Message.from_bytes(list(message))
            track.append(msg.copy(time=max(0, tick - last)))
            last = max(last, tick)
        track.append(mido.MetaMessage("end_of_track", time=0))
        try:
            mid.save(self.path)
        except OSError as exc:
            raise RuntimeFailure(f"--record: cannot write {self.path}: {exc}") from None
        log.info("recorded %d messages to %s", len(self.items), self.path)
        return self.path


def check_writable(path: Path) -> None:
    """InputError unless ``path`` can be created (its directory exists and is writable)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"--record: {path} is a directory")
    if not parent.is_dir():
        raise InputError(f"--record: directory {parent} does not exist")
