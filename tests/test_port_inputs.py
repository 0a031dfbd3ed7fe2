"""Inputs never offer improv's own outputs; `improv ports` explains what to do with no MIDI system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from improv.cli import main
from improv.errors import InputError
from improv.live import ports

JACK = ["improv:improv", "improv-hb:beat", "improv-01:solo", "keys:out", "improv-in:in"]


def test_own_outputs_are_recognised_on_jack_and_alsa():
    assert [ports.is_own_output(n) for n in JACK] == [True, True, True, False, False]
    assert ports.is_own_output("improv:improv 128:0")  # ALSA
    assert not ports.is_own_output("improvise-o-matic:out") and not ports.is_own_output("improv")
    assert ports.input_names(JACK) == [3, 4]


def test_an_input_query_never_finds_improvs_own_output():
    with pytest.raises(InputError) as err:
        ports.find_port("improv", ["improv:improv", "improv-hb:beat"], "jack", what="input", option="--input")
    message = str(err.value)
    assert "no MIDI input matches 'improv'" in message and "existing: none" in message
    assert "improv's own outputs are not inputs" in message
    names = ["improv:improv", "keys:out"]
    assert ports.find_port("out", names, "jack", what="input") == 1  # not ambiguous with ours
    with pytest.raises(InputError) as err:
        ports.find_port("nord", names, "jack", what="input", option="--input")
    assert "keys:out" in str(err.value) and "improv:improv" not in str(err.value)
    # an output query may still name any port
    assert ports.find_port("improv", ["improv:improv", "keys:out"], "jack") == 0


@pytest.mark.jack
def test_input_and_learn_do_not_offer_a_running_improvs_output(jack, monkeypatch):
    from improv.live.midi_input import MidiInput

    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack.name)
    api = ports.resolve_api("jack")
    out = ports.OutputPort(api, virtual="improv")
    try:
        assert "improv:improv" in ports.list_ports(api).inputs  # JACK does list it as a source
        with pytest.raises(InputError, match="no MIDI input matches 'improv'"):
            MidiInput(api, port="improv")
        result = subprocess.run(
            [sys.executable, "-m", "improv", "devices", "--learn", "temperature", "--device", "x",
             "--input", "improv", "--api", "jack", "--timeout", "2"],
            env=jack.env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "improv's own outputs are not inputs" in result.stderr
        listing = subprocess.run([sys.executable, "-m", "improv", "ports", "--api", "jack"],
                                 env=jack.env(), capture_output=True, text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr
        line = next(text for text in listing.stdout.splitlines() if "improv:improv" in text)
        assert "not offered as an input" in line
    finally:
        out.close()


def test_ports_with_no_midi_system_explains_with_midi(capsys, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"improv-no-server-{os.getpid()}")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    try:
        import rtmidi

        if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
            pytest.skip("python-rtmidi has no JACK API here")
    except ImportError:
        pytest.skip("python-rtmidi is not installed")
    assert main(["ports", "--api", "jack"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("improv: error: no MIDI system is running here (jack: ")
    assert "scripts/with-midi" in err and "jackd -d dummy" in err


REOPEN_SCRIPT = """
import time, rtmidi
from improv.live import ports
from improv.live.midi_input import MidiInput

def keys():
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="keys")
    out.open_virtual_port("out")
    return out

def until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()

api = ports.resolve_api("jack")
source = keys()
ours = ports.OutputPort(api, virtual="keys")  # improv:keys, a source with the same port name
inp = MidiInput(api, port="keys", check_interval=0.05)
assert inp.port_name == "keys:out", inp.port_name  # not ambiguous: improv:keys is not an input
source.close_port()
source.delete()
assert until(lambda: not inp.connected)
time.sleep(0.3)  # several checks: "keys" now matches only improv's own output
assert not inp.connected and inp.reopened == 0 and inp.port_name == "keys:out", inp.port_name
source = keys()
assert until(lambda: inp.connected) and inp.reopened == 1 and inp.port_name == "keys:out"
inp.close()
ours.close()
source.close_port()
source.delete()
print("ok")
"""


@pytest.mark.jack
def test_a_vanished_input_is_not_reopened_onto_improvs_own_output(jack):
    # in a child process: reading our own output in the same process crashes libjack (exit 139)
    result = subprocess.run([sys.executable, "-c", REOPEN_SCRIPT], env=jack.env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
