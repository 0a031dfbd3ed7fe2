"""The rhythm section as a feeder (:class:`improv.live.feeder.Feeder`): band notes queued on the same
emitter as the solo, lookahead by lookahead.

``BandFeed`` owns a ``Band`` (improv.perform.band, deterministic) and its position, bar by bar. The
engine's generator thread asks it what it asks the soloist: ``fill`` to the horizon (same lookahead,
same count-in offset, same end), ``silenced`` after a panic, ``jump`` when the transport moves (MIDI
clock Start, Continue, Song Position: the band is rebuilt from its seed and played forward silently to
that beat, so it plays what it would have played there). ``rechord`` is chord following: the player's
chord arrived, so the band notes still to sound after it are cut (sounding: note-off now; queued:
dropped) and made again from a copy of the band taken before their bar, which now reads the new chord
(the band's progression is the engine's ChordFollower). Beats are emitter beats (count-in included) on
the way in, form beats inside. Generator thread only; no locks of its own.

:func:`replay_band` plays a following band again offline (``improv replay``): the same feeder, on an
:class:`OfflineEmitter`, takes the logged chords at the beats the engine took them.
"""

from __future__ import annotations

import copy
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from improv.live.clock import Frame
from improv.live.feeder import QueuedNotes, TooLate
from improv.live.scheduler import Emitter
from improv.perform.band import Band, BandNote
from improv.perform.events import ChordEvent
from improv.perform.played import PlayedNote
from improv.theory.timing import TICKS_PER_BEAT

log = logging.getLogger(__name__)

SNAPSHOTS = 4  # bars back a played chord can still re-make
JUST_BEFORE = 1e-6  # beats: a logged chord with no ``at`` is taken this much before its tick (replay)


