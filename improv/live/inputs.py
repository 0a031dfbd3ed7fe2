"""Input-side helpers of the live engine. `Passthrough`: echo the player's messages to the output
(listen thread only), keeping which echoed notes sound so a vanished input or the shutdown can end
them. Beats come from the clock callable it is handed; no locks of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from improv.live.scheduler import PRIO_CONTROL, PRIO_OFF, PRIO_ON, Emitter
from improv.midi.messages import NOTE_OFF, NOTE_ON, THREE_BYTE, Message, note_off


class Passthrough:
    """The player's messages echoed: through the emitter while it runs, else straight to the sink."""

    def __init__(self, send: Callable[[Sequence[int]], object]) -> None:
        self.send = send  # the sink's send (direct echo)
        self.held: set[tuple[int, int]] = set()  # (channel, pitch) echoed directly (not by the emitter)
        self.keys: set[tuple[int, int]] = set()  # every echoed note sounding

    def echo(self, message: Message, emitter: Emitter | None, beat_at: Callable[[], float]) -> None:
        """Echo ``message``; ``emitter`` None sends it now (paused, or the emitter stopped)."""
        status = message[0] & 0xF0
        channel = message[0] & 0x0F
        if len(message) < 3 and status in THREE_BYTE:
            return
        if status == NOTE_ON and message[2] > 0:
            self.keys.add((channel, message[1]))
        elif status in (NOTE_OFF, NOTE_ON):
            self.keys.discard((channel, message[1]))
        if emitter is None:
            self.send(message)
            key = (channel, message[1])
            if status == NOTE_ON and message[2] > 0:
                self.held.add(key)
            elif status in (NOTE_OFF, NOTE_ON):
                self.held.discard(key)
            return
        emitter.channels.add(channel)
        beat = beat_at()
        if status == NOTE_ON and message[2] > 0:
            emitter.push(beat, message, PRIO_ON)
        elif status in (NOTE_OFF, NOTE_ON):
            emitter.push(beat, note_off(channel, message[1]), PRIO_OFF)
        else:
            emitter.push(beat, message, PRIO_CONTROL)

    def releases(self) -> list[Message]:
        """Note-offs for every echoed note still sounding (the player's input vanished)."""
        return [note_off(channel, pitch) for channel, pitch in sorted(self.keys)]

    def silence_direct(self) -> None:
        """Note-offs, straight to the sink, for the notes echoed directly (the emitter never saw them)."""
        for channel, pitch in sorted(self.held):
            self.send(note_off(channel, pitch))


__all__ = ["Passthrough"]
