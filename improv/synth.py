"""Sound out of the box: FluidSynth (pyfluidsynth over the system libfluidsynth) and a GM soundfont.

Two uses, one synth:

* offline: ``render_midi(mid, wav)`` plays a ``mido.MidiFile`` through the synth as fast as it renders and
  writes a 16-bit stereo WAV (44.1 kHz). No audio device. The same file, soundfont and FluidSynth version give
  byte-identical audio (one synth per render, events applied at their sample positions).
* live: ``Synth.send(message)`` plays raw MIDI bytes; ``improv.live.synth.SynthSink`` adds FluidSynth's audio
  driver and makes it the engine's output ``Sink``. FluidSynth's API is thread-safe. ``send`` calls
  FluidSynth's note and controller functions without releasing the GIL (they take microseconds), so the
  emitter thread keeps it between the sends of one beat: another thread cannot take it mid-beat and make
  the later parts wait a switch interval. Sample loading (a program change) does release it.

Only the samples of the presets in use are loaded (``synth.dynamic-sample-loading``): the GM soundfont
starts in a fraction of the time, live and offline.

Seconds appear here only at file and driver boundaries. A missing library or soundfont is an ``InputError``
(one line, exit 2).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import wave
from collections.abc import Mapping, Sequence
from pathlib import Path

import mido
import numpy as np

from improv.errors import InputError
from improv.midi.messages import CONTROL, NOTE_OFF, NOTE_ON, PITCH_BEND

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
GAIN = 0.4
DRUM_CHANNEL = 9
TAIL_SECONDS = 2.0  # rendered after the last event: the release and the reverb ring out
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/local/share/soundfonts",
                  "/opt/homebrew/share/soundfonts", "/usr/share/sounds/sf3")
SOUNDFONT_NAMES = ("default-GM.sf2", "FluidR3_GM.sf2", "TimGM6mb.sf2", "default.sf2", "FluidR3_GM.sf3",
                   "default-GM.sf3")
INSTALL_HINT = ("sudo apt-get install libfluidsynth3 fluid-soundfont-gm (or timgm6mb-soundfont); "
                "pip install 'improv[synth]'")


def find_soundfont(path: str | Path | None = None) -> Path:
    """The soundfont to use: ``path`` if given, else $IMPROV_SOUNDFONT, else the usual system places."""
    given = path or os.environ.get("IMPROV_SOUNDFONT")
    if given:
        file = Path(given).expanduser()
        if not file.is_file():
            raise InputError(f"--synth: soundfont {str(file)[:200]} does not exist")
        return file
    for folder in SOUNDFONT_DIRS:
        for name in SOUNDFONT_NAMES:
            file = Path(folder) / name
            if file.is_file():
                return file.resolve()
    raise InputError(f"--synth: no General MIDI soundfont found in {SOUNDFONT_DIRS[0]} or similar; "
                     f"give one (--synth FILE.sf2) or install it: {INSTALL_HINT}")


def _fluidsynth():
    """The pyfluidsynth module, or an InputError saying what to install."""
    try:
        import fluidsynth
    except ImportError as exc:  # the binding, or the C library it loads
        raise InputError(f"--synth: FluidSynth is not available ({str(exc)[:80]}): {INSTALL_HINT}") from None
    return fluidsynth


class Synth:
    """One FluidSynth instance with a soundfont loaded; plays raw MIDI messages."""

    def __init__(self, soundfont: str | Path | None = None, *, sample_rate: int = SAMPLE_RATE,
                 gain: float = GAIN, programs: Mapping[int, int] | None = None, **settings: object) -> None:
        """``programs``: General MIDI program (0-based) per channel (0-based), else 0 (piano); channel 10
        plays the standard drum kit. ``settings``: FluidSynth settings by name."""
        self.fs_module = _fluidsynth()
        self.soundfont = find_soundfont(soundfont)
        self.sample_rate = sample_rate
        settings = {"synth.dynamic-sample-loading": 1, **settings}
        self.fs = self.fs_module.Synth(gain=gain, samplerate=sample_rate, channels=16, **settings)
        self.sfid = self.fs.sfload(str(self.soundfont))
        if self.sfid < 0:
            self.fs.delete()
            raise InputError(f"--synth: {str(self.soundfont)[:200]} is not a soundfont FluidSynth can read")
        programs = programs or {}
        for channel in range(16):
            drums = channel == DRUM_CHANNEL
            program = 0 if drums else programs.get(channel, 0)
            self.fs.program_select(channel, self.sfid, 128 if drums else 0, program)
        self._write = self.fs_module.fluid_synth_write_s16
        self._calls = _HeldCalls(self.fs_module)
        self._closed = False

    def send(self, message: Sequence[int]) -> bool:
        """Play one raw MIDI message (channel voice messages; system messages are ignored)."""
        if self._closed or not message:
            return False
        status = message[0] & 0xF0
        channel = message[0] & 0x0F
        first = message[1] & 0x7F if len(message) > 1 else 0
        second = message[2] & 0x7F if len(message) > 2 else 0
        calls, synth = self._calls, self.fs.synth
        if status == NOTE_ON and second > 0:
            calls.noteon(synth, channel, first, second)
        elif status in (NOTE_OFF, NOTE_ON):
            calls.noteoff(synth, channel, first)
        elif status == CONTROL:
            calls.cc(synth, channel, first, second)
        elif status == 0xC0:  # may load samples from disk: the GIL is let go meanwhile
            self.fs.program_select(channel, self.sfid, 128 if channel == DRUM_CHANNEL else 0, first)
        elif status == PITCH_BEND:
            calls.pitch_bend(synth, channel, first | second << 7)
        return True

    def samples(self, frames: int) -> np.ndarray:
        """Render ``frames`` stereo frames (int16, interleaved)."""
        out = np.zeros(2 * max(0, frames), dtype=np.int16)
        self.render_into(out, 0, frames)
        return out

    def render_into(self, audio: np.ndarray, start: int, stop: int) -> None:
        """Render frames ``start..stop`` of ``audio`` (int16, interleaved stereo, C-contiguous) in place."""
        if stop > start:
            if not (audio.dtype == np.int16 and audio.flags.c_contiguous and 2 * stop <= len(audio)):
                raise ValueError("render_into needs a C-contiguous int16 stereo buffer that holds the frames")
            base = audio.ctypes.data
            self._write(self.fs.synth, stop - start, base, 2 * start, 2, base, 2 * start + 1, 2)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.fs.delete()


class _HeldCalls:
    """FluidSynth's note, controller and bend functions through ``ctypes.PyDLL``: called with the GIL held
    (pyfluidsynth's CFUNCTYPE prototypes release it on every call). Arguments: the synth pointer, the
    channel and the 7-bit data (the bend as FluidSynth's 0..16383)."""

    def __init__(self, module) -> None:
        lib = ctypes.PyDLL(module._fl._name)
        self.noteon = self._function(lib, "fluid_synth_noteon", 3)
        self.noteoff = self._function(lib, "fluid_synth_noteoff", 2)
        self.cc = self._function(lib, "fluid_synth_cc", 3)
        self.pitch_bend = self._function(lib, "fluid_synth_pitch_bend", 2)

    @staticmethod
    def _function(lib: ctypes.PyDLL, name: str, ints: int):
        function = getattr(lib, name)
        function.argtypes = [ctypes.c_void_p] + [ctypes.c_int] * ints
        function.restype = ctypes.c_int
        return function


def midi_events(mid: mido.MidiFile) -> list[tuple[float, list[int]]]:
    """(seconds, message bytes) of every channel message in the file, in play order (tempo map applied):
    the tracks merged as mido merges them (by time; at one time, track by track in file order), without
    mido's copy of every message."""
    timed = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            timed.append((tick, msg))
    timed.sort(key=lambda item: item[0])  # stable: the tracks' order at one tick
    tempo, last, now, scale = 500000, 0, 0.0, 1e-6 / mid.ticks_per_beat  # mido's default tempo (120 BPM)
    events = []
    for tick, msg in timed:
        if tick > last:
            now += (tick - last) * tempo * scale
            last = tick
        if msg.is_meta:
            if msg.type == "set_tempo":
                tempo = msg.tempo
        elif msg.type != "sysex":
            events.append((now, msg.bytes()))
    return events


class SynthLoader:
    """A Synth made on its own thread (the soundfont's load is C work that releases the GIL), so an
    offline render can load it while the notes are still being made; ``result()`` waits for it (and
    raises what making it raised, e.g. the InputError for a missing soundfont)."""

    def __init__(self, soundfont: str | Path | None = None,
                 programs: Mapping[int, int] | None = None) -> None:
        """``programs``: as for Synth (the instruments the file will choose: their samples load here too)."""
        self._synth: Synth | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, args=(soundfont, programs), name="improv-sfload",
                                        daemon=True)
        self._thread.start()

    def _load(self, soundfont: str | Path | None, programs: Mapping[int, int] | None) -> None:
        try:
            self._synth = Synth(soundfont, programs=programs)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> Synth:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._synth is not None
        return self._synth


def render_events(events: Sequence[tuple[float, Sequence[int]]], soundfont: str | Path | None = None, *,
                  tail: float = TAIL_SECONDS, synth: Synth | None = None) -> tuple[np.ndarray, int]:
    """Audio (int16 stereo, interleaved) for timed messages, and its sample rate, through ``synth`` (a
    fresh one, closed after) or a new Synth with ``soundfont``.

    One buffer for the whole file, rendered in place between events (FluidSynth applies an event at the
    start of its next 64-frame block, so the same events at the same frames give the same bytes however
    the rendering between them is cut)."""
    synth = synth or Synth(soundfont)
    try:
        rate = synth.sample_rate
        frames = [int(round(seconds * rate)) for seconds, _ in events]
        end = max(frames, default=0) + int(tail * rate)
        audio = np.zeros(2 * end, dtype=np.int16)
        done = 0
        for frame, (_, message) in zip(frames, events, strict=True):
            if frame > done:
                synth.render_into(audio, done, frame)
                done = frame
            synth.send(message)
        synth.render_into(audio, done, end)
        return audio, rate
    finally:
        synth.close()


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """A 16-bit stereo WAV file."""
    path = Path(path)
    try:
        with wave.open(str(path), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(np.ascontiguousarray(audio, dtype="<i2").tobytes())
    except OSError as exc:
        raise InputError(f"--audio: cannot write {path}: {exc}") from None
    return path


def render_midi(mid: mido.MidiFile, wav: str | Path, soundfont: str | Path | None = None, *,
                synth: Synth | None = None) -> float:
    """Render a MIDI file to a WAV through FluidSynth (``synth``: a fresh one, e.g. a SynthLoader's);
    returns the audio's length in seconds."""
    audio, rate = render_events(midi_events(mid), soundfont, synth=synth)
    write_wav(wav, audio, rate)
    return len(audio) / 2 / rate
