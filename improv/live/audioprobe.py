"""Does FluidSynth's audio driver open here? Answered in tens of milliseconds, before anything heavy loads.

``python -m improv.live.audioprobe [--audio-driver NAME]`` exits 0 when the driver (FluidSynth's default,
or NAME: ``jack``, ``pulseaudio``, ``pipewire``, ``alsa``, ``coreaudio``, ...) opens, else prints one line
and exits 2. ``make play`` asks it before choosing the synth over the virtual MIDI port. It talks to
libfluidsynth through ctypes and loads no soundfont (the soundfont's load is what makes a synth slow to
start), so nothing here imports numpy, mido or pyfluidsynth. Single-threaded; run it as its own process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from improv.live.quietfd import quiet_stderr

LIBRARIES = ("fluidsynth", "fluidsynth-3", "libfluidsynth-3")


def _library() -> ctypes.CDLL | None:
    for name in LIBRARIES:
        found = ctypes.util.find_library(name)
        if found:
            try:
                return ctypes.CDLL(found)
            except OSError:
                continue
    return None


def probe(driver: str | None = None) -> str | None:
    """None when the audio driver opens, else one line saying why not."""
    lib = _library()
    if lib is None:
        return "FluidSynth's library (libfluidsynth) is not installed"
    for name, restype in (("new_fluid_settings", ctypes.c_void_p), ("new_fluid_synth", ctypes.c_void_p),
                          ("new_fluid_audio_driver", ctypes.c_void_p)):
        getattr(lib, name).restype = restype
    lib.new_fluid_synth.argtypes = [ctypes.c_void_p]
    lib.new_fluid_audio_driver.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    for name in ("delete_fluid_audio_driver", "delete_fluid_synth", "delete_fluid_settings"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.fluid_settings_setstr.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    settings = lib.new_fluid_settings()
    if driver:
        lib.fluid_settings_setstr(settings, b"audio.driver", driver.encode())
    synth = lib.new_fluid_synth(settings)
    with quiet_stderr():
        opened = lib.new_fluid_audio_driver(settings, synth)
    if opened:
        lib.delete_fluid_audio_driver(opened)
    lib.delete_fluid_synth(synth)
    lib.delete_fluid_settings(settings)
    if opened:
        return None
    return (f"FluidSynth's audio driver {driver or 'default'!r} could not start (no audio output here?); "
            "use --audio-driver or a MIDI port instead")


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(__doc__.strip().splitlines()[0] + "\n\nexample: python -m improv.live.audioprobe "
              "--audio-driver pulseaudio")
        return 0
    driver = argv[argv.index("--audio-driver") + 1] if "--audio-driver" in argv[:-1] else None
    why = probe(driver)
    if why:
        print(f"improv: --synth: {why}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
