"""Offline use of the improviser: load a model directory, build an improviser, write a solo to MIDI.

The same ``build_improviser`` serves the live engine; offline generation is that improviser driven as fast
as it can into a file. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import mido
import numpy as np

from improv.errors import InputError
from improv.improviser import Improviser, Range, TimedNote
from improv.model.cell import Cell
from improv.model.conditioning import layout_version
from improv.model.sampling import Sampler
from improv.theory.degrees import load_vocabulary
from improv.theory.harmony import Chord
from improv.theory.progression import Progression
from improv.theory.timing import TICKS_PER_BEAT

log = logging.getLogger(__name__)

MODEL_FILES = ("cell.npz", "vocab.json", "card.json")
MIDI_TICKS_PER_BEAT = 480
SOLO_CHANNEL = 0
COMP_CHANNEL = 1
BASS_CHANNEL = 2


def default_model_dir() -> Path:
    """The model shipped inside the package."""
    return Path(str(resources.files("improv") / "models" / "default"))


def shipped_models() -> list[Path]:
    """Every model directory shipped inside the package (``default`` and older versions such as ``v1``)."""
    root = Path(str(resources.files("improv") / "models"))
    return sorted(p for p in root.iterdir() if (p / "cell.npz").is_file()) if root.is_dir() else []


def model_version(model_dir: Path | str) -> int:
    """The values version of a model directory (1: kind/leap, 2: degrees), as session logs record it."""
    try:
        data = json.loads((Path(model_dir) / "vocab.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(data.get("version", 0)) if isinstance(data, dict) else 0


@dataclass
class Model:
    """A loaded model directory: the numpy cell, its vocabulary and its card."""

    path: Path
    cell: Cell
    vocab: object  # values.Vocabulary (version 1) or degrees.DegreeVocabulary (version 2)
    card: dict
    cond_version: int = 1


def load_model(model_dir: Path | str | None = None) -> Model:
    """Load a model directory (default: the shipped model), checking it is complete and consistent."""
    path = Path(model_dir) if model_dir else default_model_dir()
    if not path.is_dir():
        raise InputError(f"model directory {path} does not exist")
    missing = [name for name in MODEL_FILES[:2] if not (path / name).is_file()]
    if missing:
        raise InputError(f"model directory {path} is missing {', '.join(missing)}")
    vocab, meta = load_vocabulary(path / "vocab.json")
    cell = Cell.load(path, len(vocab))
    expected = int(meta.get("conditioning", {}).get("size", 0))
    if cell.cond_size != expected:
        raise InputError(
            f"model directory {path}: weights expect {cell.cond_size} conditioning inputs, "
            f"vocab.json says {expected}"
        )
    card = {}
    if (path / "card.json").is_file():
        try:
            card = json.loads((path / "card.json").read_text())
        except ValueError as exc:
            raise InputError(f"{path / 'card.json'} is not valid JSON: {exc}") from exc
    return Model(path, cell, vocab, card, layout_version(meta.get("conditioning", {})))


def build_improviser(
    progression: Progression,
    *,
    model: Model | None = None,
    model_dir: Path | str | None = None,
    seed: int | None = 0,
    temperature: float = 1.0,
    top_p: float = 1.0,
    low: int = 52,
    high: int = 84,
    velocity: int = 90,
    swing: float = 0.0,
    max_leap: int = 12,
    sections: Sequence[str] | None = None,
    tempo: float = 120.0,
) -> Improviser:
    """An improviser over ``progression`` with one seeded generator for every random choice."""
    model = model or load_model(model_dir)
    rng = np.random.default_rng(seed)
    sampler = Sampler(rng, temperature=temperature, top_p=top_p)
    try:
        register = Range(low, high)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    model.cell.reset()
    return Improviser(
        model.cell,
        model.vocab,
        progression,
        sampler,
        register=register,
        velocity=velocity,
        swing=swing,
        max_leap=max_leap,
        sections=sections,
        tempo=tempo,
        cond_version=model.cond_version,
    )


# -- MIDI files ------------------------------------------------------------------------------------
def voicing(chord: Chord) -> list[int]:
    """A simple rootless-ish comping voicing around middle C (bass handled separately)."""
    if chord.root is None:
        return []
    tones = sorted({(pc - chord.root) % 12 for pc in chord.tones} - {0}) or [4, 7]
    base = 48 + chord.root if chord.root >= 4 else 60 + chord.root
    return sorted(base + t for t in tones)


def bass_note(chord: Chord) -> int | None:
    """The bass pitch of a chord (its slash bass or root) in the bass register."""
    pc = chord.bass if chord.bass is not None else chord.root
    return None if pc is None else 36 + pc


def solo_to_midi(
    notes: list[TimedNote],
    progression: Progression,
    *,
    tempo: float,
    bars: int,
    title: str = "improv solo",
    comp: bool = True,
) -> mido.MidiFile:
    """A type-1 MIDI file: a conductor track, the solo, and the chords voiced (comp and bass)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=MIDI_TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=title, time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    conductor.append(
        mido.MetaMessage("time_signature", numerator=progression.beats_per_bar, denominator=4, time=0)
    )
    mid.tracks.append(conductor)
    solo = [(n.onset, n.onset + n.duration, n.pitch, n.velocity, SOLO_CHANNEL) for n in notes]
    mid.tracks.append(_track("improv", 26, SOLO_CHANNEL, solo))
    if comp:
        chords, bass = _comping(progression, bars)
        mid.tracks.append(_track("chords", 0, COMP_CHANNEL, chords))
        mid.tracks.append(_track("bass", 32, BASS_CHANNEL, bass))
    return mid


def _comping(progression: Progression, bars: int) -> tuple[list, list]:
    """Chord and bass events for ``bars`` bars of the progression (looping the form)."""
    end = bars * progression.beats_per_bar * TICKS_PER_BEAT
    chords, bass = [], []
    offset = 0
    while offset < end:
        for span in progression.spans:
            start = offset + span.start
            if start >= end:
                break
            stop = min(start + span.length, end)
            on, off = start / TICKS_PER_BEAT, stop / TICKS_PER_BEAT
            chords += [(on, off - 0.05, p, 64, COMP_CHANNEL) for p in voicing(span.chord)]
            low = bass_note(span.chord)
            if low is not None:
                bass.append((on, off - 0.05, low, 80, BASS_CHANNEL))
        offset += progression.length
    return chords, bass


def _track(name: str, program: int, channel: int, notes: list) -> mido.MidiTrack:
    """A track from (start, end, pitch, velocity, channel) in beats, note-offs before note-ons at a tie."""
    events = []
    for start, end, pitch, velocity, ch in notes:
        events.append((_ticks(start), 1, pitch, velocity, ch))
        events.append((_ticks(max(end, start + 0.01)), 0, pitch, 0, ch))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.Message("program_change", program=program, channel=channel, time=0))
    now = 0
    for tick, is_on, pitch, velocity, ch in events:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity, channel=ch, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _ticks(beats: float) -> int:
    """Beats to MIDI file ticks."""
    return int(round(beats * MIDI_TICKS_PER_BEAT))


def generate_solo(improviser: Improviser, bars: int) -> list[TimedNote]:
    """``bars`` bars of solo from the improviser's current position."""
    beats = bars * improviser.progression.beats_per_bar
    return improviser.notes_until(improviser.position / TICKS_PER_BEAT + beats)
