"""The improviser's memory for ideas: restate a recent cell, transformed onto the new chord, when the model
finds that likely (issue 9, item 3), and answer a call by developing one of its cells (item 7).

The memory keeps the improviser's own last ``window_bars`` bars of values (onset, duration, pitch). At the
start of a beat (``before_step``), now and then (``chance``), it draws a few remembered cells of 4-6 notes
(likelier those that begin a phrase, start on a beat, or are recent; at 200 BPM and up only cells moving in
eighths or slower) and transforms of each (``improv.motifs.cells``: transposed onto the chord by its root
motion, sequenced, inverted, displaced), realises each as values (octave nearest the line, avoid notes nudged
as the shaper nudges them, only values the model knows) and scores each by its log-probability under the
model, step by step from the improviser's current state (restored afterwards), at the sampling temperature. A
candidate's weight is ``appetite * exp(log p + n * H)``, with ``H`` the entropy of the model's next-step
distribution: its likelihood against a typical continuation of the same length. One draw of the session's
Generator chooses among the candidates and going on freely (weight 1), so nothing is forced: a restatement the
model finds unlikely is almost never played. Straight after a restatement, the same move may be made once more
(a chain: a motif and two sequences of it), by the same kind of draw; no restatement starts where the chord
changes under a b7 of the old chord (the guide tone's resolution is the line's). A chosen one becomes a plan
that ``take`` hands to the improviser value by value (the cell still steps, so the state follows what sounds);
a jump drops the plan.

``answer`` does the same with the cells of a call (3-6 notes, never the whole call), placed where the
answer starts, without the free choice: the answer's first note sounds on its first grid slot, then the
model goes on in its own words. When no cell fits, the answer's first value is at least not a rest.

Ticks (``improv.theory.timing``). One thread: the improviser's. Every random draw goes through the
improviser's one Generator; with ``MotifSettings.off()`` nothing here draws or changes anything (the
improviser of version 2 and older).
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from improv.model.rhythm import MASKED
from improv.motifs.cells import (
    CELL_MAX,
    CELL_MIN,
    TRANSFORMS,
    Cell,
    Placed,
    cells,
    chained,
    octave_near,
    place,
)
from improv.theory import degrees
from improv.theory.timing import TICKS_PER_BEAT
from improv.theory.values import Line, Note, Value, classify, events, fold_leap

if TYPE_CHECKING:
    from improv.improviser import Improviser

SOLO_CELL = (4, 6)  # notes in a cell a solo restates (at least the measure's 4-note cells)
CHAIN = 2  # restatements in a row at most (a motif and two sequences of it)
ANSWER_OPTIONS = 8  # (cell, transform) candidates scored for an answer
DISPLACE_LEAD = 6  # a displaced solo restatement starts an eighth late
FAST_BPM, FAST_SHORTEST = 200.0, 6  # at and above this tempo a restated cell moves in eighths or slower
REST_TEMPO = 120.0  # above this tempo the rest after a restatement grows with the tempo (the same time)
EXP_CLIP = 50.0


@dataclass(frozen=True)
class MotifSettings:
    """How much the improviser develops ideas. ``off()`` is the improviser of version 2 and older."""

    enabled: bool = True
    appetite: float = 2.0  # weight of restating against going on freely (times the likelihood ratio)
    chance: float = 0.35  # share of beat starts where a restatement is considered (0.5 in versions 3, 4)
    window_bars: int = 4  # how far back a cell may have started
    sources: int = 3  # remembered cells drawn per decision
    per_source: int = 2  # transforms tried per cell
    rest_bars: float = 1.0  # bars after a restatement before the next one is considered

    @classmethod
    def off(cls) -> MotifSettings:
        """No motif memory and answers as before (improviser version 2 and older)."""
        return cls(enabled=False)

    @classmethod
    def of_version(cls, version: int) -> MotifSettings:
        """The motif memory of an older improviser version (1, 2: none; 3, 4: restating more often)."""
        return cls.off() if version < 3 else cls(chance=0.5) if version < 5 else cls()


@dataclass(frozen=True)
class PlanStep:
    """One planned value: where it starts, how long, its vocabulary index and pitch (None: a rest)."""

    tick: int
    duration: int
    index: int
    pitch: int | None


@dataclass(frozen=True)
class Restatement:
    """What was restated: the cell (its first note's index and size), the transform, the plan."""

    placed: Placed
    steps: tuple[PlanStep, ...]

    def record(self) -> dict:
        """The session log's ``answer`` fields: tick, cell [first, size], transform, shift."""
        cell = self.placed.cell
        return {"tick": self.steps[0].tick, "cell": [cell.first, len(cell)],
                "transform": self.placed.transform, "shift": self.placed.shift}


class MotifMemory:
    """Recent values of the line, a plan being played, and what has been restated (counts by transform)."""

    def __init__(self, settings: MotifSettings, rng: np.random.Generator, bar_ticks: int) -> None:
        self.settings = settings
        self.rng = rng
        self.bar_ticks = bar_ticks
        self.window = settings.window_bars * bar_ticks
        self.events: deque[tuple[int, int, int | None]] = deque()
        self.plan: deque[PlanStep] = deque()
        self.first_note_at: int | None = None  # an answer's first slot: no rest there
        self.quiet_until = 0
        self.made: Counter[str] = Counter()
        self.last: Restatement | None = None
        self.chain_at: int | None = None  # where the last restatement ended, if it may go on
        self.chained = 0  # restatements in a row
        self._rests: np.ndarray | None = None

    # -- the improviser's hooks --------------------------------------------------------------------
    def record(self, tick: int, duration: int, pitch: int | None) -> None:
        """Remember one value the line played."""
        if not self.settings.enabled:
            return
        self.events.append((tick, duration, pitch))
        while self.events and (self.events[0][0] < tick - self.window or self.events[0][0] > tick):
            self.events.popleft()  # too old, or after a jump back

    def take(self, tick: int, logits: np.ndarray, vocab) -> PlanStep | None:
        """The planned value at ``tick`` (None: sample freely; an answer's first slot masks rests)."""
        if self.plan:
            if self.plan[0].tick == tick:
                step = self.plan.popleft()
                self.chain_at = None if self.plan else step.tick + step.duration
                return step
            self.plan.clear()  # the position moved: the plan is gone
        if self.first_note_at is not None:
            if tick == self.first_note_at:
                logits[self._rest_indices(vocab)] += MASKED
            self.first_note_at = None
        return None

    def drop(self) -> None:
        """Forget the plan (the answer was cut short, the transport moved)."""
        self.plan.clear()
        self.first_note_at = None
        self.chain_at = None

    def before_step(self, imp: Improviser, tick: int) -> None:
        """At a beat start, now and then: restate a remembered cell if the model's draw says so."""
        s = self.settings
        if not s.enabled or self.plan or self.first_note_at is not None:
            return  # (an answer that found no cell starts on a note, not a displaced rest)
        if tick == self.chain_at:
            self.chain_at = None
            if self._chain(imp, tick):
                return
        if tick % TICKS_PER_BEAT or tick < self.quiet_until or _guide_tone(imp, tick):
            return
        if self.rng.random() >= s.chance:
            return
        root_at = _root_at(imp)
        shortest = FAST_SHORTEST if imp.situation.tempo >= FAST_BPM else 0  # fast: no 16th runs restated
        pool = [c for c in cells(self.events, root_at, *SOLO_CELL)
                if c.end <= tick and tick - c.onsets[0] <= self.window and min(c.durations) >= shortest]
        if not pool:
            return
        chord = imp.progression.chord_at(tick)
        step = _step_way(imp)
        options = []
        weights = _salience(pool, self.events, tick, self.window)
        picks = self.rng.choice(len(pool), size=min(s.sources, len(pool)), replace=False, p=weights)
        for i in sorted(picks):
            for name in self.rng.permutation(TRANSFORMS)[: s.per_source]:
                lead = DISPLACE_LEAD if name == "displace" else 0
                placed = place(pool[i], str(name), tick, chord, step=step, lead=lead)
                steps = self._steps(imp, placed) if placed else None
                if steps:
                    options.append(Restatement(placed, steps))
        chosen = self._choose(imp, tick, options, free=1.0)
        if chosen is not None:
            self.chained = 1
            self._start(chosen, imp.situation.tempo)

    def _chain(self, imp: Improviser, tick: int) -> bool:
        """Straight after a restatement: move it on again (a sequence), if the model's draw says so."""
        last = self.last
        if last is None or self.chained >= CHAIN or imp.situation.tempo >= FAST_BPM:
            return False  # (fast: one statement, no sequence of it: the line would run in unbroken eighths)
        chord_at = imp.progression.chord_at
        played = [s.pitch for s in last.steps if s.pitch is not None]
        placed = chained(last.placed, played, chord_at(last.placed.onsets[0]).root, tick, chord_at(tick))
        steps = self._steps(imp, placed) if placed else None
        chosen = self._choose(imp, tick, [Restatement(placed, steps)], free=1.0) if steps else None
        if chosen is None:
            return False
        self.chained += 1
        self._start(chosen, imp.situation.tempo)
        return True

    def answer(self, imp: Improviser, notes: Sequence[Note], start: int, end: int) -> Restatement | None:
        """Plan an answer at ``start`` (to ``end``) that develops one cell of the call ``notes``."""
        if not self.settings.enabled:
            return None
        self.plan.clear()
        self.first_note_at = start
        prog = imp.progression
        line = Line("call", sorted(notes, key=lambda n: n.onset), prog.chord_at, prog.beats_per_bar)
        evs = [(e.onset, e.duration, e.pitch) for e in events(line)]
        count = sum(e[2] is not None for e in evs)
        pool = cells(evs, _root_at(imp), CELL_MIN, min(CELL_MAX, count - 1))  # never the whole call
        combos = [(c, t) for c in pool for t in TRANSFORMS
                  if t != "displace" or (start - c.onsets[0]) % TICKS_PER_BEAT]
        chord, step = prog.chord_at(start), _step_way(imp)
        options = []
        for k in self.rng.permutation(len(combos))[:ANSWER_OPTIONS] if combos else ():
            cell, name = combos[k]
            placed = place(cell, name, start, chord, step=step)
            steps = self._steps(imp, placed) if placed else None
            steps = tuple(s for s in steps if s.tick < end) if steps else ()
            if len(steps) >= CELL_MIN:
                options.append(Restatement(placed, steps))
        chosen = self._choose(imp, start, options, free=0.0)
        if chosen is not None:
            self.first_note_at = None
            self._start(chosen, imp.situation.tempo)
        return chosen

    # -- candidates --------------------------------------------------------------------------------
    def _steps(self, imp: Improviser, placed: Placed) -> tuple[PlanStep, ...] | None:
        """The placed cell as the model's values (None if a value is not in its vocabulary or it does not
        fit the register): octave nearest the line, long or strong avoid notes nudged."""
        reg, prev = imp.register, imp.prev_pitch
        near = prev if prev is not None else int(round(imp.shaper.centre))
        pitches = octave_near(placed.pitches, near, reg.low, reg.high)
        if pitches is None:
            return None
        chord_at, nudged = imp.progression.chord_at, imp.shaper.nudged
        fixed, last = [], prev
        for onset, duration, pitch in zip(placed.onsets, placed.durations, pitches, strict=True):
            last = imp.shaper.nudge(pitch, SimpleNamespace(duration=duration), chord_at(onset), onset, last)
            fixed.append(last)
        imp.shaper.nudged = nudged  # only what is played counts
        steps: list[PlanStep] = []
        tick, anchor = placed.onsets[0] - placed.lead, imp.situation.phrase.notes == 0 or prev is None
        if placed.lead:
            index = value_index(imp.vocab, None, None, chord_at(tick), placed.lead, True)
            if index is None:
                return None
            steps.append(PlanStep(tick, placed.lead, index, None))
            anchor = anchor or imp.situation.phrase.silence + placed.lead >= imp.situation.phrase.gap
        for onset, duration, pitch in zip(placed.onsets, placed.durations, fixed, strict=True):
            index = value_index(imp.vocab, pitch, prev, chord_at(onset), duration, anchor)
            if index is None:
                return None
            steps.append(PlanStep(onset, duration, index, pitch))
            prev, anchor = pitch, False
        return tuple(steps)

    def _choose(self, imp: Improviser, tick: int, options: list[Restatement],
                free: float) -> Restatement | None:
        """One draw among the options, weighted by the model's likelihood ratio (and going on freely)."""
        if not options:
            return None
        scores, entropy = likelihoods(imp, tick, [o.steps for o in options])
        logw = np.array([lp + len(o.steps) * entropy for lp, o in zip(scores, options, strict=True)])
        top = max(float(logw.max()), 0.0) if free else float(logw.max())
        weights = self.settings.appetite * np.exp(np.clip(logw - top, -EXP_CLIP, 0.0))
        stay = free * float(np.exp(np.clip(-top, -EXP_CLIP, 0.0)))
        draw = self.rng.random() * (float(weights.sum()) + stay)
        cumulative = np.cumsum(weights)
        k = int(np.searchsorted(cumulative, draw, side="right"))
        return options[k] if k < len(options) else None

    def _start(self, chosen: Restatement, tempo: float) -> None:
        self.plan = deque(chosen.steps)
        last = chosen.steps[-1]
        # the rest between ideas is a time, not a number of bars: at 240 BPM two bars pass in 2 s
        bars = self.settings.rest_bars * max(1.0, tempo / REST_TEMPO)
        self.quiet_until = last.tick + last.duration + int(bars * self.bar_ticks)
        self.made[chosen.placed.transform] += 1
        self.last = chosen

    def _rest_indices(self, vocab) -> np.ndarray:
        if self._rests is None:
            self._rests = np.array([i for i, v in enumerate(vocab.values) if v.kind == "R"], dtype=np.int64)
        return self._rests


def likelihoods(imp: Improviser, tick: int, plans: Sequence[Sequence[PlanStep]]) -> tuple[list[float], float]:
    """Log-probability of each plan under the model from the improviser's state at ``tick`` (at the
    sampling temperature), and the entropy of the first step's distribution. The state is restored."""
    cell, prog = imp.cell, imp.progression
    saved = cell.state
    temperature = max(float(imp.sampler.temperature), 1e-3)
    cond = imp.condition(tick, prog.chord_at(tick))
    first = log_softmax(cell.step_logits(imp.prev_index, cond), temperature)
    after_first = cell.state
    entropy = -float(np.sum(np.exp(first) * first))
    scores = []
    for steps in plans:
        cell.state = after_first
        phrase, prev_pitch = copy.copy(imp.situation.phrase), imp.prev_pitch
        score = float(first[steps[0].index])
        for a, b in zip(steps, steps[1:], strict=False):
            phrase.advance(a.pitch is not None, a.duration)
            prev_pitch = a.pitch if a.pitch is not None else prev_pitch
            cond = imp.condition(b.tick, prog.chord_at(b.tick), prev_pitch, phrase)
            score += float(log_softmax(cell.step_logits(a.index, cond), temperature)[b.index])
        scores.append(score)
    cell.state = saved
    return scores, entropy


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """log softmax(logits / temperature), a new array."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def value_index(vocab, pitch: int | None, prev: int | None, chord, duration: int, anchor: bool) -> int | None:
    """The vocabulary index of the value that plays ``pitch`` after ``prev`` over ``chord`` for ``duration``
    ticks (either value design), None when the model does not know that exact value."""
    if isinstance(vocab, degrees.DegreeVocabulary):
        if pitch is None:
            value = degrees.Degree(None, duration)
        else:
            move = None if anchor or prev is None else degrees.move_of(pitch, prev)
            value = degrees.Degree(degrees.degree_of(pitch, chord), duration, move)
    elif pitch is None:
        value = Value("R", duration)
    else:
        leap = None if anchor or prev is None else fold_leap(pitch - prev)
        value = Value(classify(pitch, chord), duration, leap)
    index = vocab.index(value)
    return index if vocab.values[index] == value else None


def _root_at(imp: Improviser):
    chord_at = imp.progression.chord_at
    return lambda tick: chord_at(tick).root


def _salience(pool: Sequence[Cell], events, tick: int, window: int) -> np.ndarray:
    """How likely each remembered cell is to be taken up (sums to 1): a cell that begins a phrase (after
    a rest) or on a beat is heard as an idea, and a recent one is still in the ear."""
    line = list(events)
    starts = {e[0] for i, e in enumerate(line) if e[2] is not None and (i == 0 or line[i - 1][2] is None)}
    w = np.array([(3.0 if c.onsets[0] in starts else 1.0) * (1.0 + (c.onsets[0] % TICKS_PER_BEAT == 0))
                  * (2.0 - (tick - c.onsets[0]) / window) for c in pool])
    return w / w.sum()


def _guide_tone(imp: Improviser, tick: int) -> bool:
    """The chord changes here and the line sits on the old chord's b7: leave its resolution to the line."""
    prog, prev = imp.progression, imp.prev_pitch
    old, new = prog.chord_at(tick - 1), prog.chord_at(tick)
    if prev is None or tick <= 0 or old == new or old.root is None:
        return False
    return (prev - old.root) % 12 == 10


def _step_way(imp: Improviser) -> int:
    """A sequence steps towards the register target: down when the line is above it, else up."""
    prev = imp.prev_pitch
    return -1 if prev is not None and prev > imp.shaper.centre else 1


__all__ = ["Cell", "MotifMemory", "MotifSettings", "PlanStep", "Restatement", "likelihoods", "value_index"]
