"""Several outputs as one: ``--band-port PART=NAME`` sends a band part to its own MIDI port.

``ChannelRouter`` is a ``Sink`` (``send(message) -> bool``): a channel message goes to the sink its channel
is routed to (a band part's port), every other channel to the main output (the solo's port, the synth or
both); a system message (MIDI clock, Start, Stop) goes to every output once. The panic sends each channel's
note-offs and controllers through the same routes, so every port is silenced. ``PortGroup`` gives the
engine's port health check (``improv.live.health.PortWatch``) every MIDI port at once: a dead JACK server
marks them all dead, a vanished port is reopened by name. The emitter thread sends; the main thread polls
health; ``OutputPort.send`` is thread-safe. No timing here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from improv.live.scheduler import Sink
from improv.midi.messages import SYSEX

log = logging.getLogger(__name__)


def _label(sink) -> str:
    return str(getattr(sink, "label", sink))


class ChannelRouter:
    """A sink that sends each channel's messages to the sink routed for it (else ``default``)."""

    def __init__(self, default: Sink, routes: Mapping[int, Sink],
                 names: Mapping[int, str] | None = None) -> None:
        self.default = default
        self.routes = dict(routes)
        self._by_channel = tuple(self.routes.get(channel, default) for channel in range(16))
        self.sinks: tuple = tuple({id(s): s for s in (default, *self.routes.values())}.values())
        names = names or {}
        self.label = _label(default)  # the main output (the start-up line names it and how to connect it)
        if hasattr(default, "virtual"):
            self.virtual = default.virtual
        self.routes_label = ", ".join(f"{names.get(ch, f'channel {ch + 1}')} on {_label(s)}"
                                      for ch, s in sorted(self.routes.items()))
        log.info("band ports: %s", self.routes_label)

    def send(self, message: Sequence[int]) -> bool:
        """Send on the channel's route; a system message on every output (True if any took it)."""
        if not message:
            return False
        status = message[0]
        if status < SYSEX:
            return self._by_channel[status & 0x0F].send(message)
        results = [sink.send(message) for sink in self.sinks]
        return any(results)

    def close(self) -> None:
        """Close every output (each once), the main one last."""
        for sink in reversed(self.sinks):
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - close the others still
                log.warning("closing %s failed: %s", _label(sink), exc)


class PortGroup:
    """Several MIDI ports watched as one (``PortWatch``'s interface): present when all are, reopened and
    marked dead together; ``send`` (the panic after a reconnection) goes to every port."""

    def __init__(self, ports: Sequence) -> None:
        self.ports = tuple(ports)
        self.label = " + ".join(_label(p) for p in self.ports)

    def present(self) -> bool:
        return all(p.present() for p in self.ports)

    def reopen(self) -> bool:
        return all(p.present() or p.reopen() for p in self.ports)

    def mark_dead(self) -> None:
        for port in self.ports:
            port.mark_dead()

    def send(self, message: Sequence[int]) -> bool:
        results = [p.send(message) for p in self.ports]
        return any(results)
