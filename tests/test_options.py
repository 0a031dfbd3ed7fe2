"""The option table: one row per option gives every command's argument, play's config key, the check and
the PlayOptions field; improviser settings are checked one way for play, its config, generate and replay."""

from __future__ import annotations

import argparse
import dataclasses
import importlib

import pytest

from improv.cli import build_parser, main, playoptions, table
from improv.cli.option import Option, add_arguments, config_keys
from improv.errors import InputError

# what session logs have always kept under "options" (old logs replay with these keys)
NOTE_KEYS = {"tempo", "swing", "tune", "changes", "temperature", "velocity", "low", "high", "bars",
             "count_in", "channel", "mode", "gate", "response_bars", "reseed_weight", "split",
             "chords_channel", "lookahead"}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _validate(**given):
    values = {**playoptions.DEFAULTS, **given}
    return playoptions.validate(values, lambda key: "--" + key.replace("_", "-"))


def test_every_command_takes_its_rows_and_keeps_an_example():
    parsers = _subparsers()
    for command in (table.PLAY, table.GENERATE, table.REPLAY, table.EVALUATE):
        flags = {s for a in parsers[command]._actions for s in a.option_strings}
        missing = [row.flag for row in table.rows(command) if row.flag not in flags]
        assert not missing, f"{command}: {missing}"
    for name, sub in parsers.items():
        assert f"improv {name}" in (sub.epilog or ""), f"improv {name} --help has no example"
        assert sub.formatter_class is argparse.RawDescriptionHelpFormatter, f"{name}: not from command()"
        assert callable(sub.get_default("run")), name
        assert sub.description == " ".join(sub.description.split()), f"{name}: description not folded"


def test_a_command_is_one_call():
    """``command`` gives a sub-command its help, folded description, example epilog and run."""
    from improv.cli.option import command

    subparsers = argparse.ArgumentParser(prog="improv").add_subparsers()

    def run(args):
        return 3

    parser = command(subparsers, "hum", run=run, help="hum a tune",
                     description="""Hum the tune,
                     softly.""", example="examples:\n  improv hum --loud\n")
    parser.add_argument("--loud", action="store_true")
    args = parser.parse_args(["--loud"])
    assert args.run(args) == 3 and args.loud
    assert parser.description == "Hum the tune, softly."
    assert parser.epilog == "examples:\n  improv hum --loud\n"
    assert "  improv hum --loud\n" in parser.format_help()  # the example as written
    with pytest.raises(ValueError, match="improv whistle"):
        command(subparsers, "whistle", run=run, help="", description="", example="examples: none")


def test_play_config_keys_are_the_play_rows():
    names = {row.name for row in playoptions.ROWS}
    assert set(playoptions.CONFIG_KEYS) == names - {"config", "learn"}
    assert playoptions.CONFIG_KEYS["swing"] == (int, float, bool)
    assert playoptions.CONFIG_KEYS["split"] == (str, int)
    from improv.cli.option import path_keys

    assert set(path_keys(playoptions.ROWS)) == {"library", "model", "record", "json_events", "session_log"}


def test_defaults_need_no_option():
    opts = _validate()
    assert (opts.output.channel, opts.output.virtual, opts.output.port) == (1, "improv", None)
    assert (opts.music.temperature, opts.music.range, opts.music.tempo) == (0.9, (52, 84), None)
    assert (opts.session.count_in, opts.session.lookahead, opts.session.bars) == (0, 1.0, None)
    listening = opts.listening
    assert (listening.mode, listening.gate, listening.reseed_weight) == (("solo", None), 2.0, 0.7)
    assert (opts.output.clock_out, opts.listening.passthrough, opts.sound.link) == (False, False, False)
    assert opts.port_from_default and opts.band_channels.solo == 0


def test_config_shortcuts_mean_what_they_did():
    opts = _validate(swing=True, virtual=True, virtual_input=True, band=True, synth=True)
    assert (opts.music.swing, opts.output.virtual, opts.listening.virtual_input) == (0.5, "improv", "in")
    assert opts.sound.band == ("bass", "comp", "drums") and opts.sound.synth is True
    opts = _validate(swing=False, virtual_input=False, band=False, split=60, mode="trade 8")
    assert (opts.music.swing, opts.listening.virtual_input, opts.sound.band) == (0.0, None, None)
    assert opts.listening.split == 60 and opts.listening.mode == ("trade", 8)


