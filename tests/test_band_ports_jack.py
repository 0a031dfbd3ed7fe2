"""--band-port through a real JACK server: each part arrives on its own port, recorded by its own client,
and every port is silenced at the end. Recorders: rtmidi JACK clients (conftest.Probe) and jackd2's
jack_midi_dump on the drums port."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from conftest import CONTROL, NOTE_ON, Probe, dumped_bytes, sounding

pytestmark = pytest.mark.jack


def _ons(messages, channel: int) -> list[tuple[int, ...]]:
    return [m for _, m in messages if m[0] == NOTE_ON | channel and m[2] > 0]


def _channels(messages) -> set[int]:
    return {m[0] & 0x0F for _, m in messages if m[0] < 0xF0}


def test_each_band_part_plays_on_its_own_port(jack, probe, tiny_model, tmp_path):
    bass, drums = Probe("bassrec"), Probe("drumrec")
    dump = None
    if shutil.which("jack_midi_dump"):  # an independent recorder on the drums port too
        dump = subprocess.Popen(["stdbuf", "-oL", "jack_midi_dump", "-a", "drumdump"], env=jack.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    events = tmp_path / "events.jsonl"
    cmd = [sys.executable, "-m", "improv", "play", "--api", "jack", "--virtual", "bandmain", "--model",
           str(tiny_model), "--tempo", "240", "--bars", "4", "--seed", "3", "--band", "all",
           "--band-port", "bass=bassrec", "--band-port", "drums=drumrec", "--band-port", "comp=drumdump",
           "--json-events", str(events), "--session-log", str(tmp_path / "s.jsonl")]
    if dump is None:
        cmd[cmd.index("comp=drumdump")] = "comp=drumrec"
    try:
        time.sleep(0.3)  # jack_midi_dump's port
        proc = subprocess.Popen(cmd, env=jack.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        probe.connect("improv:bandmain")
        _, err = proc.communicate(timeout=120)
        for recorder in (probe, bass, drums):
            recorder.wait_for(lambda msgs: any(m[0] & 0xF0 == CONTROL and m[1] == 120 for _, m in msgs), 2.0)
        main_got, bass_got, drums_got = probe.snapshot(), bass.snapshot(), drums.snapshot()
    finally:
        for recorder in (bass, drums):
            recorder.close()
        dumped = ""
        if dump is not None:
            dump.terminate()
            dumped, _ = dump.communicate(timeout=10)
    assert proc.returncode == 0, err[-2000:]
    sent = [json.loads(line)["msg"] for line in events.read_text().splitlines()]
    assert _channels(main_got) == {0}  # the solo alone on the main port
    assert _channels(bass_got) == {1}
    assert _channels(drums_got) == ({9} if dump is not None else {2, 9})
    for got, channel in ((main_got, 0), (bass_got, 1), (drums_got, 9)):
        ons = _ons(got, channel)
        assert ons and ons == [tuple(m) for m in sent if m[0] == NOTE_ON | channel and m[2] > 0]
        assert (CONTROL | channel, 123, 0) in [m for _, m in got]  # each port gets its channel's panic
        assert not sounding(got)
    if dump is not None:  # jack_midi_dump saw exactly the comp's note-ons on its port
        dumped_ons = [dumped_bytes(line) for line in dumped.splitlines() if ":" in line]
        comp_sent = [m for m in sent if m[0] == NOTE_ON | 2 and m[2] > 0]
        assert comp_sent and [m for m in dumped_ons if len(m) == 3 and m[0] == 0x92 and m[2]] == comp_sent
        assert {m[0] & 0x0F for m in dumped_ons if m and m[0] < 0xF0} == {2}


def test_a_band_port_that_does_not_exist_is_one_line_exit_2(jack, tiny_model):
    cmd = [sys.executable, "-m", "improv", "play", "--api", "jack", "--virtual", "nobandport", "--model",
           str(tiny_model), "--bars", "1", "--band", "drums", "--band-port", "drums=no such synth"]
    result = subprocess.run(cmd, env=jack.env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--band-port drums: no MIDI output matches 'no such synth'" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
