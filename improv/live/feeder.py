"""Feeders: each keeps one part's notes queued on the emitter a lookahead ahead of the clock.

A feeder owns its part's state: where it is in its stream of notes, what it queued (the recent notes
as objects with their emitter ids, so a cut can still end them; older ones compact, kept only for
``--record``) and how that is written down. The engine's generator thread asks every feeder the same
things (the :class:`Feeder` protocol): ``fill`` up to a horizon each pass, ``silenced`` after a panic,
``jump`` when the transport moves, ``queued_to`` before it ends the session, ``played`` (a property) for the
record. :class:`SoloFeeder` is the soloist (a :class:`Performer` or any iterator of timed notes);
the band (:mod:`improv.live.bandfeed`) is a second feeder beside it, on the same emitter.

Beats: emitter beats (the count-in included) on the way in, form beats (``Frame.offset`` taken off)
in records and the session log. Generator thread only; no locks of their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from improv.live.clock import Frame
from improv.live.recording import NoteStore
from improv.live.scheduler import Emitter
from improv.perform.events import BargeEvent, Event, JumpEvent
from improv.perform.log import SessionLog
from improv.perform.performer import Performer
from improv.perform.played import PlayedNote
from improv.theory.timing import TICKS_PER_BEAT

RECENT_NOTES = 512  # notes kept as objects (a cut or a barge-in may still change them)

TooLate = Callable[[float], bool]  # emitter beat -> too late to queue (a rest instead)


class TimedNoteLike(Protocol):
    """What the engine plays: ``improv.improviser.TimedNote`` or anything shaped like it."""

    onset: float
    duration: float
    pitch: int
    velocity: int


class NoteSource(Protocol):
    """An (endless or finite) iterator of timed notes with non-decreasing onsets, in beats."""

    def __iter__(self) -> Iterator[TimedNoteLike]: ...


class Feeder(Protocol):
    """One part feeding the emitter (generator thread only)."""

    channels: list[int]

    def fill(self, emitter: Emitter, horizon: float, too_late: TooLate | None = None) -> None:
        """Queue every note starting before ``horizon`` (emitter beats), clipped to the end."""

    def queued_to(self, beat: float) -> bool:
        """Whether nothing more will start before ``beat`` (the session may end there)."""

    def silenced(self, beat: float) -> None:
        """The emitter was silenced at form beat ``beat``: forget what was queued after it."""

    def jump(self, beat: float) -> None:
        """The transport moved: go on from form beat ``beat``."""

    @property
    def played(self) -> list[PlayedNote]:
        """What was queued, in form beats (for ``--record``)."""


class QueuedNotes:
    """What a feeder queued: recent notes as ``index -> (PlayedNote, emitter id)``, the older ones
    compact (only when ``record``: memory stays bounded otherwise). Form beats."""

    def __init__(self, record: bool, keep: int = RECENT_NOTES) -> None:
        self.recent: dict[int, tuple[PlayedNote, int]] = {}
        self.old = NoteStore() if record else None
        self.keep = keep

    def add(self, index: int, note: PlayedNote, note_id: int) -> None:
        if len(self.recent) >= self.keep:  # the oldest has ended: record it compactly
            old = self.recent.pop(next(iter(self.recent)))[0]
            if self.old is not None:
                self.old.append(old)
        self.recent[index] = (note, note_id)

    def end_at(self, index: int, beat: float) -> float:
        """Note ``index`` sounded but ended at ``beat``; returns its new end (6 decimals, as logged)."""
        note, note_id = self.recent[index]
        end = max(note.onset, round(beat, 6))
        self.recent[index] = (PlayedNote(note.onset, end, note.channel, note.pitch, note.velocity), note_id)
        return end

    def cut(self, emitter: Emitter, at: float, beat: float, *,
            keep: Callable[[PlayedNote], bool] | None = None) -> tuple[list[tuple[int, float]], list[int]]:
        """End every note still to sound after form beat ``beat`` (emitter beat ``at``, now): the
        sounding ones get their note-off now, the queued ones are dropped. ``keep`` spares notes.
        Returns ([(index, new end)] of those cut, [index] of those dropped)."""
        live = {index: note_id for index, (note, note_id) in self.recent.items()
                if note.offset > beat and (keep is None or not keep(note))}
        sounding, dropped = emitter.cut(set(live.values()), at)
        cut, gone = [], []
        for index in sorted(live):
            if live[index] in sounding:
                cut.append((index, self.end_at(index, beat)))
            elif live[index] in dropped:
                del self.recent[index]
                gone.append(index)
        return cut, gone

    def forget_after(self, beat: float) -> tuple[list[tuple[int, float]], list[int]]:
        """A panic at form beat ``beat`` ended everything: notes not started are gone, the
        sounding ones ended there. Returns ([(index, new end)], [index dropped])."""
        cut, gone = [], []
        for index in list(self.recent):
            note = self.recent[index][0]
            if note.offset <= beat:
                continue
            if note.onset >= beat:
                del self.recent[index]
                gone.append(index)
            else:
                cut.append((index, self.end_at(index, beat)))
        return cut, gone

    def played(self) -> list[PlayedNote]:
        old = list(self.old) if self.old is not None else []
        return old + [self.recent[k][0] for k in sorted(self.recent)]


@dataclass
class SoloCounts:
    """The soloist's totals (the status line, the result)."""

    queued: int = 0
    rests: int = 0  # notes generated too late to play on time: rests instead
    step_ms: float = 0.0  # the last improviser step
    max_step_ms: float = 0.0
    barges: int = 0  # answers stopped by a new call (respond mode)
    plan_ms: float = 0.0  # the last call's handling (reseed, answer planning): the next answer's margin


