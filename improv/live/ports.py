"""MIDI ports through python-rtmidi: API choice, listing, name matching, opening, health checks.

Live I/O uses python-rtmidi directly (mido's input path runs Python inside JACK's thread, see
docs/ARCHITECTURE.md). Names are matched the way users type them: case-insensitive, the words of the
query in order (``"IAC Bus"`` finds ``"IAC Driver IAC Bus 1"``), never silently the first port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import rtmidi

from improv.errors import InputError, RuntimeFailure

log = logging.getLogger(__name__)
# what rtmidi raises when an API, a client or a port is not usable
RTMIDI_ERRORS = (SystemError, RuntimeError, rtmidi.RtMidiError)


def port_label(api: int, client_name: str, virtual: str | None, port_name: str | None) -> str:
    """A port as the user sees it: our virtual port's full name, or the existing port opened."""
    if virtual is not None:
        sep = ":" if api == rtmidi.API_UNIX_JACK else " "
        return f"{client_name}{sep}{virtual}"
    return port_name or "?"

API_ENV = "IMPROV_MIDI_API"
API_NAMES: dict[str, int] = {
    "alsa": rtmidi.API_LINUX_ALSA,
    "jack": rtmidi.API_UNIX_JACK,
    "coremidi": rtmidi.API_MACOSX_CORE,
    "winmm": rtmidi.API_WINDOWS_MM,
}
_API_BY_ID = {v: k for k, v in API_NAMES.items()}
DEFAULT_CLIENT = "improv"
DEFAULT_VIRTUAL = "improv"


def compiled_apis() -> list[str]:
    """Names of the MIDI APIs this python-rtmidi build supports, platform default first."""
    return [_API_BY_ID[a] for a in rtmidi.get_compiled_api() if a in _API_BY_ID]


def api_name(api: int) -> str:
    """Our short name for an rtmidi API constant."""
    return _API_BY_ID.get(api, str(api))


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr (ALSA/JACK libraries print on failed probes) for the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _new_client(kind: type, api: int, name: str = DEFAULT_CLIENT, quiet: bool = True):
    """Create an rtmidi MidiIn/MidiOut; SystemError/RuntimeError mean the API is not usable."""
    ctx = quiet_stderr() if quiet else contextlib.nullcontext()
    with ctx:
        return kind(api, name=name)


def _probe(api: int) -> str | None:
    """None when a client can be created on ``api``, else the reason it cannot."""
    try:
        client = _new_client(rtmidi.MidiOut, api, name=f"{DEFAULT_CLIENT}-probe")
    except RTMIDI_ERRORS as exc:
        return str(exc).strip() or type(exc).__name__
    client.delete()
    return None


def resolve_api(name: str | None = None) -> int:
    """The rtmidi API to use: ``name``, else env IMPROV_MIDI_API, else the first that works here.

    Raises InputError for an unknown or uncompiled API, or when no MIDI system is available.
    """
    source = "--api"
    if not name:
        name = os.environ.get(API_ENV) or None
        source = API_ENV
    compiled = compiled_apis()
    if name:
        key = name.strip().lower()
        if key not in API_NAMES:
            raise InputError(
                f"{source}: unknown MIDI API {name!r} (choose from {', '.join(API_NAMES)})"
            )
        if key not in compiled:
            raise InputError(
                f"{source}: MIDI API {key!r} is not compiled into python-rtmidi here "
                f"(available: {', '.join(compiled) or 'none'})"
            )
        reason = _probe(API_NAMES[key])
        if reason:
            raise InputError(f"MIDI API {key!r} is not available: {reason}")
        return API_NAMES[key]
    reasons = []
    for key in compiled:
        reason = _probe(API_NAMES[key])
        if reason is None:
            return API_NAMES[key]
        reasons.append(f"{key}: {reason}")
    raise InputError(
        "no MIDI system available (" + ("; ".join(reasons) or "no API compiled") + ")"
        " — start JACK or load ALSA's snd-seq, or pick one with --api"
    )


@dataclass
class PortList:
    """The ports one API shows, or why it cannot be used."""

    api: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict:
        return {"api": self.api, "inputs": self.inputs, "outputs": self.outputs,
                "error": self.error}


def list_ports(api: int) -> PortList:
    """Inputs (sources we could read) and outputs (destinations we could play to) of one API."""
    result = PortList(api=api_name(api))
    try:
        midi_in = _new_client(rtmidi.MidiIn, api, name=f"{DEFAULT_CLIENT}-list")
        midi_out = _new_client(rtmidi.MidiOut, api, name=f"{DEFAULT_CLIENT}-list")
    except RTMIDI_ERRORS as exc:
        result.error = str(exc).strip() or type(exc).__name__
        return result
    try:
        result.inputs = list(midi_in.get_ports())
        result.outputs = list(midi_out.get_ports())
    finally:
        midi_in.delete()
        midi_out.delete()
    return result


