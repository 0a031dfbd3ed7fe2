"""Turn incoming MIDI messages into musical events: phrases, the end of a call, chords, controls.

The listener is a plain state machine (no threads, no ports): the engine feeds it raw messages with
their times and asks :meth:`Listener.poll` now and then for the silence gate. Times become ticks
(12 per beat, :mod:`improv.theory.timing`) through the ``seconds_to_ticks`` callable the engine
gives, so the listener knows nothing of tempo or clocks.

* Notes: note-on/off per (channel, pitch); a note-on with velocity 0 is a note-off; a re-struck key
  closes the sounding one first.
* Phrase: finished notes, snapped to a grid of 16ths and eighth triplets, as
  :class:`improv.theory.values.Note` (onset and duration in ticks from the start of the song).
* End of a call: ``gate`` beats of silence, a press of ``gate_cc`` (a footswitch), or the release of
  the sustain pedal with no key down. It emits a :class:`Phrase`.
* Chord following: the keys held below ``split`` or on ``chord_channel`` (or all keys with
  ``chords_only``) are named by pitch-class template matching as a symbol the harmony parser reads.
* Controls: a CC map (CC number → parameter name) gives :class:`Control` events, values 0..1.

Sysex, system messages, unknown statuses and truncated (running-status) messages are ignored.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from improv.devices import DeviceProfile
from improv.midi.messages import CONTROL, NOTE_OFF, NOTE_ON, SYSEX
from improv.theory.harmony import NOTE_NAMES, Chord, parse_chord
from improv.theory.progression import ChordSpan, Progression
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Note

log = logging.getLogger(__name__)

SUSTAIN_CC = 64
PEDAL_DOWN = 64  # CC values >= 64 are "on" for switches
JAZZ_GRID = (0, 3, 4, 6, 8, 9)  # onsets within a beat: 16ths and eighth-note triplets
GATE_REASONS = ("silence", "cc", "sustain", "flush")


@dataclass(frozen=True)
class Phrase:
    """A finished call: its notes (ticks, sorted by onset), where it started and where it ended."""

    notes: tuple[Note, ...]
    start: int  # tick of the first onset
    end: int  # tick where the gate closed (the answer may start here)
    reason: str  # one of GATE_REASONS


@dataclass(frozen=True)
class ChordChange:
    """The held keys now name ``symbol`` (parseable by ``parse_chord``), from ``tick`` on."""

    symbol: str
    tick: int
    pitches: tuple[int, ...]


@dataclass(frozen=True)
class Control:
    """A mapped controller moved: ``param`` takes ``value`` (0..1; ``raw`` is the 0..127 value)."""

    param: str
    value: float
    raw: int
    cc: int
    channel: int
    tick: int


Event = Phrase | ChordChange | Control


# ---------------------------------------------------------------------------------- chord naming

# (suffix, required intervals above the root, optional intervals); the parser reads all suffixes
_TEMPLATES: tuple[tuple[str, frozenset[int], frozenset[int]], ...] = tuple(
    (suffix, frozenset(req), frozenset(opt))
    for suffix, req, opt in (
        ("maj7", {0, 4, 11}, {7}),
        ("7", {0, 4, 10}, {7}),
        ("m7", {0, 3, 10}, {7}),
        ("m7b5", {0, 3, 6, 10}, ()),
        ("dim7", {0, 3, 6, 9}, ()),
        ("mMaj7", {0, 3, 11}, {7}),
        ("6", {0, 4, 9}, {7}),
        ("m6", {0, 3, 9}, {7}),
        ("7sus4", {0, 5, 10}, {7}),
        ("7#5", {0, 4, 8, 10}, ()),
        ("", {0, 4, 7}, ()),
        ("m", {0, 3, 7}, ()),
        ("dim", {0, 3, 6}, ()),
        ("+", {0, 4, 8}, ()),
        ("sus4", {0, 5, 7}, ()),
    )
)
_TENSIONS = frozenset({1, 2, 3, 5, 6, 8, 9})  # b9 9 #9 11 #11 b13 13: extras that cost less


def name_chord(pitches: Iterable[int], min_notes: int = 3) -> str | None:
    """A chord symbol for the MIDI ``pitches`` held together, or None (too few pitch classes).

    Every held pitch class is tried as the root against every template: matched tones score,
    missing required tones cost more, extra tones cost (tensions less). Ties go to the root in the
    bass, then to the earlier (more common) template. Rootless voicings are not recognised.
    """
    held = sorted(set(pitches))
    classes = {p % 12 for p in held}
    if len(classes) < min_notes:
        return None
    bass = held[0] % 12
    best: tuple[float, str] | None = None
    for order, (suffix, required, optional) in enumerate(_TEMPLATES):
        for root in classes:
            rel = {(pc - root) % 12 for pc in classes}
            matched = len(rel & required) + len(rel & optional)
            missing = len(required - rel)
            extras = rel - required - optional
            cost = sum(0.5 if x in _TENSIONS else 1.0 for x in extras)
            score = 2.0 * matched - 3.0 * missing - cost
            score += 0.25 * (root == bass) - 0.001 * order
            if best is None or score > best[0]:
                best = (score, NOTE_NAMES[root] + suffix)
    return None if best is None else best[1]


# ---------------------------------------------------------------------------------- the grid


def snap(tick: float, grid: Sequence[int] = JAZZ_GRID) -> int:
    """``tick`` (fractional ticks) moved to the nearest grid position (positions within a beat)."""
    beat = math.floor(tick / TICKS_PER_BEAT)
    frac = tick - beat * TICKS_PER_BEAT
    best = min((*grid, TICKS_PER_BEAT), key=lambda g: abs(frac - g))
    return beat * TICKS_PER_BEAT + best


def _grid_step(tick: int, grid: Sequence[int]) -> int:
    """Ticks from grid position ``tick`` to the next grid position."""
    frac = tick % TICKS_PER_BEAT
    later = [g for g in (*grid, TICKS_PER_BEAT) if g > frac]
    return (min(later) - frac) if later else TICKS_PER_BEAT


def skyline(notes: Iterable[Note]) -> list[Note]:
    """A monophonic line from ``notes``: the top note of each onset, each clipped at the next one."""
    by_onset: dict[int, Note] = {}
    for note in notes:
        kept = by_onset.get(note.onset)
        if kept is None or note.pitch > kept.pitch:
            by_onset[note.onset] = note
    line = [by_onset[k] for k in sorted(by_onset)]
    out = []
    for i, note in enumerate(line):
        duration = note.duration
        if i + 1 < len(line):
            duration = min(duration, line[i + 1].onset - note.onset)
        out.append(Note(note.onset, max(1, duration), note.pitch, note.velocity))
    return out


# ---------------------------------------------------------------------------------- the listener


@dataclass
class ListenerConfig:
    """How to listen. Channels are 0..15; ``None`` means any."""

    gate: float = 2.0  # beats of silence that end a call
    gate_cc: int | None = None  # a CC whose press (value >= 64) ends a call
    sustain_ends_call: bool = True
    channel: int | None = None  # the player's channel (None: all)
    split: int | None = None  # keys below this MIDI note are chords, not phrase
    chord_channel: int | None = None  # notes on this channel are chords, not phrase
    chords_only: bool = False  # every note is for chord following (a separate comping port)
    min_chord_notes: int = 3
    cc_map: Mapping[int, str] = field(default_factory=dict)  # CC number -> parameter
    grid: Sequence[int] = JAZZ_GRID
    max_phrase_notes: int = 512

    @classmethod
    def from_device(cls, profile: DeviceProfile, **overrides: Any) -> ListenerConfig:
        """The settings a device profile implies (channel, gate CC, sustain, CC map), then
        ``overrides`` (e.g. ``gate=`` from the command line)."""
        values: dict[str, Any] = {
            "channel": None if profile.channel is None else profile.channel - 1,
            "gate_cc": profile.gate_cc if profile.gate_cc is not None else profile.cc.get("gate"),
            "sustain_ends_call": profile.sustain_ends_call,
            "cc_map": profile.cc_map(),
        }
        values.update(overrides)
        return cls(**values)


class Listener:
    """Feed it messages (:meth:`feed`) and times (:meth:`poll`); it returns musical events."""

    def __init__(
        self,
        seconds_to_ticks: Callable[[float], float],
        config: ListenerConfig | None = None,
    ) -> None:
        self.to_ticks = seconds_to_ticks
        self.config = config or ListenerConfig()
        self.ignored = 0  # messages ignored (system, unknown, truncated, other channels)
        self.dropped_notes = 0  # phrase notes dropped beyond max_phrase_notes
        self._held: dict[tuple[int, int], tuple[float, int]] = {}  # phrase keys: onset, velocity
        self._chord_keys: dict[tuple[int, int], float] = {}  # chord keys: onset
        self._phrase: list[Note] = []
        self._last_activity: float | None = None  # tick of the latest phrase note-on/off
        self._sustain: set[int] = set()  # channels with the pedal down
        self._gate_down = False
        self._chord: str | None = None
        self._switches: dict[tuple[int, int], bool] = {}  # (channel, cc) -> on, for edge triggers

    # ------------------------------------------------------------------ state

    @property
    def chord(self) -> str | None:
        """The latest chord symbol named from the held chord keys."""
        return self._chord

    @property
    def held(self) -> list[int]:
        """Pitches of the phrase keys held now."""
        return sorted(p for _, p in self._held)

    @property
    def in_call(self) -> bool:
        """True while a phrase has started and its gate has not closed."""
        return bool(self._phrase or self._held)

    # ------------------------------------------------------------------ input

    def feed(self, data: bytes | Sequence[int], t: float) -> list[Event]:
        """Process one message received at ``t`` seconds; return the events it caused."""
        if len(data) < 2 or data[0] < NOTE_OFF or data[0] >= SYSEX:
            self.ignored += 1
            return []
        status, channel = data[0] & 0xF0, data[0] & 0x0F
        if status in (NOTE_OFF, NOTE_ON, CONTROL) and (len(data) < 3 or data[1] > 127 or data[2] > 127):
            self.ignored += 1
            return []
        cfg = self.config
        chord_part = cfg.chord_channel is not None and channel == cfg.chord_channel
        if not chord_part and cfg.channel is not None and channel != cfg.channel:
            self.ignored += 1
            return []
        if status == NOTE_ON and data[2] > 0:
            return self._note_on(channel, data[1], data[2], t, chord_part)
        if status in (NOTE_OFF, NOTE_ON):
            return self._note_off(channel, data[1], t, chord_part)
        if status == CONTROL:
            return self._control(channel, data[1], data[2], t)
        self.ignored += 1  # pitch bend, aftertouch, program change: not used
        return []

    def poll(self, now: float) -> list[Event]:
        """Check the silence gate at ``now`` seconds; returns a Phrase when it closed."""
        if not self._phrase or self._held or self._sustain or self._last_activity is None:
            return []
        tick = self.to_ticks(now)
        gate = self.config.gate * TICKS_PER_BEAT
        if tick - self._last_activity >= gate:
            # the gate closed when the silence reached ``gate`` beats, not when we looked
            return [self._close("silence", self._last_activity + gate)]
        return []

    def flush(self, t: float) -> list[Event]:
        """End the call now (e.g. the transport stopped): held keys end at ``t``."""
        if not self.in_call:
            return []
        return [self._close("flush", self.to_ticks(t))]

    def reset(self) -> None:
        """Forget held keys, the phrase and pedals (e.g. after a port reopened)."""
        self._held.clear()
        self._chord_keys.clear()
        self._phrase.clear()
        self._sustain.clear()
        self._switches.clear()
        self._last_activity = None
        self._gate_down = False

    # ------------------------------------------------------------------ notes

    def _is_chord_key(self, pitch: int, chord_part: bool) -> bool:
        cfg = self.config
        return chord_part or cfg.chords_only or (cfg.split is not None and pitch < cfg.split)

    def _note_on(self, channel: int, pitch: int, velocity: int, t: float, chord_part: bool) -> list[Event]:
        tick = self.to_ticks(t)
        key = (channel, pitch)
        if self._is_chord_key(pitch, chord_part):
            self._chord_keys[key] = tick
            return self._name_held(tick)
        if key in self._held:  # struck again without a release: end the sounding one here
            self._finish(key, tick)
        self._held[key] = (tick, velocity)
        self._last_activity = tick
        return []

    def _note_off(self, channel: int, pitch: int, t: float, chord_part: bool) -> list[Event]:
        key = (channel, pitch)
        if key in self._chord_keys:
            del self._chord_keys[key]
            return []
        if key in self._held:
            tick = self.to_ticks(t)
            self._finish(key, tick)
            self._last_activity = tick
        return []

    def _finish(self, key: tuple[int, int], off_tick: float) -> None:
        onset_tick, velocity = self._held.pop(key)
        grid = self.config.grid
        onset = snap(onset_tick, grid)
        end = snap(off_tick, grid)
        duration = end - onset if end > onset else _grid_step(onset, grid)
        self._phrase.append(Note(onset, duration, key[1], velocity))
        if len(self._phrase) > self.config.max_phrase_notes:
            del self._phrase[0]
            self.dropped_notes += 1

    def _name_held(self, tick: float) -> list[Event]:
        pitches = tuple(sorted(p for _, p in self._chord_keys))
        symbol = name_chord(pitches, self.config.min_chord_notes)
        if symbol is None or symbol == self._chord:
            return []
        self._chord = symbol
        return [ChordChange(symbol, snap(tick, self.config.grid), pitches)]

    def _close(self, reason: str, tick: float) -> Phrase:
        for key in list(self._held):
            self._finish(key, tick)
        notes = tuple(sorted(self._phrase, key=lambda n: (n.onset, n.pitch)))
        self._phrase.clear()
        self._last_activity = None
        start = notes[0].onset if notes else int(round(tick))
        end = max(int(math.floor(tick + 0.25)), start)  # a little timing jitter does not move it
        log.debug("call ended (%s): %d notes, ticks %d..%d", reason, len(notes), start, end)
        return Phrase(notes, start, end, reason)

    # ------------------------------------------------------------------ controllers

    def _control(self, channel: int, cc: int, value: int, t: float) -> list[Event]:
        cfg = self.config
        events: list[Event] = []
        on = value >= PEDAL_DOWN
        was_on = self._switches.get((channel, cc), False)
        self._switches[(channel, cc)] = on
        if cc == SUSTAIN_CC:
            if on:
                self._sustain.add(channel)
            else:
                self._sustain.discard(channel)
                if was_on and cfg.sustain_ends_call and self._phrase and not self._held:
                    events.append(self._close("sustain", self.to_ticks(t)))
        if cfg.gate_cc is not None and cc == cfg.gate_cc and on and not was_on and self.in_call:
            events.append(self._close("cc", self.to_ticks(t)))
        param = cfg.cc_map.get(cc)
        if param is not None and (param != "panic" or (on and not was_on)):
            tick = snap(self.to_ticks(t), cfg.grid)
            events.append(Control(param, value / 127.0, value, cc, channel, tick))
        return events


# ---------------------------------------------------------------------------------- chord following


class ChordFollower:
    """A progression whose chord the player can override from a tick on (chord following).

    It has the interface the improviser reads (``chord_at``, ``length``, ``beats_per_bar``,
    ``bar_count``, ``bar_ticks``, ``spans``). An override lasts to the end of the form's chord it
    replaces, or, when ``sticky`` (no progression given: play over whatever the player comps),
    until the next override.
    """

    def __init__(self, base: Progression, *, sticky: bool = False, keep: int = 256) -> None:
        self.base = base
        self.sticky = sticky
        self.keep = keep
        self._overrides: list[tuple[int, float, Chord]] = []  # (start, until, chord)

    @property
    def spans(self) -> tuple:
        return self.base.spans

    @property
    def length(self) -> int:
        return self.base.length

    @property
    def beats_per_bar(self) -> int:
        return self.base.beats_per_bar

    @property
    def bar_count(self) -> int:
        return self.base.bar_count

    @property
    def bar_ticks(self) -> int:
        return self.base.bar_ticks

    def override(self, tick: int, symbol: str) -> Chord:
        """The chord ``symbol`` sounds from ``tick`` on; returns it parsed."""
        chord = parse_chord(symbol, "the played chord")
        if self.sticky:
            until = math.inf
            self._overrides = [(s, min(u, tick), c) for s, u, c in self._overrides]
        else:
            chorus = tick - tick % self.base.length
            until = chorus + self.base.span_at(tick).end
        self._overrides.append((tick, until, chord))
        del self._overrides[: -self.keep]
        return chord

    def span_at(self, tick: int) -> ChordSpan:
        """The span sounding at ``tick``, in ticks of its chorus like ``Progression.span_at``: the
        played chord's (within the form's span it falls in), else the form's. What the band reads."""
        base = self.base.span_at(tick)
        chorus = tick - tick % self.base.length
        for start, until, chord in reversed(self._overrides):
            if start <= tick < until:
                first = max(start, chorus + base.start)
                last = min(until, chorus + base.end)
                return ChordSpan(chord, int(first - chorus), int(last - first))
        later = [start for start, until, _ in self._overrides if tick < start < chorus + base.end]
        if later:  # the form's chord until the played one starts
            return ChordSpan(base.chord, base.start, int(min(later) - chorus - base.start))
        return base

    def chord_at(self, tick: int) -> Chord:
        """The played chord covering ``tick`` (the latest), else the form's."""
        for start, until, chord in reversed(self._overrides):
            if start <= tick < until:
                return chord
        return self.base.chord_at(tick)
