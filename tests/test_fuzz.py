"""Fuzz every input improv reads: exit 0 or 2, one short message, never a traceback, bounded time.

Seeded and bounded: each family mutates a few valid inputs (chord text, MIDI bytes, iReal playlists,
MusicXML lead sheets, tune files, play configs, session logs, model directories) ``CASES`` times and
runs the command a user would. Most cases go through an in-process driver (``improv.cli.main`` with
stdout, stderr and logging captured; argparse's exit is the exit code) to stay fast; the first
``SUBPROCESS`` cases of every family run ``python -m improv`` in a real subprocess. Every case must
exit 0 or 2 with no traceback, at most 3 lines and 400 characters on stderr, within 10 s of CPU
(CPU time, not wall time: the bound is on the work, and holds on a busy machine).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import pytest
from modelkit import random_model_dir

from improv.charts import ireal_url
from improv.cli import main
from improv.errors import excerpt

SEED = 20261201
SUBPROCESS = 2  # cases per family run as real subprocesses
MAX_SECONDS = 10.0
MAX_LINES, MAX_CHARS = 3, 400
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as improv.cli.main sets it up

JUNK = list("()[]{}|/\\:%#+-^ob,.=*!?0123456789 \t\n") + ["♭", "♯", "Δ", "ø", "°", "\x00", "\x7f", "é",
                                                         "maj", "sus", "alt", "add", "7", "9", "13",
                                                         "N.C.", "|:", ":|", "time=", "key=", "[3/4]"]
NUMBERS = ["0", "-1", "1", "99999", "1e308", "nan", "inf", "-0", "2147483648", "007", "4.5", ""]


@dataclass
class Outcome:
    code: int | None
    stderr: str
    seconds: float
    crash: str = ""


def run_in_process(argv: list[str]) -> Outcome:
    """``improv ARGV`` through ``main``, as the console script runs it, everything captured."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers, root.level = [handler], logging.WARNING
    start = time.process_time()  # CPU seconds: bounded work, whatever the load on the machine
    crash, code = "", None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")  # what python prints for a user
            code = main(argv)
        for warning in caught:
            err.write(warnings.formatwarning(warning.message, warning.category, warning.filename,
                                             warning.lineno))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except BaseException:  # what a user would see as a traceback
        crash = traceback.format_exc()
    finally:
        root.handlers, root.level = saved, level
    return Outcome(code, err.getvalue() + crash, time.process_time() - start, crash)


class Subprocess:
    """``python -m improv ARGV`` started now (so it runs while the in-process cases do)."""

    def __init__(self, argv: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), IMPROV_MIDI_API="nosuchapi")
        self.err = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-m", "improv", *argv], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=self.err, env=env)

    def outcome(self) -> Outcome:
        """Wait (a hang is killed after a minute); seconds are the child's CPU time (load-proof)."""
        deadline = time.monotonic() + 6 * MAX_SECONDS
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.process.kill()
                pid, status, usage = os.wait4(self.process.pid, 0)
                return Outcome(None, "", 6 * MAX_SECONDS, "timeout")
            time.sleep(0.02)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.err.seek(0)
        stderr = self.err.read().decode("utf-8", "replace")
        self.err.close()
        return Outcome(self.process.returncode, stderr, usage.ru_utime + usage.ru_stime)


def problems(outcome: Outcome) -> list[str]:
    found = []
    if outcome.crash or "Traceback" in outcome.stderr:
        found.append("traceback")
    if outcome.code not in (0, 2):
        found.append(f"exit {outcome.code}")
    lines = outcome.stderr.rstrip("\n").count("\n") + 1 if outcome.stderr.strip() else 0
    if lines > MAX_LINES or len(outcome.stderr) > MAX_CHARS:
        found.append(f"stderr {lines} lines, {len(outcome.stderr)} characters")
    if outcome.seconds > MAX_SECONDS:
        found.append(f"{outcome.seconds:.1f} s")
    return found


# ------------------------------------------------------------------------------------ mutators


