"""Output port health for the engine's main loop (main thread only): reopen a vanished port by name
and notice a dead JACK server (``ports.JackWatch``). Seconds: ``PortWatch.interval`` between polls.
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


__all__ = ["PortWatch"]
