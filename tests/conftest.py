"""Shared fixtures: a JACK server (dummy driver) the live tests play through, a MIDI probe that
records what arrives, and a tiny random model so `improv play` runs the real improviser fast.

The server runs under its own name (``JACK_TEST_SERVER``, default ``improvtest``) with
``JACK_DEFAULT_SERVER`` set for every client. Without jackd or rtmidi's JACK API the JACK tests
skip; with env CI=true a missing jackd fails them instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _default_stop_signals() -> None:
    """Children inherit ignored signals through exec: a suite started from `nohup` or a background job of
    a script (SIGHUP, SIGINT, SIGQUIT ignored) would send its stop signals to an improv that cannot
    hear them before its handlers are in (and with-midi's traps could not be set at all). The stop
    tests are about the defaults a terminal gives, so the suite starts from them."""
    for name, default in (("SIGHUP", signal.SIG_DFL), ("SIGQUIT", signal.SIG_DFL),
                          ("SIGINT", signal.default_int_handler)):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, default)


_default_stop_signals()
SERVER_NAME = os.environ.get("JACK_TEST_SERVER", "improvtest")


@dataclass
class JackServer:
    name: str
    process: subprocess.Popen
    period: int
    realtime: bool
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def env(self) -> dict[str, str]:
        """The environment a client subprocess needs to find this server."""
        env = dict(os.environ)
        env["JACK_DEFAULT_SERVER"] = self.name
        env["JACK_NO_AUDIO_RESERVATION"] = "1"
        env.pop("IMPROV_MIDI_API", None)
        return env


def _clean_shm(name: str) -> None:
    for pattern in (f"/dev/shm/jack_{name}_*", f"/dev/shm/jack_sem.*_{name}_*"):
        for path in glob.glob(pattern):
            try:
                os.unlink(path)
            except OSError:
                pass


def _jack_api_missing() -> str | None:
    try:
        import rtmidi
    except ImportError:
        return "python-rtmidi is not installed"
    if rtmidi.API_UNIX_JACK not in rtmidi.get_compiled_api():
        return "python-rtmidi was built without the JACK API"
    return None


def _ready(name: str, process: subprocess.Popen, timeout: float = 10.0) -> bool:
    """Wait until the server answers a client (jack_lsp), or it exited, or the timeout."""
    lsp = shutil.which("jack_lsp")
    deadline = time.monotonic() + timeout
    env = dict(os.environ, JACK_DEFAULT_SERVER=name)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if lsp:
            answered = subprocess.run([lsp, "-s", name], env=env, capture_output=True,
                                      timeout=5).returncode == 0
        else:
            answered = _rtmidi_answers(env)
        if answered:
            return True
        time.sleep(0.05)
    return False


def _rtmidi_answers(env: dict[str, str]) -> bool:
    code = "import rtmidi; rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name='ready').delete()"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          timeout=10).returncode == 0


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _answers(name: str) -> bool:
    """Whether a JACK server called ``name`` runs (e.g. another test session's)."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=name)
    lsp = shutil.which("jack_lsp")
    if lsp:
        return subprocess.run([lsp, "-s", name], env=env, capture_output=True,
                              timeout=5).returncode == 0
    return _rtmidi_answers(env)


def _free_name(base: str) -> str:
    """``base``, or ``base-2``.. when a concurrent session already runs a server by that name
    (never clean or reuse a live server's files); a dead predecessor's name is reclaimed."""
    for number in range(1, 8):
        name = base if number == 1 else f"{base}-{number}"
        if not _answers(name):
            return name
    pytest.fail(f"JACK server names {base}..{base}-7 are all in use")


def _start_jackd(name: str, period: int, log: Path) -> JackServer:
    jackd = shutil.which("jackd")
    base = [jackd, "-n", name]
    driver = ["-d", "dummy", "-r", "48000", "-p", str(period)]
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    # synchronous (-S): a late client delays the cycle instead of losing that cycle's MIDI (in the
    # default asynchronous mode a client "not finished" in time, e.g. a sender starved by other
    # processes or other JACK servers' real-time threads, has its messages dropped by the server).
    # The dummy driver has no audio to glitch, so the tests can assert that nothing is lost.
    for mode, realtime in ((["-R", "-S"], True), (["-S", "--no-realtime"], False)):
        _clean_shm(name)
        handle = open(log, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as jackd
        process = subprocess.Popen(base + mode + driver, stdout=handle, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
        handle.close()
        if _ready(name, process):
            return JackServer(name, process, period, realtime, log)
        _stop(process)
    pytest.fail(f"jackd would not start (log: {log}):\n{log.read_text()[-2000:]}")


_GRAPH: list = []  # this session's improv.live.jacksettle.GraphSettle, made on first use


def settle_graph() -> None:
    """Before a JACK port of this process closes: wait until the server's latency notifications for the
    graph changes so far (e.g. an improv that just ended) have been handled. libjack crashes (SIGSEGV in
    its notification thread) when a port goes while they walk that client's ports; see
    improv.live.jacksettle."""
    if not _GRAPH:
        from improv.live.jacksettle import GraphSettle

        _GRAPH.append(GraphSettle("pytest"))
    _GRAPH[0].wait()


def require_jack() -> None:
    """Skip with a reason where jackd or rtmidi's JACK API is missing; under CI=true fail instead."""
    if shutil.which("jackd") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("jackd is not installed, and CI=true requires the JACK tests to run")
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    missing = _jack_api_missing()
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory):
    """A jackd (dummy driver, 48 kHz, period 64, synchronous) for this session; stopped by PID at
    the end."""
    require_jack()
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    server = _start_jackd(_free_name(SERVER_NAME), 64, log)
    saved = {key: os.environ.get(key) for key in ("JACK_DEFAULT_SERVER",
                                                   "JACK_NO_AUDIO_RESERVATION")}
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    try:
        yield server
    finally:
        while _GRAPH:
            _GRAPH.pop().close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _stop(server.process)
        _clean_shm(server.name)


@pytest.fixture
def jack(jack_server: JackServer) -> JackServer:
    """The session's server, checked alive before each test."""
    if not jack_server.alive():
        pytest.fail(f"jackd died; log:\n{jack_server.log.read_text()[-2000:]}")
    return jack_server


# ------------------------------------------------------------------------------------ the probe
NOTE_ON, NOTE_OFF, CONTROL = 0x90, 0x80, 0xB0


@dataclass
class Probe:
    """A separate rtmidi JACK client with an input port, read by a poll thread (no callback)."""

    name: str = "probe"
    messages: list[tuple[float, tuple[int, ...]]] = field(default_factory=list)
    # (input index, seconds since that input's first message by rtmidi deltas, message)
    stamped: list[tuple[int, float, tuple[int, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        import rtmidi

        self._rtmidi = rtmidi
        virtual = self._new_input(self.name)
        virtual.open_virtual_port("in")
        self._inputs = [virtual]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _new_input(self, name: str):
        midi_in = self._rtmidi.MidiIn(self._rtmidi.API_UNIX_JACK, name=name,
                                      queue_size_limit=8192)
        midi_in.ignore_types(sysex=False, timing=False, active_sense=True)
        return midi_in

    def _poll(self) -> None:
        try:  # a late poll thread should not blur what arrives
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(5))
        except (AttributeError, OSError):
            pass
        clocks = {}
        while not self._stop.is_set():
            got = False
            for index, midi_in in enumerate(list(self._inputs)):
                item = midi_in.get_message()
                if item is not None:
                    got = True
                    # JACK-stamped time: the running sum of rtmidi's deltas on this input
                    clocks[index] = clocks.get(index, 0.0) + item[1]
                    with self._lock:
                        self.messages.append((time.perf_counter(), tuple(item[0])))
                        self.stamped.append((index, clocks[index], tuple(item[0])))
            if not got:
                time.sleep(0.0005)

    def connect(self, port: str, timeout: float = 60.0) -> str:
        """Connect a new input of ours to the output port named ``port`` (JACK may have renamed
        the client, e.g. ``improv-01:x`` for ``improv:x``) once it exists; returns its name."""
        client, _, short = port.partition(":")
        reader = self._new_input(f"{self.name}-c")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = reader.get_ports()
            hits = [i for i, n in enumerate(names) if n == port or (
                n.partition(":")[2] == short and n.startswith(client + "-"))]
            if hits:
                reader.open_port(hits[0], "in")
                self._inputs.append(reader)
                return names[hits[0]]
            time.sleep(0.005)
        raise AssertionError(f"port {port!r} never appeared (ports: {reader.get_ports()})")

    def snapshot(self) -> list[tuple[float, tuple[int, ...]]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate: Callable[[list], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            time.sleep(0.005)
        return predicate(self.snapshot())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for midi_in in self._inputs:
            settle_graph()
            midi_in.close_port()
            midi_in.delete()


def sounding(messages: list[tuple[float, tuple[int, ...]]], *, controllers: bool = True) -> set:
    """(channel, pitch) keys a receiver would still hear; CC123/CC120 clear a channel."""
    notes: set[tuple[int, int]] = set()
    for _, msg in messages:
        kind, channel = msg[0] & 0xF0, msg[0] & 0x0F
        if kind == NOTE_ON and msg[2] > 0:
            notes.add((channel, msg[1]))
        elif kind == NOTE_OFF or (kind == NOTE_ON and msg[2] == 0):
            notes.discard((channel, msg[1]))
        elif controllers and kind == CONTROL and msg[1] in (120, 123):
            notes = {key for key in notes if key[0] != channel}
    return notes


def dumped_bytes(line: str) -> list[int]:
    """The message bytes of a jack_midi_dump line: '  63232: 90 3c 64 note on  (channel  0): ...'."""
    data = []
    for token in line.split(":", 1)[1].split():
        if len(token) != 2 or any(c not in "0123456789abcdef" for c in token):
            break
        data.append(int(token, 16))
    return data


@pytest.fixture
def probe(jack: JackServer):
    """A recording MIDI input ``probe:in`` on the test JACK server."""
    item = Probe()
    try:
        yield item
    finally:
        item.close()


# ------------------------------------------------------------------------------------ a model
@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random model directory in the real format (fast to load, deterministic)."""
    import numpy as np

    from improv.model import conditioning
    from improv.theory.values import Value, Vocabulary

    out = tmp_path_factory.mktemp("tiny_model")
    texts = ["C,0.500", "R,0.500", "R,1.000"] + [
        f"{kind},{dur},{leap:+d}" for kind in "CSA" for dur in ("0.500", "1.000")
        for leap in (-3, -2, -1, 1, 2, 3)
    ]
    vocab = Vocabulary(Value.parse(text) for text in texts)
    vocab.save(out / "vocab.json", {"conditioning": conditioning.describe()})
    n, units = len(vocab), 16
    rng = np.random.default_rng(1)
    np.savez(out / "cell.npz",
             kernel=rng.normal(0, 0.3, (n + conditioning.COND_SIZE, 4 * units)),
             recurrent=rng.normal(0, 0.3, (units, 4 * units)), bias=np.zeros(4 * units),
             dense_w=rng.normal(0, 0.5, (units, n)), dense_b=np.zeros(n))
    return out


# ------------------------------------------------------------------------------------ listening
@pytest.fixture(scope="session", autouse=True)
def _session_logs_in_tmp(tmp_path_factory: pytest.TempPathFactory):
    """`improv play` writes a session log every time: keep the tests' logs out of ~/.cache."""
    if os.environ.get("IMPROV_CACHE"):
        yield
        return
    os.environ["IMPROV_CACHE"] = str(tmp_path_factory.mktemp("improv-cache"))
    try:
        yield
    finally:
        os.environ.pop("IMPROV_CACHE", None)


# ------------------------------------------------------------------------------------ CI output
CI = os.environ.get("CI") == "true"
CI_LINES = 60  # a failure report longer than this is cut to its head and tail under CI=true


def _first_difference(left, right) -> int | None:
    for index, (a, b) in enumerate(zip(left, right, strict=False)):  # lengths may differ
        if a != b:
            return index
    return None if len(left) == len(right) else min(len(left), len(right))


def pytest_assertrepr_compare(config, op, left, right):
    """Under CI=true a failing ``==`` of long sequences or texts says where they differ, briefly,
    instead of a diff of every line."""
    if not CI or op != "==":
        return None
    if not all(isinstance(x, (list, tuple, str, bytes)) for x in (left, right)):
        return None
    if len(repr(left)) + len(repr(right)) < 2000:
        return None
    where = _first_difference(left, right)
    lines = [f"{type(left).__name__} of {len(left)} == {type(right).__name__} of {len(right)}: "
             f"first difference at index {where}"]
    if where is not None:
        lo = max(0, where - 2)
        lines.append(f"left[{lo}:{where + 3}] = {left[lo:where + 3]!r:.300}")
        lines.append(f"right[{lo}:{where + 3}] = {right[lo:where + 3]!r:.300}")
    return lines


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a failure report (e.g. a huge assertion message) keeps its head and tail."""
    outcome = yield
    report = outcome.get_result()
    if not CI or not report.failed or report.longrepr is None:
        return
    text = str(report.longrepr)
    lines = text.splitlines()
    if len(lines) > CI_LINES:
        half = CI_LINES // 2
        cut = len(lines) - CI_LINES
        lines = [*lines[:half], f"... ({cut} lines cut: CI=true) ...", *lines[-half:]]
        text = "\n".join(lines)
    report.longrepr = "\n".join(line if len(line) <= 2000 else line[:2000] + " ... (cut)"
                                for line in text.splitlines())