def mutate_text(rng: random.Random, text: str, rounds: int = 3) -> str:
    for _ in range(rng.randint(1, rounds)):
        pos = rng.randint(0, len(text))
        op = rng.randrange(7)
        if op == 0:
            text = text[:pos] + rng.choice(JUNK) + text[pos:]
        elif op == 1:
            text = text[:pos] + text[pos + rng.randint(1, 8):]
        elif op == 2:
            piece = text[pos:pos + rng.randint(1, 12)]
            text = text[:pos] + piece * rng.randint(2, 400) + text[pos:]
        elif op == 3:
            text = text[:pos]
        elif op == 4:
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if digits:
                i = rng.choice(digits)
                text = text[:i] + rng.choice(NUMBERS) + text[i + 1:]
        elif op == 5:
            text = text[:pos] + chr(rng.randint(0, 0x2FF)) + text[pos:]
        else:
            a, b = sorted(rng.sample(range(len(text) + 1), 2)) if len(text) > 1 else (0, 0)
            text = text[:a] + text[b:] + text[a:b]
    return text


def mutate_bytes(rng: random.Random, data: bytes, rounds: int = 3) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        pos = rng.randrange(max(1, len(data)))
        op = rng.randrange(5)
        if op == 0 and data:
            data[pos] = rng.randrange(256)
        elif op == 1:
            del data[pos:]
        elif op == 2:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 3:
            data[pos:pos] = b"\xff\xff\xff\x7f"  # the largest delta time
        elif op == 4 and len(data) > 14:
            data[12:14] = rng.choice([b"\x00\x00", b"\xe7\x28", b"\x7f\xff", b"\x00\x01"])
    return bytes(data)


def json_value(rng: random.Random):
    return rng.choice([None, True, -1, 0, 1, 2**63, 10**9, 1.5, float("nan"), float("inf"), "", "x" * 500,
                       "C7((((", [], [1, 2, 3], {}, {"type": "x"}, [[0, 6, 60, 90]]])


def mutate_json(rng: random.Random, data):
    """Set, delete or retype one value somewhere in a JSON structure (in place where possible)."""
    container, key = None, None
    node = data
    for _ in range(rng.randint(1, 4)):
        if isinstance(node, dict) and node:
            container, key = node, rng.choice(list(node))
        elif isinstance(node, list) and node:
            container, key = node, rng.randrange(len(node))
        else:
            break
        node = container[key]
        if not isinstance(node, dict | list) or rng.random() < 0.4:
            break
    if container is None:
        return json_value(rng)
    if isinstance(container, dict) and rng.random() < 0.3:
        del container[key]
    else:
        container[key] = json_value(rng)
    return data


# ------------------------------------------------------------------------------------ families


@dataclass
class Case:
    argv: list[str]
    shown: str  # what the input was, for the failure report


