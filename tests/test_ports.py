"""Port names as users type them, API choice, and opening ports on a real JACK server."""

from __future__ import annotations

import os

import pytest

from improv.errors import InputError
from improv.live import ports

MAC = ["IAC Driver Bus 1", "IAC Driver IAC Bus 1", "Network Session 1"]


def test_words_in_order_find_renamed_iac_bus():
    assert ports.match_ports("IAC Bus", ["IAC Driver IAC Bus 1"]) == [0]
    assert ports.match_ports("iac bus", ["IAC Driver Bus 1"]) == [0]


def test_several_matches_are_refused_and_listed():
    with pytest.raises(InputError) as err:
        ports.find_port("IAC Bus", MAC)
    message = str(err.value)
    assert "IAC Driver Bus 1" in message and "IAC Driver IAC Bus 1" in message
    assert "Network" not in message


def test_exact_match_wins_over_longer_names():
    names = ["Synth", "Synth Pro"]
    assert ports.find_port("synth", names) == 0
    assert ports.find_port("pro", names) == 1


def test_no_match_lists_existing_ports():
    with pytest.raises(InputError) as err:
        ports.find_port("Nord", MAC)
    assert "'Nord'" in str(err.value) and "Network Session 1" in str(err.value)
    with pytest.raises(InputError, match="none"):
        ports.find_port("Nord", [])


def test_alsa_client_numbers_and_separators_are_ignored():
    names = ["Midi Through:Midi Through Port-0 14:0", "FLUID Synth (123):Synth input port 128:0"]
    assert ports.find_port("midi through port 0", names, "alsa") == 0
    assert ports.find_port("fluid", names, "alsa") == 1
    assert ports.normalise("Midi Through:Midi Through Port-0 14:0", "alsa") == \
        "midi through midi through port 0"


def test_winmm_index_stripped_for_matching_but_kept_to_disambiguate():
    names = ["loopMIDI Port 0", "loopMIDI Port 1"]
    assert ports.match_ports("loopmidi port", names, "winmm") == [0, 1]
    assert ports.find_port("loopMIDI Port 1", names, "winmm") == 1


def test_jack_names_match_by_client_or_port():
    names = ["probe:in", "fluidsynth:midi_00"]
    assert ports.find_port("fluidsynth", names, "jack") == 1
    assert ports.find_port("probe in", names, "jack") == 0


def test_unknown_api_is_an_input_error(monkeypatch):
    with pytest.raises(InputError, match="unknown MIDI API 'beos'"):
        ports.resolve_api("beos")
    monkeypatch.setenv(ports.API_ENV, "nope")
    with pytest.raises(InputError, match=ports.API_ENV):
        ports.resolve_api(None)


@pytest.mark.jack
def test_virtual_port_and_open_by_name(jack, probe):
    api = ports.resolve_api("jack")
    assert api == ports.API_NAMES["jack"]
    out = ports.OutputPort(api, port="probe")
    try:
        assert out.port_name == "probe:in"
        assert out.present()
        assert out.send([0x90, 60, 100]) and out.send([0x80, 60, 0])
        assert probe.wait_for(lambda msgs: len(msgs) >= 2, 5.0)
        assert [m for _, m in probe.snapshot()] == [(0x90, 60, 100), (0x80, 60, 0)]
    finally:
        out.close()
    virtual = ports.OutputPort(api, virtual="vport")
    try:
        assert virtual.label == "improv:vport"
        listing = ports.list_ports(api)
        assert "improv:vport" in listing.inputs and "probe:in" in listing.outputs
    finally:
        virtual.close()


@pytest.mark.jack
def test_vanished_port_is_noticed_and_reopened(jack):
    from conftest import Probe

    from improv.live.health import PortWatch

    first = Probe(name="synth")
    out = ports.OutputPort(ports.resolve_api("jack"), port="synth")
    watch = PortWatch(out)
    try:
        assert watch.poll([0]) and not watch.vanished
        first.close()
        assert watch.poll([0]) and watch.vanished
        second = Probe(name="synth")
        try:
            assert watch.poll([0]) and not watch.vanished
            out.send([0x90, 61, 90])
            # the reopened port gets the CC123/CC120 reset, then the note
            assert second.wait_for(lambda msgs: (0x90, 61, 90) in [m for _, m in msgs], 5.0)
        finally:
            second.close()
    finally:
        out.close()


def test_the_first_jack_client_waits_for_the_server_with_midi_is_starting(monkeypatch):
    """scripts/with-midi execs improv while its JACK server starts (IMPROV_JACK_WAIT): the first client
    creation retries until the server answers; later ones fail at once, as without the variable."""
    attempts = []

    class Client:
        def __init__(self, api: int, name: str) -> None:
            attempts.append(name)
            if len(attempts) < 3:
                raise SystemError("JACK server not running?")

    monkeypatch.setattr(ports._LibJack, "load", classmethod(lambda cls: None))
    monkeypatch.setattr(ports, "_jack_wait", 5.0)
    assert isinstance(ports._new_client(Client, ports.rtmidi.API_UNIX_JACK, name="a"), Client)
    assert attempts == ["a", "a", "a"] and ports._jack_wait is None
    attempts.clear()
    with pytest.raises(SystemError):
        ports._new_client(Client, ports.rtmidi.API_UNIX_JACK, name="b")
    assert attempts == ["b"]
    monkeypatch.setenv(ports.SERVER_WAIT_ENV, "nonsense")
    assert ports._server_wait() is None
    monkeypatch.setenv(ports.SERVER_WAIT_ENV, "3")
    assert ports._server_wait() == 3.0 and ports.SERVER_WAIT_ENV not in os.environ
