"""Device profiles: the shipped ones, validation errors naming file and key, save/load, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import improv.devices
from improv.cli import main
from improv.devices import (
    PARAMETERS,
    DeviceProfile,
    builtin_devices,
    load_device,
    save_device,
)
from improv.errors import InputError
from improv.live.ports import match_ports

SHIPPED = {
    "generic-keyboard",
    "macos-iac-bus",
    "windows-loopmidi",
    "alsa-midi-through",
    "jack",
    "daw-clock",
}


@pytest.fixture(autouse=True)
def _no_user_profiles(tmp_path_factory, monkeypatch) -> None:
    """Only the shipped profiles: a developer's own ~/.config/improv/devices must not leak in."""
    monkeypatch.setattr(improv.devices, "USER_DIR", tmp_path_factory.mktemp("user-devices"))
    monkeypatch.delenv("IMPROV_DEVICES", raising=False)


def test_shipped_profiles_load() -> None:
    profiles = {p.name: p for p in builtin_devices()}
    assert set(profiles) >= SHIPPED
    for name, profile in profiles.items():
        assert profile.path is not None and profile.path.stem == name
        assert profile.description
        assert set(profile.cc) <= set(PARAMETERS)
    keyboard = profiles["generic-keyboard"]
    assert keyboard.cc_map() == {1: "temperature"} and keyboard.sustain_ends_call
    assert profiles["daw-clock"].clock == "input"
    assert profiles["jack"].api == "jack" and profiles["jack"].virtual == "in"


@pytest.mark.parametrize(
    ("profile", "platform", "api", "names", "wanted"),
    [
        ("macos-iac-bus", "darwin", "coremidi",
         ["IAC Driver Bus 1", "IAC Driver Bus 2"], "IAC Driver Bus 1"),
        ("macos-iac-bus", "darwin", "coremidi",
         ["IAC Driver IAC Bus 1", "IAC Driver IAC Bus 2"], "IAC Driver IAC Bus 1"),
        ("alsa-midi-through", "linux", "alsa",
         ["Midi Through:Midi Through Port-0 14:0", "Midi Through:Midi Through Port-1 14:1"],
         "Midi Through:Midi Through Port-0 14:0"),
        ("windows-loopmidi", "windows", "winmm",
         ["Microsoft GS Wavetable Synth 0", "improv in 1", "improv out 2"], "improv in 1"),
    ],
)  # fmt: skip
def test_port_patterns_find_the_port(
    profile: str, platform: str, api: str, names: list[str], wanted: str
) -> None:
    patterns = load_device(profile).port_patterns(platform)
    hits = {names[i] for p in patterns for i in match_ports(p, names, api)}
    assert hits == {wanted}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pads.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('name = "pads"\ncolour = 3\n', "colour"),
        ("channel = 0\n", "channel"),
        ("channel = 17\n", "channel"),
        ('channel = "1"\n', "channel"),
        ("note_range = [90, 30]\n", "note_range"),
        ("note_range = [30]\n", "note_range"),
        ("gate_cc = 128\n", "gate_cc"),
        ('sustain_ends_call = "yes"\n', "sustain_ends_call"),
        ('api = "directx"\n', "api"),
        ('name = "My Pads"\n', "name"),
        ("[cc]\ntemprature = 1\n", "cc.temprature"),
        ("[cc]\ntemperature = 1\ndensity = 1\n", "cc.density"),
        ("gate_cc = 1\n[cc]\ntemperature = 1\n", "cc.temperature"),
        ("[cc]\nmode = -1\n", "cc.mode"),
        ('[ports]\nbeos = ["x"]\n', "ports.beos"),
        ("[ports]\nlinux = [1]\n", "ports.linux"),
        ('[output]\ndarwin = [""]\n', "output.darwin"),
    ],
)
def test_invalid_profiles_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_device(path)
    message = str(err.value)
    assert str(path) in message and repr(key) in message and "\n" not in message


def test_bad_toml_and_missing_files(tmp_path: Path) -> None:
    path = _write(tmp_path, "name = \n")
    with pytest.raises(InputError, match="invalid TOML"):
        load_device(str(path))
    with pytest.raises(InputError, match="no such file"):
        load_device(tmp_path / "absent.toml")
    with pytest.raises(InputError, match="no device profile named 'nonesuch'.*generic-keyboard"):
        load_device("nonesuch")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    profile = load_device("generic-keyboard")
    profile.cc["density"] = 74  # what --learn would do
    profile.gate_cc = 67
    profile.channel = 2
    profile.ports["linux"] = ['Keystation 49 "MK3"']
    path = save_device(profile, tmp_path / "sub" / "mine.toml")
    again = load_device(path)
    assert again.as_dict() == profile.as_dict()
    assert again.cc_map() == {1: "temperature", 74: "density"}


def test_save_refuses_an_invalid_profile(tmp_path: Path) -> None:
    bad = DeviceProfile(name="pads", cc={"temperature": 1, "density": 1})
    with pytest.raises(InputError, match="cc.density"):
        save_device(bad, tmp_path / "pads.toml")
    assert not (tmp_path / "pads.toml").exists()


def test_user_profiles_shadow_shipped_ones(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "jack.toml").write_text('name = "jack"\ndescription = "mine"\n')
    monkeypatch.setenv("IMPROV_DEVICES", str(tmp_path))
    assert load_device("jack").description == "mine"


def test_cli_lists_profiles(capsys) -> None:
    assert main(["devices", "--json"]) == 0
    listed = {entry["name"] for entry in json.loads(capsys.readouterr().out)}
    assert listed >= SHIPPED
    assert main(["devices"]) == 0
    assert "generic-keyboard" in capsys.readouterr().out
    assert main(["devices", "jack"]) == 0
    assert 'virtual = "in"' in capsys.readouterr().out
    assert main(["devices", "nonesuch"]) == 2
    assert "no device profile named" in capsys.readouterr().err
