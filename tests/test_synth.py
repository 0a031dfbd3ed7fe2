"""The FluidSynth output, offline: audio where the MIDI says, silence after the release, the same bytes."""

from __future__ import annotations

import wave
from pathlib import Path

import mido
import numpy as np
import pytest
from audiokit import db, envelope, match, onsets
from modelkit import run_improv

from improv.errors import InputError

fluidsynth = pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")

from improv import synth  # noqa: E402


def _soundfont() -> Path:
    try:
        return synth.find_soundfont()
    except InputError as exc:
        pytest.skip(str(exc))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth()) == (2, 2)
        data = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").reshape(-1, 2)
        return data.astype(np.float32) / 32768.0, f.getframerate()


def _file(notes: list[tuple[float, float, int, int, int]], tempo: float = 120.0) -> mido.MidiFile:
    """A one-track file from (onset, duration, pitch, velocity, channel) in beats."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    events = []
    for onset, duration, pitch, velocity, channel in notes:
        events.append((round(onset * 480), 1, mido.Message("note_on", note=pitch, velocity=velocity,
                                                           channel=channel)))
        events.append((round((onset + duration) * 480), 0, mido.Message("note_off", note=pitch,
                                                                        channel=channel)))
    now = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    mid.tracks.append(track)
    return mid


def test_render_has_attacks_where_the_file_says_and_silence_after_the_release(tmp_path):
    _soundfont()
    notes = [(1.0, 0.4, 60, 100, 0), (2.0, 0.4, 64, 100, 0), (3.0, 0.4, 67, 100, 1),
             (4.0, 0.2, 38, 110, 9), (5.0, 0.4, 36, 110, 1)]
    seconds = synth.render_midi(_file(notes), tmp_path / "a.wav")
    audio, rate = read_wav(tmp_path / "a.wav")
    assert rate == 44100 and seconds == pytest.approx(len(audio) / rate)
    env = envelope(audio, rate)
    assert db(env[: int(0.45 / 0.002)].max()) < -80  # nothing before the first note (0.5 s)
    expected = [onset * 0.5 for onset, *_ in notes]
    found = onsets(audio, rate)
    hits, lags = match(expected, found, early=0.004, late=0.015)
    assert hits == expected, (found, expected)
    assert all(t in hits for t in expected) and len(found) == len(expected)
    assert max(lags) <= 0.015
    last_off = max((on + dur) * 0.5 for on, dur, *_ in notes)
    assert db(env[int((last_off + 0.05) / 0.002)]) > -60  # the release still sounds just after
    tail = env[int((last_off + 1.5) / 0.002):]
    assert len(tail) > 50 and db(tail.max()) < -60  # and has died away 1.5 s later


def test_the_same_file_renders_to_the_same_bytes(tmp_path):
    _soundfont()
    mid = _file([(0.5 * k, 0.45, 48 + 3 * k, 90, k % 3) for k in range(12)])
    synth.render_midi(mid, tmp_path / "a.wav")
    synth.render_midi(mid, tmp_path / "b.wav")
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_generate_audio_is_byte_identical_for_a_seed_and_sounds_the_whole_form(tmp_path):
    _soundfont()
    outs = []
    for name, seed in (("a", "4"), ("b", "4"), ("c", "5")):
        wav = tmp_path / f"{name}.wav"
        result = run_improv("generate", "--out", str(tmp_path / f"{name}.mid"), "--bars", "12", "--seed",
                            seed, "--audio", str(wav), timeout=120)
        assert result.returncode == 0, result.stderr
        outs.append(wav.read_bytes())
    assert outs[0] == outs[1] and outs[0] != outs[2]
    audio, rate = read_wav(tmp_path / "a.wav")
    env = envelope(audio, rate)
    beat = 0.5  # F Blues at 120 BPM
    per_bar = [env[int(b * 4 * beat / 0.002): int((b + 1) * 4 * beat / 0.002)].max() for b in range(12)]
    assert min(db(level) for level in per_bar) > -30  # every bar sounds (bass, drums, comping)
    assert len(onsets(audio, rate)) >= 12 * 4  # at least a ride/bass attack on every beat


def test_replay_renders_a_session_log(tmp_path, tiny_model):
    from improv.cli import main
    from improv.model.store import model_hash
    from improv.perform.log import SessionLog, progression_record
    from improv.theory.progression import parse_progression

    _soundfont()
    log = SessionLog(tmp_path / "s.jsonl")
    log.header(seed=3, model=str(tiny_model), model_hash=model_hash(tiny_model),
               progression=progression_record(parse_progression("Dm7 | G7 | Cmaj7 | %"), None),
               follow_chords=False, chords_sticky=False,
               performer={"mode": "solo", "trade_bars": 4, "response_bars": None, "reseed_weight": 0.7},
               channel=0, end=16.0, tempo=120.0,
               options={"temperature": 0.9, "low": 52, "high": 84, "swing": 0.0, "velocity": None})
    log.close(notes=12)
    assert main(["replay", str(tmp_path / "s.jsonl"), "--audio", str(tmp_path / "jam.wav")]) == 0
    audio, rate = read_wav(tmp_path / "jam.wav")
    assert db(np.abs(audio).max()) > -30 and onsets(audio, rate)


def test_missing_soundfont_or_library_is_one_line_exit_2(tmp_path, monkeypatch):
    result = run_improv("generate", "--out", str(tmp_path / "x.mid"), "--bars", "2", "--audio",
                        str(tmp_path / "x.wav"), "--soundfont", str(tmp_path / "nope.sf2"), timeout=120)
    assert result.returncode == 2 and "nope.sf2" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    not_a_font = tmp_path / "bad.sf2"
    not_a_font.write_bytes(b"RIFF0000junk")
    with pytest.raises(InputError, match="bad.sf2"):
        synth.Synth(not_a_font)
    monkeypatch.setitem(__import__("sys").modules, "fluidsynth", None)  # as if it were not installed
    with pytest.raises(InputError, match="apt-get install libfluidsynth3"):
        synth.Synth()
