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


def _pitch_hz(audio: np.ndarray, rate: int) -> float:
    """The strongest frequency between 300 and 700 Hz of the left channel."""
    left = audio.reshape(-1, 2)[:, 0].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(left * np.hanning(len(left))))
    freqs = np.fft.rfftfreq(len(left), 1 / rate)
    band = (freqs > 300) & (freqs < 700)
    return float(freqs[band][np.argmax(spectrum[band])])


def test_send_plays_note_controller_and_bend_messages():
    _soundfont()

    def play(*messages: tuple[int, ...]) -> np.ndarray:
        s = synth.Synth()
        try:
            for message in messages:
                s.send(message)
            s.send((0x90, 69, 100))  # A4 on the piano
            s.samples(2205)  # past the attack
            return s.samples(44100)
        finally:
            s.close()

    plain, bent = play(), play((0xE0, 0x00, 0x60))  # bend +4096 of 8192: a semitone up (range 2)
    assert abs(_pitch_hz(plain, 44100) - 440.0) < 3
    assert abs(_pitch_hz(bent, 44100) - 440.0 * 2 ** (1 / 12)) < 3
    assert db(np.abs(play((0xB0, 7, 0))).max() / 32768) < -60  # channel volume 0
    s = synth.Synth()
    try:
        s.send((0x90, 69, 100))
        s.send((0x90, 69, 0))  # a note-on of velocity 0 ends the note
        s.samples(44100)
        assert s.fs.get_active_voice_count() == 0
    finally:
        s.close()


def test_midi_events_merge_the_tracks_and_apply_the_tempo_map_as_mido_does():
    mid = _file([(0.0, 1.0, 60, 90, 0), (1.0, 0.5, 64, 90, 1), (3.0, 1.0, 67, 90, 2)], tempo=100.0)
    second = mido.MidiTrack()
    second += [mido.Message("note_on", note=40, velocity=70, channel=3, time=480),
               mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150), time=0),
               mido.Message("note_off", note=40, channel=3, time=960)]
    mid.tracks.append(second)
    expected, now = [], 0.0
    for msg in mid:  # mido's own merge and tempo map
        now += msg.time
        if not msg.is_meta:
            expected.append((now, msg.bytes()))
    got = synth.midi_events(mid)
    assert [m for _, m in got] == [m for _, m in expected]
    assert [t for t, _ in got] == pytest.approx([t for t, _ in expected], abs=1e-9)
    assert got[-1][0] == pytest.approx(0.6 + 3 * 0.4)  # beat 4: one beat at 100 BPM, then three at 150
