"""Audio helpers for the synth tests: onsets and levels of rendered or recorded audio, a JACK recorder.

Levels are in dBFS of float audio (-1..1). ``onsets`` finds attacks as jumps of a 2 ms peak envelope over
its recent past. ``JackRecorder`` (``benchmarks.jackaudio``, shared with the benchmarks) records the JACK
server's audio with the sender's clock.
"""

from __future__ import annotations

import numpy as np

from benchmarks.jackaudio import JackRecorder  # noqa: F401  (the synth tests' recorder)

WINDOW = 0.002  # seconds per envelope frame


def envelope(audio: np.ndarray, rate: int) -> np.ndarray:
    """Peak of |left|+|right| per 2 ms frame; ``audio`` is (frames, 2) float."""
    size = max(1, int(rate * WINDOW))
    mono = np.abs(audio).max(axis=1)
    frames = len(mono) // size
    return mono[: frames * size].reshape(frames, size).max(axis=1)


def db(level: float) -> float:
    return 20 * np.log10(max(level, 1e-12))


def onsets(audio: np.ndarray, rate: int, *, floor_db: float = -50.0, jump: float = 1.6) -> list[float]:
    """Seconds of attacks: the envelope above ``floor_db`` and ``jump`` times its level 10-30 ms before."""
    env = envelope(audio, rate)
    floor = 10 ** (floor_db / 20)
    found, last = [], -1.0
    for i in range(15, len(env)):
        before = env[i - 15 : i - 4].mean()
        if env[i] > floor and env[i] > jump * before:
            t = i * WINDOW
            if t - last > 0.06:  # one attack can peak twice (a sample's transient, then its body)
                found.append(t)
            last = t
    return found


def match(expected: list[float], found: list[float], early: float, late: float) -> tuple[list, list]:
    """(expected times with a found onset within [t - early, t + late], their lags in seconds)."""
    hits, lags = [], []
    found_arr = np.array(found)
    for t in expected:
        near = found_arr[(found_arr >= t - early) & (found_arr <= t + late)] if len(found) else []
        if len(near):
            hits.append(t)
            lags.append(float(near[0] - t))
    return hits, lags
