"""Audio helpers for the synth tests: onsets and levels of rendered or recorded audio, a JACK recorder.

Levels are in dBFS of float audio (-1..1). ``onsets`` finds attacks as jumps of a 2 ms peak envelope over
its recent past. ``JackRecorder`` is a separate JACK audio client (the JACK-Client package) with two inputs,
connected to every audio output whose name starts with ``source``; its process callback copies each period
into a preallocated buffer and stamps it with ``time.perf_counter()`` (CLOCK_MONOTONIC, the clock the
engine's JSON events use), so a recorded sample maps to the sender's time.
"""

from __future__ import annotations

import threading
import time

import numpy as np

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


class JackRecorder:
    """Records two audio inputs from the JACK server in the environment, connecting ``source``'s outputs."""

    def __init__(self, source: str = "fluidsynth", seconds: float = 60.0) -> None:
        import jack

        self.client = jack.Client("improv-test-rec", no_start_server=True)
        self.rate = self.client.samplerate
        self.inputs = [self.client.inports.register(f"in_{i}") for i in range(2)]
        self.buffer = np.zeros((int(seconds * self.rate), 2), dtype=np.float32)
        self.frames = 0
        self.stamps: list[tuple[float, int]] = []  # (perf_counter at the callback, frames before it)
        self.connected: list[str] = []
        self.source = source
        self._stop = threading.Event()
        self.client.set_process_callback(self._process)
        self.client.activate()
        self._thread = threading.Thread(target=self._connect, daemon=True)
        self._thread.start()

    def _process(self, frames: int) -> None:
        start = self.frames
        if start + frames <= len(self.buffer):
            for i, port in enumerate(self.inputs):
                self.buffer[start : start + frames, i] = port.get_array()
            self.stamps.append((time.perf_counter(), start))
            self.frames = start + frames

    def _connect(self) -> None:
        while not self._stop.is_set():
            try:
                ports = self.client.get_ports(self.source, is_audio=True, is_output=True)
            except Exception:  # the server is shutting down
                return
            for port in ports:
                if port.name not in self.connected:
                    try:
                        self.client.connect(port, self.inputs[len(self.connected) % 2])
                    except Exception:  # noqa: BLE001 - a port on its way in or out: try again
                        continue
                    self.connected.append(port.name)
            time.sleep(0.005)

    def stop(self) -> np.ndarray:
        self._stop.set()
        self._thread.join(timeout=2)
        self.client.deactivate()
        self.client.close()
        return self.buffer[: self.frames]

    def seconds_of(self, perf: float) -> float:
        """Recording time (s) of a perf_counter instant: the period being processed at that time."""
        stamps = np.array(self.stamps)
        index = int(np.searchsorted(stamps[:, 0], perf))
        index = min(max(index, 0), len(stamps) - 1)
        return stamps[index, 1] / self.rate