@pytest.mark.parametrize("temperature", [5.5, -0.1])
def test_temperature_is_checked_one_way_everywhere(tmp_path, capsys, temperature):
    config = tmp_path / "c.toml"
    config.write_text(f"[play]\ntemperature = {temperature}\n")
    assert main(["play", "--temperature", str(temperature)]) == 2
    assert f"--temperature: {temperature:g} is outside 0..5" in capsys.readouterr().err
    assert main(["play", "--config", str(config)]) == 2
    assert f"temperature in {config}: {temperature:g} is outside 0..5" in capsys.readouterr().err
    with pytest.raises(InputError, match=r"--temperature: .* is outside 0\.\.5"):
        table.checked(table.GENERATE, {"temperature": temperature})
    logged = {"temperature": temperature, "low": 52, "high": 84, "swing": 0.0, "velocity": None}
    with pytest.raises(InputError, match=r"log 'temperature': .* is outside 0\.\.5"):
        table.logged_settings(logged, 3, lambda key: f"log {key!r}")


def test_the_same_settings_from_play_generate_and_a_log():
    opts = _validate(temperature=0, range="48..Bb5", velocity=100, swing=0.25, seed=7)
    from_play = table.improviser_settings({row.name: opts.value(row.name) for row in playoptions.ROWS})
    from_generate = table.improviser_settings(table.checked(table.GENERATE, {
        "temperature": 0, "range": "48..Bb5", "velocity": 100, "swing": 0.25, "seed": 7}))
    record = playoptions.note_options(opts)
    from_log = table.logged_settings(record, 7, repr)
    assert from_play == from_generate == from_log
    assert (from_log.temperature, from_log.low, from_log.high, from_log.velocity) == (0.0, 48, 82, 100)


def test_improviser_rows_are_shared_not_copied():
    play = {row.name: row for row in table.rows(table.PLAY) if row.improviser}
    generate = {row.name: row for row in table.rows(table.GENERATE) if row.improviser}
    assert set(play) <= set(generate) and {"seed", "temperature", "range", "velocity", "swing"} <= set(play)
    for name, row in play.items():
        assert (row.bounds, row.default, row.check) == (generate[name].bounds, generate[name].default,
                                                        generate[name].check), name


def test_the_session_log_keeps_the_same_option_keys():
    assert set(playoptions.note_options(_validate())) == NOTE_KEYS


def test_a_new_mode_is_one_class(monkeypatch):
    from improv.perform import modes

    monkeypatch.setitem(modes.MODES, "duet", None)  # the class below registers itself; undone after

    class Duet(modes.Mode):
        name = usage = "duet"
        help = "both at once"
        listens = True

    assert isinstance(modes.MODES["duet"], Duet) and list(modes.MODES)[-1] == "duet"
    assert _validate(mode="duet").listening.mode == ("duet", None)
    assert "duet (both at once)" in modes.mode_help()
    with pytest.raises(InputError, match="is not a mode .*duet"):
        _validate(mode="quartet")


def test_groups_stay_within_the_field_limit():
    for name, group in playoptions.GROUPS.items():
        assert len(dataclasses.fields(group)) <= 20, name


@pytest.fixture
def with_a_new_row():
    row = Option("wobble", "int", "how much to wobble (default none)", "sound", frozenset({table.PLAY}),
                 bounds=(1, 3), metavar="1..3", logged=("wobble",))
    original = table.TABLE
    table.TABLE = (*original, row)
    try:
        yield importlib.reload(playoptions)
    finally:
        table.TABLE = original
        importlib.reload(playoptions)


def test_adding_an_option_is_one_row(with_a_new_row, capsys):
    module = with_a_new_row
    parser = argparse.ArgumentParser()
    add_arguments(parser, table.rows(table.PLAY), table.TITLES)
    assert parser.parse_args(["--wobble", "2"]).wobble == 2
    assert module.CONFIG_KEYS["wobble"] == (int,) and "wobble" in config_keys(table.rows(table.PLAY))
    values = {**module.DEFAULTS, "wobble": 2}
    opts = module.validate(values, lambda key: f"{key} in x.toml")
    assert opts.sound.wobble == 2 and module.note_options(opts)["wobble"] == 2
    with pytest.raises(InputError, match=r"^wobble in x.toml: 5 is outside 1\.\.3$"):
        module.validate({**values, "wobble": 5}, lambda key: f"{key} in x.toml")
