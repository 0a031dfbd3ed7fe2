"""The listener: notes to phrases, the end-of-call gate, chord naming, CC mapping, garbage."""

from __future__ import annotations

import numpy as np
import pytest

from improv.devices import load_device
from improv.live.listener import (
    ChordChange,
    Control,
    Listener,
    ListenerConfig,
    Phrase,
    name_chord,
    skyline,
    snap,
)
from improv.theory.harmony import parse_chord
from improv.theory.values import Note

BEAT = 0.5  # seconds per beat at 120 BPM


def at_120(t: float) -> float:
    """Seconds to ticks at 120 BPM with beat 0 at t = 0 (what the engine's clock would give)."""
    return t / BEAT * 12


def on(pitch: int, velocity: int = 100, channel: int = 0) -> bytes:
    return bytes([0x90 | channel, pitch, velocity])


def off(pitch: int, channel: int = 0) -> bytes:
    return bytes([0x80 | channel, pitch, 0])


def cc(number: int, value: int, channel: int = 0) -> bytes:
    return bytes([0xB0 | channel, number, value])


def play(listener: Listener, events: list[tuple[float, bytes]]) -> list:
    out = []
    for t, message in events:
        out += listener.feed(message, t)
        out += listener.poll(t)
    return out


def test_phrase_is_snapped_to_the_grid_and_ends_after_the_gate() -> None:
    lis = Listener(at_120, ListenerConfig(gate=2.0))
    events = play(
        lis,
        [
            (0.02, on(60)),  # beat 0 + 0.48 tick -> 0
            (0.24, off(60)),  # 5.76 ticks -> 6
            (0.25, on(62, 80)),  # tick 6
            (0.5, bytes([0x90, 62, 0])),  # velocity 0 = off, tick 12
            (0.66, on(64)),  # 15.84 -> 16 (a triplet)
            (0.70, off(64)),  # 16.8 -> 16: shorter than the grid step -> 2 ticks (to 18)
        ],
    )
    assert events == []
    assert lis.poll(0.70 + 2 * BEAT - 0.01) == []  # not yet two beats of silence
    (phrase,) = lis.poll(0.70 + 2 * BEAT + 0.01)
    assert isinstance(phrase, Phrase) and phrase.reason == "silence"
    assert list(phrase.notes) == [Note(0, 6, 60, 100), Note(6, 6, 62, 80), Note(16, 2, 64, 100)]
    assert phrase.start == 0 and phrase.end >= 16 + 24
    assert not lis.in_call and lis.poll(5.0) == []


def test_held_notes_and_the_sustain_pedal_keep_the_call_open() -> None:
    lis = Listener(at_120, ListenerConfig(gate=1.0))
    play(lis, [(0.0, on(60)), (0.1, off(60)), (0.2, on(67))])
    assert lis.poll(3.0) == []  # 67 is still held
    lis.feed(cc(64, 127), 3.0)
    lis.feed(off(67), 3.1)
    assert lis.poll(6.0) == []  # pedal down: still sounding
    (phrase,) = lis.feed(cc(64, 0), 6.2)  # pedal release with no key down ends the call
    assert phrase.reason == "sustain" and [n.pitch for n in phrase.notes] == [60, 67]


def test_sustain_release_can_be_disabled() -> None:
    lis = Listener(at_120, ListenerConfig(gate=1.0, sustain_ends_call=False))
    play(lis, [(0.0, cc(64, 127)), (0.1, on(60)), (0.2, off(60))])
    assert lis.feed(cc(64, 0), 0.3) == []
    (phrase,) = lis.poll(0.3 + BEAT * 1.01)
    assert phrase.reason == "silence"


def test_footswitch_cc_ends_the_call_with_held_keys_closed() -> None:
    lis = Listener(at_120, ListenerConfig(gate=4.0, gate_cc=67))
    play(lis, [(0.0, on(60)), (0.5, on(64))])
    events = lis.feed(cc(67, 127), 1.0)
    (phrase,) = events
    assert phrase.reason == "cc"
    assert list(phrase.notes) == [Note(0, 24, 60, 100), Note(12, 12, 64, 100)]
    assert lis.feed(cc(67, 127), 1.1) == []  # no new call: nothing to end
    assert lis.held == []


def test_retriggered_key_closes_the_sounding_note() -> None:
    lis = Listener(at_120, ListenerConfig(gate=1.0))
    play(lis, [(0.0, on(60)), (0.25, on(60, 70)), (0.5, off(60))])
    (phrase,) = lis.poll(2.0)
    assert list(phrase.notes) == [Note(0, 6, 60, 100), Note(6, 6, 60, 70)]


@pytest.mark.parametrize(
    ("pitches", "symbol"),
    [
        ([48, 52, 55], "C"),
        ([57, 60, 64], "Am"),
        ([50, 53, 57, 60], "Dm7"),
        ([55, 59, 62, 65], "G7"),
        ([48, 52, 55, 59], "Cmaj7"),
        ([48, 55, 59, 64], "Cmaj7"),  # spread voicing
        ([43, 53, 59], "G7"),  # shell: root, 7th, 3rd
        ([47, 50, 53, 57], "Bm7b5"),
        ([48, 51, 54, 57], "Cdim7"),
        ([45, 48, 52, 55], "Am7"),  # = C6 over A: the bass decides
        ([48, 52, 55, 57], "C6"),
        ([50, 53, 57, 59], "Dm6"),
        ([43, 48, 50, 53], "G7sus4"),
        ([48, 52, 56], "C+"),
        ([50, 53, 57, 60, 64], "Dm7"),  # with the 9th
        ([55, 59, 65, 69, 76], "G7"),  # G13 without the 5th: tensions cost little
        ([60, 64], None),  # two notes are not a chord
    ],
)
def test_chords_are_named_as_the_parser_reads_them(pitches: list[int], symbol: str | None) -> None:
    named = name_chord(pitches)
    assert named == symbol
    if symbol is not None:
        chord = parse_chord(named)
        assert chord.root == (pitches[0] % 12 if symbol != "G7sus4" else 7)
        assert chord.tones <= {p % 12 for p in pitches} | {(chord.root + 7) % 12}


