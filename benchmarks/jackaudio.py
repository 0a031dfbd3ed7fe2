"""A JACK audio recorder for the synth tests and benchmarks: a separate JACK audio client (the JACK-Client
package) with two inputs, connected to every audio output whose name starts with ``source``; its process
callback copies each period into a preallocated buffer and stamps it with ``time.perf_counter()``
(CLOCK_MONOTONIC, the clock the engine's JSON events use), so a recorded sample maps to the sender's time.
The recording runs in JACK's thread; ``stop`` returns it (frames, 2) float32.
"""

from __future__ import annotations

import threading
import time

import numpy as np


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

    def time_of(self, frame: int) -> float:
        """perf_counter time of a recorded frame: its period's callback time plus its offset in the period
        (the time the frame was rendered into the graph; an output device plays it a buffer later)."""
        stamps = np.array(self.stamps)
        index = max(0, int(np.searchsorted(stamps[:, 1], frame, side="right")) - 1)
        return float(stamps[index, 0] + (frame - stamps[index, 1]) / self.rate)

    def seconds_of(self, perf: float) -> float:
        """Recording time (s) of a perf_counter instant: the period being processed at that time."""
        stamps = np.array(self.stamps)
        index = int(np.searchsorted(stamps[:, 0], perf))
        index = min(max(index, 0), len(stamps) - 1)
        return stamps[index, 1] / self.rate
