"""Ableton Link: the engine's clock follows a Link session's tempo and beat phase (the ``aalink`` package).

``LinkClock`` is a ``Clock`` whose beats are the Link session's beats, shifted so the performance's beat 0
falls on a bar line of the session (Link's quantum = beats per bar): ``improv play --link`` then starts with
Ableton Live, Bitwig or any Link app on the network, plays at their tempo, follows their tempo changes at
once (every due time is computed from the session when a message is next, late binding), and a tempo set
here (``set_tempo``) goes to every peer. Times are ``time.perf_counter`` seconds: each reading pairs Link's
current beat with a perf_counter taken around it (Link's own clock is another system clock). aalink needs
an asyncio loop: the clock runs one on a daemon thread; reads are thread-safe (the emitter thread calls
``time_at``, the generator thread ``beat_at``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time

from improv.errors import InputError
from improv.live.clock import Clock

log = logging.getLogger(__name__)


async def _new_link(tempo: float):
    import aalink

    return aalink.Link(tempo)


class LinkClock(Clock):
    """Beat positions from an Ableton Link session (joined at construction, left by ``close``)."""

    def __init__(self, tempo: float, latency_offset_ms: float = 0.0, *, quantum: int = 4,
                 wait: float = 1.0) -> None:
        super().__init__(tempo, latency_offset_ms)
        try:
            import aalink  # noqa: F401 - only to say what is missing, before a thread starts
        except ImportError:
            raise InputError("--link needs the aalink package: pip install 'improv[link]'") from None
        self.quantum = int(quantum)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="improv-link", daemon=True)
        self._thread.start()
        self.link = asyncio.run_coroutine_threadsafe(_new_link(tempo), self._loop).result(timeout=5)
        self.link.quantum = self.quantum
        self.link.enabled = True
        self._origin = 0.0  # the session's beat at our beat 0
        deadline = time.monotonic() + wait
        while self.link.num_peers == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # join a running session before choosing where beat 0 falls
        log.info("Link: %d peer(s), %.1f BPM", self.link.num_peers, self.link.tempo)

    def _reading(self) -> tuple[float, float, float]:
        """(perf_counter, session beat at that time, tempo)."""
        before = time.perf_counter()
        beat = self.link.beat
        after = time.perf_counter()
        return (before + after) / 2, beat, self.link.tempo

    @property
    def peers(self) -> int:
        return int(self.link.num_peers)

    def start(self, at: float | None = None, beat: float = 0.0) -> None:
        """Our ``beat`` falls on the session's first bar line at or after perf_counter time ``at``."""
        t = time.perf_counter() if at is None else at
        now, session, tempo = self._reading()
        at_beat = session + (t - now) * tempo / 60.0
        self._origin = math.ceil(at_beat / self.quantum) * self.quantum - beat
        self.started = True

    @property
    def tempo(self) -> float:
        return float(self.link.tempo)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.link.tempo

    def set_tempo(self, tempo: float, at: float | None = None) -> None:
        """Set the session's tempo (every peer follows)."""
        self._check(tempo)
        self.link.tempo = float(tempo)

    def time_at(self, beat: float) -> float:
        now, session, tempo = self._reading()
        return now + (beat + self._origin - session) * 60.0 / tempo + self.offset

    def beat_at(self, t: float | None = None) -> float:
        now, session, tempo = self._reading()
        when = now if t is None else t
        return session + (when - self.offset - now) * tempo / 60.0 - self._origin

    def seconds(self, beats: float) -> float:
        return beats * 60.0 / self.link.tempo

    def close(self) -> None:
        """Leave the session and stop the loop thread."""
        self.link.enabled = False
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=1.0)