class BandFeed:
    """Feeds a band's notes to the emitter up to the engine's horizon."""

    def __init__(self, make_band: Callable[[], Band], *, offset: float = 0.0, end: float | None = None,
                 record: bool = True, follow: bool = False) -> None:
        self.make_band = make_band
        self.frame = Frame(offset, end)
        self.follow = follow  # chord following: keep copies of the band to re-make bars
        band = make_band()
        self.channels = band.channel_list
        self._bar_beats = band.form.beats_per_bar
        self._snapshots: deque[tuple[int, Band]] = deque(maxlen=SNAPSHOTS)  # (bar, band before it)
        self._notes: Iterator[BandNote] = self._stream(band, 0, 0.0)
        self._pending: BandNote | None = None
        self.queue = QueuedNotes(record)
        self.queued = 0
        self.late = 0
        self.reactions_ms: deque[float] = deque(maxlen=256)  # chord heard -> re-made notes queued (ms)
        self.remake_ms: deque[float] = deque(maxlen=256)  # of which cutting and re-making (ms)

    def _stream(self, band: Band, bar: int, start: float) -> Iterator[BandNote]:
        """The band's notes from ``bar`` on, bar by bar in onset order, those before form beat ``start``
        left out (a copy of the band is kept before each bar when following chords)."""
        while True:
            if self.follow:
                self._snapshots.append((bar, copy.deepcopy(band, {id(band.form): band.form})))
            merged = [note for notes in band.bar(bar).values() for note in notes]
            for note in sorted(merged, key=lambda n: (n.onset, n.channel, n.pitch)):
                if note.onset >= start:
                    yield note
            bar += 1

    # ------------------------------------------------------------------ the Feeder protocol
    def fill(self, emitter: Emitter, horizon: float, too_late: TooLate | None = None) -> None:
        """Queue every band note starting before ``horizon`` (emitter beats), clipped to the end."""
        frame = self.frame
        while True:
            note = self._pending or next(self._notes)
            onset = note.onset + frame.offset
            if onset >= horizon or frame.past_end(onset):
                self._pending = note
                return
            self._pending = None
            if too_late is not None and too_late(onset):
                self.late += 1
                continue
            offset = frame.clip(onset + note.duration)
            note_id = emitter.push_note(onset, offset, note.channel, note.pitch, note.velocity)
            played = PlayedNote(onset - frame.offset, offset - frame.offset, note.channel, note.pitch,
                                note.velocity)
            self.queue.add(self.queued, played, note_id)
            self.queued += 1

    def queued_to(self, beat: float) -> bool:
        """Whether every band note starting before ``beat`` (emitter beats) is queued."""
        return self._pending is not None and self._pending.onset + self.frame.offset >= beat

    def silenced(self, beat: float) -> None:
        """A panic at form beat ``beat`` dropped what was queued: so does the record (ends are cut)."""
        self.queue.forget_after(beat)

    forget_after = silenced

    def jump(self, beat: float) -> None:
        """Continue from form beat ``beat``: a fresh band, its notes before ``beat`` skipped."""
        self._snapshots.clear()
        self._notes = self._stream(self.make_band(), 0, beat)
        self._pending = None
        log.info("band: jumped to beat %.2f", beat)

    @property
    def played(self) -> list[PlayedNote]:
        """What was queued, in form beats (older notes only when recording)."""
        return self.queue.played()

    # ------------------------------------------------------------------ chord following
    def rechord(self, emitter: Emitter, at: float, tick: int) -> tuple[int, int]:
        """The player's chord sounds from form tick ``tick`` (emitter beat ``at`` is now): what the
        band still had to play after that is cut and made again on the new chord.
        Returns (notes cut, notes dropped)."""
        now = at - self.frame.offset
        beat = max(tick / TICKS_PER_BEAT, now, 0.0)  # a chord played in the count-in sounds from beat 0
        bar = int(beat // self._bar_beats)
        snapshot = next((band for index, band in self._snapshots if index == bar), None)
        cut, gone = self.queue.cut(emitter, beat + self.frame.offset, beat,
                                   keep=lambda note: now <= note.onset < beat)
        if snapshot is not None:
            while self._snapshots and self._snapshots[-1][0] >= bar:
                self._snapshots.pop()
            self._notes = self._stream(snapshot, bar, beat)  # (the stream copies it again first)
            self._pending = None  # (without a copy the bar is not made yet: it reads the new chord)
        return len(cut), len(gone)


# ---------------------------------------------------------------------------------- offline
class OfflineEmitter:
    """What a feeder asks of the emitter, with no thread, no clock and no sink (form beats, offset 0):
    ``now`` is the beat being sent, so a note that started by then sounds and one after it is still
    queued (a cut drops it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._notes: dict[int, tuple[float, float]] = {}  # id -> (onset, offset) of the notes not dropped
        self._ids = itertools.count(1)

    def push_note(self, onset: float, offset: float, channel: int, pitch: int, velocity: int) -> int:
        note_id = next(self._ids)
        self._notes[note_id] = (onset, max(onset, offset))
        return note_id

    def cut(self, note_ids: set[int], beat: float) -> tuple[set[int], set[int]]:
        """Like ``Emitter.cut``: (the ids sounding now, ended at ``beat``; the ids not started, dropped)."""
        sounding, dropped = set(), set()
        for note_id in note_ids & self._notes.keys():
            onset, offset = self._notes[note_id]
            if onset > self.now:
                dropped.add(note_id)
                del self._notes[note_id]
            elif offset > self.now:
                sounding.add(note_id)
                self._notes[note_id] = (onset, max(onset, beat))
        return sounding, dropped


def replay_band(make_band: Callable[[], Band], follower, chords: Iterable[ChordEvent], end: float, *,
                lookahead: float = 1.0) -> list[PlayedNote]:
    """What a band following the played chords played up to form beat ``end``, made again offline.

    ``make_band`` makes the session's band reading ``follower`` (a ChordFollower of the session's
    progression); ``chords`` are the logged chord events in order. Each is taken as the engine took it:
    the band filled ``lookahead`` beats ahead of the beat it came (its ``at``; in logs before ``at`` was
    kept, just before the chord's tick: the band plays the chord from its tick), the chord set, the band's
    notes after it cut and made again."""
    feed = BandFeed(make_band, end=end, follow=True)
    emitter = OfflineEmitter()
    for chord in chords:
        now = chord.tick / TICKS_PER_BEAT - JUST_BEFORE if chord.at is None else chord.at
        if now >= end:
            break
        emitter.now = now
        feed.fill(emitter, now + lookahead)
        follower.override(chord.tick, chord.symbol)
        feed.rechord(emitter, now, chord.tick)
    emitter.now = end
    feed.fill(emitter, end)
    return feed.played


__all__ = ["BandFeed", "OfflineEmitter", "replay_band"]
