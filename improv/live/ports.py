"""MIDI ports through python-rtmidi: API choice, listing, name matching, opening, health checks.

Live I/O uses python-rtmidi directly (mido's input path runs Python inside JACK's thread, see
docs/ARCHITECTURE.md). Names are matched the way users type them: case-insensitive, the words of the
query in order (``"IAC Bus"`` finds ``"IAC Driver IAC Bus 1"``), never silently the first port.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import rtmidi

from improv.errors import InputError, RuntimeFailure
from improv.live.quietfd import quiet_stderr

log = logging.getLogger(__name__)
# what rtmidi raises when an API, a client or a port is not usable
RTMIDI_ERRORS = (SystemError, RuntimeError, rtmidi.RtMidiError)


def port_label(api: int, client_name: str, virtual: str | None, port_name: str | None) -> str:
    """A port as the user sees it: our virtual port's full name, or the existing port opened."""
    if virtual is not None:
        sep = ":" if api == rtmidi.API_UNIX_JACK else " "
        return f"{client_name}{sep}{virtual}"
    return port_name or "?"

def connect_hint(api: int, label: str) -> str:
    """How a user connects a synth to our virtual port ``label``, in a few words."""
    if api == rtmidi.API_UNIX_JACK:
        return f"connect a synth: jack_connect {label} SYNTH:IN (or any JACK patchbay)"
    if api == rtmidi.API_LINUX_ALSA:
        return f"connect a synth: aconnect {label.split()[0]}:0 SYNTH (or any ALSA patchbay)"
    return f"connect a synth: choose {label!r} as its MIDI input"


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


# scripts/with-midi sets this (seconds) when it execs improv while the JACK server it started is still coming
# up: the first JACK client waits for the server instead of failing (the interpreter's start-up and imports
# overlap the server's). Read once, at import; only the first client waits.
SERVER_WAIT_ENV = "IMPROV_JACK_WAIT"


def _server_wait() -> float | None:
    try:
        wait = float(os.environ.pop(SERVER_WAIT_ENV, ""))
    except ValueError:
        return None
    return min(wait, 60.0) if wait > 0 else None


_jack_wait = _server_wait()


def _new_client(kind: type, api: int, name: str = DEFAULT_CLIENT, quiet: bool = True):
    """Create an rtmidi MidiIn/MidiOut; SystemError/RuntimeError mean the API is not usable."""
    global _jack_wait
    deadline = None
    if api == rtmidi.API_UNIX_JACK:
        _LibJack.load()  # libjack's messages go to logging from the first client on
        if _jack_wait is not None:
            deadline, _jack_wait = time.monotonic() + _jack_wait, None
    while True:
        try:
            with quiet_stderr() if quiet else contextlib.nullcontext():
                return kind(api, name=name)
        except RTMIDI_ERRORS:
            if deadline is None or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)  # the server with-midi started is not up yet


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
        if key == "jack" and _jack_wait is not None:
            return API_NAMES[key]  # with-midi is starting the server: the first client waits for it
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


# the clients improv's outputs live on: the player's output, the JACK heartbeat and jacksettle's silent
# peer (JACK renames a second client of the same name "improv-01"); their ports are sources, never a
# player to listen to
_OWN_OUTPUT_CLIENT = re.compile(rf"{re.escape(DEFAULT_CLIENT)}(-hb|-settle-peer)?(-\d+)?")


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
        self.settle: Callable[[], object] | None = None  # waits for the JACK graph before the port goes
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
        if self.settle is not None:  # not under the lock: the emitter keeps sending meanwhile
            self.settle()
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
            close_rtmidi(out, self.settle, "the MIDI port")
        # a dead JACK server: do not touch the client again (close could block); leak it


def close_rtmidi(client, settle: Callable[[], object] | None, what: str) -> None:
    """Close an rtmidi client's port and free it, once the JACK graph has settled (``settle``: see
    improv.live.jacksettle); a failure to close is logged, never raised."""
    if settle is not None:
        settle()
    try:
        client.close_port()
    except RTMIDI_ERRORS as exc:
        log.warning("closing %s failed: %s", what, exc)
    client.delete()


class _LibJack:
    """The libjack python-rtmidi loaded (ctypes), for what rtmidi does not expose; None-safe."""

    ERROR_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
    SHUTDOWN_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    lib = None
    _tried = False
    _on_message = None  # keeps the ctypes callback alive

    @classmethod
    def load(cls):
        """The library, with its error/info printing routed to logging (once); None without one."""
        if cls._tried:
            return cls.lib
        cls._tried = True
        path = None
        with contextlib.suppress(OSError):
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
                path = next((line.split()[-1] for line in maps if "/libjack" in line), None)
        path = path or ctypes.util.find_library("jack")
        if path is None:
            return None
        try:
            lib = ctypes.CDLL(path)
            lib.jack_client_open.restype = ctypes.c_void_p
            lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
            lib.jack_client_close.argtypes = [ctypes.c_void_p]
            lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, cls.SHUTDOWN_FN, ctypes.c_void_p]
            cls._on_message = cls.ERROR_FN(_jack_message)
            lib.jack_set_error_function(cls._on_message)
            lib.jack_set_info_function(cls._on_message)
        except (OSError, AttributeError) as exc:
            log.debug("libjack at %s not usable: %s", path, exc)
            return None
        cls.lib = lib
        return lib


def libjack():
    """The libjack python-rtmidi uses (ctypes, its messages routed to logging); None without one."""
    return _LibJack.load()


jack_log = logging.getLogger("improv.jack")


def _jack_message(text: bytes) -> None:
    """libjack's own messages (e.g. ``Cannot read socket fd … Interrupted system call`` when a signal
    lands in a client call, or the lines a dying server causes): logged, never printed on fd 2.
    Called from libjack's threads; improv reports what matters (a dead server) itself."""
    jack_log.debug("libjack: %s", text.decode("utf-8", "replace").strip())


class JackWatch:
    """Notices the JACK server's death with no client in the process cycle: a libjack client that is
    never activated (JACK never wakes it) whose shutdown callback only sets a flag (lock-free)."""

    JACK_NO_START_SERVER = 0x01

    def __init__(self, client_name: str = DEFAULT_CLIENT) -> None:
        lib = _LibJack.load()
        if lib is None:
            raise RuntimeFailure("cannot watch the JACK server: libjack not found")
        status = ctypes.c_int()
        self._lib = lib
        self._client = lib.jack_client_open(f"{client_name}-watch".encode(), self.JACK_NO_START_SERVER,
                                            ctypes.byref(status))
        if not self._client:
            raise RuntimeFailure(f"cannot watch the JACK server (status 0x{status.value:x})")
        self.dead = False
        self._callback = _LibJack.SHUTDOWN_FN(self._on_shutdown)
        lib.jack_on_shutdown(self._client, self._callback, None)

    def _on_shutdown(self, _arg: object) -> None:
        self.dead = True

    def check(self) -> bool:
        """False once the server has gone."""
        return not self.dead

    def close(self) -> None:
        """Free the client (skipped when the server is dead: closing could block)."""
        client, self._client = self._client, None
        if client and not self.dead:
            self._lib.jack_client_close(client)
