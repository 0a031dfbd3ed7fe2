"""`improv generate --audio` for 32 bars (issue 11; target <= 5 s), against a baseline in the same run.

* the command: ``python -m improv generate --bars 32 --band all --audio FILE.wav`` (F Blues, 120 BPM,
  66 s of audio), wall and CPU seconds (the child's user + system time: the figure that holds on a loaded
  machine), median of ``RUNS``, on a warm venv (one untimed run first);
* baseline: what a user would run without ``--audio``: the same ``improv generate`` writing the MIDI
  file, then the ``fluidsynth`` command's fast file renderer on it (``fluidsynth -ni -F FILE.wav``, the
  same soundfont, rate and gain), both timed together;
* where the time goes: each stage of the command timed in this process (perf_counter and process_time),
  the interpreter's start and the imports in a fresh child; the soundfont's load both ways (every sample,
  or only the presets in use, which ``--audio`` does).

The load average is reported beside: wall times on a loaded 2-core machine are several times the CPU
times. Run: ``python -m benchmarks.bench_render`` (env BENCH_RUNS, default 3).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BARS = 32
PY = sys.executable
IMPORTS = "import improv.cli, improv.cli.generate, improv.generate, improv.synth, fluidsynth"


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(*commands: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of running ``commands`` one after the other (each must exit 0), with their
    byte code written and read as in a user's venv."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wall, cpu = time.perf_counter(), _child_cpu()
    for cmd in commands:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {done.stderr[-300:]}")
    return time.perf_counter() - wall, _child_cpu() - cpu


def _generate(mid: Path, wav: Path | None) -> list[str]:
    cmd = [PY, "-m", "improv", "generate", "--out", str(mid), "--bars", str(BARS), "--band", "all",
           "--seed", "1"]
    return cmd + (["--audio", str(wav)] if wav else [])


def _fluidsynth(mid: Path, wav: Path) -> list[str]:
    from improv.synth import GAIN, SAMPLE_RATE, find_soundfont

    return ["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(SAMPLE_RATE), "-g", str(GAIN),
            str(find_soundfont()), str(mid)]


def commands(tmp: Path) -> dict:
    """The command and the baseline, median wall and CPU seconds of ``RUNS`` each (interleaved)."""
    mid, wav = tmp / "r.mid", tmp / "r.wav"
    _timed(_generate(mid, wav))  # warm: byte code, the page cache
    ours, base = [], []
    for _ in range(RUNS):
        ours.append(_timed(_generate(mid, wav)))
        if shutil.which("fluidsynth"):
            base.append(_timed(_generate(mid, None), _fluidsynth(mid, tmp / "base.wav")))
    out = {"generate_audio": _medians(ours)}
    if base:
        out["baseline_generate_then_fluidsynth_F"] = _medians(base)
    return out


def _medians(runs: list[tuple[float, float]]) -> dict:
    return {"wall_s": round(statistics.median(w for w, _ in runs), 3),
            "cpu_s": round(statistics.median(c for _, c in runs), 3)}


class _Stages:
    """perf_counter and process_time per stage, in order."""

    def __init__(self) -> None:
        self.out: dict[str, dict] = {}
        self._mark = (time.perf_counter(), time.process_time())

    def done(self, name: str) -> None:
        wall, cpu = time.perf_counter() - self._mark[0], time.process_time() - self._mark[1]
        self.out[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
        self._mark = (time.perf_counter(), time.process_time())


def stages(tmp: Path) -> dict:
    """Each stage of a 32-bar `generate --audio`, in this process, one after the other (the command
    loads the soundfont on a thread while the notes are made)."""
    start = _timed([PY, "-c", "pass"])
    imports = _timed([PY, "-c", IMPORTS])
    from improv.generate import band_notes, build_improviser, generate_solo, load_model, solo_to_midi
    from improv.synth import Synth, midi_events, render_events, write_wav
    from improv.theory import tunes

    tune = tunes.find_tune("F Blues")
    watch = _Stages()
    model = load_model()
    watch.done("model load")
    improviser = build_improviser(tune.progression, model=model, tempo=120.0)
    notes = generate_solo(improviser, BARS)
    watch.done("solo (model steps)")
    band = band_notes(tune.progression, BARS, seed=1, tempo=120.0, swing=0.5)
    watch.done("band")
    mid = solo_to_midi(notes, tune.progression, tempo=120.0, bars=BARS, band=band)
    mid.save(tmp / "s.mid")
    watch.done("MIDI file build and save")
    Synth(**{"synth.dynamic-sample-loading": 0}).close()
    watch.done("soundfont load, every sample (before)")
    synth = Synth()
    watch.done("soundfont load, presets in use")
    events = midi_events(mid)
    watch.done("MIDI events")
    audio, rate = render_events(events, synth=synth)
    watch.done(f"render {len(audio) / 2 / rate:.0f} s of audio")
    write_wav(tmp / "s.wav", audio, rate)
    watch.done("WAV write")
    return {"python start (child)": _medians([start]),
            "imports (child, start included)": _medians([imports]), **watch.out}


def run() -> dict:
    try:
        import fluidsynth  # noqa: F401

        from improv.synth import find_soundfont

        find_soundfont()
    except Exception as exc:  # noqa: BLE001 - no synth here: nothing to measure
        return {"skipped": f"FluidSynth or a soundfont is missing: {str(exc)[:120]}"}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        load = round(os.getloadavg()[0], 1)
        result = {"load_average_1min": load, "bars": BARS, "runs": RUNS, **commands(tmp)}
        result["stages"] = stages(tmp)
        result["load_average_1min_after"] = round(os.getloadavg()[0], 1)
    return result


def markdown(result: dict) -> str:
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    rows = [f"`improv generate --bars {result['bars']} --band all --audio`, median of {result['runs']} "
            f"(load average {result['load_average_1min']} -> {result['load_average_1min_after']}; "
            "target <= 5 s):", "", "| | wall s | CPU s |", "|---|---|---|"]
    for key in ("generate_audio", "baseline_generate_then_fluidsynth_F"):
        if key in result:
            rows.append(f"| {key.replace('_', ' ')} | {result[key]['wall_s']} | {result[key]['cpu_s']} |")
    rows += ["", "| stage | wall s | CPU s |", "|---|---|---|"]
    rows += [f"| {name} | {v['wall_s']} | {v['cpu_s']} |" for name, v in result["stages"].items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