class SoloFeeder:
    """The soloist: notes from a :class:`Performer` (it may have nothing to play for a while) or
    from any iterator of timed notes. It owns the performer's side of the session log: every event
    it applies is logged with the step count, every note not played is a ``skip``, every note ended
    early a ``cut`` (indexes count the notes taken from the source), so replay stays exact."""

    def __init__(self, source: Iterable[TimedNoteLike] | Performer, *, channel: int = 0,
                 velocity: int | None = None, frame: Frame | None = None,
                 session_log: SessionLog | None = None, record: bool = False) -> None:
        self.performer = source if isinstance(source, Performer) else None
        self._notes = iter(()) if self.performer is not None else iter(source)
        self.channel = channel
        self.channels = [channel]
        self.velocity = velocity  # None: the source's own dynamics
        self.frame = frame or Frame()
        self.log = session_log
        self.queue = QueuedNotes(record)
        self.counts = SoloCounts()
        self.taken = 0  # notes taken from the source (queued, skipped or pending)
        self.done = False  # the source ended (or reached the end)
        self._pending: TimedNoteLike | None = None

    # ------------------------------------------------------------------ the performer's events
    def apply(self, event: Event) -> None:
        """Log ``event`` with the step count, then apply it to the performer (none: ignored)."""
        if self.performer is None:
            return
        if self.log is not None:
            self.log.event(self.performer.steps, event)
        self.performer.apply(event)

    def barge(self, emitter: Emitter, at: float, tick: int) -> tuple[int, int] | None:
        """Respond mode: a new call (at ``tick``) while improv answers ends the answer now (emitter
        beat ``at``): its sounding notes are cut, its queued ones dropped; the performer listens.
        Returns (cut, dropped), None when there was no answer to stop."""
        perf = self.performer
        if perf is None or not perf.mode.answers or perf.answer_end is None:
            return None
        beat = at - self.frame.offset
        live = any(note.offset > beat for note, _ in self.queue.recent.values())
        if not live and self._pending is None and not perf.answering:
            return None
        cut, gone = self.queue.cut(emitter, at, beat)
        self._log_cuts(cut, gone, "barge-in")
        self._drop_pending("barge-in")
        self.apply(BargeEvent(int(tick)))
        self.counts.barges += 1
        return len(cut), len(gone)

    # ------------------------------------------------------------------ the Feeder protocol
    def fill(self, emitter: Emitter, horizon: float, too_late: TooLate | None = None) -> None:
        frame = self.frame
        horizon = frame.clip(horizon)
        while not self.done:
            if self._pending is None:
                note = self._take()
                if note is None:  # the source ended, or the performer has nothing to play yet
                    if self.performer is not None and frame.end is not None and horizon >= frame.end:
                        self.done = True
                    break
                self._pending = note
            note = self._pending
            onset = note.onset + frame.offset
            if frame.past_end(onset):
                self.done = True
                break
            if onset >= horizon:
                break
            self._pending = None
            index = self.taken - 1
            if too_late is not None and too_late(onset):
                self.counts.rests += 1  # too late to play on time: a rest instead of a late burst
                self._skip(index, "late")
                continue
            self._queue(emitter, index, note, onset)

    def _queue(self, emitter: Emitter, index: int, note: TimedNoteLike, onset: float) -> None:
        offset = self.frame.clip(note.onset + note.duration + self.frame.offset)
        velocity = self.velocity if self.velocity is not None else note.velocity
        velocity = max(1, min(127, int(velocity)))
        pitch = int(note.pitch)
        note_id = emitter.push_note(onset, offset, self.channel, pitch, velocity)
        off = self.frame.offset
        self.queue.add(index, PlayedNote(onset - off, offset - off, self.channel, pitch, velocity), note_id)
        self.counts.queued += 1

    def queued_to(self, beat: float) -> bool:
        return self.done

    def silenced(self, beat: float) -> None:
        cut, gone = self.queue.forget_after(beat)
        self._log_cuts(cut, gone, "silenced")
        self._drop_pending("silenced")

    def jump(self, beat: float) -> None:
        """The performer jumps to the tick of ``beat`` (logged like every event)."""
        self.apply(JumpEvent(int(math.ceil(beat * TICKS_PER_BEAT))))

    @property
    def played(self) -> list[PlayedNote]:
        return self.queue.played()

    def logged_notes(self) -> int:
        """Notes the performer gave (taken, the pending one aside): the log's ``end`` count."""
        return self.taken - (1 if self._pending is not None else 0)

    # ------------------------------------------------------------------ helpers
    def _take(self) -> TimedNoteLike | None:
        """The next note from the source; None when it ended (or the performer waits)."""
        t0 = time.perf_counter()
        if self.performer is not None:
            note = self.performer.next_note()
        else:
            note = next(self._notes, None)
            if note is None:
                self.done = True
        counts = self.counts
        counts.step_ms = (time.perf_counter() - t0) * 1000.0
        counts.max_step_ms = max(counts.max_step_ms, counts.step_ms)
        if note is not None:
            self.taken += 1
        return note

    def _drop_pending(self, why: str) -> None:
        if self._pending is not None:
            self._skip(self.taken - 1, why)
            self._pending = None

    def _log_cuts(self, cut: list[tuple[int, float]], gone: list[int], why: str) -> None:
        if self.log is None:
            return
        for index, end in cut:
            self.log.cut(index, end)
        for index in gone:
            self.log.skip(index, why)

    def _skip(self, index: int, why: str) -> None:
        if self.log is not None:
            self.log.skip(index, why)


__all__ = ["Feeder", "Frame", "NoteSource", "QueuedNotes", "SoloCounts", "SoloFeeder", "TimedNoteLike"]
