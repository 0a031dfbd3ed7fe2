"""MIDI messages as tuples of ints: the one table of status bytes, clock bytes and controllers,
and the panic. Note names come from `improv.theory.pitch`.

Pure constants and functions, no state: safe from any thread (the signal path included).
"""

from __future__ import annotations

from collections.abc import Iterable

from improv.theory.pitch import pitch_name

Message = tuple[int, ...]

# channel voice messages (high nibble; the low nibble is the channel 0..15)
NOTE_OFF = 0x80
NOTE_ON = 0x90
POLY_PRESSURE = 0xA0
CONTROL = 0xB0
PROGRAM = 0xC0
CHANNEL_PRESSURE = 0xD0
PITCH_BEND = 0xE0
THREE_BYTE = (NOTE_OFF, NOTE_ON, POLY_PRESSURE, CONTROL, PITCH_BEND)  # statuses with two data bytes

# system messages
SYSEX = 0xF0
SONG_POSITION = 0xF2
TIMING_CLOCK = 0xF8  # 24 per quarter note
START = 0xFA
CONTINUE = 0xFB
STOP = 0xFC
ACTIVE_SENSING = 0xFE
REALTIME = 0xF8  # bytes at or above this are system real-time (single byte, may interleave)

# controllers
CC_SUSTAIN = 64
CC_ALL_SOUND_OFF = 120
CC_ALL_NOTES_OFF = 123


def status_of(message: Iterable[int] | bytes) -> int:
    """The status without the channel (``0x93 -> 0x90``); system statuses unchanged."""
    first = next(iter(message))
    return first if first >= SYSEX else first & 0xF0


def is_channel_message(message: Message | list[int] | bytes) -> bool:
    """A channel voice message (status 0x80..0xEF)."""
    return bool(message) and NOTE_OFF <= message[0] < SYSEX


def note_off(channel: int, pitch: int) -> Message:
    """The note-off of ``pitch`` on ``channel`` (velocity 0)."""
    return (NOTE_OFF | channel, pitch, 0)


def note_on(channel: int, pitch: int, velocity: int) -> Message:
    """A note-on (velocity 1..127; 0 would be a note-off)."""
    return (NOTE_ON | channel, pitch, velocity)


def panic_messages(active: Iterable[tuple[int, int]], channels: Iterable[int]) -> list[Message]:
    """Note-offs for ``active`` (channel, pitch) keys, then CC64=0, CC123, CC120 per channel."""
    messages: list[Message] = [(NOTE_OFF | ch, pitch, 0) for ch, pitch in active]
    for ch in sorted(set(channels)):
        messages.append((CONTROL | ch, CC_SUSTAIN, 0))
        messages.append((CONTROL | ch, CC_ALL_NOTES_OFF, 0))
        messages.append((CONTROL | ch, CC_ALL_SOUND_OFF, 0))
    return messages


def note_name(pitch: int) -> str:
    """MIDI pitch as a name with octave, C4 = 60 (`improv.theory.pitch.pitch_name`)."""
    return pitch_name(pitch)
