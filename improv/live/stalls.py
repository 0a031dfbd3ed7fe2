"""Why a send was late: what the process did meanwhile (garbage collections, by generation).

``GcWatch`` hooks ``gc.callbacks`` and keeps the last few collections (start, end, generation,
thread) in a fixed ring: plain list stores, no locks, no allocation beyond the record itself. The
emitter asks :func:`GcWatch.during` about the window of a late send and posts a short text for the
main loop to log (logging takes locks; the emitter thread never logs on its hot path), with how
long the thread waited for a CPU meanwhile (:func:`run_delay_ms`): a stall with no collection and no
such wait was the GIL.
"""

from __future__ import annotations

import gc
import threading
import time

RING = 16


class GcWatch:
    """The last ``RING`` garbage collections, for explaining stalls (install once per process)."""

    def __init__(self) -> None:
        self._ring: list[tuple[float, float, int, int]] = [(0.0, 0.0, -1, 0)] * RING
        self._next = 0
        self._start = 0.0
        self.collections = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._start = now
            return
        generation = info.get("generation", -1)
        self._ring[self._next % RING] = (self._start, now, generation, threading.get_ident())
        self._next += 1
        if 0 <= generation <= 2:
            self.collections[generation] += 1
            self.longest_ms[generation] = max(self.longest_ms[generation], (now - self._start) * 1e3)

    def during(self, start: float, end: float) -> str:
        """The collections that overlapped ``[start, end]`` (perf_counter seconds), as text."""
        names = {t.ident: t.name for t in threading.enumerate()}
        found = [f"GC gen {gen} {1e3 * (stop - begin):.1f} ms in {names.get(ident, ident)}"
                 for begin, stop, gen, ident in self._ring if gen >= 0 and stop >= start
                 and begin <= end]
        return "; ".join(found) or "no GC: the thread was not scheduled or waited for the GIL"


def run_delay_ms(native_id: int | None) -> float | None:
    """A thread's total time waiting for a CPU so far (Linux schedstat), ms; None where unknown."""
    if native_id is None:
        return None
    try:
        with open(f"/proc/self/task/{native_id}/schedstat", "rb") as handle:
            return int(handle.read().split()[1]) / 1e6
    except (OSError, ValueError, IndexError):
        return None


WATCH = GcWatch()

__all__ = ["WATCH", "GcWatch", "run_delay_ms"]
