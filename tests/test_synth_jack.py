"""`improv play --synth` live: FluidSynth's JACK audio driver into the test server, recorded by a separate
JACK audio client. What improv sends (its JSON events) becomes sound: attacks where the MIDI went, and
silence once improv stops."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from audiokit import JackRecorder, db, envelope, match, onsets
from conftest import dumped_bytes

pytestmark = pytest.mark.jack

pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth not installed")
pytest.importorskip("jack", reason="the JACK-Client package is not installed")


def _play(jack, tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    events = tmp_path / "events.jsonl"
    cmd = [sys.executable, "-m", "improv", "play", "--synth", "--audio-driver", "jack", "--seed", "5",
           "--session-log", str(tmp_path / "s.jsonl"), "--json-events", str(events), *args]
    result = subprocess.run(cmd, env=jack.env(), capture_output=True, text=True, timeout=120)
    lines = events.read_text().splitlines() if events.exists() else []
    return result, [json.loads(line) for line in lines]


def test_the_quartet_is_heard_through_jack(jack, tmp_path):
    from improv.synth import find_soundfont

    try:
        find_soundfont()
    except Exception as exc:  # noqa: BLE001 - no soundfont installed: say so
        pytest.skip(str(exc))
    recorder = JackRecorder("fluidsynth", seconds=60)
    try:
        result, events = _play(jack, tmp_path, "--band", "all", "--bars", "4", "--tempo", "150",
                               "--record", str(tmp_path / "rec.mid"))
        time.sleep(0.5)
    finally:
        audio = recorder.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert recorder.connected, "FluidSynth's JACK ports never appeared"
    ons = [e for e in events if e["msg"][0] & 0xF0 == 0x90 and e["msg"][2] > 0]
    channels = {e["msg"][0] & 0x0F for e in ons}
    assert channels == {0, 1, 2, 9}  # solo, bass, comp, drums
    rate = recorder.rate
    assert db(np.abs(audio).max()) > -30  # it sounds
    # attacks where the MIDI schedule says: nearly every detected onset follows a note-on within 60 ms,
    # far more than when the schedule is moved by half a beat (what chance alone would explain)
    sent = sorted({round(recorder.seconds_of(e["t"]), 3) for e in ons})
    found = [t for t in onsets(audio, rate) if t > sent[0] - 0.05]

    def explained(shift: float) -> float:
        hits, _ = match(found, [t + shift for t in sent], early=0.06, late=0.004)
        return len(hits) / len(found)

    _, lags = match(found, sent, early=0.06, late=0.004)
    assert len(found) >= 12 and explained(0.0) >= 0.8, (found, sent)
    assert explained(0.0) - max(explained(-0.2), explained(0.2)) >= 0.3
    beats = sorted({round(recorder.seconds_of(e["t"]), 2) for e in ons if e["msg"][0] & 0x0F == 9})
    heard, _ = match(beats, found, early=0.004, late=0.04)
    assert len(heard) >= 0.6 * len(beats)  # the drums' beats (soft ride and feathered kick under the
    # comping and the bass: 0.76 measured here) show as attacks
    # silence once improv stops: after the panic (All Sound Off) the synth's output dies away
    last = max(e["t"] for e in events)
    env = envelope(audio, rate)
    after = env[int((recorder.seconds_of(last) + 0.3) / 0.002):]
    assert len(after) > 100 and db(after.max()) < -60
    print(f"send -> attack: median {-1000 * float(np.median(lags)):.1f} ms over {len(lags)} attacks")
    # the band is deterministic from the seed: `improv replay` plays it again, note for note
    out = tmp_path / "again.mid"
    again = subprocess.run([sys.executable, "-m", "improv", "replay", str(tmp_path / "s.jsonl"), "--out",
                            str(out)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    live = sorted((e["msg"][0] & 15, e["msg"][1], round(e["beat"], 2)) for e in ons if e["msg"][0] & 15)
    assert live == sorted(n for n in _note_ons(out) if n[0])
    assert live == sorted(n for n in _note_ons(tmp_path / "rec.mid") if n[0])  # and --record has it


def _note_ons(path) -> list[tuple[int, int, float]]:
    import mido

    mid = mido.MidiFile(path)
    found = []
    for track in mid.tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity:
                found.append((msg.channel, msg.note, round(now / mid.ticks_per_beat, 2)))
    return found


def test_missing_soundfont_is_one_line_exit_2(jack, tmp_path):
    cmd = [sys.executable, "-m", "improv", "play", "--synth", str(tmp_path / "none.sf2"), "--bars", "1"]
    bad = subprocess.run(cmd, env=jack.env(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "none.sf2" in bad.stderr and "Traceback" not in bad.stderr


def _connect_when_there(recorder: JackRecorder, prefix: str, target: str, timeout: float = 20.0) -> str:
    """Connect the first MIDI output whose name starts with ``prefix`` to ``target`` once both exist."""
    client = recorder.client
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outs = [p for p in client.get_ports(is_midi=True, is_output=True) if p.name.startswith(prefix)]
        ins = [p.name for p in client.get_ports(is_midi=True, is_input=True)]
        if outs and target in ins:
            client.connect(outs[0], target)
            return outs[0].name
        time.sleep(0.005)
    raise AssertionError(f"no MIDI output {prefix}* or no {target} appeared")


def test_fluidsynth_as_a_separate_jack_synth_fed_by_the_port(jack, tmp_path):
    """As a user with a synth would: `fluidsynth -a jack -m jack` as its own JACK client, improv playing to
    its MIDI port with --port; jack_midi_dump (jackd2's) records the same MIDI beside FluidSynth's audio."""
    import shutil

    if shutil.which("fluidsynth") is None or shutil.which("jack_midi_dump") is None:
        pytest.skip("the fluidsynth command (apt-get install fluidsynth) or jack_midi_dump is missing")
    from improv.synth import find_soundfont

    try:
        soundfont = find_soundfont()
    except Exception as exc:  # noqa: BLE001 - no soundfont installed: say so
        pytest.skip(str(exc))
    fluid = ["fluidsynth", "-a", "jack", "-m", "jack", "-i", "-s", "-o", "audio.jack.id=fsynth",
             "-o", "midi.jack.id=fsynth", "-o", "audio.jack.autoconnect=0", str(soundfont)]
    # SDL_AUDIODRIVER=dummy: the fluidsynth command initialises SDL2 audio, whose ALSA backend starts a
    # hotplug thread at nice 19; that thread, the last to exit, then tears down the 250 MB fluidsynth has
    # locked (soundfont, JACK buffers) and on a busy machine took up to 11 s to exit after SIGTERM
    synth = subprocess.Popen(fluid, env=dict(jack.env(), SDL_AUDIODRIVER="dummy"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dump = subprocess.Popen(["stdbuf", "-oL", "jack_midi_dump", "-a", "dump"], env=jack.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    recorder = JackRecorder("fsynth", seconds=60)
    try:
        deadline = time.monotonic() + 20
        while len(recorder.connected) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(recorder.connected) == 2, "fluidsynth's audio ports never appeared"
        events = tmp_path / "events.jsonl"
        cmd = [sys.executable, "-m", "improv", "play", "--api", "jack", "--port", "fsynth", "--band", "all",
               "--bars", "4", "--tempo", "150", "--seed", "5", "--count-in", "1", "--json-events",
               str(events), "--session-log", str(tmp_path / "s.jsonl")]
        play = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        _connect_when_there(recorder, "improv", "dump:input")
        _, err = play.communicate(timeout=120)
        time.sleep(0.5)
    finally:
        audio = recorder.stop()
        for proc in (dump, synth):
            proc.terminate()
        out, _ = dump.communicate(timeout=10)
        synth.communicate(timeout=10)
    assert play.returncode == 0, err[-2000:]
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    sent_ons = [e["msg"] for e in sent if e["msg"][0] & 0xF0 == 0x90 and e["msg"][2] > 0]
    dumped = [dumped_bytes(line) for line in out.splitlines() if ":" in line]
    dumped_ons = [m for m in dumped if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0]
    assert dumped_ons and dumped_ons == sent_ons  # jack_midi_dump saw exactly what improv sent
    assert {m[0] & 0x0F for m in dumped_ons} == {0, 1, 2, 9}
    rate = recorder.rate
    assert db(np.abs(audio).max()) > -30
    times = sorted({round(recorder.seconds_of(e["t"]), 3) for e in sent if e["msg"][0] & 0xF0 == 0x90})
    # a jump of 2x, not onsets()'s 1.6: with the whole band mixed, a drum sample's decay re-triggered the
    # 1.6 detector 100-260 ms after its hit (6-8 of ~30 attacks, right at the 80 % line for some solos);
    # at 2x about 20 attacks are found and 95 % have their note-on (3 runs, 2026-12-02)
    found = [t for t in onsets(audio, rate, jump=2.0) if t > times[0] - 0.05]
    hits, lags = match(found, times, early=0.06, late=0.004)
    assert len(found) >= 12 and len(hits) >= 0.8 * len(found)
    print(f"separate fluidsynth: send -> attack median {-1000 * float(np.median(lags)):.1f} ms")
