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
from typing import TYPE_CHECKING

import numpy as np

from improv.errors import InputError
from improv.improviser import Improviser, Range, TimedNote
from improv.midi import midifile
from improv.model.cell import Cell
from improv.model.conditioning import cache_split, layout_version
from improv.model.sampling import DEFAULT_TEMPERATURE, Sampler
from improv.model.store import read_model_dir
from improv.motifs import MotifSettings
from improv.perform.band import PARTS, Band, BandChannels, BandNote, Feel
from improv.perform.band.band import PROGRAMS, band_rng
from improv.shaping import Shaping
from improv.theory.pitch import DEFAULT_REGISTER
from improv.theory.progression import Progression
from improv.theory.timing import DEFAULT_TEMPO, TICKS_PER_BEAT

if TYPE_CHECKING:
    import mido  # annotations only: imported by improv.midi.midifile where a file is built

log = logging.getLogger(__name__)

TRACK_NAMES = {"comp": "chords", "bass": "bass", "drums": "drums"}


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
    """Load a model directory (default: the shipped model), every file checked by
    :func:`improv.model.store.read_model_dir` (both value designs, stacked layers)."""
    files = read_model_dir(Path(model_dir) if model_dir else default_model_dir())
    cond_version = layout_version(files.meta.get("conditioning", {}))
    step = files.card.get("cell_step", 1)  # the arithmetic its logs were played with (checked by the store)
    cell = Cell.from_arrays(files.weights, len(files.vocab), cache_split(cond_version), step)
    return Model(files.path, cell, files.vocab, files.card, cond_version)


@dataclass(frozen=True)
class ImproviserSettings:
    """What a user chooses of an improviser (``improv play``, ``generate`` and ``replay`` build it from
    the option table's checked values, `improv.cli.table`): an improviser option is a field here and a
    row there. Pitches are MIDI numbers."""

    seed: int | None = 0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = 1.0
    low: int = DEFAULT_REGISTER[0]
    high: int = DEFAULT_REGISTER[1]
    velocity: int = 90
    swing: float = 0.0  # 0 straight, 0.5 triplet, 0.75 dotted
    max_leap: int = 12  # semitones


def build_improviser(
    progression: Progression,
    settings: ImproviserSettings | None = None,
    *,
    model: Model | None = None,
    model_dir: Path | str | None = None,
    sections: Sequence[str] | None = None,
    shaping: Shaping | None = None,
    tempo: float = DEFAULT_TEMPO,
    motifs: MotifSettings | None = None,
) -> Improviser:
    """An improviser over ``progression`` with one seeded generator for every random choice; ``sections``
    (a form label per bar), ``shaping`` and ``tempo`` come from the tune and the session."""
    settings = settings or ImproviserSettings()
    model = model or load_model(model_dir)
    rng = np.random.default_rng(settings.seed)
    sampler = Sampler(rng, temperature=settings.temperature, top_p=settings.top_p)
    try:
        register = Range(settings.low, settings.high)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    model.cell.reset()
    return Improviser(
        model.cell,
        model.vocab,
        progression,
        sampler,
        register=register,
        velocity=settings.velocity,
        swing=settings.swing,
        max_leap=settings.max_leap,
        sections=sections,
        shaping=shaping,
        tempo=tempo,
        cond_version=model.cond_version,
        motifs=motifs,
    )


# -- MIDI files ------------------------------------------------------------------------------------
def session_band(progression, *, seed: int | None, tempo: float, swing: float,
                 sections: Sequence[str] | None = None, parts: Sequence[str] = PARTS,
                 channels: BandChannels | None = None, groove: str = "swing") -> Band:
    """A fresh rhythm section from the session's seed: the one ``improv play`` plays live, ``improv
    generate`` writes and ``improv replay`` plays again. ``progression`` is what it reads (a
    Progression, or the live engine's ChordFollower when the played chords are followed)."""
    return Band(progression, band_rng(seed), feel=Feel(tempo, swing, groove), sections=sections,
                parts=parts, channels=channels)


def band_notes(progression: Progression, bars: int, *, seed: int | None, tempo: float, swing: float,
               sections: Sequence[str] | None = None, parts: Sequence[str] = PARTS,
               channels: BandChannels | None = None,
               groove: str = "swing") -> dict[str, list[BandNote]]:
    """The rhythm section's notes for ``bars`` bars (the same band the live engine plays)."""
    band = session_band(progression, seed=seed, tempo=tempo, swing=swing, sections=sections, parts=parts,
                        channels=channels, groove=groove)
    return band.notes(bars)


def solo_to_midi(
    notes: list[TimedNote],
    progression: Progression,
    *,
    tempo: float,
    bars: int,
    title: str = "improv solo",
    band: dict[str, list[BandNote]] | None = None,
    channels: BandChannels | None = None,
) -> mido.MidiFile:
    """A type-1 MIDI file: a conductor track, the solo, then the band's parts (chords, bass, drums)."""
    channels = channels or BandChannels()
    mid = midifile.new_file(title, tempo=tempo, beats_per_bar=progression.beats_per_bar)
    solo = [(n.onset, n.onset + n.duration, n.pitch, n.velocity, channels.solo) for n in notes]
    mid.tracks.append(_track("improv", PROGRAMS["solo"], channels.solo, solo))
    for part in ("comp", "bass", "drums"):
        if band and part in band:
            events = [(n.onset, n.onset + n.duration, n.pitch, n.velocity, n.channel) for n in band[part]]
            mid.tracks.append(_track(TRACK_NAMES[part], PROGRAMS[part], channels.of(part), events))
    return mid


def _track(name: str, program: int, channel: int, notes: list) -> mido.MidiTrack:
    """A track from (start, end, pitch, velocity, channel) in beats, note-offs before note-ons at a tie."""
    return midifile.events_track(name, midifile.note_events(notes), program=(channel, program))


def generate_solo(improviser: Improviser, bars: int) -> list[TimedNote]:
    """``bars`` bars of solo from the improviser's current position."""
    beats = bars * improviser.progression.beats_per_bar
    return improviser.notes_until(improviser.position / TICKS_PER_BEAT + beats)