# ---------------------------------------------------------------------------------- name matching

_ALSA_SUFFIX = re.compile(r"\s+\d+:\d+$")
_WINMM_SUFFIX = re.compile(r"\s+\d+$")


def normalise(name: str, api: str = "") -> str:
    """Case-folded, ``-``/``_``/``:`` as spaces, whitespace collapsed, ALSA/WinMM numbers stripped."""
    text = name.strip()
    if api == "alsa":
        text = _ALSA_SUFFIX.sub("", text)
    elif api == "winmm":
        text = _WINMM_SUFFIX.sub("", text)
    text = re.sub(r"[-_:]", " ", text.casefold())
    return " ".join(text.split())


def _tokens_in_order(query: list[str], tokens: list[str]) -> bool:
    """Each query word is the prefix of a later word of ``tokens``, in order."""
    pos = 0
    for word in query:
        while pos < len(tokens) and not tokens[pos].startswith(word):
            pos += 1
        if pos == len(tokens):
            return False
        pos += 1
    return True


def match_ports(query: str, names: Sequence[str], api: str = "") -> list[int]:
    """Indices of the ports ``query`` means: exact, else words in order, else substring matches."""
    q = normalise(query, api)
    if not q:
        return []
    # the full name (with ALSA/WinMM numbers) first: it disambiguates equal stripped names
    full = [i for i, n in enumerate(names) if normalise(n) == normalise(query)]
    if full:
        return full
    normed = [normalise(n, api) for n in names]
    exact = [i for i, n in enumerate(normed) if n == q]
    if exact:
        return exact
    words = q.split()
    ordered = [i for i, n in enumerate(normed) if _tokens_in_order(words, n.split())]
    if ordered:
        return ordered
    return [i for i, n in enumerate(normed) if q in n]


# the clients improv's outputs live on: the player's output and the JACK heartbeat (JACK renames a
# second client of the same name "improv-01"); their ports are sources, never a player to listen to
_OWN_OUTPUT_CLIENT = re.compile(rf"{re.escape(DEFAULT_CLIENT)}(-hb)?(-\d+)?")


def is_own_output(name: str) -> bool:
    """Whether a listed input port is one of improv's own outputs (``improv:improv``,
    ``improv-hb:beat``, ALSA ``improv:improv 128:0``): reading it would feed improv back to itself."""
    client, sep, _ = name.partition(":")
    return bool(sep) and _OWN_OUTPUT_CLIENT.fullmatch(client.strip()) is not None


def input_names(names: Sequence[str]) -> list[int]:
    """Indices of the input ports that may be offered as an input: all but improv's own outputs."""
    return [i for i, name in enumerate(names) if not is_own_output(name)]