def _write(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    return path


PROGRESSIONS = ["Dm7 G7 | Cmaj7 %", "|: F7 | Bb7 | F7 | C7 :|", "key=F time=3/4 C7:2 F7:1 | Bb7",
                "[3/4] Cm7 / F7 | Bbmaj7 | Am7b5 D7b9 | Gm6", "C7(b9,#11) | E7alt | A-7 | Dsus4 G13"]


def chords(rng, tmp, index, model):
    text = mutate_text(rng, rng.choice(PROGRESSIONS))
    if index % 3 == 2:
        return Case(["generate", "--changes", text, "--model", str(model), "--bars", "1", "--out",
                     str(tmp / "x.mid")], text)
    return Case(["changes", text], text)


def _base_midi(tmp: Path) -> bytes:
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    melody, comp = mido.MidiTrack(), mido.MidiTrack()
    melody.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    for i in range(16):
        melody += [mido.Message("note_on", note=60 + i % 7, velocity=90, time=0 if i % 3 else 120),
                   mido.Message("note_off", note=60 + i % 7, velocity=0, time=240)]
    for root in (50, 55, 48, 53):
        comp += [mido.Message("note_on", note=root + k, velocity=70, time=0, channel=1) for k in (0, 4, 7)]
        comp += [mido.Message("note_off", note=root + k, velocity=0, time=1920 if k == 0 else 0, channel=1)
                 for k in (0, 4, 7)]
    mid.tracks += [melody, comp]
    mid.save(tmp / "base.mid")
    return (tmp / "base.mid").read_bytes()


def midi_bytes(rng, tmp, index, model):
    data = mutate_bytes(rng, _base_midi(tmp))
    path = _write(tmp, f"f{index}.mid", data)
    # --no-bands: the reference bands are a one-off cached computation (11 s cold), not input handling
    command = ["corpus", "--no-cache"] if index % 2 else ["evaluate", "--no-bands"]
    return Case([*command, str(path)], f"{len(data)} bytes")


def _playlist(charts: list[str]) -> str:
    fields = []
    for n, chart in enumerate(charts):
        fields += [f"Tune {n}", "Me", "", "Medium Swing", "C", "n", ireal_url.scramble(chart), "0", "0", "0"]
    url = "irealb://" + "=".join([*fields, "Fuzz"])
    return f'<a href="{urllib.parse.quote(url, safe=":/=")}">x</a>'


CHARTS = ["[T44C^7 |A-7 |D-7 |G7 Z", "{*AT34F7 |Bb7 |N1F7 |C7 }[N2F7 ZY", "[T44C-7 F7|Bb^7 x |Eh7 A7b9|D-6 Z",
          "*A[T44D-7 G7 |C^7 (A7) |  <3x> Z"]


def playlists(rng, tmp, index, model):
    if index % 2:
        text = mutate_text(rng, (DATA / "ireal" / "playlist.html").read_text())
    else:
        text = _playlist([mutate_text(rng, chart) for chart in rng.sample(CHARTS, 2)])
    path = _write(tmp, f"p{index}.html", text)
    return Case(["generate", "--library", str(path), "--model", str(model), "--bars", "1", "--out",
                 str(tmp / "x.mid")], excerpt(text, 80))


def leadsheets(rng, tmp, index, model):
    text = (DATA / "leadsheet.musicxml").read_text()
    for tag in rng.sample(["beats", "beat-type", "duration", "divisions", "root-step", "kind", "alter"], 2):
        start = text.find(f"<{tag}")
        if start >= 0:
            end = text.find(f"</{tag}>", start)
            close = text.find(">", start) + 1
            text = text[:close] + rng.choice(NUMBERS + ["C", "major", "dominant", "x" * 50]) + text[end:]
    if rng.random() < 0.5:
        text = mutate_text(rng, text, 2)
    path = _write(tmp, f"l{index}.musicxml", text)
    return Case(["generate", "--library", str(path), "--model", str(model), "--bars", "1", "--out",
                 str(tmp / "x.mid")], "lead sheet")


def tune_files(rng, tmp, index, model):
    sources = sorted((ROOT / "improv" / "data" / "tunes").glob("*.toml"))
    text = mutate_text(rng, rng.choice(sources).read_text(encoding="utf-8"))
    path = _write(tmp, f"t{index}.toml", text)
    return Case(["changes", str(path)], excerpt(text, 80))


def configs(rng, tmp, index, model):
    text = mutate_text(rng, (ROOT / "configs" / "default.toml").read_text(encoding="utf-8"))
    path = _write(tmp, f"c{index}.toml", text)
    return Case(["play", "--config", str(path), "--model", str(model), "--port",
                 "no-such-port-zz"], excerpt(text, 80))


def _log_records(model: Path) -> list[dict]:
    from improv.model.store import model_hash
    from improv.perform.log import progression_record
    from improv.perform.performer import PerformerSettings
    from improv.theory.progression import parse_progression

    return [
        {"type": "header", "version": 1, "seed": 3, "model": str(model), "model_hash": model_hash(model),
         "progression": progression_record(parse_progression("Dm7 G7 | Cmaj7"), None),
         "follow_chords": True, "chords_sticky": False, "performer": vars(PerformerSettings(mode="respond")),
         "channel": 0, "end": 16.0, "tempo": 120.0,
         "options": {"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0, "velocity": None}},
        {"type": "input", "beat": 0.5, "msg": [144, 60, 90]},
        {"type": "event", "step": 0, "event": {"type": "phrase", "notes": [[6, 6, 60, 90]], "answer": 15,
                                               "length": 12}},
        {"type": "event", "step": 2, "event": {"type": "param", "param": "mode", "value": "solo"}},
        {"type": "event", "step": 3, "event": {"type": "chord", "tick": 48, "symbol": "G7"}},
        {"type": "skip", "note": 1, "why": "late"},
        {"type": "cut", "note": 2, "offset": 3.5},
        {"type": "end", "notes": 6, "reason": "stop"},
    ]


def session_logs(rng, tmp, index, model):
    records = _log_records(model)
    if rng.random() < 0.8:
        records = mutate_json(rng, records)
    lines = [json.dumps(r) for r in records] if isinstance(records, list) else [json.dumps(records)]
    if rng.random() < 0.3 and lines:
        line = rng.randrange(len(lines))
        lines[line] = mutate_text(rng, lines[line], 2)
    path = _write(tmp, f"s{index}.jsonl", "\n".join(lines) + "\n")
    return Case(["replay", str(path), "--out", str(tmp / "x.mid")], excerpt(" ".join(lines), 120))


def model_dirs(rng, tmp, index, model):
    path = random_model_dir(tmp / f"m{index}", units=8)
    kind = rng.randrange(4)
    if kind == 0:
        cell = path / "cell.npz"
        cell.write_bytes(mutate_bytes(rng, cell.read_bytes()))
    elif kind == 1:
        with np.load(path / "cell.npz") as data:
            arrays = {name: data[name] for name in data.files}
        name = rng.choice(sorted(arrays))
        arrays[name] = rng.choice([arrays[name][:-1], arrays[name].astype(np.int16), arrays[name] * np.nan,
                                   np.zeros(3), arrays[name].T, np.array("text")])
        if rng.random() < 0.2:
            del arrays[name]
        np.savez(path / "cell.npz", **arrays)
    elif kind == 2:
        vocab = json.loads((path / "vocab.json").read_text())
        (path / "vocab.json").write_text(json.dumps(mutate_json(rng, vocab)))
    else:
        victim = path / rng.choice(["vocab.json", "card.json", "cell.npz"])
        victim.write_bytes(mutate_bytes(rng, victim.read_bytes()) if rng.random() < 0.7 else b"")
    return Case(["generate", "--model", str(path), "--bars", "1", "--out", str(tmp / "x.mid")], str(kind))


FAMILIES: dict[str, tuple[Callable, int]] = {  # name -> (case maker, cases)
    "chord text": (chords, 90),
    "MIDI bytes": (midi_bytes, 60),
    "playlists": (playlists, 40),
    "lead sheets": (leadsheets, 16),
    "tune files": (tune_files, 40),
    "configs": (configs, 40),
    "session logs": (session_logs, 50),
    "model directories": (model_dirs, 40),
}


@pytest.fixture(scope="module")
def fuzz_model(tmp_path_factory):
    return random_model_dir(tmp_path_factory.mktemp("fuzz-model"), units=8)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzz(family, tmp_path, fuzz_model, monkeypatch):
    make, count = FAMILIES[family]
    monkeypatch.setenv("IMPROV_MIDI_API", "nosuchapi")  # play stops at the MIDI system, never opens a port
    rng = random.Random(f"{SEED}-{family}")
    cases = [make(rng, tmp_path, index, fuzz_model) for index in range(count)]
    children = [Subprocess(case.argv) for case in cases[:SUBPROCESS]]
    outcomes = [run_in_process(case.argv) for case in cases[SUBPROCESS:]]
    outcomes[:0] = [child.outcome() for child in children]
    failures = []
    for index, (case, outcome) in enumerate(zip(cases, outcomes, strict=True)):
        found = problems(outcome)
        if found:
            tail = (outcome.crash or outcome.stderr).strip().splitlines()[-1:] or [""]
            failures.append(f"case {index} {excerpt(case.shown, 80)}: {', '.join(found)}: {tail[0][:200]}")
    assert not failures, f"{len(failures)} of {count} {family} cases failed:\n" + "\n".join(failures[:12])
