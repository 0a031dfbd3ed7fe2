"""--band-port and the band keys: the channel router, config files and device profiles checked, bad input
one line and exit 2. (The routing through real JACK ports: test_band_ports_jack.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_bad_options import _run

import improv.devices
from improv.cli.playoptions import CONFIG_KEYS
from improv.config import load_play_config
from improv.devices import DeviceProfile, load_device, save_device
from improv.errors import InputError
from improv.live.router import ChannelRouter, PortGroup
from improv.midi.messages import panic_messages
from improv.perform.band import BandChannels, parse_band_channels, parse_band_ports


class Recorder:
    def __init__(self, name: str, ok: bool = True) -> None:
        self.label, self.ok, self.got, self.closed = name, ok, [], False
        self.dead = False
        self.here = True

    def send(self, message) -> bool:
        self.got.append(tuple(message))
        return self.ok

    def close(self) -> None:
        self.closed = True

    def present(self) -> bool:
        return self.here

    def reopen(self) -> bool:
        self.here = True
        return True

    def mark_dead(self) -> None:
        self.dead = True


def test_the_router_sends_each_channel_to_its_port_and_system_messages_to_all():
    main_out, bass, drums = Recorder("main"), Recorder("bassport"), Recorder("drumport")
    router = ChannelRouter(main_out, {1: bass, 9: drums}, {1: "bass", 9: "drums"})
    assert router.label == "main" and router.routes_label == "bass on bassport, drums on drumport"
    for message in [(0x90, 60, 90), (0x91, 40, 80), (0x99, 51, 70), (0x92, 64, 60), (0xF8,), (0xFC,)]:
        assert router.send(message)
    assert main_out.got == [(0x90, 60, 90), (0x92, 64, 60), (0xF8,), (0xFC,)]
    assert bass.got == [(0x91, 40, 80), (0xF8,), (0xFC,)]
    assert drums.got == [(0x99, 51, 70), (0xF8,), (0xFC,)]
    for message in panic_messages([(1, 40), (9, 51)], [0, 1, 2, 9]):  # the panic silences every port
        router.send(message)
    assert {m[0] & 15 for m in bass.got if m[0] < 0xF0} == {1}
    assert (0xB1, 123, 0) in bass.got and (0xB9, 120, 0) in drums.got and (0xB2, 123, 0) in main_out.got
    assert not router.send(())
    router.close()
    assert main_out.closed and bass.closed and drums.closed


def test_two_parts_on_one_port_share_it_and_the_group_watches_every_port():
    main_out, shared = Recorder("main"), Recorder("shared")
    router = ChannelRouter(main_out, {1: shared, 9: shared})
    assert len(router.sinks) == 2
    router.send((0xFA,))
    assert shared.got == [(0xFA,)]  # once, not once per part
    group = PortGroup([main_out, shared])
    assert group.present()
    shared.here = False
    assert not group.present() and group.reopen() and group.present()
    group.mark_dead()
    assert main_out.dead and shared.dead


def test_parse_band_ports_and_channel_tables():
    assert parse_band_ports(["drums=Drum Machine", "bass=SH-101"]) == {"drums": "Drum Machine",
                                                                       "bass": "SH-101"}
    assert parse_band_ports({"Comp": " Piano "}) == {"comp": "Piano"}
    assert parse_band_ports(None) == {}
    for bad, why in ((["drums"], "not PART=PORT"), (["sax=x"], "unknown part"), (["bass="], "port name"),
                     (["bass=a", "bass=b"], "two ports")):
        with pytest.raises(InputError, match=why):
            parse_band_ports(bad)
    assert parse_band_channels({"bass": 5, "drums": 10}) == BandChannels(0, 4, 2, 9)
    with pytest.raises(InputError, match="not 1..16"):
        parse_band_channels({"bass": "5"})


@pytest.mark.parametrize("argv, message", [
    (["--band", "bass", "--band-port", "drums=x"], "--band-port: drums is not playing (add it to --band)"),
    (["--band", "all", "--band-port", "drums"], "--band-port: 'drums' is not PART=PORT"),
    (["--band", "all", "--band-port", "sax=x"], "--band-port: unknown part 'sax'"),
])
def test_bad_band_ports_are_one_line_exit_2(capsys, argv, message):
    code, err = _run(capsys, "play", "--virtual", *argv)
    assert code == 2 and err.count("\n") == 1 and message in err, err


def test_config_band_keys_are_checked_and_named(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text('[play]\nband = ["bass", "drums"]\nband_channels = { bass = 5 }\n'
                    '[play.band_ports]\ndrums = "Drum Machine"\n')
    values = load_play_config(good, CONFIG_KEYS)
    assert values["band"] == ["bass", "drums"] and values["band_channels"] == {"bass": 5}
    assert values["band_ports"] == {"drums": "Drum Machine"}
    for text, message in (("band_ports = 5", "band_ports must be a string or a table or a list"),
                          ("band_channels = 5", "band_channels must be a string or a table")):
        bad = tmp_path / "bad.toml"
        bad.write_text(f"[play]\nband = 'all'\n{text}\n")
        with pytest.raises(InputError, match=message):
            load_play_config(bad, CONFIG_KEYS)
    bad = tmp_path / "idle.toml"
    bad.write_text('[play]\nband = "bass"\nband_ports = { comp = "x" }\n')
    code, err = _run(capsys, "play", "--virtual", "--config", str(bad))
    assert code == 2 and f"band_ports in {bad}: comp is not playing" in err, err
    bad.write_text('[play]\nband = "all"\nband_channels = { bass = 1 }\n')
    code, err = _run(capsys, "play", "--virtual", "--config", str(bad))
    assert code == 2 and f"band_channels in {bad}: two parts share a channel" in err, err


@pytest.fixture
def devices_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "devices"
    folder.mkdir()
    monkeypatch.setattr(improv.devices, "USER_DIR", tmp_path / "user")
    monkeypatch.setenv("IMPROV_DEVICES", str(folder))
    return folder


@pytest.mark.parametrize("text, key", [
    ('band = "bass,tuba"', "band"), ("band = 3", "band"), ('band_channels = "bass=0"', "band_channels"),
    ("band_channels = { drums = 17 }", "band_channels"), ('band_ports = "drums=x"', "band_ports"),
    ('[band_ports]\nsax = "x"', "band_ports"), ('[band_ports]\ndrums = ""', "band_ports"),
])
def test_device_band_keys_are_checked_naming_file_and_key(devices_dir, text, key):
    path = devices_dir / "rig.toml"
    path.write_text(f'name = "rig"\n{text}\n')
    with pytest.raises(InputError) as err:
        load_device(path)
    assert str(path) in str(err.value) and repr(key) in str(err.value) and "\n" not in str(err.value)


def test_a_device_profile_gives_the_band_unless_the_line_says_otherwise(devices_dir, capsys):
    profile = DeviceProfile(name="rig", band="bass", band_channels={"bass": 6},
                            band_ports={"drums": "x"})
    path = save_device(profile, devices_dir / "rig.toml")
    again = load_device("rig")
    assert (again.band, again.band_channels, again.band_ports) == ("bass", {"bass": 6}, {"drums": "x"})
    # the profile's band (bass) does not play drums, so its drums port is refused, naming the profile
    code, err = _run(capsys, "play", "--virtual", "--device", "rig")
    assert code == 2 and f"band_ports in {path}: drums is not playing" in err, err
    # the command line's --band-port replaces the profile's; a clash names the line, not the profile
    code, err = _run(capsys, "play", "--virtual", "--device", "rig", "--band-port", "comp=y")
    assert code == 2 and "--band-port: comp is not playing" in err, err


def test_the_live_synth_plays_generates_instruments():
    from improv.cli.sound import synth_programs

    band = ("bass", "comp", "drums")
    assert synth_programs(BandChannels(), band) == {0: 26, 1: 32, 2: 0}
    alone = parse_band_channels(None, base=BandChannels(solo=1), unique=False)  # --channel 2, no band
    assert synth_programs(alone, ()) == {1: 26}
