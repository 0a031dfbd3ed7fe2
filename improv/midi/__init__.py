"""MIDI bytes and files: `messages` (status bytes, clock bytes, the panic) and `midifile` (the one
MIDI file writer). Below every layer that sends or writes MIDI; imports only improv.errors and
improv.theory.pitch."""
