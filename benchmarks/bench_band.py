"""Rhythm-section benchmark (issue 11): the band's musical bars over every built-in tune, against a baseline.

For each tune (16 built-in tunes, 2 choruses, seeds 0..2) the band (``improv.perform.band``) plays, and the
notes are judged here, independently of how the parts chose them:

* bass: a chord tone (or the written slash bass) on beats 1 and 3 (beat 1 in odd meters); an approach into
  a change = the last bass note before the change is 1 or 2 semitones from the note on the change;
* comp: each attack (notes with one onset) holds the 3rd and the 7th (6th) of the chord at the attack or an
  eighth later (a push); the top voice moves <= 2 semitones between attacks of different chords; attacks per
  bar and the share off the beat;
* drums: 3 or more snare/tom notes in the last two beats of the bar before each form section (and, as a
  check, in the other bars: fills where there should be none).

The baseline is what ``improv generate`` wrote before the band: the root held under each chord and a block
chord on each change. Timings: the band's notes for 32 bars, and a 32-bar ``--audio`` render through
FluidSynth (when pyfluidsynth and a soundfont are installed), in-process after a warm-up: wall and CPU time
(the CPU figure holds on a loaded machine), with the load average. Run: ``python -m benchmarks.bench_band``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from improv.cli.options import FEEL_SWING
from improv.perform.band import Band, BandNote, Feel, Form, groove_of
from improv.theory import tunes
from improv.theory.timing import TICKS_PER_BEAT

TARGETS = {"bass_strong_chord_tone": 0.90, "bass_approach": 0.50, "comp_guide_tones": 0.95,
           "comp_top_step": 0.70, "drum_fills": 0.80}
FILL_DRUMS = {38, 40, 41, 43, 45, 47, 48, 50}
SEEDS = (0, 1, 2)
CHORUSES = 2


def _chord(form: Form, beat: float):
    return form.span_at(int(round(beat * TICKS_PER_BEAT))).chord


def judge_bass(notes: list[BandNote], form: Form, bars: int) -> dict:
    by_onset = {round(n.onset, 3): n for n in notes}
    strong = [0, 2] if form.beats_per_bar == 4 else [0]
    hits = total = 0
    for bar in range(bars):
        for beat in strong:
            onset = bar * form.beats_per_bar + beat
            chord = _chord(form, onset)
            note = by_onset.get(round(float(onset), 3))
            if chord.root is None or note is None:
                continue
            total += 1
            hits += note.pitch % 12 in chord.tones or note.pitch % 12 == chord.bass
    onsets = sorted(by_onset)
    approach = changes = 0
    for tick in _changes(form, bars):
        on = by_onset.get(round(tick / TICKS_PER_BEAT, 3))
        before = [o for o in onsets if o < tick / TICKS_PER_BEAT]
        if on is None or not before:
            continue
        changes += 1
        approach += abs(by_onset[before[-1]].pitch - on.pitch) in (1, 2)
    return {"strong": (hits, total), "approach": (approach, changes)}


def _changes(form: Form, bars: int) -> list[int]:
    """Ticks where the chord changes (a new chord, not a repeat of the same symbol)."""
    out, tick, end = [], 0, bars * form.bar_ticks
    prev = None
    while tick < end:
        span = form.span_at(tick)
        if prev is not None and span.chord.symbol != prev and span.chord.root is not None:
            out.append(span.start)
        prev, tick = span.chord.symbol, span.end
    return out


def _holds_guides(pcs: set[int], chord) -> bool:
    rel = {(pc - chord.root) % 12 for pc in chord.tones}
    third = next((i for i in (4, 3, 5, 2) if i in rel), None)
    seventh = next((i for i in (10, 11, 9) if i in rel), None)
    wanted = {(chord.root + i) % 12 for i in (third, seventh) if i is not None}
    return wanted <= pcs


def judge_comp(notes: list[BandNote], form: Form, bars: int) -> dict:
    groups: dict[float, list[int]] = defaultdict(list)
    for n in notes:
        groups[round(n.onset, 4)].append(n.pitch)
    held = total = steps = changes = offbeat = 0
    prev = None  # (chord symbol, top)
    for onset in sorted(groups):
        pcs = {p % 12 for p in groups[onset]}
        chords = [c for c in (_chord(form, onset), _chord(form, onset + 0.5)) if c.root is not None]
        match = next((c for c in chords if _holds_guides(pcs, c)), None)
        total += 1
        held += match is not None
        offbeat += abs(onset - round(onset)) > 0.01
        chord = match or (chords[0] if chords else None)
        top = max(groups[onset])
        if prev is not None and chord is not None and chord.symbol != prev[0]:
            changes += 1
            steps += abs(top - prev[1]) <= 2
        if chord is not None:
            prev = (chord.symbol, top)
    return {"guides": (held, total), "top": (steps, changes), "attacks": total, "bars": bars,
            "offbeat": (offbeat, total)}


def judge_drums(notes: list[BandNote], form: Form, bars: int) -> dict:
    per_bar: dict[int, int] = defaultdict(int)
    bpb = form.beats_per_bar
    for n in notes:
        bar, beat = divmod(n.onset, bpb)
        if n.pitch in FILL_DRUMS and beat >= bpb - 2 - 1e-6:
            per_bar[int(bar)] += 1
    fills = sections = extra = others = 0
    for bar in range(bars - 1):
        if form.section_starts(bar + 1):
            sections += 1
            fills += per_bar[bar] >= 3
        else:
            others += 1
            extra += per_bar[bar] >= 3
    return {"fills": (fills, sections), "extra": (extra, others)}


def baseline(form: Form, bars: int) -> dict[str, list[BandNote]]:
    """What generate wrote before the band: the root held per chord, a block chord per change."""
    bass, comp = [], []
    tick, end = 0, bars * form.bar_ticks
    while tick < end:
        span = form.span_at(tick)
        chord = span.chord
        on, length = span.start / TICKS_PER_BEAT, span.length / TICKS_PER_BEAT
        if chord.root is not None:
            pc = chord.bass if chord.bass is not None else chord.root
            bass.append(BandNote(on, length - 0.05, 36 + pc, 80, 2))
            base = 48 + chord.root if chord.root >= 4 else 60 + chord.root
            tones = sorted({(pc - chord.root) % 12 for pc in chord.tones} - {0}) or [4, 7]
            comp += [BandNote(on, length - 0.05, base + t, 64, 1) for t in tones]
        tick = span.end
    return {"bass": bass, "comp": comp, "drums": []}


def _add(totals: dict, key: str, pair: tuple[int, int]) -> None:
    a, b = totals.get(key, (0, 0))
    totals[key] = (a + pair[0], b + pair[1])


def judge(parts: dict[str, list[BandNote]], form: Form, bars: int, totals: dict,
          groove: str = "swing") -> None:
    """Add one band's measures to ``totals``; a bossa's root-fifth bass is not a walking line: its
    approach notes are not counted."""
    bass = judge_bass(parts["bass"], form, bars)
    comp = judge_comp(parts["comp"], form, bars)
    drums = judge_drums(parts["drums"], form, bars)
    _add(totals, "bass_strong_chord_tone", bass["strong"])
    if groove == "swing":
        _add(totals, "bass_approach", bass["approach"])
    _add(totals, "comp_guide_tones", comp["guides"])
    _add(totals, "comp_top_step", comp["top"])
    _add(totals, "comp_offbeat", comp["offbeat"])
    _add(totals, "comp_attacks_per_bar", (comp["attacks"], comp["bars"]))
    _add(totals, "drum_fills", drums["fills"])
    _add(totals, "drum_fills_elsewhere", drums["extra"])


def _ratios(totals: dict) -> dict:
    return {key: round(a / b, 3) if b else None for key, (a, b) in sorted(totals.items())}


def _timings() -> dict:
    tune = tunes.find_tune("F Blues")
    times = []
    for seed in range(5):
        t0 = time.perf_counter()
        Band(tune.progression, np.random.default_rng(seed), feel=Feel(120, 0.5)).notes(32)
        times.append(time.perf_counter() - t0)
    out = {"band_32_bars_ms": round(statistics.median(times) * 1000, 1)}
    out.update(_render_timing())
    return out


def _render_timing() -> dict:
    """A 32-bar `improv generate --audio` (band all), wall time in-process, when the synth is installed."""
    from improv.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        wav, mid = Path(tmp) / "b.wav", Path(tmp) / "b.mid"
        times, cpu = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            code = main(["generate", "--out", str(mid), "--bars", "32", "--band", "all", "--audio", str(wav)])
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            if code != 0:
                return {"generate_audio_32_bars_s": f"not available (exit {code})"}
    import os

    return {"generate_audio_32_bars_s": round(statistics.median(times), 2),
            "generate_audio_32_bars_cpu_s": round(statistics.median(cpu), 2), "target_s": 5.0,
            "load_average_1min": round(os.getloadavg()[0], 1)}


def run() -> dict:
    totals: dict = {}
    base: dict = {}
    grooves: dict = {}
    names = [t.title for t in tunes.builtin_tunes()]
    for title in names:
        tune = tunes.find_tune(title)
        sections = tunes.form_sections(tune.form, tune.progression.bar_count)
        form = Form(tune.progression, sections)
        bars = CHORUSES * tune.progression.bar_count
        groove = groove_of(tune.feel, tune.style)
        swing = tune.swing if tune.swing is not None else FEEL_SWING.get(tune.feel, 0.5)
        feel = Feel(float(tune.tempo), swing, groove)
        grooves[groove] = grooves.get(groove, 0) + 1
        for seed in SEEDS:
            band = Band(tune.progression, np.random.default_rng(seed), feel=feel, sections=sections)
            judge(band.notes(bars), form, bars, totals, groove)
        judge(baseline(form, bars), form, bars, base, groove)
    return {"tunes": len(names), "grooves": grooves, "seeds": len(SEEDS), "choruses": CHORUSES,
            "band": _ratios(totals),
            "baseline": _ratios(base), "targets": TARGETS, "timings": _timings()}


def markdown(result: dict) -> str:
    rows = ["| measure | band | baseline (block chords, held roots) | target |", "|---|---|---|---|"]
    for key, value in result["band"].items():
        target = TARGETS.get(key, "1..3" if key == "comp_attacks_per_bar" else "")
        rows.append(f"| {key} | {value} | {result['baseline'].get(key)} | {target} |")
    timing = "\n".join(f"- {k}: {v}" for k, v in result["timings"].items())
    grooves = ", ".join(f"{n} {g}" for g, n in sorted(result["grooves"].items()))
    return (f"{result['tunes']} tunes ({grooves}) x {result['seeds']} seeds x {result['choruses']} choruses"
            " (the bass approach counts the walking (swing) tunes only).\n\n"
            + "\n".join(rows) + "\n\n" + timing)


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