def find_port(
    query: str, names: Sequence[str], api: str = "", what: str = "output", option: str = "--port"
) -> int:
    """The one port ``query`` names; InputError listing the candidates (none or several) otherwise.
    For an input (``what="input"``) improv's own outputs are neither matched nor listed."""
    pool = input_names(names) if what == "input" else list(range(len(names)))
    hits = [pool[j] for j in match_ports(query, [names[i] for i in pool], api)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        listing = "; ".join(names[i] for i in pool) if pool else "none"
        own = " (improv's own outputs are not inputs)" if len(pool) < len(names) else ""
        raise InputError(f"{option}: no MIDI {what} matches {query!r} (existing: {listing}){own}")
    listing = "; ".join(names[i] for i in hits)
    raise InputError(f"{option}: {query!r} matches several MIDI {what}s: {listing}")


def open_virtual(client, api: int, name: str, option: str, instead: str) -> None:
    """Create a virtual port on an rtmidi client; a clear InputError where the API cannot (Windows MM)."""
    if api == rtmidi.API_WINDOWS_MM:
        raise InputError(
            f"{option}: Windows MM has no virtual ports; install loopMIDI, create a port there and use "
            f"{instead} NAME"
        )
    try:
        client.open_virtual_port(name)
    except (*RTMIDI_ERRORS, NotImplementedError) as exc:
        raise InputError(f"{option}: cannot create virtual port {name!r}: {exc}") from None


# ---------------------------------------------------------------------------------- output port


class OutputPort:
    """One MIDI output: an existing port opened by name, or a virtual port others connect to.

    ``send`` is thread-safe and cheap; after ``mark_dead`` it silently drops messages (a dead JACK
    server makes rtmidi spin forever holding the GIL once its ring buffer fills).
    """

    def __init__(self, api: int, *, port: str | None = None, virtual: str | None = None,
                 client_name: str = DEFAULT_CLIENT) -> None:
        if (port is None) == (virtual is None):
            raise InputError("choose exactly one of --port NAME or --virtual [NAME]")
        self.api = api
        self.query = port
        self.virtual = virtual
        self.client_name = client_name
        self.port_name: str | None = None  # the full name of the opened existing port
        self.dead = False
        self.connected = True
        self._lock = threading.Lock()
        try:
            self._out = _new_client(rtmidi.MidiOut, api, name=client_name)
        except RTMIDI_ERRORS as exc:
            raise InputError(f"MIDI API {api_name(api)!r} is not available: {exc}") from None
        try:
            if virtual is not None:
                open_virtual(self._out, api, virtual, "--virtual", "--port")
            else:
                names = self._out.get_ports()
                index = find_port(port, names, api_name(api))
                self.port_name = names[index]
                self._out.open_port(index)
        except BaseException:
            self._out.delete()
            raise

    @property
    def label(self) -> str:
        """What the user sees: the opened port or our virtual port's name."""
        return port_label(self.api, self.client_name, self.virtual, self.port_name)

    def send(self, message: Sequence[int]) -> bool:
        """Send one message; False when it was dropped (port dead or closed)."""
        if self.dead:
            return False
        with self._lock:
            if self._out is None:
                return False
            self._out.send_message(message)
        return True

    def mark_dead(self) -> None:
        """Stop sending for good (the MIDI server is gone)."""
        self.dead = True

    def present(self) -> bool:
        """Whether the opened existing port still exists (always True for a virtual port)."""
        if self.virtual is not None or self.port_name is None:
            return True
        try:
            names = self._current_names()
        except RTMIDI_ERRORS:
            return False
        return self.port_name in names or bool(match_ports(self.query or "", names,
                                                           api_name(self.api)))

    def _current_names(self) -> list[str]:
        if self.api == rtmidi.API_LINUX_ALSA:  # old ALSA instances can show stale lists
            probe = _new_client(rtmidi.MidiOut, self.api, name=f"{self.client_name}-poll")
            try:
                return list(probe.get_ports())
            finally:
                probe.delete()
        with self._lock:
            return list(self._out.get_ports()) if self._out is not None else []

    def reopen(self) -> bool:
        """Reconnect to the port by name after it came back; True on success."""
        if self.virtual is not None or self.dead:
            return True
        with self._lock:
            names = list(self._out.get_ports())
            hits = [i for i, n in enumerate(names) if n == self.port_name]
            if not hits:
                hits = match_ports(self.query or "", names, api_name(self.api))
            if len(hits) != 1:
                return False
            try:
                self._out.close_port()
                self._out.open_port(hits[0])
            except RTMIDI_ERRORS as exc:
                log.warning("reopening %s failed: %s", self.port_name, exc)
                return False
            self.port_name = names[hits[0]]
        return True

    def close(self) -> None:
        """Close the port (rtmidi's JACK close waits for queued messages to drain) and free it."""
        with self._lock:
            out, self._out = self._out, None
        if out is None:
            return
        if not self.dead:
            try:
                out.close_port()
            except RTMIDI_ERRORS as exc:
                log.warning("closing the MIDI port failed: %s", exc)
            out.delete()
        # a dead JACK server: do not touch the client again (close could block); leak it


class JackHeartbeat:
    """A private loopback (own out -> own in) that tells whether the JACK server still runs."""

    INTERVAL = 0.25

    def __init__(self, client_name: str = DEFAULT_CLIENT) -> None:
        api = rtmidi.API_UNIX_JACK
        try:
            self._out = _new_client(rtmidi.MidiOut, api, name=f"{client_name}-hb")
            self._out.open_virtual_port("beat")
            self._in = _new_client(rtmidi.MidiIn, api, name=f"{client_name}-hbin")
        except RTMIDI_ERRORS as exc:
            raise RuntimeFailure(f"cannot open the JACK heartbeat clients: {exc}") from None
        self._in.ignore_types(sysex=True, timing=True, active_sense=False)
        target = f"{client_name}-hb:beat"
        names = self._in.get_ports()
        if target not in names:
            raise RuntimeFailure(f"JACK heartbeat port {target!r} did not appear")
        self._in.open_port(names.index(target))
        self.last_seen = time.perf_counter()
        self._last_sent = 0.0
        self.dead = False

    def check(self, timeout: float = 1.5) -> bool:
        """Send a beat when due, collect echoes; False once none came back for ``timeout`` s."""
        if self.dead:
            return False
        now = time.perf_counter()
        while self._in.get_message() is not None:
            self.last_seen = now
        if now - self.last_seen > timeout:
            self.dead = True
            return False
        if now - self._last_sent >= self.INTERVAL:
            self._out.send_message([0xFE])
            self._last_sent = now
        return True

    def close(self) -> None:
        """Free both clients (skipped when the server is dead: closing could block)."""
        if self.dead:
            return
        self._in.close_port()
        self._in.delete()
        self._out.close_port()
        self._out.delete()
