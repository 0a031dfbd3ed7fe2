"""Port health. `PortWatch`: output port health for the engine's main loop (main thread only): reopen a
vanished port by name and notice a dead JACK server (``ports.JackWatch``); seconds:
``PortWatch.interval`` between polls. `InputHealth`: which inputs vanished or came back (listen thread
only; each input reopens itself by name).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from improv.midi.messages import panic_messages

log = logging.getLogger(__name__)


class PortWatch:
    """Port health for the main loop: reopen a vanished port by name, notice a dead JACK server."""

    interval = 0.2

    def __init__(self, port, server=None) -> None:
        self.port = port
        self.server = server  # e.g. ports.JackWatch: ``check() -> bool``, ``close()``
        self.vanished = False

    def poll(self, channels: Iterable[int]) -> bool:
        """One health check; False when the server is gone and nothing can be sent any more."""
        if self.server is not None and not self.server.check():
            log.error("the JACK server stopped answering; output stopped")
            self.port.mark_dead()
            return False
        present = self.port.present()
        if self.vanished and present:
            if self.port.reopen():
                self.vanished = False
                log.warning("MIDI port %s is back; reconnected", self.port.label)
                for message in panic_messages((), channels):
                    self.port.send(message)
        elif not self.vanished and not present:
            self.vanished = True
            log.warning("MIDI port %s vanished; will reconnect when it returns", self.port.label)
        return True

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


class InputHealth:
    """Notices an input vanishing or coming back (its ``connected`` flag; listen thread only)."""

    def __init__(self, sources: Iterable) -> None:
        self.sources = list(sources)  # each with ``port`` (``connected``, ``label``) and ``role``
        self._connected: dict[int, bool] = {}  # id(source) -> connected when last looked

    def changes(self) -> list[tuple[object, bool]]:
        """``(source, connected)`` for every input whose state changed since the last look."""
        out = []
        for source in self.sources:
            connected = bool(getattr(source.port, "connected", True))
            if self._connected.get(id(source), True) != connected:
                self._connected[id(source)] = connected
                out.append((source, connected))
        return out


__all__ = ["InputHealth", "PortWatch"]
