"""The rhythm section: the parts a ``--band`` list asks for, over one form, from one seeded generator.

``Band.bar(i)`` gives bar ``i``'s notes of every part (sorted by onset); call it for 0, 1, 2, ... in order
(the parts carry their line from bar to bar). ``Band.notes(bars)`` is the offline form, ``iter(band)`` the
endless one the live engine reads. Each part draws from its own child of the generator (spawned in a fixed
order), so ``--band bass`` plays the same bass line as ``--band all``. Channels are 0-based here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from improv.errors import InputError
from improv.perform.band.bass import WalkingBass
from improv.perform.band.bossa import BossaBass, BossaDrums
from improv.perform.band.comp import Comper
from improv.perform.band.drums import SwingDrums
from improv.perform.band.form import GROOVES, BandNote, Feel, Form
from improv.theory.progression import Progression

PARTS = ("bass", "comp", "drums")
SEND_ORDER = {"drums": 0, "bass": 1, "comp": 2}  # of notes on one onset in the live stream
# General MIDI programs (0-based) per part; channel 10 ignores its program in GM (the standard kit).
PROGRAMS = {"solo": 26, "bass": 32, "comp": 0, "drums": 0}


def band_rng(seed: int | None) -> np.random.Generator:
    """The band's generator for a session seed: a child of the seed's sequence, independent of the solo's
    ``default_rng(seed)`` stream (so adding the band never changes the solo)."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


@dataclass(frozen=True)
class BandChannels:
    """MIDI channel per part, 0-based (the defaults are channels 1, 2, 3 and 10)."""

    solo: int = 0
    bass: int = 1
    comp: int = 2
    drums: int = 9

    def of(self, part: str) -> int:
        return int(getattr(self, part))


def parse_parts(text: str | Sequence[str] | None, where: str = "--band") -> tuple[str, ...]:
    """'all', 'bass,comp', ['bass', 'drums'] ... -> the parts in PARTS order; '' or 'none' -> ()."""
    if text is None:
        return ()
    items = text.replace(",", " ").split() if isinstance(text, str) else [str(t) for t in text]
    if any(item.lower() == "all" for item in items):
        return PARTS
    chosen = set()
    for item in items:
        name = item.lower()
        if name == "none":
            continue
        if name not in PARTS:
            raise InputError(f"{where}: unknown part {item[:20]!r} (use bass, comp, drums or all)")
        chosen.add(name)
    return tuple(p for p in PARTS if p in chosen)


def parse_band_channels(text: str | Mapping[str, int] | None, where: str = "--band-channels",
                        base: BandChannels | None = None, *, unique: bool = True) -> BandChannels:
    """'bass=2,comp=3,drums=10' or {'bass': 2} (1-based, any subset, 'solo' too) -> BandChannels over
    ``base``; with ``unique``, two parts on one channel are an error."""
    values = {f.name: getattr(base or BandChannels(), f.name) for f in fields(BandChannels)}
    if isinstance(text, Mapping):
        items = [f"{part}={number if isinstance(number, int) and not isinstance(number, bool) else '?'}"
                 for part, number in text.items()]
        text = ",".join(items)
    for item in (text or "").replace(",", " ").split():
        part, sep, number = item.partition("=")
        if not sep or part.lower() not in values:
            raise InputError(f"{where}: {item[:24]!r} is not PART=CHANNEL (parts: solo, bass, comp, drums)")
        if not number.isdigit() or not 1 <= int(number) <= 16:
            raise InputError(f"{where}: channel {number[:8]!r} for {part} is not 1..16")
        values[part.lower()] = int(number) - 1
    if unique and len(set(values.values())) < len(values):
        raise InputError(f"{where}: two parts share a channel ({text[:40] if text else ''})")
    return BandChannels(**values)


def parse_band_ports(value: str | Sequence[str] | Mapping[str, str] | None,
                     where: str = "--band-port") -> dict[str, str]:
    """'drums=Drum Machine', a list of those, or {'drums': 'Drum Machine'} -> {part: port name}."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        pairs = [(str(part), name) for part, name in value.items()]
    else:
        items = [value] if isinstance(value, str) else list(value)
        pairs = []
        for item in items:
            part, sep, name = str(item).partition("=")
            if not sep:
                raise InputError(f"{where}: {str(item)[:40]!r} is not PART=PORT (e.g. drums=MPC)")
            pairs.append((part, name))
    ports: dict[str, str] = {}
    for part, name in pairs:
        key = part.strip().lower()
        if key not in PARTS:
            raise InputError(f"{where}: unknown part {part[:20]!r} (use bass, comp or drums)")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InputError(f"{where}: the port for {key} must be a port name (part of it is enough)")
        if key in ports:
            raise InputError(f"{where}: {key} is given two ports")
        ports[key] = name.strip()
    return ports


class Band:
    """Bass, comping and drums (the ones asked for) over a progression."""

    def __init__(self, progression: Progression, rng: np.random.Generator, *, feel: Feel | None = None,
                 sections: Sequence[str] | None = None, parts: Sequence[str] = PARTS,
                 channels: BandChannels | None = None) -> None:
        feel = feel or Feel()
        self.channels = channels or BandChannels()
        self.form = Form(progression, sections)
        self.parts = tuple(p for p in PARTS if p in parts)
        if feel.groove not in GROOVES:
            raise InputError(f"band: unknown groove {feel.groove[:20]!r} (use {', '.join(GROOVES)})")
        bass_rng, comp_rng, drums_rng = rng.spawn(3)
        ch = self.channels
        bossa = feel.groove == "bossa"
        bass, drums = (BossaBass, BossaDrums) if bossa else (WalkingBass, SwingDrums)
        self._players = {
            "bass": bass(self.form, bass_rng, channel=ch.bass, swing=feel.swing),
            "comp": Comper(self.form, comp_rng, channel=ch.comp, swing=feel.swing, tempo=feel.tempo,
                           groove=feel.groove),
            "drums": drums(self.form, drums_rng, channel=ch.drums, swing=feel.swing),
        }
        self._next_bar = 0

    def bar(self, index: int) -> dict[str, list[BandNote]]:
        """Every part's notes in bar ``index``; bars must be asked for in order from 0."""
        if index != self._next_bar:
            raise ValueError(f"band bars are made in order: expected bar {self._next_bar}, not {index}")
        self._next_bar += 1
        return {part: self._players[part].bar(index) for part in self.parts}

    def notes(self, bars: int) -> dict[str, list[BandNote]]:
        """The first ``bars`` bars, per part, in onset order."""
        out: dict[str, list[BandNote]] = {part: [] for part in self.parts}
        for index in range(bars):
            for part, notes in self.bar(index).items():
                out[part] += notes
        return out

    def __iter__(self) -> Iterator[BandNote]:
        """Endless notes of all parts, bar by bar, in onset order (the live engine's stream); notes on one
        onset go drums first, then bass, then comp: the emitter sends them in this order, so the time
        keepers are the least late (each send to the synth takes tens of microseconds)."""
        while True:
            bar = self.bar(self._next_bar)
            merged = [(note.onset, SEND_ORDER[part], note.pitch, note) for part, notes in bar.items()
                      for note in notes]
            yield from (item[3] for item in sorted(merged, key=lambda item: item[:3]))

    @property
    def channel_list(self) -> list[int]:
        """The channels of the parts playing (0-based)."""
        return [self.channels.of(part) for part in self.parts]
