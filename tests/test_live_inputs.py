"""Passthrough (improv.live.inputs): what is echoed where, and which notes it ends."""

from improv.live.inputs import Passthrough
from improv.live.scheduler import PRIO_CONTROL, PRIO_OFF, PRIO_ON


class FakeEmitter:
    def __init__(self):
        self.channels: set[int] = set()
        self.pushed: list = []

    def push(self, beat, message, prio):
        self.pushed.append((beat, tuple(message), prio))


def test_direct_echo_is_sent_and_its_held_notes_are_ended():
    sent = []
    thru = Passthrough(sent.append)
    thru.echo((0x90, 60, 100), None, lambda: 0.0)
    thru.echo((0x91, 62, 90), None, lambda: 0.0)
    thru.echo((0x80, 60, 0), None, lambda: 0.0)
    assert sent == [(0x90, 60, 100), (0x91, 62, 90), (0x80, 60, 0)]
    assert thru.releases() == [(0x81, 62, 0)]
    thru.silence_direct()
    assert sent[-1] == (0x81, 62, 0)


def test_echo_through_the_emitter_orders_offs_before_ons_and_skips_short_messages():
    sent, emitter = [], FakeEmitter()
    thru = Passthrough(sent.append)
    thru.echo((0x90, 64, 80), emitter, lambda: 3.5)
    thru.echo((0x90, 64, 0), emitter, lambda: 4.0)  # a note-on of velocity 0 is a note-off
    thru.echo((0xB0, 64, 127), emitter, lambda: 4.5)
    thru.echo((0x90, 64), emitter, lambda: 5.0)  # truncated: dropped
    assert sent == []
    assert emitter.pushed == [(3.5, (0x90, 64, 80), PRIO_ON), (4.0, (0x80, 64, 0), PRIO_OFF),
                              (4.5, (0xB0, 64, 127), PRIO_CONTROL)]
    assert emitter.channels == {0}
    assert thru.releases() == [] and thru.held == set()
