"""The live synth output: FluidSynth playing what the engine sends, to FluidSynth's own audio driver.

``SynthSink`` is a ``Sink`` (``send(message) -> bool``) over ``improv.synth.Synth``: the emitter thread calls
``send``; the audio goes to FluidSynth's audio driver thread (the platform default, or ``driver``: ``jack``,
``pulseaudio``, ``pipewire``, ``alsa``, ``coreaudio``, ...). No MIDI driver is created: the synth is fed
in-process, with no extra MIDI client. Whether the audio driver opens at all is asked more cheaply by
``improv.live.audioprobe`` (``make play`` asks it before choosing the synth over the virtual port).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from improv.errors import InputError
from improv.live.quietfd import quiet_stderr
from improv.synth import Synth


class SynthSink(Synth):
    """The live output: a synth whose audio goes to FluidSynth's audio driver (its default, or ``driver``)."""

    def __init__(self, soundfont: str | Path | None = None, *, driver: str | None = None,
                 period: int | None = None, programs: Mapping[int, int] | None = None) -> None:
        settings: dict[str, object] = {}
        if driver:
            settings["audio.driver"] = driver
        if period:
            settings["audio.period-size"] = int(period)
        if driver == "jack":
            settings["audio.jack.autoconnect"] = 1
        super().__init__(soundfont, programs=programs, **settings)
        self.driver_name = driver or str(self.fs.get_setting("audio.driver"))
        self.label = f"FluidSynth ({self.driver_name}, {self.soundfont.name})"
        with quiet_stderr():  # ALSA and FluidSynth print their own lines on a failed open
            self._driver = self.fs_module.new_fluid_audio_driver(self.fs.settings, self.fs.synth)
        if not self._driver:
            self.close()
            raise InputError(f"--synth: FluidSynth's audio driver {self.driver_name!r} could not start "
                             "(no audio output here?); use --audio-driver or a MIDI port instead")

    def close(self, release: float = 1.0) -> None:
        """Let released notes ring out (up to ``release`` seconds; a panic's All Sound Off ends them at
        once), then stop the audio driver and free the synth."""
        deadline = time.monotonic() + release
        while getattr(self, "_driver", None) and self.fs.get_active_voice_count() > 0:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        driver, self._driver = getattr(self, "_driver", None), None
        if driver:
            self.fs_module.delete_fluid_audio_driver(driver)
        super().close()
