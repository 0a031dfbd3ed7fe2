"""GraphSettle (improv.live.jacksettle) through a real JACK server: the server still sends latency
notifications after a graph change has returned (that is the window in which libjack's notification
thread walks a client's ports while ``jack_port_unregister`` edits them: SIGSEGV), and none once
:meth:`GraphSettle.wait` has returned."""

from __future__ import annotations

import time

import pytest


def _reader(rtmidi, source: str):
    reader = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="gs-reader")
    reader.open_port(reader.get_ports().index(source))
    return reader


@pytest.mark.jack
def test_wait_returns_once_the_server_has_told_every_client(jack):
    import rtmidi

    from improv.live.jacksettle import GraphSettle

    source = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="gs-source")
    source.open_virtual_port("out")
    graph = GraphSettle("gs")
    late_plain = late_settled = 0
    try:
        assert graph.wait(timeout=10.0)
        for trial in range(8):
            reader = _reader(rtmidi, "gs-source:out")  # a client opens and connects: a graph change
            if trial % 2:
                assert graph.wait(quiet=0.1, timeout=10.0)
            seen = graph.notified
            time.sleep(0.3)
            if graph.notified != seen:
                late_settled += trial % 2
                late_plain += 1 - trial % 2
            assert graph.wait(timeout=10.0)
            reader.close_port()
            reader.delete()
    finally:
        graph.close()
        source.close_port()
        source.delete()
    assert late_plain >= 1  # without waiting, notifications still arrive after the change returned
    assert late_settled == 0, f"{late_settled} of 4 changes still notified after wait()"