def test_every_template_parses() -> None:
    for root in range(12):
        for pitches in ([0, 4, 7, 11], [0, 3, 6, 9], [0, 5, 7, 10], [0, 4, 8, 10], [0, 3, 7, 11]):
            symbol = name_chord([48 + root + p for p in pitches])
            assert symbol is not None
            assert parse_chord(symbol).root is not None


def test_split_keys_follow_chords_and_the_rest_is_the_phrase() -> None:
    lis = Listener(at_120, ListenerConfig(split=60, gate=1.0))
    events = play(
        lis,
        [(0.0, on(50)), (0.01, on(53)), (0.02, on(57)), (0.03, on(60)), (0.05, on(72)),
         (0.3, off(72)), (1.0, off(50)), (1.0, off(53)), (1.0, off(57)), (1.0, off(60))],
    )  # fmt: skip
    chords = [e for e in events if isinstance(e, ChordChange)]
    assert [c.symbol for c in chords] == ["Dm"]
    assert chords[0].tick == 0 and lis.chord == "Dm"
    phrases = [e for e in events if isinstance(e, Phrase)]
    assert phrases == [] and lis.held == []
    events = play(lis, [(1.2, on(43)), (1.2, on(47)), (1.2, on(50)), (1.21, on(53))])
    assert [e.symbol for e in events] == ["G", "G7"] and lis.chord == "G7"
    (phrase,) = lis.poll(3.0)
    assert [n.pitch for n in phrase.notes] == [60, 72]  # 60 is not below the split


def test_chord_channel_and_player_channel_filter() -> None:
    lis = Listener(at_120, ListenerConfig(channel=0, chord_channel=1, gate=1.0))
    events = play(
        lis,
        [(0.0, on(48, channel=1)), (0.0, on(52, channel=1)), (0.0, on(55, channel=1)),
         (0.1, on(70, channel=2)), (0.2, on(72, channel=0)), (0.3, off(72, channel=0))],
    )  # fmt: skip
    assert [e.symbol for e in events if isinstance(e, ChordChange)] == ["C"]
    (phrase,) = lis.poll(2.0)
    assert [n.pitch for n in phrase.notes] == [72]
    assert lis.ignored == 1  # the note on channel 3


def test_cc_map_from_a_device_profile() -> None:
    profile = load_device("generic-keyboard")
    profile.cc.update(panic=20, density=21)
    config = ListenerConfig.from_device(profile, gate=3.0)
    assert config.channel is None and config.sustain_ends_call and config.gate == 3.0
    lis = Listener(at_120, config)
    (control,) = lis.feed(cc(1, 127), 0.25)
    assert control == Control("temperature", 1.0, 127, 1, 0, 6)
    (density,) = lis.feed(cc(21, 0), 0.3)
    assert density.param == "density" and density.value == 0.0
    assert [e.param for e in lis.feed(cc(20, 127), 0.4)] == ["panic"]
    assert lis.feed(cc(20, 127), 0.41) == []  # held: one panic per press
    assert lis.feed(cc(20, 0), 0.42) == []
    assert [e.param for e in lis.feed(cc(20, 100), 0.43)] == ["panic"]
    assert lis.feed(cc(7, 100), 0.5) == []  # unmapped


def test_garbage_is_ignored() -> None:
    lis = Listener(at_120, ListenerConfig(gate=1.0))
    junk = [
        bytes([0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7]),  # sysex
        bytes([60, 100]),  # running status: data bytes without a status
        bytes([0x90, 60]),  # truncated note-on
        bytes([0x90, 200, 100]),  # a data byte above 127
        bytes([0xF8]),
        bytes([0xFE]),
        bytes([0xE0, 0, 64]),  # pitch bend: not used
        b"",
    ]
    for message in junk:
        assert lis.feed(message, 0.0) == []
    assert lis.ignored == len(junk) and not lis.in_call
    rng = np.random.default_rng(0)
    for i in range(2000):
        message = bytes(rng.integers(0, 256, size=int(rng.integers(0, 5))).tolist())
        lis.feed(message, i * 0.001)
        lis.poll(i * 0.001)
    lis.flush(3.0)
    assert not lis.in_call


def test_phrase_memory_is_bounded() -> None:
    lis = Listener(at_120, ListenerConfig(gate=100.0, max_phrase_notes=64))
    for i in range(5000):
        lis.feed(on(60 + i % 12), i * 0.01)
        lis.feed(off(60 + i % 12), i * 0.01 + 0.005)
    (phrase,) = lis.flush(60.0)
    assert len(phrase.notes) == 64 and lis.dropped_notes == 5000 - 64
    assert phrase.reason == "flush"


def test_snap_and_skyline() -> None:
    assert [snap(x) for x in (0.4, 1.6, 3.4, 3.6, 5.0, 7.4, 10.6, 11.9, -0.3)] == [
        0, 3, 3, 4, 4, 8, 12, 12, 0
    ]  # fmt: skip
    chordal = [Note(0, 12, 60), Note(0, 12, 67), Note(6, 12, 64), Note(24, 6, 62)]
    assert skyline(chordal) == [Note(0, 6, 67), Note(6, 12, 64), Note(24, 6, 62)]
