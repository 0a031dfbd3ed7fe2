"""The rhythm section in the live engine: band notes queued on the engine's emitter, lookahead by lookahead.

``BandFeed`` owns a ``Band`` (improv.perform.band, deterministic) and the position in its endless stream.
The engine's generator thread calls ``fill(emitter, horizon, ...)`` each time it tops up the solo (same
lookahead, same count-in offset, same end), and ``jump(beat)`` when the transport moves (MIDI clock Start,
Continue, Song Position): the band is rebuilt from its seed and played forward silently to that beat, so it
plays what it would have played there. Beats here are the engine's emitter beats (count-in included) on the
way out, the form's beats inside. Generator thread only; no locks of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from improv.live.scheduler import Emitter
from improv.perform.band import Band, BandNote
from improv.perform.played import PlayedNote

log = logging.getLogger(__name__)


class BandFeed:
    """Feeds a band's notes to the emitter up to the engine's horizon."""

    def __init__(self, make_band: Callable[[], Band], *, offset: float = 0.0,
                 end: float | None = None) -> None:
        self.make_band = make_band
        self.offset = offset  # emitter beat of the form's beat 0 (the count-in)
        self.end = end  # emitter beat where the session ends (None: never)
        band = make_band()
        self.channels = band.channel_list
        self._notes: Iterator[BandNote] = iter(band)
        self._pending: BandNote | None = None
        self.queued = 0
        self.late = 0
        self.record = True  # keep what is played (the engine turns it off without --record: memory)
        self.played: list[PlayedNote] = []  # as queued, in form beats (for --record)

    def fill(self, emitter: Emitter, horizon: float, *,
             too_late: Callable[[float], bool] | None = None) -> None:
        """Queue every band note starting before ``horizon`` (emitter beats), clipped to the end."""
        while True:
            note = self._pending or next(self._notes)
            onset = note.onset + self.offset
            if onset >= horizon or (self.end is not None and onset >= self.end):
                self._pending = note
                return
            self._pending = None
            if too_late is not None and too_late(onset):
                self.late += 1
                continue
            offset = onset + note.duration
            if self.end is not None:
                offset = min(offset, self.end)
            emitter.push_note(onset, offset, note.channel, note.pitch, note.velocity)
            if self.record:
                self.played.append(PlayedNote(onset - self.offset, offset - self.offset, note.channel,
                                              note.pitch, note.velocity))
            self.queued += 1

    def queued_to(self, beat: float) -> bool:
        """Whether every band note starting before ``beat`` (emitter beats) is queued."""
        return self._pending is not None and self._pending.onset + self.offset >= beat

    def forget_after(self, beat: float) -> None:
        """A panic at form beat ``beat`` dropped what was queued: so does the record (ends are cut)."""
        kept = [n for n in self.played if n.onset < beat]
        self.played = [n if n.offset <= beat else PlayedNote(n.onset, beat, n.channel, n.pitch, n.velocity)
                       for n in kept]

    def jump(self, beat: float) -> None:
        """Continue from form beat ``beat``: a fresh band, its notes before ``beat`` skipped."""
        self._notes = iter(self.make_band())
        self._pending = None
        for note in self._notes:
            if note.onset >= beat:
                self._pending = note
                break
        log.info("band: jumped to beat %.2f", beat)
