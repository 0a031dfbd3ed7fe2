"""Corpus readers: sources (MIDI, WJazzD, MusicXML) to lines of notes with chords."""
